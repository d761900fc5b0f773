import Foundation

/// JSON that never fails on a number: NaN and infinities (a model whose outputs overflow, a share
/// whose denominator is zero) are written as `null`, where Foundation's encoders would throw
/// `EncodingError.invalidValue` (after the work is done and partly written).
public enum JSONOutput {
  /// Stands for a non-finite number between encoding and the rewrite to `null`; plain ASCII, so
  /// it is written unescaped whatever the output formatting.
  static let marker = "@@streamline-non-finite@@"

  /// `value` encoded as `JSONEncoder` with `formatting` would, non-finite numbers as `null`.
  public static func encode<T: Encodable>(
    _ value: T, formatting: JSONEncoder.OutputFormatting = []
  ) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = formatting
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: marker, negativeInfinity: marker, nan: marker)
    let data = try encoder.encode(value)
    let quoted = Data("\"\(marker)\"".utf8)
    guard data.range(of: quoted) != nil else { return data }
    var out = data
    while let range = out.range(of: quoted) { out.replaceSubrange(range, with: Data("null".utf8)) }
    return out
  }

  /// A `JSONSerialization` tree with every non-finite number replaced by `NSNull`.
  public static func nullingNonFinite(_ value: Any) -> Any {
    if let dictionary = value as? [String: Any] { return dictionary.mapValues(nullingNonFinite) }
    if let list = value as? [Any] { return list.map(nullingNonFinite) }
    if let number = value as? NSNumber, !number.doubleValue.isFinite,
      String(cString: number.objCType) != "c"
    {
      return NSNull()
    }
    return value
  }
}
