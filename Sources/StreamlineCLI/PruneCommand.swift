import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline

struct Prune: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Remove the most redundant block of layers and write a standard checkpoint.")

  @OptionGroup var model: ModelOptions

  @Option(help: "The folder to write the pruned checkpoint into (must not exist or be empty).")
  var output: String

  @OptionGroup var calibration: CalibrationArguments
  @OptionGroup var removal: RemovalArguments

  @Option(help: "Remove exactly these layers (0-based, e.g. 10-13), skipping scoring.")
  var layers: String?

  @Flag(help: "Replace a non-empty output folder.")
  var force = false

  @Option(
    name: .customLong("max-shard-size"), help: "Largest safetensors shard, e.g. 5GB or 500MB.")
  var maxShardSize = "5GB"

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  struct Summary: Codable {
    let output: String
    let removedLayers: [Int]
    let numLayers: Int
    let parameters: Int
    let parametersBefore: Int
    let files: [String]

    enum CodingKeys: String, CodingKey {
      case output, parameters, files
      case removedLayers = "removed_layers"
      case numLayers = "num_layers"
      case parametersBefore = "parameters_before"
    }
  }

  func validate() throws {
    guard (layers != nil) != (removal.request != nil) else {
      throw ValidationError("say what to remove: --remove N, --sparsity S, or --layers A-B")
    }
    _ = try shardBytes()
  }

  func shardBytes() throws -> Int {
    let text = maxShardSize.uppercased().replacingOccurrences(of: "IB", with: "B")
    let units: [(String, Int)] = [
      ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000),
      ("B", 1),
    ]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
      if let value = Double(text.dropLast(suffix.count)), value > 0 {
        return Int(value * Double(scale))
      }
    }
    if let value = Int(text), value > 0 { return value }
    throw ValidationError("--max-shard-size \(maxShardSize) is not a size like 5GB")
  }

  func run() throws {
    let loaded = try model.load()
    let config = loaded.config
    var manifest: [String: Any] = ["replacement": removal.replace.rawValue]
    let removed: [Int]
    if let layers {
      removed = try Self.parseLayers(layers, count: config.numLayers)
      manifest["selection"] = "--layers \(layers)"
    } else {
      guard removal.replace == .none else {
        throw ValidationError(
          "--replace \(removal.replace.rawValue) needs replacement training, which this version does not have yet; use --replace none"
        )
      }
      let analysis = try Analyze.analyze(
        loaded, model: model, calibration: calibration, removal: removal)
      removed = analysis.chosen.layers
      manifest["metric"] = analysis.metric.rawValue
      manifest["block"] = ["start": analysis.chosen.start, "end": analysis.chosen.end]
      manifest["scores"] = analysis.blocks.map {
        ["start": $0.start, "end": $0.end, "cosine": $0.cosine, "angular": $0.angular]
      }
      manifest["layer_bi"] = analysis.layerBI
      let data = try calibration.load(for: loaded, modelPath: model.model)
      manifest["calibration"] = [
        "description": data.description, "sha256": data.sha256, "samples": data.sequences.count,
        "seq_len": calibration.seqLen, "seed": calibration.seed,
      ]
    }
    guard let folder = loaded.folder else { return }
    let saved = try Surgery.write(
      source: folder, config: config, removing: removed, manifest: manifest,
      to: URL(fileURLWithPath: output), force: force, maxShardSize: try shardBytes(),
      progress: Progress("writing", unit: "MB"))
    let summary = Summary(
      output: output, removedLayers: removed, numLayers: config.numLayers - removed.count,
      parameters: config.totalParameters - removed.count * config.parametersPerLayer,
      parametersBefore: config.totalParameters, files: saved.files)
    if json {
      emit(try Format.json(summary))
    } else {
      emit(
        "wrote \(output): layers \(removed.map(String.init).joined(separator: ",")) removed, \(summary.numLayers) of \(config.numLayers) left, \(Format.count(summary.parameters)) of \(Format.count(summary.parametersBefore)) parameters"
      )
    }
  }

  /// "10-13" or "3,5,7" or a mix, 0-based.
  static func parseLayers(_ text: String, count: Int) throws -> [Int] {
    var layers: [Int] = []
    for part in text.split(separator: ",") {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let first = Int(bounds[0]),
        let last = Int(bounds.last!), first <= last
      else {
        throw ValidationError("--layers \(text): expected layer numbers like 10-13 or 3,5")
      }
      layers += first...last
    }
    let unique = Array(Set(layers)).sorted()
    guard let last = unique.last, last < count, unique.first! >= 0 else {
      throw ValidationError("--layers \(text): the model has layers 0..\(count - 1)")
    }
    guard unique.count < count else {
      throw ValidationError("--layers \(text) removes every layer")
    }
    return unique
  }
}
