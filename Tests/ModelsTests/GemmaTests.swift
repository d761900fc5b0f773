import Checkpoint
import Foundation
import Models
import Tensors
import Testing

/// Gemma 2 and 3 against transformers: logits, every hidden state and NLL of the tiny random
/// checkpoints of tools/make_model_fixtures.py, layer gradients against PyTorch autograd
/// (tools/make_gradient_fixtures.py), config editing for surgery and the capabilities.
@Suite struct GemmaTests {
  static let variants = ["gemma3-text", "gemma3-bf16", "gemma2"]

  /// Whether this build computes sliding windows (the attention kernel's `window:`), so the
  /// fixtures' sequences past Gemma's window can be run; until then they are refused.
  static let windowsComputed: Bool = {
    guard let folder = try? ModelFolder(url: Fixtures.model("gemma3-text")),
      let config = try? Architectures.config(from: folder.configData, path: folder.configPath)
    else { return false }
    return config.maxAttentionSpan == nil
  }()

  static func architecture(_ variant: String) throws -> any Architecture {
    let folder = try ModelFolder(url: Fixtures.model(variant))
    return try Architectures.config(from: folder.configData, path: folder.configPath)
  }

  /// Mean next-token NLL of `logits` (`[T, V]`) for `tokens`, in Double.
  static func nll(_ logits: [Float], tokens: [Int], vocabulary: Int) -> Double {
    var total = 0.0
    for t in 0..<(tokens.count - 1) {
      let row = logits[(t * vocabulary)..<((t + 1) * vocabulary)].map(Double.init)
      let top = row.max()!
      let logSum = top + log(row.reduce(0) { $0 + exp($1 - top) })
      total += logSum - row[tokens[t + 1]]
    }
    return total / Double(tokens.count - 1)
  }

  /// Runs the sequences `which` of `variant` through the model and compares every hidden
  /// state, the logits (1e-4 absolute) and each sequence's NLL (1e-4 relative).
  func expectParity(_ variant: String, sequences which: (Int, [Int]) -> Bool) throws {
    let reference = try Fixtures.Reference(variant)
    let model = try DecoderModel(url: Fixtures.model(variant))
    #expect(model.config.totalParameters == reference.parameters)
    let chosen = try (0..<reference.sequenceCount).filter { which($0, try reference.tokens($0)) }
    #expect(!chosen.isEmpty)
    let sequences = try chosen.map { try reference.tokens($0) }
    let c = model.config.hiddenSize
    let v = model.config.vocabSize
    var states = 0
    var worst: Float = 0
    try model.forward(
      sequences,
      hiddenState: { i, x, batch in
        for (s, segment) in batch.segments.enumerated() {
          let values = Array(x.data[(segment.lowerBound * c)..<(segment.upperBound * c)])
          let difference = Fixtures.maxDifference(
            values, try reference.floats("hidden.\(chosen[s]).\(i)"))
          worst = max(worst, difference)
          #expect(
            difference < 1e-4, "\(variant): hidden state \(i) of \(chosen[s]) off by \(difference)")
        }
        states += 1
      },
      logits: { s, values, length in
        let logits = Array(UnsafeBufferPointer(start: values, count: length * v))
        let expected = try! reference.floats("logits.\(chosen[s])")
        let difference = Fixtures.maxDifference(logits, expected)
        worst = max(worst, difference)
        #expect(difference < 1e-4, "\(variant): logits of \(chosen[s]) off by \(difference)")
        let nll = Self.nll(logits, tokens: sequences[s], vocabulary: v)
        let expectedNLL = reference.nll(chosen[s])
        #expect(abs(nll - expectedNLL) / expectedNLL < 1e-4, "NLL \(nll) vs \(expectedNLL)")
      })
    #expect(states == model.config.numLayers + 1)
    print("\(variant) \(sequences.map(\.count)): within \(worst) of transformers")
  }

  @Test(arguments: variants)
  func matchesTransformersInsideTheWindow(variant: String) throws {
    let span = try Self.architecture(variant).maxAttentionSpan ?? .max
    try expectParity(variant) { _, tokens in tokens.count <= 8 && tokens.count <= span }
  }

  @Test(.enabled(if: windowsComputed), arguments: variants)
  func matchesTransformersPastTheWindow(variant: String) throws {
    try expectParity(variant) { _, tokens in tokens.count > 8 }
  }

  @Test(.disabled(if: windowsComputed))
  func sequencesPastTheWindowAreRefused() throws {
    let model = try DecoderModel(url: Fixtures.model("gemma3-text"))
    #expect(model.config.maxAttentionSpan == 8)
    #expect(throws: ModelError.self) { try model.validate([Array(repeating: 3, count: 9)]) }
    try model.validate([Array(repeating: 3, count: 8)])
  }

  // MARK: Gradients

  static let layerCases = ["gemma3-sliding", "gemma3-full", "gemma2-sliding", "gemma2-full"]
  static let longLayerCases = ["gemma3-sliding-long", "gemma2-sliding-long"]

  func expectLayerGradients(_ name: String) throws {
    try expectLayerMatchesPyTorch(
      fixture: "layer-\(name).safetensors",
      model: name.hasPrefix("gemma3") ? "gemma3-text" : "gemma2", label: name)
  }

  @Test(arguments: layerCases)
  func layerGradientsMatchPyTorch(name: String) throws {
    try expectLayerGradients(name)
  }

  @Test(.enabled(if: windowsComputed), arguments: longLayerCases)
  func layerGradientsMatchPyTorchPastTheWindow(name: String) throws {
    try expectLayerGradients(name)
  }

  /// Final norm, LM head and (Gemma 2) final-logit soft-cap under the cross-entropy loss.
  @Test(arguments: ["gemma2", "gemma3-text"])
  func headGradientMatchesPyTorch(variant: String) throws {
    try expectHeadMatchesPyTorch(fixture: "lm-\(variant).safetensors", model: variant)
  }

  // MARK: Configuration

  static func config(_ json: [String: Any]) throws -> any Architecture {
    let data = try JSONSerialization.data(withJSONObject: json)
    return try Architectures.config(from: data, path: "config.json")
  }

  static let small: [String: Any] = [
    "model_type": "gemma3_text", "hidden_size": 32, "intermediate_size": 64,
    "num_hidden_layers": 7, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
    "vocab_size": 128, "sliding_window": 8,
  ]

  @Test func surgeryKeepsEachLayersType() throws {
    let original =
      try JSONSerialization.jsonObject(
        with: try Data(
          contentsOf: Fixtures.model("gemma3-text").appendingPathComponent("config.json")))
      as! [String: Any]
    let config = try Self.architecture("gemma3-text")
    let edited = config.editedConfig(original, removing: [1])
    #expect(edited["num_hidden_layers"] as? Int == 3)
    #expect(
      edited["layer_types"] as? [String] == [
        "sliding_attention", "sliding_attention", "sliding_attention",
      ])
  }

  /// Only the period given: the edited config spells the kept layers' types out, since the
  /// period would shift them.
  @Test func surgeryWritesTheTypesOfAPattern() throws {
    var json = Self.small
    json["sliding_window_pattern"] = 3
    let config = try Self.config(json) as! GemmaConfig
    #expect(config.sliding == [true, true, false, true, true, false, true])
    let edited = config.editedConfig(json, removing: [0, 1])
    #expect(edited["num_hidden_layers"] as? Int == 5)
    #expect(
      edited["layer_types"] as? [String] == [
        "full_attention", "sliding_attention", "sliding_attention", "full_attention",
        "sliding_attention",
      ])
    // Gemma 2's rule: even layers slide.
    var gemma2 = Self.small
    gemma2["model_type"] = "gemma2"
    #expect((try Self.config(gemma2) as! GemmaConfig).sliding.prefix(3) == [true, false, true])
  }

  /// transformers 4's layout: rope_theta (and rope_scaling) for full layers,
  /// rope_local_base_freq for sliding ones; 5's: rope_parameters per layer type.
  @Test func ropePerLayerTypeInBothLayouts() throws {
    var old = Self.small
    old["rope_theta"] = 1_000_000.0
    old["rope_local_base_freq"] = 10000.0
    old["rope_scaling"] = ["rope_type": "linear", "factor": 8.0]
    let four = try Self.config(old) as! GemmaConfig
    #expect(four.fullRope == Rope(theta: 1_000_000, dimension: 16, scaling: .linear(factor: 8)))
    #expect(four.slidingRope == Rope(theta: 10000, dimension: 16, scaling: .none))
    var new = Self.small
    new["rope_parameters"] = [
      "full_attention": ["rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0],
      "sliding_attention": ["rope_type": "default", "rope_theta": 10000.0],
    ]
    let five = try Self.config(new) as! GemmaConfig
    #expect(five.fullRope == four.fullRope && five.slidingRope == four.slidingRope)
    #expect(five.attentionScale == 0.0625)
    #expect(five.attentionSoftcap == nil && five.finalSoftcap == nil)
  }

  @Test func unsupportedSettingsAreRefused() throws {
    for (key, value) in [
      ("hidden_activation", "gelu" as Any), ("use_bidirectional_attention", true as Any),
      ("layer_types", ["chunked_attention"] as Any), ("query_pre_attn_scalar", -1 as Any),
    ] {
      var json = Self.small
      json[key] = value
      #expect(throws: ModelError.self, "\(key)") { try Self.config(json) }
    }
  }

  /// `ffn` applies (post_attention_layernorm(0) = 0); `linear` does not (the MLP output is
  /// normed before joining the residual stream).
  @Test func capabilities() throws {
    let folder = try ModelFolder(url: Fixtures.model("gemma3-text"))
    let config = try Architectures.config(from: folder.configData, path: folder.configPath)
    let layer = try config.loadLayer(1, from: folder, precision: .f32)
    #expect(!(layer is any MLPOutputFolding))
    let switching = try #require(layer as? any AttentionSwitching)
    let trainable = switching.switchOffAttention()
    let names = trainable.flatMap { layer.parameterTable[$0].parts.map(\.name) }
    #expect(
      names == [
        "pre_feedforward_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight", "post_feedforward_layernorm.weight",
      ])
    // With attention off the layer is x + post_ff_norm(MLP(pre_ff_norm(x))): a row's output
    // depends on that row alone.
    let batch = Batch(lengths: [6])
    let context = LayerContext(batch: batch)
    let x = FiniteDifferenceGradientTests.tensor([6, 32], seed: 40)
    let whole = x.copy()
    layer.forward(whole.pointer, batch: batch, context: context)
    let last = Tensor(shape: [1, 32], values: Array(x.data[(5 * 32)..<(6 * 32)]))
    layer.forward(last.pointer, batch: Batch(lengths: [1]), context: context)
    #expect(Fixtures.maxDifference(last.toArray(), Array(whole.data[(5 * 32)..<(6 * 32)])) < 1e-6)
  }
}

/// The Gemma kernels against finite differences of their own forwards.
extension FiniteDifferenceGradientTests {
  @Test func gemmaNorm() {
    let (rows, c): (Int, Int) = (3, 8)
    let x = Self.tensor([rows, c], seed: 41, scale: 2)
    let weight = Self.tensor([c], seed: 42, scale: 0.5)
    let r = Self.tensor([rows, c], seed: 43)
    let y = Tensor(zeros: [rows, c])
    let loss = {
      Kernels.rmsNorm(
        x.pointer, weight: weight.pointer, eps: 1e-6, out: y.pointer, rows: rows, columns: c,
        weightOffset: 1)
      return Self.project(y.pointer, r)
    }
    let dx = Tensor(zeros: x.shape)
    let dWeight = Tensor(zeros: weight.shape)
    Kernels.rmsNormBackward(
      r.pointer, x: x.pointer, weight: weight.pointer, eps: 1e-6, dx: dx.pointer,
      dWeight: dWeight.pointer, rows: rows, columns: c, weightOffset: 1)
    expectSmall(
      [
        "x": Self.error(of: x.pointer, analytic: dx, loss: loss),
        "weight": Self.error(of: weight.pointer, analytic: dWeight, loss: loss),
      ], "Gemma norm")
  }

  /// Widths past one vector of eight, so both the vector and the scalar paths run.
  @Test func geluTanhGate() {
    let (rows, width) = (3, 11)
    let fused = Self.tensor([rows, 2 * width], seed: 44, scale: 4)
    let r = Self.tensor([rows, width], seed: 45)
    let y = Tensor(zeros: [rows, width])
    let loss = {
      Kernels.geluTanhGate(fused.pointer, out: y.pointer, rows: rows, width: width)
      return Self.project(y.pointer, r)
    }
    let dFused = Tensor(zeros: fused.shape)
    Kernels.geluTanhGateBackward(
      r.pointer, fused: fused.pointer, dFused: dFused.pointer, rows: rows, width: width)
    expectSmall(
      ["gate, up": Self.error(of: fused.pointer, analytic: dFused, loss: loss)], "GELU-tanh gate")
  }

  /// gelu_tanh and tanh against their definitions, over the range where each formula is used.
  @Test func geluTanhAndTanhValues() {
    let x = (0..<64).map { Float($0 - 32) * 0.37 } + [1e-4, -3e-3, 0.05, 0, 12, -12]
    var worstGelu: Float = 0
    var worstTanh: Float = 0
    for start in stride(from: 0, to: x.count - 7, by: 8) {
      let v = VectorMath.Vector(x[start..<(start + 8)])
      let gelu = VectorMath.geluTanh(v)
      let tanh = VectorMath.tanh(v)
      for lane in 0..<8 {
        let g = Double(v[lane])
        let exact = 0.5 * g * (1 + Foundation.tanh(0.7978845608 * (g + 0.044715 * g * g * g)))
        worstGelu = max(worstGelu, Float(abs(Double(gelu[lane]) - exact) / max(abs(exact), 1)))
        let t = Foundation.tanh(g)
        worstTanh = max(worstTanh, Float(abs(Double(tanh[lane]) - t) / max(abs(t), 1e-30)))
      }
    }
    #expect(worstGelu < 1e-6, "gelu_tanh off by \(worstGelu)")
    #expect(worstTanh < 1e-6, "tanh off by \(worstTanh) relative")
  }

  @Test func softcap() {
    let (rows, columns) = (4, 13)
    let x = Self.tensor([rows, columns], seed: 46, scale: 6)
    let r = Self.tensor([rows, columns], seed: 47)
    let y = Tensor(zeros: x.shape)
    let loss = {
      y.pointer.update(from: x.pointer, count: x.count)
      Kernels.softcap(
        y.pointer, rows: rows, columns: columns, firstPosition: columns, scale: 0.7, cap: 3)
      return Self.project(y.pointer, r)
    }
    let tanh = Tensor(zeros: x.shape)
    let capped = x.copy()
    Kernels.softcap(
      capped.pointer, rows: rows, columns: columns, firstPosition: columns, scale: 0.7, cap: 3,
      tanh: tanh.pointer)
    let dx = r.copy()
    Kernels.softcapBackward(
      dx.pointer, tanh: tanh.pointer, rows: rows, columns: columns, firstPosition: columns,
      scale: 0.7)
    expectSmall(["x": Self.error(of: x.pointer, analytic: dx, loss: loss)], "soft-cap")
  }

  /// Soft-capped attention with a non-default scale, across a 128-row query block and with a
  /// shared prefix.
  @Test(arguments: [
    AttentionCase(lengths: [130, 9], heads: 4, kvHeads: 2, headDim: 4),
    AttentionCase(
      lengths: [3, 6, 4, 5], prefixes: [nil, nil, 1, 1], heads: 4, kvHeads: 2, headDim: 4),
  ])
  func softcappedAttention(_ test: AttentionCase) {
    let (heads, kvHeads, d) = (test.heads, test.kvHeads, test.headDim)
    let batch = Batch(lengths: test.lengths, prefixes: test.prefixes)
    let width = (heads + 2 * kvHeads) * d
    let qkv = Self.tensor([batch.rows, width], seed: 48, scale: 2)
    let r = Self.tensor([batch.rows, heads * d], seed: 49)
    let y = Tensor(zeros: r.shape)
    let loss = {
      Attention.forward(
        qkv: qkv.pointer, out: y.pointer, batch: batch, heads: heads, kvHeads: kvHeads,
        headDim: d, scale: 0.8, softcap: 1.5)
      return Self.project(y.pointer, r)
    }
    let dQKV = Tensor(zeros: qkv.shape)
    Attention.backward(
      qkv: qkv.pointer, dOut: r.pointer, dQKV: dQKV.pointer, batch: batch, heads: heads,
      kvHeads: kvHeads, headDim: d, scale: 0.8, softcap: 1.5)
    let boundary = Array((127 * width)..<(131 * width)).filter { $0 < qkv.count }
    let indices = Self.sample(300, below: qkv.count, seed: 50) + boundary
    expectSmall(
      ["q, k, v": Self.error(of: qkv.pointer, analytic: dQKV, indices: indices, loss: loss)],
      "soft-capped attention \(test)")
  }
}
