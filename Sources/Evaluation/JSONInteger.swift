import Foundation

/// Integers read from `JSONSerialization` output, refused unless exact and in range: a hostile
/// file must not reach `Int(_:)` with 1e300 or NaN, and `true` (which Foundation also hands back
/// as an `NSNumber`) is not a number.
enum JSONInteger {
  /// `value` as an integer in `range`, or nil when it is not an integral JSON number in it.
  static func value(_ value: Any?, in range: ClosedRange<Int>) -> Int? {
    guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else {
      return nil
    }
    let double = number.doubleValue
    // Below 2^53 every integer is exact in a Double, so the conversion cannot trap or round.
    guard double.isFinite, double == double.rounded(), abs(double) < 9.0e15 else { return nil }
    let integer = Int(double)
    return range.contains(integer) ? integer : nil
  }
}

extension JSONInteger {
  /// A refused JSON value, shortly: `true`, `1.9999`, `"7"`.
  static func describe(_ value: Any) -> String {
    if let number = value as? NSNumber, String(cString: number.objCType) == "c" {
      return number.boolValue ? "true" : "false"
    }
    if value is NSNull { return "null" }
    if let text = value as? String {
      return "\"\(text.prefix(24))\(text.count > 24 ? "…" : "")\""
    }
    // A number is never cut short: 29 digits cut to 24 would be another number.
    let text = String(describing: value)
    if value is NSNumber, text.count <= 64 { return text }
    return text.count > 24 ? text.prefix(24) + "…" : text
  }
}
