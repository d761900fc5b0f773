import Checkpoint
import Foundation
import Models

/// The model a replacement learns to reproduce when it is not the one being pruned: in
/// compensated multi-block removal, the original, while the model pruned so far (with its
/// replacements) gives the inputs.
struct Teacher {
  let model: DecoderModel
  /// The original layer each layer of the model pruned so far is.
  let sourceLayers: [Int]

  /// The original's state that state `j` of the model pruned so far stands for: the input of
  /// the same layer (a replacement upstream was made to give the state after its block, which
  /// is the next kept layer's input), and the original's output for the pruned model's.
  func state(_ j: Int) -> Int {
    j < sourceLayers.count ? sourceLayers[j] : model.config.numLayers
  }
}
