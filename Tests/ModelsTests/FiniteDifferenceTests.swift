import Checkpoint
import Foundation
import Models
import Tensors
import Testing

/// Each backward against central finite differences of its own forward, on tiny shapes.
///
/// The forwards compute in Float32, so the loss is a fixed random projection `L = Σ r·y` summed
/// in Double, the step is large (1e-2; the pieces are smooth) and the error is taken relative to
/// the gradient's largest entry. Float32 rounding of y then bounds the difference quotient's
/// error near 1e-4 of the gradient's scale; the bound below is 2e-3.
@Suite struct FiniteDifferenceGradientTests {
  static let bound = 2e-3

  /// Random values in [-scale, scale) (plus `offset`), seeded.
  static func random(_ count: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
    var generator = SplitMix(seed: seed)
    return (0..<count).map { _ in offset + scale * generator.nextSigned() }
  }

  static func tensor(_ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
    Tensor(
      shape: shape,
      values: random(shape.reduce(1, *), seed: seed, scale: scale, offset: offset))
  }

  /// Σ r·y in Double.
  static func project(_ y: UnsafePointer<Float>, _ r: Tensor) -> Double {
    var sum: Double = 0
    for i in 0..<r.count { sum += Double(r.data[i]) * Double(y[i]) }
    return sum
  }

  /// max over `indices` of |difference quotient − analytic|, over max |analytic|.
  static func error(
    of values: UnsafeMutablePointer<Float>, analytic: Tensor, indices: [Int]? = nil,
    step: Float = 1e-2, loss: () -> Double
  ) -> Double {
    var worst: Double = 0
    var scale: Double = 0
    for i in 0..<analytic.count { scale = max(scale, Double(abs(analytic.data[i]))) }
    for i in indices ?? Array(0..<analytic.count) {
      let saved = values[i]
      let up = saved + step
      let down = saved - step
      values[i] = up
      let plus = loss()
      values[i] = down
      let minus = loss()
      values[i] = saved
      let quotient = (plus - minus) / (Double(up) - Double(down))
      worst = max(worst, abs(quotient - Double(analytic.data[i])))
    }
    return worst / max(scale, 1e-30)
  }

  /// `count` distinct indices below `limit`, seeded (all of them when there are few).
  static func sample(_ count: Int, below limit: Int, seed: UInt64) -> [Int] {
    guard limit > count else { return Array(0..<limit) }
    var generator = SplitMix(seed: seed)
    var picked = Set<Int>()
    while picked.count < count { picked.insert(Int(generator.next() % UInt64(limit))) }
    return picked.sorted()
  }

  func expectSmall(_ errors: [String: Double], _ what: String) {
    for (name, error) in errors.sorted(by: { $0.key < $1.key }) {
      #expect(error < Self.bound, "\(what): \(name) gradient off by \(error)")
    }
    print("\(what): finite differences within \(errors.values.max() ?? 0)")
  }

  @Test func rmsNorm() {
    let (rows, c): (Int, Int) = (3, 8)
    let x = Self.tensor([rows, c], seed: 1, scale: 2)
    let weight = Self.tensor([c], seed: 2, scale: 0.3, offset: 1)
    let r = Self.tensor([rows, c], seed: 3)
    let y = Tensor(zeros: [rows, c])
    let loss = {
      Kernels.rmsNorm(
        x.pointer, weight: weight.pointer, eps: 1e-5, out: y.pointer, rows: rows, columns: c)
      return Self.project(y.pointer, r)
    }
    let dx = Tensor(zeros: x.shape)
    let dWeight = Tensor(zeros: weight.shape)
    Kernels.rmsNormBackward(
      r.pointer, x: x.pointer, weight: weight.pointer, eps: 1e-5, dx: dx.pointer,
      dWeight: dWeight.pointer, rows: rows, columns: c)
    expectSmall(
      [
        "x": Self.error(of: x.pointer, analytic: dx, loss: loss),
        "weight": Self.error(of: weight.pointer, analytic: dWeight, loss: loss),
      ], "RMSNorm")
  }

  @Test func siluGate() {
    let (rows, width) = (3, 5)
    let fused = Self.tensor([rows, 2 * width], seed: 4, scale: 3)
    let r = Self.tensor([rows, width], seed: 5)
    let y = Tensor(zeros: [rows, width])
    let loss = {
      Kernels.siluGate(fused.pointer, out: y.pointer, rows: rows, width: width)
      return Self.project(y.pointer, r)
    }
    let dFused = Tensor(zeros: fused.shape)
    Kernels.siluGateBackward(
      r.pointer, fused: fused.pointer, dFused: dFused.pointer, rows: rows, width: width)
    expectSmall(
      ["gate, up": Self.error(of: fused.pointer, analytic: dFused, loss: loss)], "SiLU gate")
  }

  @Test func linearWithBias() {
    let (rows, inputs, outputs) = (4, 6, 5)
    let x = Self.tensor([rows, inputs], seed: 6)
    let weight = Self.tensor([outputs, inputs], seed: 7)
    let bias = Self.tensor([outputs], seed: 8)
    let linear = Linear(
      weight: .f32(weight), bias: bias, outFeatures: outputs, inFeatures: inputs)
    let r = Self.tensor([rows, outputs], seed: 9)
    let y = Tensor(zeros: [rows, outputs])
    let loss = {
      linear.apply(Linear.Input(x.pointer), into: y.pointer, rows: rows)
      return Self.project(y.pointer, r)
    }
    let dx = Tensor(zeros: x.shape)
    let gradient = LinearGradient(zerosFor: linear)
    linear.backward(x: x.pointer, dOut: r.pointer, dx: dx.pointer, gradient: gradient, rows: rows)
    expectSmall(
      [
        "x": Self.error(of: x.pointer, analytic: dx, loss: loss),
        "weight": Self.error(of: weight.pointer, analytic: gradient.weight, loss: loss),
        "bias": Self.error(of: bias.pointer, analytic: gradient.bias!, loss: loss),
      ], "Linear")

    // Gradients add up: a second backward doubles them.
    linear.backward(x: x.pointer, dOut: r.pointer, dx: dx.pointer, gradient: gradient, rows: rows)
    let once = LinearGradient(zerosFor: linear)
    linear.backward(x: x.pointer, dOut: r.pointer, dx: nil, gradient: once, rows: rows)
    let doubled = once.weight.toArray().map { 2 * $0 }
    #expect(relativeError(gradient.weight.toArray(), doubled) < 1e-6)
  }

  @Test func rope() {
    let (heads, d) = (3, 8)
    let positions = [0, 1, 2, 0, 5]
    let rope = Rope(theta: 10000, dimension: d, scaling: .none)
    let tables = RopeTables(rope: rope, count: 6)
    let x = Self.tensor([positions.count, heads * d], seed: 10)
    let r = Self.tensor(x.shape, seed: 11)
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
    expectSmall(["x": Self.error(of: x.pointer, analytic: dx, loss: loss)], "RoPE")
  }

  struct AttentionCase: Sendable, CustomStringConvertible {
    var lengths: [Int]
    var prefixes: [Int?]? = nil
    var heads: Int
    var kvHeads: Int
    var headDim: Int
    var window: Int? = nil
    var description: String {
      "\(lengths) \(prefixes ?? []) H\(heads) KV\(kvHeads) window \(window.map(String.init) ?? "-")"
    }
  }

  /// Grouped-query attention: two sequences, one longer than a 128-row query block (spread over
  /// the cores); one sequence with one key-value head (run on one task); two continuations
  /// sharing a prefix.
  @Test(arguments: [
    AttentionCase(lengths: [130, 9], heads: 4, kvHeads: 2, headDim: 4),
    AttentionCase(lengths: [20], heads: 2, kvHeads: 1, headDim: 6),
    AttentionCase(
      lengths: [3, 6, 4, 5], prefixes: [nil, nil, 1, 1], heads: 4, kvHeads: 2, headDim: 4),
    // Sliding windows: query blocks whose first keys lie past the window (the 130-row case),
    // a window wider than the sequence, and continuations whose window starts in the prefix.
    AttentionCase(lengths: [130, 9], heads: 4, kvHeads: 2, headDim: 4, window: 7),
    AttentionCase(lengths: [20], heads: 2, kvHeads: 1, headDim: 6, window: 64),
    AttentionCase(
      lengths: [3, 6, 4, 5], prefixes: [nil, nil, 1, 1], heads: 4, kvHeads: 2, headDim: 4,
      window: 3),
  ])
  func attention(_ test: AttentionCase) {
    let (heads, kvHeads, d) = (test.heads, test.kvHeads, test.headDim)
    let batch = Batch(lengths: test.lengths, prefixes: test.prefixes)
    let width = (heads + 2 * kvHeads) * d
    let qkv = Self.tensor([batch.rows, width], seed: 12, scale: 1.5)
    let r = Self.tensor([batch.rows, heads * d], seed: 13)
    let y = Tensor(zeros: r.shape)
    let loss = {
      Attention.forward(
        qkv: qkv.pointer, out: y.pointer, batch: batch, heads: heads, kvHeads: kvHeads,
        headDim: d, window: test.window)
      return Self.project(y.pointer, r)
    }
    let dQKV = Tensor(zeros: qkv.shape)
    Attention.backward(
      qkv: qkv.pointer, dOut: r.pointer, dQKV: dQKV.pointer, batch: batch, heads: heads,
      kvHeads: kvHeads, headDim: d, window: test.window)
    // Every entry of the short cases; of the long one, a sample and the rows around 128.
    let boundary = Array((127 * width)..<(131 * width)).filter { $0 < qkv.count }
    let indices = Self.sample(300, below: qkv.count, seed: 14) + boundary
    expectSmall(
      ["q, k, v": Self.error(of: qkv.pointer, analytic: dQKV, indices: indices, loss: loss)],
      "attention \(test)")
  }

  @Test func meanSquaredError() {
    let prediction = Self.tensor([4, 3], seed: 15)
    let target = Self.tensor([4, 3], seed: 16)
    let gradient = Tensor(zeros: prediction.shape)
    let loss = Kernels.mseLoss(
      prediction.pointer, target: target.pointer, count: 12, gradient: gradient.pointer)
    let expected = (0..<12).reduce(0.0) {
      let difference = Double(prediction.data[$1]) - Double(target.data[$1])
      return $0 + difference * difference / 12
    }
    #expect(abs(loss - expected) < 1e-12)
    expectSmall(
      [
        "prediction": Self.error(of: prediction.pointer, analytic: gradient) {
          Kernels.mseLoss(prediction.pointer, target: target.pointer, count: 12)
        }
      ], "MSE")
  }

  @Test func crossEntropy() {
    let (rows, vocabulary) = (4, 7)
    let logits = Self.tensor([rows, vocabulary], seed: 17, scale: 3)
    let targets = [3, -1, 0, 6]
    let gradient = Tensor(zeros: logits.shape)
    let (sum, count) = Kernels.crossEntropy(
      logits.pointer, targets: targets, rows: rows, vocabulary: vocabulary,
      gradient: gradient.pointer, scale: 1 / 3)
    #expect(count == 3)
    var expected: Double = 0
    for (r, target) in targets.enumerated() where target >= 0 {
      let row = (0..<vocabulary).map { Double(logits.data[r * vocabulary + $0]) }
      expected += log(row.map { exp($0) }.reduce(0, +)) - row[target]
    }
    #expect(abs(sum - expected) < 1e-5)
    #expect((0..<vocabulary).allSatisfy { gradient.data[vocabulary + $0] == 0 })
    expectSmall(
      [
        "logits": Self.error(of: logits.pointer, analytic: gradient) {
          Kernels.crossEntropy(
            logits.pointer, targets: targets, rows: rows, vocabulary: vocabulary
          ).loss / 3
        }
      ], "cross-entropy")

    // In place: the gradient overwrites the logits.
    let inPlace = logits.copy()
    _ = Kernels.crossEntropy(
      inPlace.pointer, targets: targets, rows: rows, vocabulary: vocabulary,
      gradient: inPlace.pointer, scale: 1 / 3)
    #expect(inPlace.toArray() == gradient.toArray())
  }

  /// The whole decoder layer (every bias present), through a sample of each tensor's entries.
  @Test func decoderLayer() throws {
    let folder = try ModelFolder(url: Fixtures.model("llama-linear-bias"))
    let config =
      try Architectures.config(from: folder.configData, path: folder.configPath) as! LlamaConfig
    let layer = try LlamaLayer.load(2, config: config, from: folder, precision: .f32)
    let batch = Batch(lengths: [5, 4])
    let context = LayerContext(batch: batch)
    let x = Self.tensor([batch.rows, config.hiddenSize], seed: 18, scale: 2)
    let r = Self.tensor(x.shape, seed: 19)
    let loss = {
      let y = x.copy()
      layer.forward(y.pointer, batch: batch, context: context)
      return Self.project(y.pointer, r)
    }
    let gradients = LayerGradients(zerosFor: layer)
    let dx = r.copy()
    layer.backward(
      input: x.pointer, gradient: dx.pointer, into: gradients, batch: batch, context: context)
    var errors = [
      "input": Self.error(
        of: x.pointer, analytic: dx, indices: Self.sample(40, below: x.count, seed: 20), loss: loss)
    ]
    let names = [
      "norm", "qkv", "qkv bias", "o", "o bias", "post norm", "gate/up", "gate/up bias",
      "down", "down bias",
    ]
    #expect(layer.parameters.count == names.count)
    #expect(gradients.tensors.count == names.count)
    for (index, (parameter, gradient)) in zip(layer.parameters, gradients.tensors).enumerated() {
      let indices = Self.sample(30, below: parameter.count, seed: 21 + UInt64(index))
      errors[names[index]] = Self.error(
        of: parameter.pointer, analytic: gradient, indices: indices, loss: loss)
    }
    expectSmall(errors, "decoder layer")
  }

  /// Qwen3's layer (per-head q/k norms before RoPE) on a sliding layer, through the generic
  /// layer API: every tensor of its table, the q/k norms included.
  @Test func qwen3Layer() throws {
    let folder = try ModelFolder(url: Fixtures.model("qwen3-sliding"))
    let config = try Architectures.config(from: folder.configData, path: folder.configPath)
    let layer = try config.loadLayer(2, from: folder, precision: .f32)
    let batch = Batch(lengths: [9, 4])
    let context = LayerContext(batch: batch)
    let x = Self.tensor([batch.rows, config.hiddenSize], seed: 40, scale: 2)
    let r = Self.tensor(x.shape, seed: 41)
    let loss = {
      let y = x.copy()
      layer.forward(y.pointer, batch: batch, context: context)
      return Self.project(y.pointer, r)
    }
    let gradients = LayerGradients(zerosFor: layer)
    let dx = r.copy()
    layer.backward(
      input: x.pointer, gradient: dx.pointer, into: gradients, batch: batch, context: context)
    var errors = [
      "input": Self.error(
        of: x.pointer, analytic: dx, indices: Self.sample(40, below: x.count, seed: 42), loss: loss)
    ]
    let table = layer.parameterTable
    #expect(table.last?.parts.first?.name == "self_attn.k_norm.weight")
    for (index, (entry, gradient)) in zip(table, gradients.tensors).enumerated() {
      let indices = Self.sample(30, below: entry.tensor.count, seed: 43 + UInt64(index))
      errors[entry.parts.map(\.name).joined(separator: "+")] = Self.error(
        of: entry.tensor.pointer, analytic: gradient, indices: indices, loss: loss)
    }
    expectSmall(errors, "qwen3 layer")
  }

  @Test func languageModelLoss() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let rmsHead = try model.head() as! RMSNormHead
    let (norm, head) = (rmsHead.norm, rmsHead.projection)
    let x = Self.tensor([6, model.config.hiddenSize], seed: 30, scale: 2)
    let targets = [5, 77, -1, 3, 127, -1]
    let eps = rmsHead.eps
    let loss = {
      LanguageModelLoss.compute(
        x: x.pointer, rows: 6, targets: targets, norm: norm, head: head, eps: eps
      ).loss
    }
    let dx = Tensor(zeros: x.shape)
    let normGradient = Tensor(zeros: norm.shape)
    let headGradient = LinearGradient(zerosFor: head)
    _ = LanguageModelLoss.compute(
      x: x.pointer, rows: 6, targets: targets, norm: norm, head: head, eps: eps, dx: dx.pointer,
      normGradient: normGradient, headGradient: headGradient)
    let headWeight = head.f32Weight
    expectSmall(
      [
        "input": Self.error(of: x.pointer, analytic: dx, loss: loss),
        "norm": Self.error(of: norm.pointer, analytic: normGradient, loss: loss),
        "head": Self.error(
          of: headWeight.pointer, analytic: headGradient.weight,
          indices: Self.sample(200, below: headWeight.count, seed: 31), loss: loss),
      ], "LM loss")
  }
}
