import Foundation

/// Reads pipeline pieces out of a tokenizer.json, naming the file in its errors.
struct Loader {
  let path: String

  /// Ids above this are refused: real vocabularies stay under a few million, and the headroom
  /// up to `Int32.max` is what added tokens are numbered into after the largest id.
  static let maximumTokenId = 1 << 30
  /// Lengths (padding, truncation, word limits) above this are refused: no text is that long,
  /// and a padding length sizes an allocation.
  static let maximumLength = 1 << 24

  /// An optional integer field, refused unless it is an integer in `range`: numbers from the
  /// file reach `Int32` conversions and allocation sizes, so they are checked here, once.
  func integer(_ j: JSON?, field: String, in range: ClosedRange<Int>) throws -> Int? {
    guard let j, !j.isNull else { return nil }
    guard let n = j.intValue, range.contains(n) else {
      throw TokenizerError.invalidField(
        path: path, field: field,
        reason: "expected an integer in \(range.lowerBound)...\(range.upperBound)")
    }
    return n
  }

  func requireString(_ j: JSON, _ key: String, _ field: String) throws -> String {
    guard let s = j[key]?.stringValue else {
      throw TokenizerError.invalidField(
        path: path, field: "\(field).\(key)", reason: "expected a string")
    }
    return s
  }

  /// `{"String": s}` (literal) or `{"Regex": r}` (Oniguruma syntax).
  func patternMatcher(_ j: JSON?, field: String) throws -> PatternMatcher {
    if let s = j?["String"]?.stringValue {
      return LiteralMatcher(needle: scalarsOf(s))
    }
    if let r = j?["Regex"]?.stringValue {
      if let known = KnownPatterns.matcher(for: r) { return known }
      do {
        return try OnigRegex(r)
      } catch let e as RegexParseError {
        throw TokenizerError.invalidRegex(path: path, pattern: r, reason: e.message)
      }
    }
    throw TokenizerError.invalidField(
      path: path, field: field, reason: "expected {\"String\": ...} or {\"Regex\": ...}")
  }
}

/// A Hugging Face `tokenizer.json` tokenizer: the same ids as the Rust `tokenizers` library.
///
/// Pipeline: added tokens are split out of the raw text, the rest is normalized, pre-tokenized
/// and run through the model, then the post-processor adds special tokens. All text is handled
/// as Unicode scalars, never as `Character`s, and vocabulary keys compare scalar for scalar.
public final class Tokenizer: @unchecked Sendable {
  /// Where it was loaded from (used in error messages).
  public let path: String
  let model: TokenizerModel
  let normalizer: Normalizer?
  let preTokenizer: PreTokenizer?
  let postProcessor: PostProcessor?
  let decoder: Decoder?
  let added: AddedVocabulary
  let truncation: Truncation?
  let padding: Padding?
  /// Settings from tokenizer_config.json / special_tokens_map.json, if the folder had them.
  public let config: TokenizerConfig?

  public let bosTokenId: Int?
  public let eosTokenId: Int?
  public let padTokenId: Int?
  public let unkTokenId: Int?
  /// Whether `encode(_:addSpecialTokens: true)` starts with `bosTokenId` / ends with
  /// `eosTokenId` (what the post-processor actually does).
  public let addsBOS: Bool
  public let addsEOS: Bool

  /// When true, the text of special tokens in the input is encoded as ordinary text rather
  /// than as the special token (for untrusted input such as calibration data).
  public var specialTokenTextIsPlain = false

  struct Truncation {
    var maxLength: Int
    var left: Bool
  }

  struct Padding {
    var fixed: Int?
    var multipleOf: Int?
    var left: Bool
    var padId: Int32
  }

  /// Loads a tokenizer from a model folder (tokenizer.json plus tokenizer_config.json and
  /// special_tokens_map.json where present) or from a tokenizer.json file.
  public static func load(from url: URL) throws -> Tokenizer {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
      throw TokenizerError.fileNotFound(path: url.path)
    }
    var file = url
    var config: TokenizerConfig?
    if isDir.boolValue {
      file = url.appendingPathComponent("tokenizer.json")
      guard FileManager.default.fileExists(atPath: file.path) else {
        throw TokenizerError.fileNotFound(path: file.path)
      }
      config = try TokenizerConfig.load(folder: url)
    } else {
      config = try TokenizerConfig.load(folder: url.deletingLastPathComponent())
    }
    let data: Data
    try RegularFile.require(file.path)
    do {
      data = try Data(contentsOf: file)
    } catch {
      throw TokenizerError.malformedJSON(
        path: file.path, reason: "cannot read: \(ReadFailure.words(error))")
    }
    return try Tokenizer(tokenizerJSON: data, path: file.path, config: config)
  }

  /// Builds a tokenizer from the contents of a tokenizer.json.
  public init(tokenizerJSON data: Data, path: String = "tokenizer.json", config: TokenizerConfig?)
    throws
  {
    self.path = path
    let json: JSON
    do {
      json = try JSON.parse(data)
    } catch let e as JSONParseError {
      throw TokenizerError.malformedJSON(path: path, reason: e.message)
    }
    guard json.objectValue != nil else {
      throw TokenizerError.malformedJSON(path: path, reason: "expected an object at the top level")
    }
    let l = Loader(path: path)
    model = try l.model(json["model"])
    normalizer = try l.normalizer(json["normalizer"])
    preTokenizer = try l.preTokenizer(json["pre_tokenizer"])
    postProcessor = try l.postProcessor(json["post_processor"])
    decoder = try l.decoder(json["decoder"])
    added = AddedVocabulary()
    added.add(
      try l.addedTokens(json["added_tokens"]), model: model.vocabulary, normalizer: normalizer)
    if let t = json["truncation"], !t.isNull {
      guard
        let ml = try l.integer(
          t["max_length"], field: "truncation.max_length", in: 0...Int(Int32.max))
      else {
        throw TokenizerError.invalidField(
          path: path, field: "truncation.max_length", reason: "expected an integer")
      }
      truncation = Truncation(maxLength: ml, left: t["direction"]?.stringValue == "Left")
    } else {
      truncation = nil
    }
    if let p = json["padding"], !p.isNull {
      let length = 0...Loader.maximumLength
      padding = Padding(
        fixed: try l.integer(p["strategy"]?["Fixed"], field: "padding.strategy.Fixed", in: length),
        multipleOf: try l.integer(
          p["pad_to_multiple_of"], field: "padding.pad_to_multiple_of", in: length),
        left: p["direction"]?.stringValue == "Left",
        padId: Int32(
          try l.integer(p["pad_id"], field: "padding.pad_id", in: 0...Loader.maximumTokenId) ?? 0))
    } else {
      padding = nil
    }
    self.config = config

    // Special tokens: the config files when present, otherwise the usual names.
    let vocabHas: (String) -> Int? = { [added, model] name in
      let s = scalarsOf(name)
      if let id = added.byContentId(s) ?? model.vocabulary.id(s) { return Int(id) }
      return nil
    }
    func resolve(_ configured: String??, guesses: [String]) -> Int? {
      if let c = configured {
        return c.flatMap(vocabHas)
      }
      for g in guesses { if let id = vocabHas(g) { return id } }
      return nil
    }
    let cfgBos: String?? = config.map { $0.bosToken }
    let cfgEos: String?? = config.map { $0.eosToken }
    let cfgPad: String?? = config.map { $0.padToken }
    bosTokenId = resolve(cfgBos, guesses: ["<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"])
    eosTokenId = resolve(
      cfgEos, guesses: ["</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"])
    padTokenId = resolve(cfgPad, guesses: ["<pad>", "[PAD]", "<|pad|>"])
    var unk: Int? = nil
    if let u = config?.unkToken { unk = vocabHas(u) }
    if unk == nil {
      if let bpe = model as? BPEModel { unk = bpe.unkId.map { Int($0) } }
      if let wp = model as? WordPieceModel { unk = wp.unkId.map { Int($0) } }
      if let wl = model as? WordLevelModel { unk = wl.vocabulary.id(wl.unk).map { Int($0) } }
    }
    unkTokenId = unk
    let probe = postProcessor?.process([], addSpecialTokens: true) ?? []
    addsBOS = bosTokenId != nil && probe.first.map { Int($0) } == bosTokenId
    addsEOS = eosTokenId != nil && probe.last.map { Int($0) } == eosTokenId
  }

  /// Number of ids: model vocabulary plus added tokens not in it.
  public var vocabularySize: Int {
    var n = model.vocabulary.count
    for (id, _) in added.byId where model.vocabulary.token(id) == nil { n += 1 }
    return n
  }

  /// Encodes `text` to ids exactly as `tokenizers.Tokenizer.encode(text, add_special_tokens)`.
  public func encode(_ text: String, addSpecialTokens: Bool = true) throws -> [Int] {
    try encodeIds(text, addSpecialTokens: addSpecialTokens).map { Int($0) }
  }

  /// Same as `encode`, as 32-bit ids (no conversion cost for large corpora).
  public func encodeIds(_ text: String, addSpecialTokens: Bool = true) throws -> [Int32] {
    let scalars = scalarsOf(text)
    var pieces = added.extractAndNormalize(
      scalars, normalizer: normalizer, plainSpecialText: specialTokenTextIsPlain)
    if let pt = preTokenizer { pieces = pt.preTokenize(pieces) }
    var ids: [Int32] = []
    ids.reserveCapacity(scalars.count / 3 + 4)
    for p in pieces {
      if let id = p.id {
        ids.append(id)
      } else {
        try model.tokenize(p.s, into: &ids)
      }
    }
    if let t = truncation {
      var maxLen = t.maxLength
      let n = postProcessor?.addedCount ?? 0
      if addSpecialTokens && n > 0 { maxLen = max(0, maxLen - n) }
      if ids.count > maxLen {
        ids = t.left ? Array(ids.suffix(maxLen)) : Array(ids.prefix(maxLen))
      }
    }
    if let pp = postProcessor { ids = pp.process(ids, addSpecialTokens: addSpecialTokens) }
    if let p = padding {
      var target = p.fixed ?? ids.count
      if let m = p.multipleOf, m > 0, target % m != 0 { target += m - target % m }
      if ids.count < target {
        let pad = [Int32](repeating: p.padId, count: target - ids.count)
        ids = p.left ? pad + ids : ids + pad
      }
    }
    return ids
  }

  /// Encodes many texts in parallel; results are in input order.
  public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = true) throws -> [[Int]] {
    var results = [Result<[Int], Error>](repeating: .success([]), count: texts.count)
    results.withUnsafeMutableBufferPointer { out in
      let base = out.baseAddress!
      DispatchQueue.concurrentPerform(iterations: texts.count) { i in
        base[i] = Result { try self.encode(texts[i], addSpecialTokens: addSpecialTokens) }
      }
    }
    return try results.map { try $0.get() }
  }

  /// The token strings of ids (added tokens included); nil for unknown ids.
  public func idToToken(_ id: Int) -> String? {
    guard id >= 0, id <= Int(Int32.max) else { return nil }
    if let t = added.token(for: Int32(id)) { return stringFrom(scalars: t) }
    return model.vocabulary.token(Int32(id)).map(stringFrom(scalars:))
  }

  /// The id of a token string, compared scalar for scalar (added tokens first).
  public func tokenToId(_ token: String) -> Int? {
    let s = scalarsOf(token)
    if let id = added.byContentId(s) ?? model.vocabulary.id(s) { return Int(id) }
    return nil
  }

  /// Decodes ids to text as `tokenizers.Tokenizer.decode(ids, skip_special_tokens)`.
  public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
    var tokens: [[UInt32]] = []
    tokens.reserveCapacity(ids.count)
    for id in ids {
      guard id >= 0, id <= Int(Int32.max) else { continue }
      guard let t = added.token(for: Int32(id)) ?? model.vocabulary.token(Int32(id)) else {
        continue
      }
      if skipSpecialTokens && added.isSpecial(t) { continue }
      tokens.append(t)
    }
    if let d = decoder {
      return stringFrom(scalars: d.decodeChain(tokens).flatMap { $0 })
    }
    var out: [UInt32] = []
    for (i, t) in tokens.enumerated() {
      if i > 0 { out.append(0x20) }
      out.append(contentsOf: t)
    }
    return stringFrom(scalars: out)
  }
}

extension AddedVocabulary {
  func byContentId(_ s: [UInt32]) -> Int32? { byContent[ScalarKey(s)] }
}
