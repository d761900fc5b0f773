import Evaluation
import Foundation
import Models
import Tensors

/// How far to go: held-out perplexity and KL to the original for every count of layers removed
/// from 1 to N, for plain removal and for the training-free linear map (plain removal alone for
/// a family whose layers cannot take the map), each candidate the model `prune` would write for
/// that count, measured in memory without writing it.
public struct RemovalCurve: Codable, Sendable {
  public let metric: ImportanceMetric
  public let numLayers: Int
  public let parameters: Int
  /// The scored calibration sequences and tokens behind the block choices.
  public let samples: Int
  public let scoredTokens: Int
  public let heldOut: CurveHeldOut
  /// How the maps were fitted; nil without them.
  public let fitting: CurveFitting?
  /// Why the curve has no linear map: the family's layers cannot take it (Gemma's
  /// post-feed-forward norm), so `prune --replace linear` refuses them.
  public let mapUnavailable: String?
  /// The original model's held-out perplexity (its KL is 0).
  public let original: Double
  public let points: [CurvePoint]
  public let seconds: Double

  enum CodingKeys: String, CodingKey {
    case metric, parameters, samples, fitting, original, points, seconds
    case numLayers = "num_layers"
    case scoredTokens = "scored_tokens"
    case heldOut = "held_out"
    case mapUnavailable = "map_unavailable"
  }

  /// Whether the curve has the linear map beside plain removal.
  public var hasMaps: Bool { mapUnavailable == nil }

  /// The most layers the curve can remove from `layers`: all but one (a linear map needs the
  /// layer before its block, which then stays).
  public static func maximum(layers: Int) -> Int { layers - 1 }

  /// Checks `n` against the model and the metric before any work.
  public static func check(_ n: Int, layers: Int, metric: ImportanceMetric) throws {
    guard n >= 1 && n <= maximum(layers: layers) else {
      throw CurveError.removalOutOfRange(
        requested: n, maximum: maximum(layers: layers), layers: layers)
    }
    guard metric != .bi else { throw CurveError.scatteredMetric(metric) }
  }

  /// The plain and linear blocks for every n up to `n`, chosen from one similarity matrix as
  /// `prune --remove n` chooses them.
  public static func blocks(
    _ similarity: SimilarityMatrix, config: any Architecture, metric: ImportanceMetric,
    upTo n: Int
  ) throws -> [(
    plain: SelectedBlock, linear: SelectedBlock, plainScore: Double,
    linearScore: Double
  )] {
    try (1...n).map { count in
      let plain = try Importance.analyze(
        similarity, config: config, metric: metric, removing: count, replacement: .none)
      let linear = try Importance.analyze(
        similarity, config: config, metric: metric, removing: count, replacement: .linear)
      func score(_ analysis: Analysis) -> Double {
        let block = analysis.blocks.first { $0.start == analysis.chosen.start }!
        return metric == .angular ? block.angular : block.cosine
      }
      func selected(_ chosen: ChosenBlock) -> SelectedBlock {
        SelectedBlock(start: chosen.start, end: chosen.end, layers: chosen.layers)
      }
      return (selected(plain.chosen), selected(linear.chosen), score(plain), score(linear))
    }
  }

  /// Measures the curve to `n` layers removed.
  ///
  /// `similarity` scores the blocks (of `request.scoringSamples` calibration sequences);
  /// `training` are the calibration sequences `prune --replace linear` would fit on (those after
  /// the scored and held-out ones), split by `request.training` as it splits them; `windows`
  /// are the held-out windows, `heldOut` says where they came from. States are captured in as
  /// few passes as `request.trainingMemory` allows (spilled to `request.spillDirectory` when one
  /// count's states alone exceed it). A family whose layers cannot take the map gets plain
  /// removal alone, and needs no training sequences.
  public static func measure(
    model: DecoderModel, similarity: SimilarityMatrix, training: [[Int]], windows: [TextWindow],
    heldOut: CurveHeldOut, upTo n: Int, request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> RemovalCurve {
    let began = Date()
    let config = model.config
    try check(n, layers: config.numLayers, metric: request.metric)
    guard !windows.isEmpty, windows.contains(where: { !$0.targets.isEmpty }) else {
      throw CurveError.noHeldOutWindows
    }
    let mapUnavailable = try LinearMap.reasonCannotFold(model)
    if mapUnavailable == nil, training.count < 2 {
      throw CurveError.tooFewTrainingSequences(training.count)
    }
    let chosen = try blocks(similarity, config: config, metric: request.metric, upTo: n)
    let reference = try ReferenceDistributions(
      model: model, windows: windows, memoryBudget: request.memoryBudget)
    let all = Array(0..<config.numLayers)
    let kept = { (block: SelectedBlock) in all.filter { !block.layers.contains($0) } }

    let plainModels = chosen.map { CandidateModel(model, layers: kept($0.plain)) }
    let measuringPlain = progress("measuring plain removal")
    let plain = try reference.measure(plainModels) { measuringPlain.update($0, of: $1) }
    let maps =
      mapUnavailable == nil
      ? try measureMaps(
        chosen.map(\.linear), model: model, training: training, reference: reference,
        kept: kept, request: request, progress: progress) : nil

    let original = reference.original.perplexity
    let points = chosen.indices.map { index -> CurvePoint in
      let pick = chosen[index]
      let p = plain[index]
      let linear = maps.map { maps in
        CurveCandidate(
          layers: pick.linear.layers, mapLayer: maps.mapLayers[index], score: pick.linearScore,
          perplexity: maps.losses[index].perplexity, kl: maps.losses[index].kl)
      }
      let lost = log(p.perplexity) - log(original)
      return CurvePoint(
        removed: index + 1,
        parameterShare: Double((index + 1) * config.parametersPerLayer)
          / Double(config.totalParameters),
        plain: CurveCandidate(
          layers: pick.plain.layers, mapLayer: nil, score: pick.plainScore,
          perplexity: p.perplexity, kl: p.kl),
        linear: linear,
        recovered: linear.flatMap {
          lost > 0 ? (log(p.perplexity) - log($0.perplexity)) / lost : nil
        })
    }
    return RemovalCurve(
      metric: request.metric, numLayers: config.numLayers, parameters: config.totalParameters,
      samples: similarity.samples, scoredTokens: similarity.tokens, heldOut: heldOut,
      fitting: maps?.fitting, mapUnavailable: mapUnavailable, original: original, points: points,
      seconds: Date().timeIntervalSince(began))
  }

  /// Each block with the map fitted on `training` folded into the layer before it, measured:
  /// the states each count's fit reads are captured for as many counts at once as the training
  /// memory holds.
  static func measureMaps(
    _ blocks: [SelectedBlock], model: DecoderModel, training: [[Int]],
    reference: ReferenceDistributions, kept: (SelectedBlock) -> [Int],
    request: CompressionRequest, progress: (String) -> Progress
  ) throws -> (losses: [CandidateLoss], mapLayers: [Int], fitting: CurveFitting) {
    let config = model.config
    let (fitting, _) = try ReplacementTrainer.split(
      training.count, fraction: request.training.validationFraction, seed: request.training.seed)
    let lengths = training.map(\.count)
    let rows = lengths.reduce(0, +)
    let stateBytes = rows * config.hiddenSize * MemoryLayout<Float>.size
    var groups: [[Int]] = []
    var groupStates = Set<Int>()
    for index in blocks.indices {
      let states = Set(LinearMap.candidateStates([blocks[index]]))
      let union = groupStates.union(states)
      if let last = groups.indices.last, union.count * stateBytes <= request.trainingMemory {
        groups[last].append(index)
        groupStates = union
      } else {
        groups.append([index])
        groupStates = states
      }
    }
    var losses = [CandidateLoss?](repeating: nil, count: blocks.count)
    var mapLayers = [Int](repeating: 0, count: blocks.count)
    var spilled = false
    for (g, group) in groups.enumerated() {
      let states = LinearMap.candidateStates(group.map { blocks[$0] })
      let store = try StateStore(
        states: states, rows: rows, width: config.hiddenSize, memoryLimit: request.trainingMemory,
        directory: request.spillDirectory)
      spilled = spilled || store.isSpilled
      try StateCapture.run(
        model: model, sequences: training, into: store, memoryBudget: request.memoryBudget,
        progress: progress(
          groups.count == 1
            ? "capturing training states"
            : "capturing training states (pass \(g + 1) of \(groups.count))"))
      // Each fitted map is a whole Float32 layer in memory until its batch is measured.
      let layerBytes = config.parametersPerLayer * MemoryLayout<Float>.size
      let batchSize = max(1, request.memoryBudget / (2 * layerBytes))
      for batch in stride(from: 0, to: group.count, by: batchSize).map({
        Array(group[$0..<min($0 + batchSize, group.count)])
      }) {
        var models: [CandidateModel] = []
        for index in batch {
          guard
            let substitute = try LinearMap.substitute(
              for: blocks[index], model: model, store: store, lengths: lengths, fitting: fitting)
          else { preconditionFailure("a linear block starts at layer 1 or later") }
          mapLayers[index] = substitute.layer
          models.append(
            CandidateModel(
              model, layers: kept(blocks[index]),
              substitutes: [substitute.layer: substitute.replacement]))
        }
        let counts =
          batch.count == 1 ? "\(batch[0] + 1)" : "\(batch.first! + 1)–\(batch.last! + 1)"
        let measuring = progress("measuring the linear maps (\(counts) removed)")
        let measured = try reference.measure(models) { measuring.update($0, of: $1) }
        for (index, loss) in zip(batch, measured) { losses[index] = loss }
      }
    }
    return (
      losses.map { $0! }, mapLayers,
      CurveFitting(
        trainingSequences: training.count, fittingSequences: fitting.count,
        validationFraction: request.training.validationFraction, capturePasses: groups.count,
        spilled: spilled)
    )
  }
}
