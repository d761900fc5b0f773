import Checkpoint
import Foundation

/// The layouts a multiple-choice task file may have. Prompts are lm-eval 0.4's task definitions.
public enum TaskFormat: String, CaseIterable, Sendable, Codable {
  /// `{"context", "choices", "label"}`: lm-eval's `doc_to_text: "{{context}}"`,
  /// `doc_to_choice: "{{choices}}"`, default target delimiter " ".
  case generic
  case piqa, hellaswag, boolq, winogrande, openbookqa, rte
  case arcEasy = "arc_easy"
  case arcChallenge = "arc_challenge"

  /// Fields that identify the layout, checked in this order.
  static let signatures: [(TaskFormat, [String])] = [
    (.generic, ["context", "choices", "label"]),
    (.piqa, ["goal", "sol1", "sol2"]),
    (.hellaswag, ["ctx_a", "ctx_b", "endings"]),
    (.winogrande, ["sentence", "option1", "option2"]),
    (.openbookqa, ["question_stem", "choices"]),
    (.arcEasy, ["question", "choices", "answerKey"]),
    (.boolq, ["passage", "question"]),
    (.rte, ["sentence1", "sentence2"]),
    (.rte, ["premise", "hypothesis"]),
  ]

  /// The layout whose fields `object` has, if any.
  static func detect(_ object: [String: Any]) -> TaskFormat? {
    signatures.first { _, fields in fields.allSatisfy { object[$0] != nil } }?.0
  }

  /// The task name used in reports when none is given: the file name without its extension
  /// (`next_verse.jsonl` reports as next_verse), or the layout when the file is named only after
  /// its split (`test.jsonl`, `validation.jsonl`, ...).
  func taskName(path: String) -> String {
    let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    let splits = ["test", "train", "validation", "valid", "dev", "data", "task", "tasks"]
    guard splits.contains(base.lowercased()) else { return base }
    if self == .arcEasy && base.contains("challenge") { return "arc_challenge" }
    return self == .generic ? base : rawValue
  }
}

/// One multiple-choice item as lm-eval builds it: a (context, continuation) request per choice,
/// the gold index, and the choice strings whose lengths `acc_norm` divides by.
public struct TaskItem: Sendable, Equatable {
  public struct Request: Sendable, Equatable {
    public var context: String
    public var continuation: String
  }
  /// Position in the file (0-based, counting items, not lines).
  public var index: Int
  /// Line in the file (1-based), for messages.
  public var line: Int
  public var requests: [Request]
  /// `doc_to_choice`: the strings whose lengths (in Unicode scalars) `acc_norm` uses.
  public var choices: [String]
  public var label: Int
}

/// A task file read into items.
public struct TaskFile: Sendable {
  public var path: String
  public var name: String
  public var format: TaskFormat
  public var items: [TaskItem]

  /// Reads a JSONL task file. The layout is `format` or detected from the first item's fields;
  /// every line must be a JSON object of that layout. Blank lines are skipped.
  public static func read(path: String, format: TaskFormat? = nil, name: String? = nil) throws
    -> TaskFile
  {
    try InputFile.requireRegular(path)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw EvaluationError.cannotRead(path: path, reason: "cannot read the file")
    }
    return try parse(data, path: path, format: format, name: name)
  }

  /// The task in `data`, the contents of the file at `path` (named in errors and reports).
  public static func parse(
    _ data: Data, path: String, format: TaskFormat? = nil, name: String? = nil
  ) throws -> TaskFile {
    guard let text = String(data: data, encoding: .utf8) else {
      throw EvaluationError.cannotRead(path: path, reason: "not UTF-8 text")
    }
    var detected = format
    var items: [TaskItem] = []
    for (number, line) in TextLines.split(text).enumerated() {
      let lineNumber = number + 1
      let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
      if trimmed.isEmpty { continue }
      func fail(_ reason: String) -> EvaluationError {
        .badLine(path: path, line: lineNumber, reason: reason)
      }
      let parsed: Any
      do {
        parsed = try JSONSerialization.jsonObject(
          with: Data(trimmed.utf8), options: [.fragmentsAllowed])
      } catch {
        throw fail("not valid JSON")
      }
      guard let object = parsed as? [String: Any] else {
        throw fail("expected a JSON object")
      }
      if detected == nil {
        guard let found = TaskFormat.detect(object) else {
          throw EvaluationError.unknownTaskLayout(
            path: path, line: lineNumber, fields: object.keys.sorted(),
            formats: TaskFormat.allCases.map(\.rawValue))
        }
        detected = found
      }
      var item = try Self.item(object, format: detected!, fail: fail)
      item.index = items.count
      item.line = lineNumber
      guard !item.requests.isEmpty else { throw fail("no choices") }
      guard item.label >= 0 && item.label < item.choices.count else {
        throw fail("label \(item.label) is out of range for \(item.choices.count) choices")
      }
      items.append(item)
    }
    guard let found = detected, !items.isEmpty else {
      throw EvaluationError.empty(path: path, reason: "holds no task items")
    }
    return TaskFile(
      path: path, name: name ?? found.taskName(path: path), format: found, items: items)
  }

  // MARK: - Layouts

  static func item(
    _ o: [String: Any], format: TaskFormat, fail: @escaping (String) -> EvaluationError
  ) throws -> TaskItem {
    let f = Fields(object: o, fail: fail)
    /// Context shared by all choices; continuation " " + choice (lm-eval's target delimiter).
    func shared(_ context: String, _ choices: [String], _ label: Int) -> TaskItem {
      TaskItem(
        index: 0, line: 0,
        requests: choices.map { TaskItem.Request(context: context, continuation: " " + $0) },
        choices: choices, label: label)
    }
    switch format {
    case .generic:
      let choices = try f.strings("choices")
      return shared(try f.string("context"), choices, try f.index("label"))
    case .piqa:
      let choices = [try f.string("sol1"), try f.string("sol2")]
      let goal = try f.string("goal")
      return shared("Question: \(goal)\nAnswer:", choices, try f.index("label"))
    case .hellaswag:
      let ctx = try f.string("ctx_a") + " " + Text.capitalize(try f.string("ctx_b"))
      let query = Text.hellaswag(try f.string("activity_label") + ": " + ctx)
      let choices = try f.strings("endings").map(Text.hellaswag)
      return shared(query, choices, try f.index("label"))
    case .arcEasy, .arcChallenge:
      let (choices, label) = try f.labelledChoices("choices", key: "answerKey", strip: false)
      let question = try f.string("question")
      return shared("Question: \(question)\nAnswer:", choices, label)
    case .openbookqa:
      let (choices, label) = try f.labelledChoices("choices", key: "answerKey", strip: true)
      return shared(try f.string("question_stem"), choices, label)
    case .boolq:
      let label: Int
      if o["label"] != nil {
        label = try f.index("label")
      } else if let answer = o["answer"] as? Bool {
        label = answer ? 1 : 0
      } else {
        throw fail("missing field \"label\" (or a boolean \"answer\")")
      }
      let passage = try f.string("passage")
      let question = try f.string("question")
      let prompt = "\(passage)\nQuestion: \(question)?\nAnswer:"
      return shared(prompt, ["no", "yes"], label)
    case .rte:
      let first = o["sentence1"] != nil ? "sentence1" : "premise"
      let second = o["sentence2"] != nil ? "sentence2" : "hypothesis"
      let premise = try f.string(first)
      let hypothesis = try f.string(second)
      let prompt = "\(premise)\nQuestion: \(hypothesis) True or False?\nAnswer:"
      return shared(prompt, ["True", "False"], try f.index("label"))
    case .winogrande:
      // lm-eval's partial scoring: each option fills the blank in the context; the rest of
      // the sentence is the continuation scored under every context.
      let sentence = try f.string("sentence")
      let scalars = sentence.unicodeScalars
      guard let blank = scalars.firstIndex(of: "_") else {
        throw fail("field \"sentence\" has no \"_\" blank")
      }
      let options = [try f.string("option1"), try f.string("option2")]
      let contexts = options.map { String(scalars[..<blank]) + $0 }
      let rest = Text.strip(String(scalars[scalars.index(after: blank)...]))
      let answer = try f.string("answer")
      guard answer == "1" || answer == "2" else {
        throw fail("field \"answer\" must be \"1\" or \"2\", not \(answer.debugDescription)")
      }
      return TaskItem(
        index: 0, line: 0,
        requests: contexts.map { TaskItem.Request(context: $0, continuation: " " + rest) },
        choices: contexts, label: answer == "1" ? 0 : 1)
    }
  }

  /// The largest label accepted: far more choices than any multiple-choice task has.
  public static let maximumIndex = 1 << 20

  /// Typed field access with one-line errors.
  struct Fields {
    let object: [String: Any]
    let fail: (String) -> EvaluationError

    func value(_ key: String) throws -> Any {
      guard let v = object[key], !(v is NSNull) else { throw fail("missing field \"\(key)\"") }
      return v
    }

    func string(_ key: String) throws -> String {
      guard let s = try value(key) as? String else {
        throw fail("field \"\(key)\" must be a string")
      }
      return s
    }

    func strings(_ key: String) throws -> [String] {
      guard let list = try value(key) as? [Any] else {
        throw fail("field \"\(key)\" must be a list of strings")
      }
      guard !list.isEmpty else { throw fail("field \"\(key)\" is empty") }
      return try list.map {
        guard let s = $0 as? String else { throw fail("field \"\(key)\" must hold strings") }
        return s
      }
    }

    /// A non-negative integer, or a string of digits (hellaswag's labels are strings). Anything
    /// past `maximumIndex` cannot name a choice and is refused before it is used.
    func index(_ key: String) throws -> Int {
      let v = try value(key)
      if let s = v as? String, let n = Int(s.trimmingCharacters(in: .whitespaces)) {
        guard (0...maximumIndex).contains(n) else {
          throw fail("field \"\(key)\" is \(n), outside 0...\(maximumIndex)")
        }
        return n
      }
      if let n = JSONInteger.value(v, in: 0...maximumIndex) { return n }
      throw fail("field \"\(key)\" must be an integer in 0...\(maximumIndex)")
    }

    /// `{"text": [...], "label": [...]}` and the position of `answerKey` among the labels.
    func labelledChoices(_ key: String, key answerKey: String, strip: Bool) throws -> (
      [String], Int
    ) {
      guard let choices = try value(key) as? [String: Any] else {
        throw fail("field \"\(key)\" must be an object with \"text\" and \"label\" lists")
      }
      let inner = Fields(object: choices, fail: fail)
      let texts = try inner.strings("text")
      let labels = try inner.strings("label")
      guard labels.count == texts.count else {
        throw fail("\"\(key)\" has \(texts.count) texts but \(labels.count) labels")
      }
      var answer = try string(answerKey)
      if strip { answer = String(answer.drop { $0.isWhitespace }) }
      guard let label = labels.firstIndex(of: answer) else {
        throw fail("\(answerKey) \(answer.debugDescription) is not among the labels \(labels)")
      }
      return (texts, label)
    }
  }
}

/// Python string operations as lm-eval's preprocessing uses them.
enum Text {
  /// `str.strip()`.
  static func strip(_ s: String) -> String {
    let scalars = s.unicodeScalars
    guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
    let last = scalars.lastIndex(where: { !isSpace($0) })!
    return String(scalars[first...last])
  }

  /// `str.rstrip()`.
  static func rstrip(_ s: String) -> String {
    let scalars = s.unicodeScalars
    guard let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(scalars[...last])
  }

  /// Python's `str.isspace` for one code point.
  static func isSpace(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0: return true
    default: return c.properties.isWhitespace
    }
  }

  /// `str.capitalize()`: first character upper (title) case, the rest lower case.
  static func capitalize(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    let rest = String(s.unicodeScalars.dropFirst())
    return first.properties.titlecaseMapping + rest.lowercased()
  }

  /// lm-eval's hellaswag `preprocess`.
  static func hellaswag(_ text: String) -> String {
    var t = strip(text)
    t = t.replacingOccurrences(of: " [title]", with: ". ")
    t = removeBracketed(t)
    t = t.replacingOccurrences(of: "  ", with: " ")
    return t
  }

  /// `re.sub("\\[.*?\\]", "", text)`: `.` does not cross a newline.
  static func removeBracketed(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    let s = Array(text.unicodeScalars)
    var i = 0
    while i < s.count {
      if s[i] == "[" {
        var j = i + 1
        while j < s.count && s[j] != "]" && s[j] != "\n" { j += 1 }
        if j < s.count && s[j] == "]" {
          i = j + 1
          continue
        }
      }
      out.append(s[i])
      i += 1
    }
    return String(out)
  }

  /// Python `len(re.split(r"\s+", text))`: one more than the number of whitespace runs.
  static func wordCount(_ text: String) -> Int {
    var count = 1
    var inSpace = false
    for c in text.unicodeScalars {
      let space = isSpace(c)
      if space && !inSpace { count += 1 }
      inSpace = space
    }
    return count
  }
}
