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
    } catch {
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
