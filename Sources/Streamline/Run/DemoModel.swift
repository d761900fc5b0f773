import Foundation

/// The small model that ships with the project (`demo/model`), reachable by the name `demo`
/// wherever a model folder is asked for, with its held-out data beside it (`demo/data`).
public enum DemoModel {
  public static let name = "demo"

  /// The repository this binary was built from; the demo lives in it.
  static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The project folder holding `demo/`: $STREAMLINE_HOME, the repository this binary was
  /// built from, or the current folder.
  public static var root: URL {
    var candidates: [URL] = []
    if let home = ProcessInfo.processInfo.environment["STREAMLINE_HOME"] {
      candidates.append(URL(fileURLWithPath: home))
    }
    candidates += [sourceRoot, URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
    return candidates.first {
      FileManager.default.fileExists(
        atPath: $0.appendingPathComponent("demo/model/config.json").path)
    } ?? sourceRoot
  }

  public static var model: URL { root.appendingPathComponent("demo/model") }
  public static var data: URL { root.appendingPathComponent("demo/data") }
  public static var calibration: URL { data.appendingPathComponent("calibration.txt") }
  public static var evaluation: URL { data.appendingPathComponent("eval.txt") }

  /// `path`, or the demo model's folder when `path` is `demo`.
  public static func resolve(_ path: String) -> String {
    path == name ? model.path : path
  }
}
