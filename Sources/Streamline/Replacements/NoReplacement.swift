/// Plain removal: the block's layers go and nothing takes their place, so it needs no states
/// and can take any layers, contiguous or not.
struct NoReplacement: Replacement {
  var takesLayerPlace: Bool { false }
  var earliestStart: Int { 0 }
  func hostLayer(start: Int) -> Int? { nil }
  var compensates: Bool { false }
  var candidateCompensation: CandidateCompensation { .none }
  var isTrained: Bool { false }
  var switchesAttentionOff: Bool { false }
  var needsTrainingSequences: Bool { false }
  var takesScatteredLayers: Bool { true }

  func states(start: Int, end: Int, layers: Int, options: TrainingOptions) -> [Int] { [] }

  func make(_ context: ReplacementContext) throws -> ReplacementPart {
    ReplacementPart(removed: context.block.layers)
  }

  func describe(_ record: PruneRecord) -> String {
    var text = "; removed layers \(AnalysisReport.describe(record.removed))"
    if let blocks = record.blocks {
      text +=
        " in \(blocks.count) blocks: "
        + blocks.map { AnalysisReport.describe($0.layers) }.joined(separator: ", ")
    }
    return text
  }
}
