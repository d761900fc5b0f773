import Foundation
import Models
import Tensors

/// Where the replacement layer of a block `start..<end` starts training from.
public enum ReplacementInit: String, Codable, Sendable, CaseIterable {
  /// The block's first layer (LLM-Streamline's choice).
  case first
  /// The block's first layer with the training-free linear map folded into its MLP output
  /// projection: training starts where a ReplaceMe-style map ends.
  case linear
  /// A merge of the block's layers, each parameter a weighted average (MKA-style).
  case merge
  /// Each of the above scored on the validation split; the lowest loss trains.
  case auto

  /// The candidates `auto` scores, in the order ties are broken.
  public static let candidates: [ReplacementInit] = [.linear, .first, .merge]
}
