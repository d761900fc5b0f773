import Foundation

/// The layers a user names for removal, 0-based, as ranges and lists ("10-13",
/// "3,5,7", "2-4,9").
public enum LayerSelection {
  /// The distinct layers `text` names, sorted, checked against a model of `layerCount` layers:
  /// every number inside 0..<layerCount (before a range is expanded, so "0-99999999999" is an
  /// error, not an allocation), and at least one layer left.
  public static func parse(_ text: String, layerCount: Int) throws -> [Int] {
    func fail(_ reason: String) -> CompressionError { .layerList(text: text, reason: reason) }
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
}
