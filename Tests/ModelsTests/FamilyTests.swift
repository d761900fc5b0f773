import Checkpoint
import Foundation
import Models
import Tensors
import Testing

/// OPT and Phi-3 through the architecture seam: layer and head gradients against PyTorch, the
/// NLL against transformers, capabilities, and the kernels only they use.
@Suite struct FamilyTests {
  static let layerVariants = ["opt-pre", "opt-post", "opt-plain", "phi3-partial", "phi3-longrope"]

  @Test(arguments: layerVariants)
  func layerGradientsMatchPyTorch(variant: String) throws {
    // Adding a constant to every key adds q·b to a whole row of scores, which softmax ignores:
    // the k_proj bias gradient is zero and both sides hold rounding noise (PyTorch's ~1e-9).
    try expectLayerMatchesPyTorch(
      fixture: "layer-\(variant).safetensors", model: variant, label: variant,
      zeroGradientSuffix: "k_proj.bias")
  }

  @Test(arguments: ["opt-pre", "opt-post"])
  func optHeadGradientMatchesPyTorch(variant: String) throws {
    try expectHeadMatchesPyTorch(fixture: "head-\(variant).safetensors", model: variant)
  }

  /// Mean next-token NLL of each sequence from streamline's logits against transformers' loss.
  @Test(arguments: [
    "opt-pre", "opt-post", "opt-bf16", "opt-plain", "phi3-partial", "phi3-longrope",
  ])
  func nllMatchesTransformers(variant: String) throws {
    let reference = try Fixtures.Reference(variant)
    let model = try DecoderModel(url: Fixtures.model(variant))
    let v = model.config.vocabSize
    for s in 0..<reference.sequenceCount {
      let tokens = try reference.tokens(s)
      var nll = 0.0
      try model.forward(
        [tokens],
        logits: { _, values, length in
          for t in 0..<(length - 1) {
            let row = values + t * v
            let top = (0..<v).map { Double(row[$0]) }.max()!
            let sum = (0..<v).reduce(0.0) { $0 + exp(Double(row[$1]) - top) }
            nll += top + log(sum) - Double(row[tokens[t + 1]])
          }
          nll /= Double(length - 1)
        })
      let expected = reference.nll(s)
      #expect(abs(nll - expected) / expected < 1e-4, "sequence \(s): NLL \(nll) vs \(expected)")
    }
  }

  @Test func postNormOPTRefusesBothCapabilitiesAndSaysWhy() throws {
    let post = try DecoderModel(url: Fixtures.model("opt-post")).layer(0)
    #expect(!(post is any AttentionSwitching))
    #expect(!(post is any MLPOutputFolding))
    let explaining = try #require(post as? any MissingCapabilityExplaining)
    #expect(explaining.whyLacking(.attentionSwitching)?.contains("post-norm") == true)
    #expect(explaining.whyLacking(.mlpOutputFolding)?.contains("post-norm") == true)

    let pre = try DecoderModel(url: Fixtures.model("opt-pre")).layer(0)
    let folding = try #require(pre as? any MLPOutputFolding)
    #expect(folding.mlpOutputProjection.weight == "fc2.weight")
    #expect(folding.mlpOutputProjection.bias == "fc2.bias")
    let switching = try #require(pre as? any AttentionSwitching)
    let trainable = switching.switchOffAttention().map { pre.parameterTable[$0].parts[0].name }
    #expect(
      trainable == [
        "final_layer_norm.weight", "final_layer_norm.bias", "fc1.weight", "fc1.bias", "fc2.weight",
        "fc2.bias",
      ])
  }

  /// Pre-norm OPT with attention switched off is exactly `x + fc2(relu(fc1(LN(x))))`.
  @Test func switchedOffOPTLayerIsItsMLP() throws {
    let model = try DecoderModel(url: Fixtures.model("opt-pre"))
    let layer = try model.layer(1)
    _ = (layer as! any AttentionSwitching).switchOffAttention()
    let batch = Batch(lengths: [5])
    let x = FiniteDifferenceGradientTests.tensor([5, 32], seed: 40)
    let y = x.copy()
    layer.forward(y.pointer, batch: batch, context: LayerContext(batch: batch))
    // Attention off: a second sequence order cannot change anything, each row is alone.
    let single = Tensor(shape: [1, 32], values: Array(x.data[64..<96]))
    layer.forward(single.pointer, batch: Batch(lengths: [1]), context: LayerContext(span: 1))
    // A 5-row and a 1-row product are different kernels: equal within round-off.
    #expect(Fixtures.agreeAcrossKernels(Array(y.data[64..<96]), single.toArray()))
  }

  /// facebook's own uploads name the decoder `decoder.…` (saved from OPTModel), not
  /// `model.decoder.…`; both load and compute the same.
  @Test func optCheckpointWithoutModelPrefixLoads() throws {
    let source = try ModelFolder(url: Fixtures.model("opt-pre"))
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "opt-bare-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let tensors = try source.tensorNames.sorted().map { name in
      try WritableTensor(
        copying: name, from: source,
        as: name.hasPrefix("model.") ? String(name.dropFirst("model.".count)) : name)
    }
    _ = try CheckpointWriter.save(tensors, to: folder)
    try source.configData.write(to: folder.appendingPathComponent("config.json"))
    let bare = try DecoderModel(url: folder)
    #expect(bare.config.layerPrefix(2) == "decoder.layers.2.")
    let original = try DecoderModel(url: Fixtures.model("opt-pre"))
    var a: [Float] = []
    var b: [Float] = []
    let tokens = [[3, 88, 120, 45, 9]]
    try bare.forward(
      tokens, logits: { _, v, n in a = Array(UnsafeBufferPointer(start: v, count: n * 128)) })
    try original.forward(
      tokens, logits: { _, v, n in b = Array(UnsafeBufferPointer(start: v, count: n * 128)) })
    #expect(a == b)
  }

  /// A continuation's learned positions (OPT) and its LongRoPE factors (Phi-3: context and
  /// continuation together pass the original 8 positions) are those of the whole sequence.
  @Test(arguments: ["opt-pre", "opt-post", "phi3-longrope"])
  func sharedPrefixEqualsTheWholeSequence(variant: String) throws {
    let model = try DecoderModel(url: Fixtures.model(variant))
    // Every continuation takes its sequence past 8 positions, the prefix alone does not.
    let context = [5, 17, 99, 3, 42, 8]
    let choices = [[7, 9, 4], [100, 2, 64], [11, 12, 13, 1]]
    var shared: [[Float]] = []
    try model.forward(
      [context] + choices, prefixes: [nil, 0, 0, 0],
      logits: { _, values, length in
        shared.append(Array(UnsafeBufferPointer(start: values, count: length * 128)))
      })
    for (c, choice) in choices.enumerated() {
      var whole: [Float] = []
      try model.forward(
        [context + choice],
        logits: { _, values, length in
          whole = Array(UnsafeBufferPointer(start: values, count: length * 128))
        })
      #expect(Fixtures.maxDifference(Array(whole[(context.count * 128)...]), shared[c + 1]) < 1e-5)
    }
  }

  @Test func optRefusesPositionsPastItsTable() throws {
    let model = try DecoderModel(url: Fixtures.model("opt-pre"))
    #expect(throws: ModelError.self) {
      try model.forward([Array(repeating: 5, count: 65)], logits: { _, _, _ in })
    }
    try model.forward([Array(repeating: 5, count: 64)], logits: { _, _, _ in })
  }

  /// Phi-3's window (64) is computed, not refused: the fixture's 150-token sequence is checked
  /// against transformers by the parity tests.
  @Test func phi3SlidingWindowIsComputed() throws {
    let model = try DecoderModel(url: Fixtures.model("phi3-partial"))
    #expect(model.config.maxAttentionSpan == nil)
    #expect((model.config as! Phi3Config).window == 64)
    try model.forward([Array(repeating: 5, count: 65)], logits: { _, _, _ in })
  }

  /// LongRoPE picks its factors per sequence: short up to the original context, long past it,
  /// and a prefix with its continuations as one sequence.
  @Test func longropeChoosesFactorsByLength() throws {
    let folder = try ModelFolder(url: Fixtures.model("phi3-longrope"))
    let config =
      try Architectures.config(from: folder.configData, path: folder.configPath) as! Phi3Config
    let rope = config.rope
    #expect(rope.dimension == 12 && rope.headDim == 16)
    #expect(rope.variant(forLength: 8) == rope)
    #expect(rope.variant(forLength: 9) != rope)
    #expect(rope.variant(forLength: 9).variant(forLength: 3) == rope)
    #expect(abs(Double(rope.attentionFactor) - (1 + log(4.0) / log(8.0)).squareRoot()) < 1e-7)

    // A 5-token continuation of a 6-token prefix rotates as one 11-token sequence: long.
    let context = LayerContext(span: 11)
    let x = FiniteDifferenceGradientTests.tensor([11, 16], seed: 41)
    let joined = x.copy()
    rope.apply(
      joined.pointer, rowStride: 16, heads: 1, batch: Batch(lengths: [11]), context: context)
    let split = x.copy()
    rope.apply(
      split.pointer, rowStride: 16, heads: 1, batch: Batch(lengths: [6, 5], prefixes: [nil, 0]),
      context: context)
    #expect(joined.toArray() == split.toArray())
    let alone = x.copy()
    rope.apply(alone.pointer, rowStride: 16, heads: 1, batch: Batch(lengths: [6]), context: context)
    #expect(Array(alone.data[0..<96]) != Array(joined.data[0..<96]))
  }
}

extension FiniteDifferenceGradientTests {
  @Test(arguments: [true, false])
  func layerNorm(affine: Bool) {
    let (rows, c): (Int, Int) = (3, 8)
    let x = Self.tensor([rows, c], seed: 21, scale: 2, offset: 0.5)
    let weight = Self.tensor([c], seed: 22, scale: 0.3, offset: 1)
    let bias = Self.tensor([c], seed: 23, scale: 0.3)
    let r = Self.tensor([rows, c], seed: 24)
    let y = Tensor(zeros: [rows, c])
    let loss = {
      Kernels.layerNorm(
        x.pointer, weight: affine ? weight.pointer : nil, bias: affine ? bias.pointer : nil,
        eps: 1e-5, out: y.pointer, rows: rows, columns: c)
      return Self.project(y.pointer, r)
    }
    let dx = Tensor(zeros: x.shape)
    let dWeight = Tensor(zeros: weight.shape)
    let dBias = Tensor(zeros: bias.shape)
    Kernels.layerNormBackward(
      r.pointer, x: x.pointer, weight: affine ? weight.pointer : nil, eps: 1e-5, dx: dx.pointer,
      dWeight: affine ? dWeight.pointer : nil, dBias: affine ? dBias.pointer : nil, rows: rows,
      columns: c)
    var errors = ["x": Self.error(of: x.pointer, analytic: dx, loss: loss)]
    if affine {
      errors["weight"] = Self.error(of: weight.pointer, analytic: dWeight, loss: loss)
      errors["bias"] = Self.error(of: bias.pointer, analytic: dBias, loss: loss)
    }
    expectSmall(errors, "LayerNorm\(affine ? "" : " without affine parameters")")
  }

  @Test func relu() {
    let count = 40
    // Away from the kink at 0, where the derivative jumps.
    var values = Self.random(count, seed: 25, scale: 2)
    for i in values.indices where abs(values[i]) < 0.05 { values[i] = 0.5 }
    let x = Tensor(shape: [count], values: values)
    let r = Self.tensor([count], seed: 26)
    let y = Tensor(zeros: [count])
    let loss = {
      y.pointer.update(from: x.pointer, count: count)
      Kernels.relu(y.pointer, count: count)
      return Self.project(y.pointer, r)
    }
    _ = loss()
    let dx = Tensor(zeros: [count])
    Kernels.reluBackward(r.pointer, output: y.pointer, dx: dx.pointer, count: count)
    expectSmall(["x": Self.error(of: x.pointer, analytic: dx, loss: loss)], "ReLU")
  }

  /// Partial rotary (6 of 10 features a head) with LongRoPE's attention factor (a scaled
  /// rotation, whose transpose is the same tables with the sine negated).
  @Test(arguments: [1.0, 1.3])
  func partialRope(attentionFactor: Double) {
    let (heads, d, rotated) = (3, 10, 6)
    let positions = [0, 1, 2, 0, 5]
    let rope = Rope(
      theta: 10000, dimension: rotated, headDim: d,
      scaling: .longrope(
        short: [1, 1.5, 3], long: [2, 3, 4], originalContext: 100,
        attentionFactor: attentionFactor, useLong: false))
    let tables = RopeTables(rope: rope, count: 6)
    let x = Self.tensor([positions.count, heads * d], seed: 27)
    let r = Self.tensor(x.shape, seed: 28)
    let loss = {
      let y = x.copy()
      rope.apply(
        y.pointer, rowStride: heads * d, heads: heads, positions: positions, cos: tables.cos,
        sin: tables.sin)
      return Self.project(y.pointer, r)
    }
    let dx = r.copy()
    rope.backward(
      dx.pointer, rowStride: heads * d, heads: heads, positions: positions, cos: tables.cos,
      sin: tables.sin)
    expectSmall(["x": Self.error(of: x.pointer, analytic: dx, loss: loss)], "partial RoPE")
    // The features past `rotated` pass through.
    let y = x.copy()
    rope.apply(
      y.pointer, rowStride: heads * d, heads: heads, positions: positions, cos: tables.cos,
      sin: tables.sin)
    for row in 0..<positions.count {
      for h in 0..<heads {
        let start = row * heads * d + h * d + rotated
        #expect(
          Array(y.data[start..<(start + d - rotated)])
            == Array(x.data[start..<(start + d - rotated)]))
      }
    }
  }
}
