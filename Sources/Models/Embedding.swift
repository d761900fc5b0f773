import Checkpoint
import Foundation
import Tensors

/// Reading token embeddings from a checkpoint, for the architectures' `embed`.
public enum Embedding {
  /// Row `token` of the `[V, C]` table `name` for every token of `sequences`, in order, into
  /// `x` (`[tokens, C]`), converted to Float32. Only the rows used are read: a large
  /// vocabulary's table is never loaded whole.
  public static func gather(
    _ name: String, _ sequences: [[Int]], from folder: ModelFolder, into x: Tensor
  ) throws {
    let c = x.shape[1]
    let file = try folder.file(of: name)
    let info = try file.info(name)
    guard info.dtype.isComputable else {
      throw CheckpointError.unsupportedDType(
        path: file.path, tensor: info.name, dtype: info.dtype.rawValue)
    }
    let rowBytes = c * info.dtype.byteSize
    var row = 0
    for sequence in sequences {
      for token in sequence {
        let start = info.byteRange.lowerBound + token * rowBytes
        let bytes = file.file.bytes(start..<(start + rowBytes))
        guard Convert.toFloat(bytes, dtype: info.dtype, into: x.row(row)) else {
          throw CheckpointError.nonFinite(path: file.path, tensor: "\(info.name) (row \(token))")
        }
        row += 1
      }
    }
  }
}
