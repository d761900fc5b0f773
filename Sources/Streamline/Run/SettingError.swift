/// A numeric setting that cannot mean anything: not finite, out of its range, or too large for
/// the integer it becomes. Thrown before any work starts, never after hours of it.
public struct SettingError: Error, Equatable, CustomStringConvertible {
  public let setting: NumericSetting
  /// The value as given.
  public let value: String
  /// What it must be: "a finite number > 0".
  public let requirement: String

  public init(_ setting: NumericSetting, _ value: String, _ requirement: String) {
    self.setting = setting
    self.value = value
    self.requirement = requirement
  }

  public var description: String { "\(setting.rawValue) is \(value); it must be \(requirement)" }
}
