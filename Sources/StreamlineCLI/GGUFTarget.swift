import Checkpoint
import Streamline

/// A `--gguf` file, checked before any work (`GGUFExport.checkTarget`), refused in one line
/// naming the flag, as every refused output path is (a ValidationError would add the command's
/// usage).
enum GGUFTarget {
  static func check(_ path: String, policy: OutputPolicy, force: Bool) throws {
    try ErrorWording.wording {
      try OutputRole.gguf.naming {
        try GGUFExport.checkTarget(path, policy: policy, force: force)
      }
    }
  }
}
