import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The memory a run may use, from every limit it runs under: the address-space and data rlimits
/// (`ulimit -v`, `ulimit -d`), the cgroup's `memory.max` (v2) or `memory.limit_in_bytes` (v1)
/// less what the cgroup already uses, and the machine's available memory. A run estimates its
/// peak before any work and `check`s it, so that a run that cannot fit is refused with the
/// estimate and the limit instead of failing half-way (an allocation that traps, a thread that
/// cannot start).
public struct MemoryLimits: Sendable {
  /// What a run needs: bytes it will hold resident, and address space beyond that (memory-mapped
  /// files, thread stacks).
  public struct Need: Sendable {
    public var resident: Int
    public var mapped: Int

    public init(resident: Int, mapped: Int = 0) {
      self.resident = resident
      self.mapped = mapped
    }
  }

  /// One limit: what it is called and the bytes left under it.
  public struct Limit: Sendable, Equatable {
    public let name: String
    public let bytes: Int
    /// Whether address space counts (rlimits), or only resident memory.
    public let isAddressSpace: Bool
  }

  public let limits: [Limit]

  public init(limits: [Limit]) { self.limits = limits }

  /// The limits this process runs under now.
  public static func current() -> MemoryLimits {
    var limits: [Limit] = []
    let status = Self.status()
    for (resource, name, field) in [
      (RLIMIT_AS, "ulimit -v (RLIMIT_AS)", "VmSize"),
      (RLIMIT_DATA, "ulimit -d (RLIMIT_DATA)", "VmData"),
    ] {
      var limit = rlimit()
      #if os(Linux)
        let code = getrlimit(__rlimit_resource_t(resource.rawValue), &limit)
      #else
        let code = getrlimit(resource, &limit)
      #endif
      guard code == 0, limit.rlim_cur < UInt64(Int.max) else {
        continue
      }
      let used = status[field] ?? 0
      limits.append(
        Limit(
          name: "\(name) of \(Int(limit.rlim_cur) >> 20) MiB, \(used >> 20) MiB of it in use",
          bytes: max(0, Int(limit.rlim_cur) - used), isAddressSpace: true))
    }
    if let cgroup = cgroupLimit() { limits.append(cgroup) }
    if let available = meminfo()["MemAvailable"] {
      limits.append(
        Limit(
          name: "the machine's available memory (\(available >> 20) MiB)", bytes: available,
          isAddressSpace: false))
    }
    return MemoryLimits(limits: limits)
  }

  /// Refuses `need` (for `what`: "this prune") when it does not fit under a limit, with the
  /// estimate and the limit in the message.
  public func check(_ need: Need, for what: String) throws {
    for limit in limits {
      let needed = limit.isAddressSpace ? need.resident + need.mapped : need.resident
      guard needed > limit.bytes else { continue }
      throw MemoryLimitError(
        what: what, needed: needed, limit: limit.name, available: limit.bytes,
        isAddressSpace: limit.isAddressSpace)
    }
  }

  /// `/proc/self/status` sizes in bytes (VmSize, VmData, …).
  static func status() -> [String: Int] {
    keyedKilobytes("/proc/self/status")
  }

  static func meminfo() -> [String: Int] { keyedKilobytes("/proc/meminfo") }

  static func keyedKilobytes(_ path: String) -> [String: Int] {
    guard let data = FileManager.default.contents(atPath: path) else { return [:] }
    var values: [String: Int] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2 else { continue }
      let fields = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard let number = fields.first.flatMap({ Int($0) }), number < Int.max >> 10 else {
        continue
      }
      values[String(parts[0])] = fields.count > 1 && fields[1] == "kB" ? number << 10 : number
    }
    return values
  }

  /// The cgroup's memory limit less its usage (v2 `memory.max`, v1 `memory.limit_in_bytes`).
  static func cgroupLimit() -> Limit? {
    guard let data = FileManager.default.contents(atPath: "/proc/self/cgroup") else { return nil }
    func number(_ path: String) -> Int? {
      guard let data = FileManager.default.contents(atPath: path) else { return nil }
      return Int(
        String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard fields.count == 3 else { continue }
      let path = String(fields[2])
      var candidates: [(limit: String, usage: String)] = []
      if fields[1].isEmpty {
        candidates.append(
          ("/sys/fs/cgroup\(path)/memory.max", "/sys/fs/cgroup\(path)/memory.current"))
        candidates.append(("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"))
      } else if fields[1].split(separator: ",").contains("memory") {
        candidates.append(
          (
            "/sys/fs/cgroup/memory\(path)/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory\(path)/memory.usage_in_bytes"
          ))
        candidates.append(
          (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes"
          ))
      }
      for candidate in candidates {
        // "max" (v2) and a limit near 2^63 (v1) mean none.
        guard let limit = number(candidate.limit), limit < 1 << 60 else { continue }
        let usage = number(candidate.usage) ?? 0
        return Limit(
          name: "the cgroup's memory limit of \(limit >> 20) MiB, \(usage >> 20) MiB of it in use",
          bytes: max(0, limit - usage), isAddressSpace: false)
      }
    }
    return nil
  }
}

/// A run whose estimated peak does not fit under a memory limit.
public struct MemoryLimitError: Error, CustomStringConvertible, Equatable {
  public let what: String
  public let needed: Int
  public let limit: String
  public let available: Int
  public let isAddressSpace: Bool

  /// What the run needs against what is left, without advice (a caller adds its own words).
  public var shortfall: String {
    "\(what) needs about \(Self.mebibytes(needed)) of \(isAddressSpace ? "address space" : "memory") at its peak, but only \(available >> 20) MiB are left under \(limit)"
  }

  public var description: String {
    shortfall
      + "; raise the limit, or ask for fewer or shorter sequences and smaller memory budgets"
  }

  static func mebibytes(_ bytes: Int) -> String { "\(max(1, (bytes + (1 << 20) - 1) >> 20)) MiB" }
}
