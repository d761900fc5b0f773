import Foundation
import Models

/// How redundancy is measured.
public enum ImportanceMetric: String, Codable, Sendable, CaseIterable {
  /// Mean cosine similarity between the states before and after a block (LLM-Streamline);
  /// the most similar block is the most redundant.
  case cosine
  /// Mean angular distance arccos(cos)/π (Gromov et al. 2024); the smallest is chosen.
  case angular
  /// ShortGPT's per-layer Block Influence 1 − cos(h_i, h_{i+1}); the n lowest are removed,
  /// contiguous or not.
  case bi
}
