import Foundation

/// What a layer needs from the forward it is part of: RoPE tables for the batch's positions,
/// made once per distinct `Rope` and shared by every layer using it (Gemma 3's sliding and full
/// layers rotate with different bases; Phi-3's partial rotary has its own dimension).
public final class LayerContext: @unchecked Sendable {
  /// Tables cover positions `0..<span`.
  public let span: Int
  var tables: [Rope: RopeTables] = [:]
  let lock = NSLock()

  public init(span: Int) {
    self.span = span
  }

  /// The context of a batch: positions up to its longest row.
  public convenience init(batch: Batch) {
    self.init(span: batch.span)
  }

  /// Tables of `rope` for positions `0..<span`, made on first use.
  public func tables(for rope: Rope) -> RopeTables {
    lock.lock()
    defer { lock.unlock() }
    if let made = tables[rope] { return made }
    let made = RopeTables(rope: rope, count: span)
    tables[rope] = made
    return made
  }
}
