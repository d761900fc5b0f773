import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// What a comparison of an original and a compressed model is asked to measure.
public struct ComparisonRequest {
  /// The model folders (`DemoModel.name` for the shipped model).
  public var original: String
  public var compressed: String
  public var precision = Precision.f32
  public var inputs = EvaluationInputs()
  /// A folder for comparison.md, comparison.json, comparison.svg and both predictions.
  public var report: String?
  /// Tokens in the forward-speed measurement.
  public var speedTokens = 256

  public init(original: String, compressed: String) {
    self.original = original
    self.compressed = compressed
  }
}

/// Original beside compressed as one call: size and speed of both, each task scored on both
/// (with stability), and the compressed model's perplexity and divergence from the original in
/// one pass over the text; the report is written and committed last.
public struct ComparisonJob {
  public let request: ComparisonRequest

  public init(_ request: ComparisonRequest) { self.request = request }

  public static func run(
    _ request: ComparisonRequest,
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> Comparison {
    try ComparisonJob(request).run(progress: progress)
  }

  public func run(
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> Comparison {
    let inputs = request.inputs
    var policy = OutputPolicy()
    policy.add(DemoModel.resolve(request.original), as: "the original model folder")
    policy.add(DemoModel.resolve(request.compressed), as: "the compressed model folder")
    inputs.addInputs(to: &policy)
    let outputs = OutputSet(policy: policy)
    let reportDestination = try request.report.map {
      try ReportDestination($0, outputs: outputs, force: false, ownFiles: Comparison.files)
    }
    let tasks = try inputs.readTasks()
    let documents = try inputs.readDocuments()
    let originalFolder = URL(fileURLWithPath: DemoModel.resolve(request.original))
    let compressedFolder = URL(fileURLWithPath: DemoModel.resolve(request.compressed))
    // Each model's own tokenizer, read (and refused when unreadable) before any model work.
    let encoders =
      documents != nil || !tasks.isEmpty
      ? try Comparison.encoders(original: originalFolder, compressed: compressedFolder) : nil
    if let encoders, documents != nil, !encoders.tokenizers.identical {
      throw StreamlineError.tokenizersDiffer(
        original: encoders.tokenizers.original, compressed: encoders.tokenizers.compressed)
    }
    let a = try DecoderModel(
      url: originalFolder, precision: request.precision, residentWeights: true)
    let b = try DecoderModel(
      url: compressedFolder, precision: request.precision, residentWeights: true)
    var comparison = Comparison(
      original: try ModelFacts(model: a, speedTokens: request.speedTokens),
      compressed: try ModelFacts(model: b, speedTokens: request.speedTokens))
    comparison.tokenizers = encoders?.tokenizers
    if let encoders {
      for task in tasks {
        let (sa, ra) = try inputs.score(
          task, model: a, encoder: encoders.original, label: "original ", progress: progress)
        let (sb, rb) = try inputs.score(
          task, model: b, encoder: encoders.compressed, label: "compressed ", progress: progress)
        try comparison.add(original: sa, ra, compressed: sb, rb)
      }
      if let documents {
        // Both models see the same windows, which their tokenizers (identical, checked above)
        // make alike.
        let (result, divergence) = try inputs.perplexity(
          documents, model: b, encoder: encoders.original, reference: a,
          progress: progress("perplexity and divergence windows", ""))
        comparison.setPerplexity(compressed: result, divergence: divergence)
      }
    }
    if let reportDestination {
      try reportDestination.writing {
        try comparison.write(to: reportDestination.folder)
      }
    }
    try outputs.commit()
    return comparison
  }
}
