import Checkpoint
import Foundation

/// Llama, Mistral and Qwen2 as llama.cpp names them (convert_hf_to_gguf's `LlamaModel` and
/// `Qwen2Model`): Llama and Mistral are llama.cpp's `llama` architecture, whose q and k
/// projections are stored with the rotary permutation (llama.cpp rotates adjacent pairs); Qwen2
/// is `qwen2`, rotated as Hugging Face does (NeoX style), so stored as it is. llama.cpp's `llama`
/// Qwen3 is `qwen3` (Qwen2's layout plus per-head q/k norms). llama.cpp's `llama`, `qwen2`
/// and `qwen3` attend over the whole context: a Mistral or Qwen2 sliding window is not carried
/// (the converter does not either), which changes nothing for sequences no longer than the window.
extension LlamaConfig: GGUFNaming {
  public var ggufArchitecture: String {
    switch modelType {
    case "qwen2": return "qwen2"
    case "qwen3": return "qwen3"
    default: return "llama"
    }
  }

  var permutesRotary: Bool { ggufArchitecture == "llama" }

  public func ggufHyperparameters() throws -> [GGUF.Entry] {
    var entries = commonHyperparameters(
      layers: numLayers, context: maxPositions, hidden: hiddenSize,
      feedForward: intermediateSize, heads: numHeads, kvHeads: numKVHeads,
      ropeTheta: rope.theta, rmsEps: rmsNormEps, headDim: headDim)
    switch rope.scaling {
    case .none, .llama3:
      break  // llama 3's scaling travels as the rope_freqs tensor
    case .linear(let factor):
      entries.append(GGUF.Entry(key("rope.scaling.type"), .string("linear")))
      entries.append(GGUF.Entry(key("rope.scaling.factor"), .float32(Float(factor))))
    case .longrope:
      throw ModelError.unsupportedFeature(
        path: "config.json", feature: "longrope in a \(modelType) model", supported: "phi3")
    }
    if ggufArchitecture == "llama" {
      entries.append(GGUF.Entry(key("vocab_size"), .uint32(UInt32(vocabSize))))
      entries.append(GGUF.Entry(key("rope.dimension_count"), .uint32(UInt32(headDim))))
    }
    return entries
  }

  public func ggufTensors() throws -> [GGUFTensorPlan] {
    try ggufTensors(layerTensors: layerTensors)
  }

  /// The tensors, with each layer's Hugging Face tensors from `layerTensors` (Qwen3 adds its q/k
  /// norms to Llama's).
  func ggufTensors(layerTensors: (Int) -> [(name: String, shape: [Int])]) throws
    -> [GGUFTensorPlan]
  {
    var plans = [
      GGUFTensorPlan(
        "token_embd.weight", source: Self.embeddingName, shape: [vocabSize, hiddenSize])
    ]
    if case .llama3(let factor, let low, let high, let context) = rope.scaling {
      plans.append(
        GGUFTensorPlan(
          "rope_freqs.weight", source: nil, shape: [headDim / 2],
          transform: .values(
            Self.llama3RopeFactors(
              theta: rope.theta, dimension: headDim, factor: factor, low: low, high: high,
              context: context))))
    }
    for layer in 0..<numLayers {
      let prefix = Self.layerPrefix(layer)
      for (name, shape) in layerTensors(layer) {
        let local = String(name.dropFirst(prefix.count))
        guard let short = GGUFTensorPlan.llamaLikeName(local) else {
          throw ModelError.unsupportedFeature(
            path: name, feature: "tensor \(local) in a GGUF export", supported: "Llama's tensors")
        }
        var transform = GGUFTensorPlan.Transform.none
        if permutesRotary && local.hasPrefix("self_attn.q_proj.") {
          transform = .ropePermute(heads: numHeads)
        } else if permutesRotary && local.hasPrefix("self_attn.k_proj.") {
          transform = .ropePermute(heads: numKVHeads)
        }
        plans.append(
          GGUFTensorPlan("blk.\(layer).\(short)", source: name, shape: shape, transform: transform))
      }
    }
    plans.append(
      GGUFTensorPlan("output_norm.weight", source: Self.finalNormName, shape: [hiddenSize]))
    if !tieWordEmbeddings {
      plans.append(
        GGUFTensorPlan("output.weight", source: Self.headName, shape: [vocabSize, hiddenSize]))
    }
    return plans
  }

  /// convert_hf_to_gguf's llama 3 `rope_freqs`: per frequency, the factor it is divided by.
  static func llama3RopeFactors(
    theta: Double, dimension: Int, factor: Double, low: Double, high: Double, context: Double
  ) -> [Float] {
    let lowWavelength = context / low
    let highWavelength = context / high
    return stride(from: 0, to: dimension, by: 2).map { i -> Float in
      // torch: base ** (arange(0, dim, 2, float32) / dim) in Float32, then 1 / that.
      let frequency = 1 / powf(Float(theta), Float(i) / Float(dimension))
      let wavelength = 2 * Double.pi / Double(frequency)
      if wavelength < highWavelength { return 1 }
      if wavelength > lowWavelength { return Float(factor) }
      let smooth = (context / wavelength - low) / (high - low)
      return Float(1 / ((1 - smooth) / factor + smooth))
    }
  }
}
