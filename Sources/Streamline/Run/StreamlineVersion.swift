import Checkpoint
import Crypto
import Evaluation
import Foundation
import Models

public enum StreamlineVersion {
  public static let current = "0.1.0"
}
