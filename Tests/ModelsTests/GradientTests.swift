import Checkpoint
import Foundation
import Models
import Tensors
import Testing

/// The reference gradients of tools/make_gradient_fixtures.py.
struct GradientFixture {
  static let folder = Fixtures.root.appendingPathComponent("gradients")
  let file: SafeTensorsFile

  init(_ name: String) throws {
    file = try SafeTensorsFile(path: Self.folder.appendingPathComponent(name).path)
  }

  func floats(_ name: String) throws -> [Float] {
    let info = try file.info(name)
    var out = [Float](repeating: 0, count: info.elementCount)
    out.withUnsafeMutableBufferPointer {
      Convert.toFloat(file.file.bytes(info.byteRange), dtype: info.dtype, into: $0.baseAddress!)
    }
    return out
  }

  func tensor(_ name: String) throws -> Tensor {
    let info = try file.info(name)
    return Tensor(shape: info.shape, values: try floats(name))
  }

  /// I64 or F64 values.
  func raw<T>(_ name: String, as type: T.Type) throws -> [T] {
    let bytes = try file.bytes(name)
    return (0..<(bytes.count / MemoryLayout<T>.size)).map {
      bytes.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * $0, as: T.self)
    }
  }

  func meta(_ key: String) -> String { file.metadata[key]! }
  var lengths: [Int] { meta("lengths").split(separator: ",").map { Int($0)! } }
}

/// max |a − b| / max |b|: the error relative to the tensor's scale, so tiny entries of a
/// gradient do not blow it up.
func relativeError(_ a: UnsafeBufferPointer<Float>, _ b: [Float]) -> Double {
  precondition(a.count == b.count, "sizes \(a.count) and \(b.count) differ")
  var difference: Double = 0
  var scale: Double = 0
  for i in 0..<b.count {
    difference = max(difference, Double(abs(a[i] - b[i])))
    scale = max(scale, Double(abs(b[i])))
  }
  return difference / max(scale, 1e-30)
}

func relativeError(_ a: [Float], _ b: [Float]) -> Double {
  a.withUnsafeBufferPointer { relativeError($0, b) }
}

/// Every decoder-layer parameter gradient and the input gradient against PyTorch autograd.
/// A layer of `model` against the PyTorch autograd fixture `fixture` (tools/
/// make_gradient_fixtures.py): output, forwardSaving equal to forward, MSE loss, input and every
/// parameter gradient, and the input-gradient-only backward. Parameters named with
/// `zeroGradientSuffix` must have a zero gradient instead (both sides hold only rounding noise).
func expectLayerMatchesPyTorch(
  fixture name: String, model: String, label: String, zeroGradientSuffix: String? = nil
) throws {
  let fixture = try GradientFixture(name)
  let folder = try ModelFolder(url: Fixtures.model(model))
  let config = try Architectures.config(from: folder.configData, path: folder.configPath)
  let index = Int(fixture.meta("layer"))!
  let layer = try config.loadLayer(index, from: folder, precision: .f32)
  let batch = Batch(lengths: fixture.lengths)
  let context = LayerContext(batch: batch)
  let x = try fixture.tensor("x")  // [rows, C]
  let target = try fixture.tensor("target")  // [rows, C]

  let out = x.copy()
  let saved = layer.forwardSaving(out.pointer, batch: batch, context: context)
  let outputError = relativeError(UnsafeBufferPointer(out.data), try fixture.floats("output"))
  #expect(outputError < 1e-4, "output differs by \(outputError)")
  let plain = x.copy()
  layer.forward(plain.pointer, batch: batch, context: context)
  #expect(plain.toArray() == out.toArray(), "forwardSaving is the forward")

  let gradient = Tensor(zeros: x.shape)  // [rows, C]
  let loss = Kernels.mseLoss(
    out.pointer, target: target.pointer, count: out.count, gradient: gradient.pointer)
  let expectedLoss = Double(fixture.meta("loss"))!
  #expect(abs(loss - expectedLoss) / expectedLoss < 1e-5, "loss \(loss) vs \(expectedLoss)")

  let gradients = LayerGradients(zerosFor: layer)
  layer.backward(saved, gradient: gradient.pointer, into: gradients, context: context)
  var worst = relativeError(UnsafeBufferPointer(gradient.data), try fixture.floats("grad.input"))
  #expect(worst < 1e-3, "input gradient differs by \(worst)")
  let named = gradients.named()
  #expect(named.count == config.layerTensors(index).count)
  #expect(named.map(\.name) == layer.namedParameters().map(\.name))
  for (name, _, values) in named {
    if let zeroGradientSuffix, name.hasSuffix(zeroGradientSuffix) {
      let largest = values.map { abs(Double($0)) }.max() ?? 0
      #expect(largest < 1e-6, "\(name) gradient is \(largest), not zero")
      continue
    }
    let error = relativeError(values, try fixture.floats("grad." + name))
    #expect(error < 1e-3, "\(name) gradient differs by \(error)")
    worst = max(worst, error)
  }
  print("\(label): layer gradients within \(worst) of PyTorch (output \(outputError))")

  // Input gradient only, recomputing the forward: the same input gradient.
  let frozen = Tensor(zeros: x.shape)  // [rows, C]
  Kernels.mseLoss(out.pointer, target: target.pointer, count: out.count, gradient: frozen.pointer)
  layer.backward(
    input: x.pointer, gradient: frozen.pointer, into: nil, batch: batch, context: context)
  #expect(frozen.toArray() == gradient.toArray())
}

/// The head of `model` (final norm, LM head, whatever the family adds) under the cross-entropy
/// loss against the PyTorch fixture `fixture`: loss, predicted count and input gradient.
func expectHeadMatchesPyTorch(fixture name: String, model variant: String) throws {
  let fixture = try GradientFixture(name)
  let model = try DecoderModel(url: Fixtures.model(variant))
  let head = try model.head()
  let x = try fixture.tensor("x")  // [rows, C]
  let targets = try fixture.raw("targets", as: Int64.self).map(Int.init)
  let dx = Tensor(zeros: x.shape)
  let (loss, count) = LanguageModelLoss.compute(
    x: x.pointer, rows: x.rows, targets: targets, head: head, dx: dx.pointer)
  #expect(count == Int(fixture.meta("count"))!)
  let expected = Double(fixture.meta("loss"))!
  #expect(abs(loss - expected) / expected < 1e-5, "loss \(loss) vs \(expected)")
  let error = relativeError(dx.toArray(), try fixture.floats("grad.input"))
  #expect(error < 1e-3, "input gradient differs by \(error)")
  print("\(variant): head input gradient within \(error) of PyTorch")
}

@Suite struct GradientTests {
  static let layerVariants = [
    "llama-gqa", "qwen2-bias", "llama-linear-bias", "mistral", "llama3-rope", "qwen3",
    "qwen3-sliding", "mistral-window",
  ]

  /// Through the generic layer API, so every family's layer is checked the same way.
  @Test(arguments: layerVariants)
  func layerMatchesPyTorch(variant: String) throws {
    try expectLayerMatchesPyTorch(
      fixture: "layer-\(variant).safetensors", model: variant, label: variant)
  }

  @Test(arguments: ["llama-gqa", "qwen2-bias"])
  func savingForwardIsTheForward(variant: String) throws {
    let fixture = try GradientFixture("layer-\(variant).safetensors")
    let model = try DecoderModel(url: Fixtures.model(variant))
    let layer = try model.layer(1) as! LlamaLayer
    let batch = Batch(lengths: fixture.lengths)
    let context = LayerContext(batch: batch)
    let plain = try fixture.tensor("x")
    let saving = plain.copy()
    layer.forward(plain.pointer, batch: batch, context: context)
    _ = layer.forwardSaving(saving.pointer, batch: batch, context: context)
    #expect(plain.toArray() == saving.toArray())
  }

  @Test(arguments: ["llama-gqa", "llama-tied"])
  func languageModelLossMatchesPyTorch(variant: String) throws {
    let fixture = try GradientFixture("lm-\(variant).safetensors")
    let model = try DecoderModel(url: Fixtures.model(variant))
    let rmsHead = try model.head() as! RMSNormHead
    let (norm, head) = (rmsHead.norm, rmsHead.projection)
    let x = try fixture.tensor("x")  // [rows, C]
    let targets = try fixture.raw("targets", as: Int64.self).map(Int.init)
    let dx = Tensor(zeros: x.shape)
    let normGradient = Tensor(zeros: norm.shape)
    let headGradient = LinearGradient(zerosFor: head)
    let (loss, count) = LanguageModelLoss.compute(
      x: x.pointer, rows: x.rows, targets: targets, norm: norm, head: head,
      eps: rmsHead.eps, dx: dx.pointer, normGradient: normGradient,
      headGradient: headGradient)
    #expect(count == Int(fixture.meta("count"))!)
    let expected = Double(fixture.meta("loss"))!
    #expect(abs(loss - expected) / expected < 1e-5, "loss \(loss) vs \(expected)")
    let errors = [
      relativeError(dx.toArray(), try fixture.floats("grad.input")),
      relativeError(normGradient.toArray(), try fixture.floats("grad.norm")),
      relativeError(headGradient.weight.toArray(), try fixture.floats("grad.lm_head")),
    ]
    #expect(errors.allSatisfy { $0 < 1e-3 }, "gradient errors \(errors)")
    print("\(variant): LM loss gradients within \(errors.max()!) of PyTorch")

    // Forward only: the same loss.
    let (alone, _) = LanguageModelLoss.compute(
      x: x.pointer, rows: x.rows, targets: targets, norm: norm, head: head,
      eps: rmsHead.eps)
    #expect(alone == loss)
  }

  @Test func nextTokenTargets() {
    #expect(LanguageModelLoss.nextTokenTargets([[5, 6, 7], [9]]) == [6, 7, -1, -1])
  }
}

/// AdamW, the schedule and clipping against torch.optim.AdamW, transformers' schedule and
/// clip_grad_norm_.
@Suite struct OptimizerTests {
  @Test func adamWStepsMatchPyTorch() throws {
    let fixture = try GradientFixture("optimizer.safetensors")
    let meta = { (key: String) in Double(fixture.meta(key))! }
    let parameters = try (0..<2).map { try fixture.tensor("param.\($0)") }
    let optimizer = AdamW(
      parameters: parameters, beta1: meta("beta1"), beta2: meta("beta2"), eps: meta("eps"),
      weightDecay: meta("weight_decay"))
    let schedule = LearningRateSchedule(
      peak: meta("lr"), minimum: meta("min_lr"), warmupSteps: Int(meta("warmup")),
      totalSteps: Int(meta("total")))
    var worst: Double = 0
    for step in 0..<Int(meta("steps")) {
      let gradients = try (0..<2).map { try fixture.tensor("grad.\(step).\($0)") }
      let rate = schedule.rate(at: step)
      #expect(abs(rate - meta("lr.\(step)")) <= 1e-15, "rate of step \(step)")
      let norm = GradientClipping.clip(gradients, maxNorm: meta("max_norm"))
      #expect(abs(norm - meta("norm.\(step)")) / norm < 1e-6, "norm of step \(step)")
      optimizer.step(gradients: gradients, learningRate: rate)
      for (i, parameter) in parameters.enumerated() {
        let error = relativeError(parameter.toArray(), try fixture.floats("after.\(step).\(i)"))
        #expect(error < 1e-6, "parameter \(i) after step \(step) differs by \(error)")
        worst = max(worst, error)
      }
    }
    #expect(optimizer.steps == Int(meta("steps")))
    print("AdamW: parameters within \(worst) of PyTorch")
  }

  @Test func scheduleMatchesTransformers() throws {
    let fixture = try GradientFixture("optimizer.safetensors")
    let expected = try fixture.raw("schedule", as: Double.self)
    let schedule = LearningRateSchedule(warmupSteps: 10, totalSteps: 100)
    for (step, rate) in expected.enumerated() {
      #expect(abs(schedule.rate(at: step) - rate) <= 1e-12 * rate + 1e-20, "step \(step)")
    }
    #expect(schedule.rate(at: 0) == 0)
    #expect(abs(schedule.rate(at: 10) - 2e-4) < 1e-18)
    #expect(abs(schedule.rate(at: 250) - 5e-5) < 1e-18)
  }

  @Test func clippingLeavesSmallGradientsAlone() {
    let g = Tensor(shape: [3], values: [0.3, 0, -0.4])
    #expect(abs(GradientClipping.clip([g], maxNorm: 5) - 0.5) < 1e-7)
    #expect(g.toArray() == [0.3, 0, -0.4])
    #expect(abs(GradientClipping.clip([g], maxNorm: 0.25) - 0.5) < 1e-7)
    #expect(abs(GradientClipping.globalNorm([g]) - 0.25) < 1e-6)
  }
}
