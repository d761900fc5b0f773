import Foundation

/// A `post_processor` of tokenizer.json, reduced to what it does to the ids of one sequence.
protocol PostProcessor {
  func process(_ ids: [Int32], addSpecialTokens: Bool) -> [Int32]
  /// How many ids it adds to one sequence (used by truncation).
  var addedCount: Int { get }
}

/// `TemplateProcessing` (its `single` template); also BertProcessing and RobertaProcessing,
/// which are fixed templates `CLS $A SEP`.
struct TemplatePostProcessor: PostProcessor {
  enum Item {
    case special([Int32])
    case sequence
  }
  let items: [Item]

  func process(_ ids: [Int32], addSpecialTokens: Bool) -> [Int32] {
    guard addSpecialTokens else { return ids }
    var out: [Int32] = []
    out.reserveCapacity(ids.count + 4)
    for item in items {
      switch item {
      case .special(let s): out.append(contentsOf: s)
      case .sequence: out.append(contentsOf: ids)
      }
    }
    return out
  }

  var addedCount: Int {
    items.reduce(0) {
      if case .special(let s) = $1 { return $0 + s.count }
      return $0
    }
  }
}

/// ByteLevel post-processing only adjusts offsets.
struct IdentityPostProcessor: PostProcessor {
  func process(_ ids: [Int32], addSpecialTokens: Bool) -> [Int32] { ids }
  var addedCount: Int { 0 }
}

struct SequencePostProcessor: PostProcessor {
  let items: [PostProcessor]
  func process(_ ids: [Int32], addSpecialTokens: Bool) -> [Int32] {
    var r = ids
    for p in items { r = p.process(r, addSpecialTokens: addSpecialTokens) }
    return r
  }
  var addedCount: Int { items.reduce(0) { $0 + $1.addedCount } }
}

extension Loader {
  func postProcessor(_ j: JSON?, field: String = "post_processor") throws -> PostProcessor? {
    guard let j, !j.isNull else { return nil }
    let type = try requireString(j, "type", field)
    switch type {
    case "TemplateProcessing":
      guard let single = j["single"]?.arrayValue else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".single", reason: "expected an array")
      }
      var specials: [[UInt8]: [Int32]] = [:]
      if let st = j["special_tokens"]?.objectValue {
        for (k, v) in st {
          guard let list = v["ids"]?.arrayValue else {
            throw TokenizerError.invalidField(
              path: path, field: field + ".special_tokens", reason: "missing ids")
          }
          var ids: [Int32] = []
          for item in list {
            let idField = field + ".special_tokens.ids"
            guard let id = try integer(item, field: idField, in: 0...Loader.maximumTokenId) else {
              throw TokenizerError.invalidField(
                path: path, field: idField, reason: "expected an id")
            }
            ids.append(Int32(id))
          }
          specials[k] = ids
        }
      }
      var items: [TemplatePostProcessor.Item] = []
      for (n, piece) in single.enumerated() {
        if let sp = piece["SpecialToken"] {
          guard let id = sp["id"]?.bytesValue, let ids = specials[id] else {
            throw TokenizerError.invalidField(
              path: path, field: "\(field).single[\(n)]",
              reason: "special token missing from special_tokens")
          }
          items.append(.special(ids))
        } else if piece["Sequence"] != nil {
          items.append(.sequence)
        } else {
          throw TokenizerError.invalidField(
            path: path, field: "\(field).single[\(n)]", reason: "unknown template piece")
        }
      }
      return TemplatePostProcessor(items: items)
    case "BertProcessing", "RobertaProcessing":
      func pair(_ key: String) throws -> Int32 {
        guard let a = j[key]?.arrayValue, a.count == 2,
          let id = try integer(a[1], field: "\(field).\(key)", in: 0...Loader.maximumTokenId)
        else {
          throw TokenizerError.invalidField(
            path: path, field: "\(field).\(key)", reason: "expected [token, id]")
        }
        return Int32(id)
      }
      return TemplatePostProcessor(items: [
        .special([try pair("cls")]), .sequence,
        .special([try pair("sep")]),
      ])
    case "ByteLevel":
      return IdentityPostProcessor()
    case "Sequence":
      guard let items = j["processors"]?.arrayValue else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".processors", reason: "expected an array")
      }
      return SequencePostProcessor(
        items: try items.enumerated().compactMap {
          try postProcessor($0.element, field: "\(field).processors[\($0.offset)]")
        })
    default:
      throw TokenizerError.unsupported(path: path, feature: "post-processor type '\(type)'")
    }
  }
}
