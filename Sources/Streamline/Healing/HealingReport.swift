import Foundation

/// What healing did: `streamline.json`'s `healing`.
public struct HealingReport: Codable, Sendable {
  public let scope: HealScope
  /// The layers that trained, in source-layer numbers (a replacement layer by the layer it was
  /// written over).
  public let layers: [Int]
  /// The adapters' rank and scale (`lora`).
  public let adapters: AdapterSettings?
  public let sequences: Int
  public let tokens: Int
  /// The capture of the healing sequences' states (the first trained layer's input and the
  /// original's final state).
  public let capture: CaptureReport?
  /// Steps, the loss curve and every validation loss, the best of them kept.
  public let training: TrainingReport

  enum CodingKeys: String, CodingKey {
    case scope, layers, adapters, sequences, tokens, capture, training
  }
}
