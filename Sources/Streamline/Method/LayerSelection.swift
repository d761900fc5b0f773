import Foundation

/// The layers a user names for removal, 0-based, as ranges and lists ("10-13",
/// "3,5,7", "2-4,9"), or `last:N`, the last N layers before the final one (reverse-order
/// removal, which "Reassessing Layer Pruning in LLMs" (ICLR 2026) finds a strong baseline once
/// the model is healed).
public enum LayerSelection {
  /// The distinct layers `text` names, sorted, checked against a model of `layerCount` layers:
  /// every number inside 0..<layerCount (before a range is expanded, so "0-99999999999" is an
  /// error, not an allocation), and at least one layer left.
  public static func parse(_ text: String, layerCount: Int) throws -> [Int] {
    func fail(_ reason: String) -> CompressionError { .layerList(text: text, reason: reason) }
    if text.hasPrefix(reverseOrderPrefix) {
      guard let count = Int(text.dropFirst(reverseOrderPrefix.count)), count >= 1 else {
        throw fail("expected last:N, N layers before the final one")
      }
      guard count < layerCount - 1 else {
        throw fail("the model has \(layerCount - 1) layers before its final one")
      }
      return reverseOrder(count, layerCount: layerCount)
    }
    var layers = Set<Int>()
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = part.trimmingCharacters(in: .whitespaces).split(
        separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let first = Int(bounds[0]), let last = Int(bounds.last!)
      else {
        throw fail("expected layer numbers like 10-13 or 3,5")
      }
      guard first <= last else { throw fail("the range \(part) runs backwards") }
      guard first >= 0, last < layerCount else {
        throw fail("the model has layers 0...\(layerCount - 1)")
      }
      layers.formUnion(first...last)
    }
    guard layers.count < layerCount else { throw fail("removes every layer") }
    return layers.sorted()
  }

  static let reverseOrderPrefix = "last:"

  /// The last `count` layers before the final one.
  public static func reverseOrder(_ count: Int, layerCount: Int) -> [Int] {
    Array((layerCount - 1 - count)..<(layerCount - 1))
  }
}
