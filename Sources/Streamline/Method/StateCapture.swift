import Foundation
import Models
import Tensors

/// The capture of the states training needs: only those asked for, each sequence run only as
/// far as the last of them, so training memory does not grow with depth.
public enum StateCapture {
  /// The residual states `states` of every training sequence, in memory up to
  /// `request.trainingMemory` bytes and spilled beside the output beyond; nil when none are
  /// asked for. With `request.teacher`, the states from `targetsFrom` up are the teacher's: the
  /// states it has where the model pruned so far has them.
  static func capture(
    _ states: [Int], model: DecoderModel, sequences: [[Int]], request: CompressionRequest,
    targetsFrom: Int, progress: (String) -> Progress
  ) throws -> (store: StateStore, report: CaptureReport)? {
    guard !states.isEmpty else { return nil }
    let began = Date()
    let store = try StateStore(
      states: states, rows: sequences.reduce(0) { $0 + $1.count },
      width: model.config.hiddenSize, memoryLimit: request.trainingMemory,
      directory: request.spillDirectory)
    if let teacher = request.teacher {
      let own = states.filter { $0 < targetsFrom }
      let taught = states.filter { $0 >= targetsFrom }
      if !own.isEmpty {
        try run(
          model: model, sequences: sequences, into: store,
          states: Dictionary(uniqueKeysWithValues: own.map { ($0, $0) }),
          memoryBudget: request.memoryBudget, progress: progress("capturing training states"))
      }
      if !taught.isEmpty {
        try run(
          model: teacher.model, sequences: sequences, into: store,
          states: Dictionary(uniqueKeysWithValues: taught.map { (teacher.state($0), $0) }),
          memoryBudget: request.memoryBudget,
          progress: progress("capturing the original's states"))
      }
    } else {
      try run(
        model: model, sequences: sequences, into: store, memoryBudget: request.memoryBudget,
        progress: progress("capturing training states"))
    }
    let report = CaptureReport(
      states: states, sequences: sequences.count, tokens: store.rows,
      bytes: states.count * store.rows * store.width * MemoryLayout<Float>.size,
      spilled: store.isSpilled, layersRun: states.max()!,
      seconds: Date().timeIntervalSince(began))
    return (store, report)
  }

  /// Copies states `store.states` of every sequence into `store`, rows end to end: sequences go
  /// through in groups of at most `memoryBudget` bytes of residual stream, and only through
  /// the layers before the last state kept.
  public static func run(
    model: DecoderModel, sequences: [[Int]], into store: StateStore, memoryBudget: Int,
    layers view: [Int]? = nil, progress: Progress? = nil
  ) throws {
    try run(
      model: model, sequences: sequences, into: store,
      states: Dictionary(uniqueKeysWithValues: store.states.map { ($0, $0) }),
      memoryBudget: memoryBudget, layers: view, progress: progress)
  }

  /// `run`, keeping the model's state k as the store's state `states[k]`.
  static func run(
    model: DecoderModel, sequences: [[Int]], into store: StateStore, states: [Int: Int],
    memoryBudget: Int, layers view: [Int]? = nil, progress: Progress? = nil
  ) throws {
    let c = model.config.hiddenSize
    let last = states.keys.max() ?? 0
    let order = Array((view ?? Array(0..<model.config.numLayers)).prefix(last))
    let lengths = sequences.map(\.count)
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    // The residual stream and the layer's own temporaries, about twice the stream.
    let rowLimit = max(1, memoryBudget / (2 * c * MemoryLayout<Float>.size))
    let groups = Batch(lengths: lengths).chunks(rowLimit: rowLimit)
    for (g, group) in groups.enumerated() {
      try model.forward(
        Array(sequences[group]), layers: order,
        hiddenState: { state, x, batch in
          guard let kept = states[state] else { return }
          for s in group {
            let segment = batch.segments[s - group.lowerBound]
            store.pointer(state: kept).advanced(by: offsets[s] * c)
              .update(from: x.row(segment.lowerBound), count: segment.count * c)
          }
        })
      store.release(rows: offsets[group.lowerBound]..<offsets[group.upperBound])
      progress?.update(g + 1, of: groups.count, amount: Double(offsets[group.upperBound]))
    }
  }
}
