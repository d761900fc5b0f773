import Foundation
import Models
import Tensors

/// The sums a similarity matrix is made of: for every pair of states i < j, the sum over tokens
/// of cos(h_i, h_j) and of arccos(cos)/π, each token's value rounded to a multiple of 2⁻³²
/// (`scale`) and added as an integer. Integer addition is exact and order-free, so sums of
/// disjoint sets of sequences (passes, cores, machines) add up to exactly the sums of their
/// union: shards merged give bit-identical scores to one run.
public struct SimilaritySums: Codable, Sendable, Equatable {
  public static let scale = 4_294_967_296.0
  /// Tokens one set of sums can hold without overflow (|value| ≤ 1 per token).
  public static let tokenLimit = 1 << 31

  public let numLayers: Int
  public var tokens = 0
  public var samples = 0
  /// `[i][j]` for i < j; the rest zero.
  public var cosine: [[Int64]]
  public var angular: [[Int64]]

  public init(numLayers: Int) {
    self.numLayers = numLayers
    cosine = .init(repeating: .init(repeating: 0, count: numLayers + 1), count: numLayers + 1)
    angular = cosine
  }

  /// A sum that leaves Int64 while `parts[part]` is added: only hostile statistics files get
  /// there, since a real shard's sums are bounded by its tokens.
  public struct MergeOverflow: Error, Equatable {
    public let part: Int
    public let field: String
  }

  /// The sums of all of `parts` (the same states), exactly; every addition is checked, so
  /// hostile parts are refused instead of trapping.
  public static func merged(_ parts: [SimilaritySums]) throws -> SimilaritySums {
    guard let first = parts.first else {
      throw StreamlineError.badRequest("no similarity sums to merge")
    }
    var out = SimilaritySums(numLayers: first.numLayers)
    for (p, part) in parts.enumerated() {
      guard part.numLayers == first.numLayers, part.cosine.count == first.numLayers + 1,
        part.angular.count == first.numLayers + 1,
        part.cosine.allSatisfy({ $0.count == first.numLayers + 1 }),
        part.angular.allSatisfy({ $0.count == first.numLayers + 1 })
      else {
        throw StreamlineError.badRequest(
          "sums of \(part.numLayers) and \(first.numLayers) layers cannot be merged")
      }
      func add(_ a: Int, _ b: Int, _ field: String) throws -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        if overflow { throw MergeOverflow(part: p, field: field) }
        return sum
      }
      out.tokens = try add(out.tokens, part.tokens, "sums.tokens")
      out.samples = try add(out.samples, part.samples, "sums.samples")
      guard out.tokens < tokenLimit else {
        throw StreamlineError.badRequest("\(out.tokens) tokens exceed what one sum can hold")
      }
      for i in 0...first.numLayers {
        for j in 0...first.numLayers {
          let (cos, cosOverflow) = out.cosine[i][j].addingReportingOverflow(part.cosine[i][j])
          let (ang, angOverflow) = out.angular[i][j].addingReportingOverflow(part.angular[i][j])
          if cosOverflow { throw MergeOverflow(part: p, field: "sums.cosine[\(i)][\(j)]") }
          if angOverflow { throw MergeOverflow(part: p, field: "sums.angular[\(i)][\(j)]") }
          out.cosine[i][j] = cos
          out.angular[i][j] = ang
        }
      }
    }
    return out
  }

  /// Means over the tokens.
  public var matrix: SimilarityMatrix {
    let states = numLayers + 1
    var cos = [[Double]](repeating: .init(repeating: 0, count: states), count: states)
    var ang = cos
    let divisor = Self.scale * Double(max(1, tokens))
    for i in 0..<states {
      cos[i][i] = 1
      for j in (i + 1)..<states where j < states {
        cos[i][j] = Double(cosine[i][j]) / divisor
        ang[i][j] = Double(angular[i][j]) / divisor
        cos[j][i] = cos[i][j]
        ang[j][i] = ang[i][j]
      }
    }
    return SimilarityMatrix(
      numLayers: numLayers, tokens: tokens, samples: samples, cosine: cos, angular: ang)
  }

  enum CodingKeys: String, CodingKey {
    case tokens, samples, cosine, angular
    case numLayers = "num_layers"
  }
}
