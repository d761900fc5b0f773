import ArgumentParser
import Foundation
import Models
import Streamline
import Tensors

extension Precision: ExpressibleByArgument {
  /// The precision asked for, after saying once on stderr when this CPU computes it in Float32
  /// instead (the library does the same resolution wherever weights are loaded).
  var announced: Precision {
    if self != effective && !Self.fallbackSaid {
      Self.fallbackSaid = true
      FileHandle.standardError.write(
        Data(
          ("note: this CPU has no native bf16 matrix products (oneDNN runs \(CPU.isa)); "
            + "--precision \(rawValue) computes in \(effective.rawValue)\n").utf8))
    }
    return self
  }

  nonisolated(unsafe) private static var fallbackSaid = false
}
