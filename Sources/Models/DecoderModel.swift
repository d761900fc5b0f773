import Checkpoint
import Foundation
import Tensors

/// A checkpoint ready to run: its configuration, checked against every tensor's name and shape
/// before anything is computed, and a forward pass that walks the layers one at a time.
///
/// Each layer's weights are read from the memory-mapped files, converted, applied to every
/// sequence and released, so peak memory is one layer plus the residual stream. With
/// `residentWeights` the converted layers are kept for the next call instead (small models,
/// repeated evaluation); the computation is the same.
public final class DecoderModel: @unchecked Sendable {
  /// The checkpoint; nil for a model of random weights (benchmarks).
  public let folder: ModelFolder?
  public let config: any Architecture
  /// The precision its products run in: the one asked for as this CPU runs it
  /// (`Precision.effective`).
  public let precision: Precision
  public var residentWeights: Bool
  /// At most this many rows go through a layer at once, bounding the temporaries.
  public var chunkRows = 4096

  var residentLayers: [Int: any DecoderLayer] = [:]
  /// Scratch buffers of the layer computations, and the lock that keeps one forward at a time.
  let workspace = Workspace()
  let workspaceLock = NSLock()
  var residentHead: (any LanguageModelHead)?

  public init(folder: ModelFolder, precision: Precision = .f32, residentWeights: Bool = false)
    throws
  {
    self.folder = folder
    self.precision = precision.effective
    self.residentWeights = residentWeights
    config = try Architectures.config(from: folder.configData, path: folder.configPath)
    try Self.checkTensors(folder: folder, config: config)
  }

  /// A model of random weights with the shape of `config`, for benchmarks: every layer shares
  /// one set of weights, which costs exactly what distinct ones would.
  public init(randomWeights config: any Architecture, precision: Precision = .f32, seed: UInt64 = 0)
  {
    folder = nil
    self.config = config
    self.precision = precision.effective
    residentWeights = true
    var generator = SplitMix(seed: seed)
    let layer = config.randomLayer(precision: precision, using: &generator)
    for index in 0..<config.numLayers { residentLayers[index] = layer }
    residentHead = config.randomHead(precision: precision, using: &generator)
  }

  public convenience init(
    url: URL, precision: Precision = .f32, residentWeights: Bool = false
  ) throws {
    try self.init(
      folder: ModelFolder(url: url), precision: precision, residentWeights: residentWeights)
  }

  /// Every expected tensor present with the shape config.json implies, nothing unexplained.
  public static func checkTensors(folder: ModelFolder, config: any Architecture) throws {
    var expected: [String: [Int]] = [:]
    for (name, shape) in config.globalTensors { expected[name] = shape }
    for layer in 0..<config.numLayers {
      for (name, shape) in config.layerTensors(layer) { expected[name] = shape }
    }
    for name in expected.keys.sorted() {
      let info = try folder.info(name)
      guard info.shape == expected[name] else {
        throw CheckpointError.badTensor(
          path: try folder.file(of: name).path, tensor: name,
          reason: "shape \(info.shape) disagrees with config.json, which implies \(expected[name]!)"
        )
      }
    }
    for name in folder.tensorNames where expected[name] == nil {
      if config.tolerates(extraTensor: name) { continue }
      throw ModelError.unexpectedTensor(path: try folder.file(of: name).path, tensor: name)
    }
  }

  // MARK: - Weights

  public func layer(_ index: Int) throws -> any DecoderLayer {
    if let layer = residentLayers[index] { return layer }
    guard let folder else { preconditionFailure("random models hold every layer") }
    let layer = try config.loadLayer(index, from: folder, precision: precision)
    if residentWeights { residentLayers[index] = layer }
    return layer
  }

  /// What follows the last layer: the final norm and the LM head (the embedding matrix when
  /// they are tied).
  public func head() throws -> any LanguageModelHead {
    if let residentHead { return residentHead }
    guard let folder else { preconditionFailure("random models hold their head") }
    let made = try config.loadHead(from: folder, precision: precision)
    if residentWeights { residentHead = made }
    return made
  }

  // MARK: - Forward

  /// Checks token ids and lengths before any work is done.
  public func validate(_ sequences: [[Int]], prefixes: [Int?]? = nil) throws {
    guard !sequences.isEmpty else { throw ModelError.emptyInput("no token sequences to run") }
    if let prefixes {
      guard prefixes.count == sequences.count else {
        throw ModelError.emptyInput("\(prefixes.count) prefixes for \(sequences.count) sequences")
      }
      for (s, prefix) in prefixes.enumerated() {
        guard let prefix else { continue }
        guard prefix >= 0 && prefix < s && prefixes[prefix] == nil else {
          throw ModelError.emptyInput(
            "sequence \(s + 1) must continue an earlier sequence that continues none")
        }
      }
    }
    for (s, sequence) in sequences.enumerated() {
      guard !sequence.isEmpty else {
        throw ModelError.emptyInput("sequence \(s + 1) has no tokens")
      }
      let length = sequence.count + (prefixes?[s].map { sequences[$0].count } ?? 0)
      if let span = config.maxAttentionSpan, length > span {
        throw ModelError.sequenceTooLong(
          length: length, limit: span,
          reason: "\(config.modelType) uses sliding-window attention, which is not supported")
      }
      for (p, token) in sequence.enumerated() where token < 0 || token >= config.vocabSize {
        throw ModelError.tokenOutOfRange(
          sequence: s, position: p, token: token, vocabularySize: config.vocabSize)
      }
    }
  }

  /// The token embeddings of all sequences, laid end to end: hidden state 0, `[rows, C]`.
  public func embed(_ sequences: [[Int]], prefixes: [Int?]? = nil) throws -> (Tensor, Batch) {
    try validate(sequences, prefixes: prefixes)
    let batch = Batch(lengths: sequences.map(\.count), prefixes: prefixes)
    let c = config.hiddenSize
    let x = Tensor(uninitialized: [batch.rows, c])
    guard let folder else {
      for (row, token) in sequences.joined().enumerated() {
        var generator = SplitMix(seed: UInt64(token))
        for i in 0..<c { x.row(row)[i] = generator.nextSigned() }
      }
      return (x, batch)
    }
    try config.embed(sequences, batch: batch, from: folder, into: x)
    return (x, batch)
  }

  /// Runs `sequences` through the decoder layers `layers` (all, in order, by default).
  ///
  /// `prefixes[s]`, when given, names an earlier sequence that sequence s continues (see
  /// `Batch`): a shared context is computed once for all its continuations.
  /// `hiddenState(i, x, batch)` sees the residual stream after the i-th layer run (0 being the
  /// embeddings) before the final norm; copy what you keep. `logits(s, values, length)` gets
  /// sequence s's `[length, vocab]` logits, one sequence at a time, so a large vocabulary never
  /// needs logits for the whole batch at once. `substitutes[i]` runs in place of layer i (a
  /// candidate compensation held in memory, never written).
  public func forward(
    _ sequences: [[Int]], prefixes: [Int?]? = nil, layers: [Int]? = nil,
    substitutes: [Int: any DecoderLayer] = [:],
    hiddenState: ((Int, Tensor, Batch) throws -> Void)? = nil,
    logits: ((Int, UnsafePointer<Float>, Int) throws -> Void)? = nil,
    progress: ((Int, Int) -> Void)? = nil
  ) throws {
    let order = layers ?? Array(0..<config.numLayers)
    if let bad = order.first(where: { $0 < 0 || $0 >= config.numLayers }) {
      throw ModelError.emptyInput("layer \(bad) does not exist (0..<\(config.numLayers))")
    }
    let (x, batch) = try embed(sequences, prefixes: prefixes)
    try hiddenState?(0, x, batch)
    let context = LayerContext(batch: batch)
    for (step, index) in order.enumerated() {
      let layer = try substitutes[index] ?? self.layer(index)
      try runLayer(layer, on: x, batch: batch, context: context)
      try hiddenState?(step + 1, x, batch)
      progress?(step + 1, order.count)
    }
    if let logits { try applyHead(x, batch: batch, logits: logits) }
  }

  /// Applies one layer to every sequence, a chunk of whole sequences at a time. Throws a
  /// matrix product oneDNN refused (`MatMul.checkFailures`).
  public func runLayer(
    _ layer: any DecoderLayer, on x: Tensor, batch: Batch, context: LayerContext
  ) throws {
    workspaceLock.lock()
    defer { workspaceLock.unlock() }
    for chunk in batch.chunks(rowLimit: chunkRows) {
      layer.forward(
        x.row(batch.segments[chunk.lowerBound].lowerBound), batch: batch.slice(chunk),
        context: context, workspace: workspace)
    }
    try MatMul.checkFailures()
  }

  /// The head (final norm and LM head), one chunk of sequences at a time.
  public func applyHead(
    _ x: Tensor, batch: Batch, logits: (Int, UnsafePointer<Float>, Int) throws -> Void
  ) throws {
    let head = try self.head()
    let rowLimit = max(1, (1 << 26) / config.vocabSize)
    for chunk in Batch(lengths: batch.segments.map(\.count)).chunks(rowLimit: rowLimit) {
      let first = batch.segments[chunk.lowerBound].lowerBound
      let rows = batch.segments[chunk.upperBound - 1].upperBound - first
      let out = Tensor(uninitialized: [rows, config.vocabSize])
      _ = head.forward(x.row(first), rows: rows, logits: out.pointer)
      try MatMul.checkFailures()
      for s in chunk {
        let segment = batch.segments[s]
        try logits(s, out.row(segment.lowerBound - first), segment.count)
      }
    }
  }
}
