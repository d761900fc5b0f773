import Foundation

/// The fields of a Llama-family `config.json` that change the computation, read from either
/// transformers 4's layout (`rope_theta`, `rope_scaling`) or 5's (`rope_parameters`).
public struct RawConfig: Decodable {
  public var modelType: String?
  public var hiddenSize: Int?
  public var intermediateSize: Int?
  public var numHiddenLayers: Int?
  public var numAttentionHeads: Int?
  public var numKeyValueHeads: Int?
  public var headDim: Int?
  public var vocabSize: Int?
  public var rmsNormEps: Double?
  public var ropeTheta: Double?
  public var ropeScaling: RopeParameters?
  public var ropeParameters: RopeParameters?
  public var tieWordEmbeddings: Bool?
  public var attentionBias: Bool?
  public var mlpBias: Bool?
  public var hiddenAct: String?
  public var slidingWindow: Int?
  public var useSlidingWindow: Bool?
  public var maxPositionEmbeddings: Int?
  public var layerTypes: [String]?

  enum CodingKeys: String, CodingKey {
    case modelType = "model_type"
    case hiddenSize = "hidden_size"
    case intermediateSize = "intermediate_size"
    case numHiddenLayers = "num_hidden_layers"
    case numAttentionHeads = "num_attention_heads"
    case numKeyValueHeads = "num_key_value_heads"
    case headDim = "head_dim"
    case vocabSize = "vocab_size"
    case rmsNormEps = "rms_norm_eps"
    case ropeTheta = "rope_theta"
    case ropeScaling = "rope_scaling"
    case ropeParameters = "rope_parameters"
    case tieWordEmbeddings = "tie_word_embeddings"
    case attentionBias = "attention_bias"
    case mlpBias = "mlp_bias"
    case hiddenAct = "hidden_act"
    case slidingWindow = "sliding_window"
    case useSlidingWindow = "use_sliding_window"
    case maxPositionEmbeddings = "max_position_embeddings"
    case layerTypes = "layer_types"

    /// The keys decoded as `Int`.
    static let integerKeys: [CodingKeys] = [
      .hiddenSize, .intermediateSize, .numHiddenLayers, .numAttentionHeads, .numKeyValueHeads,
      .headDim, .vocabSize, .slidingWindow, .maxPositionEmbeddings,
    ]
  }

  public struct RopeParameters: Decodable {
    public var ropeType: String?
    public var type: String?
    public var ropeTheta: Double?
    public var factor: Double?
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositionEmbeddings: Double?
    public var partialRotaryFactor: Double?
    public var shortFactor: [Double]?
    public var longFactor: [Double]?
    public var attentionFactor: Double?

    enum CodingKeys: String, CodingKey {
      case ropeType = "rope_type"
      case type
      case ropeTheta = "rope_theta"
      case factor
      case lowFreqFactor = "low_freq_factor"
      case highFreqFactor = "high_freq_factor"
      case originalMaxPositionEmbeddings = "original_max_position_embeddings"
      case partialRotaryFactor = "partial_rotary_factor"
      case shortFactor = "short_factor"
      case longFactor = "long_factor"
      case attentionFactor = "attention_factor"
    }
  }

  public static func decode(_ data: Data, path: String) throws -> RawConfig {
    do {
      return try JSONDecoder().decode(RawConfig.self, from: data)
    } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context)
    {
      let key = context.codingPath.map(\.stringValue).joined(separator: ".")
      throw ModelError.invalidConfig(path: path, reason: "\(key) has the wrong type")
    } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
      // A number its field cannot hold: a fraction, or an integer past 2^63.
      let key = context.codingPath.map(\.stringValue).joined(separator: ".")
      throw ModelError.invalidConfig(path: path, reason: "\(key) is not an integer that fits")
    } catch {
      // Foundation reports a number its field cannot hold (3.5, 1e300, 2^64 for an Int) as
      // invalid JSON without naming the key; find the key.
      if let scalars = try? JSONDecoder().decode([String: ConfigScalar].self, from: data) {
        for key in CodingKeys.integerKeys {
          if case .number(let value)? = scalars[key.rawValue]?.kind {
            throw ModelError.invalidConfig(
              path: path, reason: "\(key.rawValue) is \(value), but must be an integer")
          }
        }
      }
      throw ModelError.invalidConfig(path: path, reason: "not a valid config.json")
    }
  }

  func require(_ value: Int?, _ key: String, path: String) throws -> Int {
    guard let value else {
      throw ModelError.invalidConfig(path: path, reason: "\(key) is missing")
    }
    guard value > 0 else {
      throw ModelError.invalidConfig(path: path, reason: "\(key) must be positive, not \(value)")
    }
    return value
  }
}

/// The largest sizes accepted from a config.json. They are far above any published model
/// (Llama 3.1 405B: hidden 16,384, 126 layers, 128 heads of 128, intermediate 53,248, vocabulary
/// 128,256, 131,072 positions) yet keep every product that sizes a buffer or indexes a tensor
/// well inside `Int`: hidden × intermediate ≤ 2^37, × layers ≤ 2^49.
public enum ConfigLimits {
  public static let hiddenSize = 1 << 17
  public static let layers = 1 << 12
  public static let heads = 1 << 12
  public static let headDim = 1 << 12
  public static let intermediateSize = 1 << 20
  public static let vocabSize = 1 << 22
  /// Context lengths, sliding windows and other counts of positions.
  public static let positions = 1 << 24
}

/// Checked reads of config.json's integers, for every family: each value must be an integer
/// (not a fraction or a boolean), positive (or, for `count`, at least zero) and at most `max`,
/// or the read throws one line naming the file and the key. A family reads its sizes with these
/// before anything is allocated from them:
///
///     let hidden = try source.positive("hidden_size", max: ConfigLimits.hiddenSize)
///     let window = try source.optionalPositive("sliding_window", max: ConfigLimits.positions)
extension ConfigSource {
  /// Whether config.json sets `key` at all (to anything, `null` included): transformers
  /// applies its default only to a key that is absent.
  public func has(_ key: String) -> Bool { scalars[key] != nil }

  /// `key`, required: a positive integer at most `max`.
  public func positive(_ key: String, max: Int) throws -> Int {
    guard let value = try optionalPositive(key, max: max) else {
      throw ModelError.invalidConfig(path: path, reason: "\(key) is missing")
    }
    return value
  }

  /// `key`, or `default` when absent or null: a positive integer at most `max`.
  public func positive(_ key: String, max: Int, default fallback: Int) throws -> Int {
    try optionalPositive(key, max: max) ?? fallback
  }

  /// `key`, nil when absent or null: a positive integer at most `max`.
  public func optionalPositive(_ key: String, max: Int) throws -> Int? {
    try integer(key, in: 1...max)
  }

  /// `key`, or `default` when absent or null: an integer from 0 to `max` (a count that may be
  /// zero, such as `max_window_layers`).
  public func count(_ key: String, max: Int, default fallback: Int) throws -> Int {
    try integer(key, in: 0...max) ?? fallback
  }

  func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
    let bound = "an integer from \(range.lowerBound) to \(range.upperBound)"
    switch scalars[key]?.kind {
    case nil, .null:
      return nil
    case .integer(let value) where range.contains(value):
      return value
    case .integer(let value):
      throw ModelError.invalidConfig(path: path, reason: "\(key) is \(value), but must be \(bound)")
    case .number(let value):
      throw ModelError.invalidConfig(path: path, reason: "\(key) is \(value), but must be \(bound)")
    case .other:
      throw ModelError.invalidConfig(path: path, reason: "\(key) must be \(bound)")
    }
  }

  /// `factors` multiplied, or one line naming `what` when the product overflows `Int` or
  /// exceeds `max`: for a product of config values that sizes a buffer.
  public func product(_ factors: [Int], _ what: String, max: Int = Int.max) throws -> Int {
    try ConfigSource.product(factors, what, path: path, max: max)
  }

  /// `product` for code that has the path but no source (checks before allocations).
  public static func product(_ factors: [Int], _ what: String, path: String, max: Int = Int.max)
    throws -> Int
  {
    var total = 1
    for factor in factors {
      let (result, overflow) = total.multipliedReportingOverflow(by: factor)
      guard !overflow, factor >= 0, result <= max else {
        throw ModelError.invalidConfig(
          path: path,
          reason: "\(what) (\(factors.map(String.init).joined(separator: " × "))) is too large")
      }
      total = result
    }
    return total
  }
}

/// One top-level value of config.json as far as the checked reads care: a JSON integer that
/// fits `Int`, another number, null, or anything else (a boolean, a string, a list, an object).
struct ConfigScalar: Decodable {
  enum Kind {
    case null
    case integer(Int)
    case number(Double)
    case other
  }
  let kind: Kind

  init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      kind = .null
    } else if (try? container.decode(Bool.self)) != nil {
      kind = .other
    } else if let value = try? container.decode(Int.self) {
      kind = .integer(value)
    } else if let value = try? container.decode(Double.self) {
      kind = .number(value)
    } else {
      kind = .other
    }
  }
}
