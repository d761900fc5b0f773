import Foundation

extension Rope {
  /// What a family's RoPE reads beyond `rope_parameters`: Phi-3's top-level keys.
  public struct FamilyKeys: Sendable {
    /// Whether `partial_rotary_factor` < 1 is honoured (transformers' Llama ignores it, so
    /// Llama refuses it rather than compute something else).
    public var partialRotary = false
    /// The top-level `partial_rotary_factor`, which transformers moves into `rope_parameters`.
    public var partialRotaryFactor: Double?
    /// The top-level `original_max_position_embeddings` (Phi-3), which takes priority over
    /// `rope_parameters`' own.
    public var originalMaxPositions: Int?
    /// `max_position_embeddings`, for LongRoPE's default factor.
    public var maxPositions: Int?
    /// Rope types read as another (Phi-3: "su" and "yarn" are "longrope").
    public var aliases: [String: String] = [:]
    /// Whether the family's layers rotate with `Rope.apply(_:rowStride:heads:batch:context:)`,
    /// which picks LongRoPE's factors per sequence.
    public var longrope = false

    public init(
      partialRotary: Bool = false, partialRotaryFactor: Double? = nil,
      originalMaxPositions: Int? = nil, maxPositions: Int? = nil, aliases: [String: String] = [:],
      longrope: Bool = false
    ) {
      self.longrope = longrope
      self.partialRotary = partialRotary
      self.partialRotaryFactor = partialRotaryFactor
      self.originalMaxPositions = originalMaxPositions
      self.maxPositions = maxPositions
      self.aliases = aliases
    }
  }

  /// The RoPE of config.json: `rope_parameters` (transformers 5) or `rope_theta` and
  /// `rope_scaling` (4), for heads of `dimension` features (the rotated part is smaller when
  /// `partial_rotary_factor` < 1 and the family honours it).
  public init(
    _ raw: RawConfig, path: String, dimension headDim: Int, defaultTheta: Double,
    family: FamilyKeys = FamilyKeys()
  ) throws {
    let parameters = raw.ropeParameters ?? raw.ropeScaling
    let theta = raw.ropeParameters?.ropeTheta ?? raw.ropeTheta ?? defaultTheta
    guard theta.isFinite, theta > 0 else {
      throw ModelError.invalidConfig(path: path, reason: "rope_theta must be a positive number")
    }
    let partial = parameters?.partialRotaryFactor ?? family.partialRotaryFactor ?? 1
    var rotated = headDim
    if partial != 1 {
      guard family.partialRotary else {
        throw ModelError.unsupportedFeature(
          path: path, feature: "partial_rotary_factor \(partial)", supported: "1.0")
      }
      // transformers: int(head_dim · partial_rotary_factor).
      rotated = Int(Double(headDim) * partial)
      guard partial > 0, partial <= 1, rotated >= 2, rotated % 2 == 0 else {
        throw ModelError.invalidConfig(
          path: path,
          reason:
            "partial_rotary_factor \(partial) of head_dim \(headDim) does not give an even number of rotated features"
        )
      }
    }
    var type = parameters?.ropeType ?? parameters?.type ?? "default"
    type = family.aliases[type] ?? type
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
    case "longrope" where family.longrope:
      // transformers' _compute_longrope_parameters, with Phi-3's top-level
      // original_max_position_embeddings taking priority.
      let original =
        family.originalMaxPositions.map(Double.init) ?? parameters?.originalMaxPositionEmbeddings
        ?? family.maxPositions.map(Double.init)
      let context = try need(original, "original_max_position_embeddings")
      guard let short = parameters?.shortFactor, let long = parameters?.longFactor,
        short.count == rotated / 2, long.count == rotated / 2
      else {
        throw ModelError.invalidConfig(
          path: path,
          reason: "rope longrope needs short_factor and long_factor of \(rotated / 2) numbers each")
      }
      let factor =
        parameters?.factor ?? Double(family.maxPositions ?? Int(context)) / context
      let attention =
        parameters?.attentionFactor
        ?? (factor <= 1 ? 1 : (1 + log(factor) / log(context)).squareRoot())
      scaling = .longrope(
        short: short, long: long, originalContext: Int(context), attentionFactor: attention,
        useLong: false)
    default:
      throw ModelError.unsupportedFeature(
        path: path, feature: "rope type \"\(type)\"",
        supported: Rope.supportedTypes + (family.longrope ? ", longrope" : ""))
    }
    self.init(theta: theta, dimension: rotated, headDim: headDim, scaling: scaling)
  }
}
