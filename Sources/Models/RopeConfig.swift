import Foundation

extension Rope {
  /// The RoPE of config.json: `rope_parameters` (transformers 5) or `rope_theta` and
  /// `rope_scaling` (4), over `dimension` rotated features a head.
  public init(_ raw: RawConfig, path: String, dimension: Int, defaultTheta: Double) throws {
    let parameters = raw.ropeParameters ?? raw.ropeScaling
    let theta = raw.ropeParameters?.ropeTheta ?? raw.ropeTheta ?? defaultTheta
    guard theta.isFinite, theta > 0 else {
      throw ModelError.invalidConfig(path: path, reason: "rope_theta must be a positive number")
    }
    if let partial = parameters?.partialRotaryFactor, partial != 1 {
      throw ModelError.unsupportedFeature(
        path: path, feature: "partial_rotary_factor \(partial)", supported: "1.0")
    }
    let type = parameters?.ropeType ?? parameters?.type ?? "default"
    func need(_ value: Double?, _ key: String) throws -> Double {
      guard let value, value > 0 else {
        throw ModelError.invalidConfig(path: path, reason: "rope \(type) needs a positive \(key)")
      }
      return value
    }
    let scaling: Rope.Scaling
    switch type {
    case "default":
      scaling = .none
    case "linear":
      scaling = .linear(factor: try need(parameters?.factor, "factor"))
    case "llama3":
      scaling = .llama3(
        factor: try need(parameters?.factor, "factor"),
        lowFrequencyFactor: try need(parameters?.lowFreqFactor, "low_freq_factor"),
        highFrequencyFactor: try need(parameters?.highFreqFactor, "high_freq_factor"),
        originalContext: try need(
          parameters?.originalMaxPositionEmbeddings, "original_max_position_embeddings"))
    default:
      throw ModelError.unsupportedFeature(
        path: path, feature: "rope type \"\(type)\"", supported: Rope.supportedTypes)
    }
    self.init(theta: theta, dimension: dimension, scaling: scaling)
  }
}
