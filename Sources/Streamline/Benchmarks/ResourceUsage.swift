import Foundation
import Models
import Tensors

/// Peak resident memory of this process, from the kernel.
public enum ResourceUsage {
  public static var peakResidentBytes: Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return 0
    }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
    }
    return 0
  }
}
