import Evaluation
import Foundation
import Models

/// How the block is chosen: by hidden-state similarity alone, or among the best few by
/// similarity by what removing each costs, measured.
public enum SelectionKind: String, Codable, Sendable, CaseIterable {
  case similarity
  case measured

  /// The selection `prune` makes unless told. Measured for compensated removal in several
  /// blocks: each later block is scored on a model whose replacements change which layers look
  /// alike. At a third of the layers of SmolLM2-135M and Gemma 3 270M, measured blocks beat one
  /// block on both held-out domains where cosine blocks lost on Gemma, and cut cosine blocks'
  /// held-out KL there by a third or more at the same budget (benchmarks/compensated/README.md), for
  /// 1.7 times the time. Similarity otherwise: for one block or plain removal measuring costs
  /// several times the run for a tie or a small gain, and `bi` ranks single layers, not blocks.
  public static func standard(
    blocks: Int, replacement: ReplacementKind, metric: ImportanceMetric
  ) -> SelectionKind {
    blocks > 1 && replacement.implementation.compensates && metric != .bi ? .measured : .similarity
  }
}
