/// Where calibration sequences come from and how they are cut.
public struct CalibrationOptions: Sendable {
  public var path: String
  public var seqLen = 512
  public var samples = 64
  public var seed: UInt64 = 0
  /// One document per line of a `.txt` file instead of one per file.
  public var lineDocuments = false
  public var textField = "text"

  public init(path: String) { self.path = path }
}
