import Checkpoint
import Foundation
import Models
import Tensors

/// The training-free map of ReplaceMe (2025), the one linear map behind the `linear`
/// replacement, the `linear` initialisation, measured selection and the removal curve.
///
/// With a block of layers removed after layer i, whose output is h = a + m (a the residual
/// after its attention, m its MLP output), the least-squares map T with a + m·T ≈ the block's
/// output is folded into that layer's MLP output projection: W ← Tᵀ·W and b ← Tᵀ·b, so m
/// becomes m·T with no extra parameters. Where a family's MLP output cannot take the map
/// (Gemma's post-feed-forward norm), the map acts on the whole residual stream after the layer,
/// in memory only (`residual`), so a block can still be measured as the map would compensate it.
public struct LinearMap {
  /// T, `[C, C]` row-major: input feature by output feature.
  public let matrix: [Double]
  public let width: Int
  /// The rows (tokens) it was fitted on.
  public let rows: Int

  public init(matrix: [Double], width: Int, rows: Int) {
    self.matrix = matrix
    self.width = width
    self.rows = rows
  }

  /// The map from `layer`'s MLP output to what the block adds, fitted on `sequences`: T with
  /// m·T ≈ target − a for the inputs in `inputs` and the block outputs in `targets` (rows of
  /// `lengths`, laid end to end).
  static func fit(
    layer: any MLPOutputFolding, inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>,
    lengths: [Int], sequences: [Int]
  ) throws -> LinearMap {
    let fitting = pairs(
      layer: layer, inputs: inputs, targets: targets, lengths: lengths, sequences: sequences)
    let matrix = try solve(
      m: fitting.m.pointer, y: fitting.y.pointer, rows: fitting.m.rows, width: layer.hiddenSize)
    return LinearMap(matrix: matrix, width: layer.hiddenSize, rows: fitting.m.rows)
  }

  /// The map of the residual stream from a layer's output (`outputs`) to the block's output
  /// (`targets`), fitted on `sequences`.
  static func fitResidual(
    outputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, width c: Int, lengths: [Int],
    sequences: [Int]
  ) throws -> LinearMap {
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    let rows = sequences.reduce(0) { $0 + lengths[$1] }
    let x = Tensor(uninitialized: [rows, c])  // [rows, C] the layer's output
    let wanted = Tensor(uninitialized: [rows, c])  // [rows, C] the block's output
    var row = 0
    for s in sequences {
      let count = lengths[s]
      x.row(row).update(from: outputs + offsets[s] * c, count: count * c)
      wanted.row(row).update(from: targets + offsets[s] * c, count: count * c)
      row += count
    }
    let matrix = try solve(m: x.pointer, y: wanted.pointer, rows: rows, width: c)
    return LinearMap(matrix: matrix, width: c, rows: rows)
  }

  /// `layer` as a layer the map folds into, or the error `refusal` makes of the reason it
  /// cannot take one.
  static func folding(
    _ layer: any DecoderLayer, otherwise: String,
    refusal: (String) -> CompressionError
  ) throws -> any MLPOutputFolding {
    guard let folding = layer as? any MLPOutputFolding else {
      throw refusal(layer.reasonLacking(.mlpOutputFolding, otherwise: otherwise))
    }
    return folding
  }

  /// Folds the map into `layer`'s own MLP output projection (in memory), rounding the folded
  /// values as storing them in `storage` would when given.
  func fold(
    into layer: any MLPOutputFolding, modelType: String,
    storage: (weight: DType, bias: DType?)? = nil
  ) throws {
    let names = layer.mlpOutputProjection
    guard let weight = Self.tensor(named: names.weight, in: layer) else {
      throw CompressionError.missingParameter(modelType: modelType, name: names.weight)
    }
    let bias = names.bias.flatMap { Self.tensor(named: $0, in: layer) }
    let (folded, foldedBias) = self.folded(into: weight, bias: bias)
    weight.pointer.update(from: folded.pointer, count: folded.count)
    if let storage { Self.roundToStorage(weight, dtype: storage.weight) }
    if let bias, let foldedBias {
      bias.pointer.update(from: foldedBias.pointer, count: bias.count)
      if let dtype = storage?.bias { Self.roundToStorage(bias, dtype: dtype) }
    }
  }

  /// `layer` followed by the map of the residual stream, in memory.
  func following(_ layer: any DecoderLayer) -> MappedLayer {
    MappedLayer(layer, map: Tensor(shape: [width, width], values: matrix.map(Float.init)))
  }

  /// m·T for the rows of `m` (`[rows, C]`).
  func applied(to m: Tensor) -> Tensor {
    let c = width
    let transform = Tensor(shape: [c, c], values: matrix.map { Float($0) })
    let mapped = Tensor(uninitialized: m.shape)
    MatMul.gemm(
      transposeA: false, transposeB: false, m: m.rows, n: c, k: c, a: m.pointer, lda: c,
      b: transform.pointer, ldb: c, c: mapped.pointer, ldc: c)
    return mapped
  }

  /// The pairs the map is fitted on, for `sequences` (rows `offsets` of `inputs`, `targets`):
  /// m, the MLP output of `layer` run on the input, and y = target − a, a the residual the MLP
  /// adds to; and, when `plain`, the residual of plain removal, target − the layer's output.
  /// The `linear` replacement (the layer before the block, on h_start−1) and the `linear`
  /// initialisation (the replacement layer, on h_start) both fit through here.
  static func pairs(
    layer: any MLPOutputFolding, inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>,
    lengths: [Int], sequences: [Int], plain withPlain: Bool = false
  ) -> (m: Tensor, y: Tensor, plain: Tensor?) {
    let c = layer.hiddenSize
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    let context = LayerContext(span: lengths.max() ?? 1)
    let rows = sequences.reduce(0) { $0 + lengths[$1] }
    let m = Tensor(uninitialized: [rows, c])  // [rows, C] MLP output
    let y = Tensor(uninitialized: [rows, c])  // [rows, C] target − a
    let plain = withPlain ? Tensor(uninitialized: [rows, c]) : nil  // [rows, C] target − x
    var row = 0
    for s in sequences {
      let count = lengths[s]
      let x = Tensor(uninitialized: [count, c])
      x.pointer.update(from: inputs + offsets[s] * c, count: count * c)
      let a = Tensor(uninitialized: [count, c])  // [count, C], with the output x = a + m
      layer.forward(
        x.pointer, batch: Batch(lengths: [count]), context: context, beforeMLP: a.pointer)
      let target = targets + offsets[s] * c
      let mRow = m.row(row)
      let yRow = y.row(row)
      for i in 0..<(count * c) {
        mRow[i] = x.data[i] - a.data[i]
        yRow[i] = target[i] - a.data[i]
      }
      if let plain {
        let plainRow = plain.row(row)
        for i in 0..<(count * c) { plainRow[i] = target[i] - x.data[i] }
      }
      row += count
    }
    return (m, y, plain)
  }

  /// T (`[C, C]`, row-major: input feature by output feature) minimising ‖m·T − y‖² over the
  /// rows, from the normal equations in Double, solved by Cholesky. A tiny ridge is added only
  /// if mᵀm is numerically singular.
  public static func solve(
    m: UnsafePointer<Float>, y: UnsafePointer<Float>, rows: Int, width c: Int
  )
    throws -> [Double]
  {
    var gram = [Double](repeating: 0, count: c * c)  // mᵀm
    var cross = [Double](repeating: 0, count: c * c)  // mᵀy
    let chunk = 4096
    let partial = Tensor(uninitialized: [c, c])
    for first in stride(from: 0, to: rows, by: chunk) {
      let count = min(chunk, rows - first)
      for (target, right) in [(0, m), (1, y)] {
        MatMul.gemm(
          transposeA: true, transposeB: false, m: c, n: c, k: count, a: m + first * c, lda: c,
          b: right + first * c, ldb: c, c: partial.pointer, ldc: c)
        if target == 0 {
          for i in 0..<(c * c) { gram[i] += Double(partial.data[i]) }
        } else {
          for i in 0..<(c * c) { cross[i] += Double(partial.data[i]) }
        }
      }
    }
    var factor = gram
    if !cholesky(&factor, size: c) {
      let trace = (0..<c).reduce(0.0) { $0 + gram[$1 * c + $1] }
      factor = gram
      for i in 0..<c { factor[i * c + i] += 1e-6 * trace / Double(c) + 1e-12 }
      guard cholesky(&factor, size: c) else {
        throw CompressionError.degenerateLinearFit
      }
    }
    return solve(factor, cross, size: c)
  }

  /// In-place lower Cholesky factor of a symmetric positive definite matrix; false if it is not.
  static func cholesky(_ a: inout [Double], size n: Int) -> Bool {
    for j in 0..<n {
      var diagonal = a[j * n + j]
      for k in 0..<j { diagonal -= a[j * n + k] * a[j * n + k] }
      guard diagonal > 0, diagonal.isFinite else { return false }
      let root = diagonal.squareRoot()
      a[j * n + j] = root
      let rowJ = j * n
      DispatchQueue.concurrentPerform(iterations: Parallel.cores) { part in
        var i = j + 1 + part
        while i < n {
          var sum = a[i * n + j]
          let rowI = i * n
          for k in 0..<j { sum -= a[rowI + k] * a[rowJ + k] }
          a[rowI + j] = sum / root
          i += Parallel.cores
        }
      }
    }
    return true
  }

  /// X with L·Lᵀ·X = B (columns of B solved independently, in parallel).
  static func solve(_ l: [Double], _ b: [Double], size n: Int) -> [Double] {
    var x = b
    x.withUnsafeMutableBufferPointer { x in
      l.withUnsafeBufferPointer { l in
        Parallel.chunks(n, grain: 8) { columns in
          var column = [Double](repeating: 0, count: n)
          for j in columns {
            for i in 0..<n { column[i] = x[i * n + j] }
            for i in 0..<n {  // L·z = b
              var sum = column[i]
              for k in 0..<i { sum -= l[i * n + k] * column[k] }
              column[i] = sum / l[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {  // Lᵀ·x = z
              var sum = column[i]
              for k in (i + 1)..<n { sum -= l[k * n + i] * column[k] }
              column[i] = sum / l[i * n + i]
            }
            for i in 0..<n { x[i * n + j] = column[i] }
          }
        }
      }
    }
    return x
  }

  /// `Tᵀ·W` for a `down_proj` weight `[C, I]` (and `Tᵀ·b` for its bias).
  public func folded(into weight: Tensor, bias: Tensor?) -> (Tensor, Tensor?) {
    let t = matrix
    let c = weight.shape[0]
    let inner = weight.shape[1]
    let transform = Tensor(shape: [c, c], values: t.map { Float($0) })
    let folded = Tensor(uninitialized: [c, inner])
    MatMul.gemm(
      transposeA: true, transposeB: false, m: c, n: inner, k: c, a: transform.pointer, lda: c,
      b: weight.pointer, ldb: inner, c: folded.pointer, ldc: inner)
    let foldedBias = bias.map { bias -> Tensor in
      let out = Tensor(zeros: [c])
      for o in 0..<c {
        var sum = 0.0
        for i in 0..<c { sum += t[i * c + o] * Double(bias.data[i]) }
        out.data[o] = Float(sum)
      }
      return out
    }
    return (folded, foldedBias)
  }

  /// The stored tensor holding exactly the Hugging Face tensor `name` (relative to the layer),
  /// when the table keeps it as an entry of its own.
  static func tensor(named name: String, in layer: any DecoderLayer) -> Tensor? {
    layer.parameterTable.first { $0.parts.count == 1 && $0.parts[0].name == name }?.tensor
  }

  /// Rounds `tensor`'s values as storing them in `dtype` would.
  static func roundToStorage(_ tensor: Tensor, dtype: DType) {
    let p = tensor.pointer
    switch dtype {
    case .BF16:
      for i in 0..<tensor.count { p[i] = Numerics.float(fromBF16: Numerics.bf16(from: p[i])) }
    case .F16:
      for i in 0..<tensor.count { p[i] = Numerics.float(fromF16: Numerics.f16(from: p[i])) }
    default: break
    }
  }
}

/// Candidates compensated by the map in memory, without writing a checkpoint: measured
/// selection and the removal curve measure the model `prune` would write this way.
extension LinearMap {
  /// The states every candidate's fit reads: the input of the layer before each block and the
  /// block's output.
  public static func candidateStates(_ blocks: [SelectedBlock]) -> [Int] {
    Set(blocks.filter { $0.start >= 1 }.flatMap { [$0.start - 1, $0.end] }).sorted()
  }

  /// Layer `block.start − 1` with the map fitted on sequences `fitting` of `store` (sequences
  /// of `lengths`, rows end to end) folded in, as the `linear` replacement writes it; nil for a
  /// block at the first layer, which has no layer before it.
  public static func substitute(
    for block: SelectedBlock, model: DecoderModel, store: StateStore, lengths: [Int],
    fitting: [Int]
  ) throws -> (layer: Int, replacement: any DecoderLayer)? {
    guard block.start >= 1 else { return nil }
    let layer = try folded(
      into: block.start - 1, end: block.end, model: model, inputs: store, targets: store,
      lengths: lengths, fitting: fitting)
    return (block.start - 1, layer)
  }

  /// Layer `index` with the map from its MLP output to what layers `index + 1 ..< end` add
  /// folded in, fitted on sequences `fitting`: its input state from `inputs`, state `end` from
  /// `targets` (the original's, when another model's layers are being compensated). Its
  /// weights are rounded to the checkpoint's dtype as the `linear` replacement writes them, so
  /// the candidate is the model `prune` would write.
  public static func folded(
    into index: Int, end: Int, model: DecoderModel, inputs: StateStore, targets: StateStore,
    lengths: [Int], fitting: [Int]
  ) throws -> any DecoderLayer {
    guard let folder = model.folder else { preconditionFailure("compensation reads checkpoints") }
    let config = model.config
    let layer = try config.loadLayer(index, from: folder, precision: .f32)
    let folding = try Self.folding(
      layer,
      otherwise: "\(config.modelType) layers do not add it straight into the residual stream",
      refusal: CompressionError.mapCannotFoldBeforeBlock)
    let map = try fit(
      layer: folding, inputs: inputs.pointer(state: index), targets: targets.pointer(state: end),
      lengths: lengths, sequences: fitting)
    let names = folding.mlpOutputProjection
    let prefix = config.layerPrefix(index)
    let weightType = try folder.info(prefix + names.weight).dtype
    let biasType = try names.bias.map { try folder.info(prefix + $0).dtype }
    try map.fold(into: folding, modelType: config.modelType, storage: (weightType, biasType))
    return layer
  }

  /// Layer `index` followed by the map from its output to state `end`, fitted on sequences
  /// `fitting` as `folded(into:)` fits its map: for a family whose MLP output cannot take the
  /// map, the map acts on the whole residual stream, in memory only. The layer's output is
  /// state `index + 1` of `inputs`, captured from the same model.
  public static func residual(
    after index: Int, end: Int, model: DecoderModel, inputs: StateStore, targets: StateStore,
    lengths: [Int], fitting: [Int]
  ) throws -> any DecoderLayer {
    guard let folder = model.folder else { preconditionFailure("compensation reads checkpoints") }
    let map = try fitResidual(
      outputs: inputs.pointer(state: index + 1), targets: targets.pointer(state: end),
      width: model.config.hiddenSize, lengths: lengths, sequences: fitting)
    return map.following(try model.config.loadLayer(index, from: folder, precision: .f32))
  }

  /// Why the map cannot fold into `model`'s layers (Gemma's post-feed-forward norm), nil when
  /// it can: every layer of a family is alike, so its first layer answers for all.
  public static func reasonCannotFold(_ model: DecoderModel) throws -> String? {
    guard let folder = model.folder else { preconditionFailure("compensation reads checkpoints") }
    let first = try model.config.loadLayer(0, from: folder, precision: .f32)
    return first is any MLPOutputFolding
      ? nil
      : first.reasonLacking(
        .mlpOutputFolding,
        otherwise:
          "\(model.config.modelType) layers do not add it straight into the residual stream")
  }
}
