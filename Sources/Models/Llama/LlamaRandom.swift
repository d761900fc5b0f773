import Tensors

extension LlamaLayer {
  /// A layer of random weights with the shape of `config`, for benchmarks.
  public static func random(
    config: LlamaConfig, precision: Precision, using generator: inout SplitMix
  )
    -> LlamaLayer
  {
    let c = config.hiddenSize
    let ones = { Tensor(shape: [c], values: .init(repeating: 1, count: c)) }
    return LlamaLayer(
      config: config, inputNorm: ones(),
      qkv: .random(
        outFeatures: config.queryWidth + 2 * config.keyValueWidth, inFeatures: c,
        bias: config.qkvBias, precision: precision, using: &generator),
      output: .random(
        outFeatures: c, inFeatures: config.queryWidth, bias: config.outputBias,
        precision: precision, using: &generator),
      postNorm: ones(),
      gateUp: .random(
        outFeatures: 2 * config.intermediateSize, inFeatures: c, bias: config.mlpBias,
        precision: precision, using: &generator),
      down: .random(
        outFeatures: c, inFeatures: config.intermediateSize, bias: config.mlpBias,
        precision: precision, using: &generator),
      window: config.layerWindows.first ?? nil)
  }
}
