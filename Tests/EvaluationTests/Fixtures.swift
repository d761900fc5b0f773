import Foundation

/// The committed outputs of tools/make_eval_fixtures.py.
enum EvalFixtures {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/eval")

  static let models = ["llama", "llama-pruned", "qwen2"]
  static let tasks = [
    "generic", "piqa", "hellaswag", "arc_easy", "arc_challenge", "boolq", "winogrande",
    "openbookqa", "rte",
  ]

  static func model(_ name: String) -> URL {
    root.appendingPathComponent("models").appendingPathComponent(name)
  }

  static func task(_ name: String) -> String {
    root.appendingPathComponent("tasks/\(name).jsonl").path
  }

  static func text(_ name: String) -> String { root.appendingPathComponent("text/\(name)").path }

  static func predictions(_ name: String) -> String {
    root.appendingPathComponent("predictions/\(name).jsonl").path
  }

  static func malformed(_ name: String) -> String {
    root.appendingPathComponent("malformed/\(name)").path
  }

  nonisolated(unsafe) static let reference: [String: Any] = {
    let data = try! Data(contentsOf: root.appendingPathComponent("reference.json"))
    return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
  }()

  static func modelReference(_ name: String) -> [String: Any] {
    (reference["models"] as! [String: Any])[name] as! [String: Any]
  }

  static func taskReference(model: String, task: String) -> [String: Any] {
    (modelReference(model)["tasks"] as! [String: Any])[task] as! [String: Any]
  }
}

extension Dictionary where Key == String, Value == Any {
  func double(_ key: String) -> Double { (self[key] as! NSNumber).doubleValue }
  func int(_ key: String) -> Int { (self[key] as! NSNumber).intValue }
}
