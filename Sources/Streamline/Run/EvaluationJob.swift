import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// What an evaluation run is asked to score.
public struct EvaluationRequest {
  /// The model folder (`DemoModel.name` for the shipped model).
  public var model: String
  public var precision = Precision.f32
  /// Token-id sequences, one per line, scored without a tokenizer.
  public var tokenIds: String?
  public var inputs = EvaluationInputs()
  /// An original model the perplexity text's distribution shift is measured against.
  public var reference: String?
  /// A file for every item's choice log-likelihoods (for stability).
  public var predictions: String?
  /// What refusals call the model folders and the token-id file.
  public var modelName = "the input model folder"
  public var referenceName = "the reference model folder"
  public var tokenIdsName = "the token-id file"

  public init(model: String) { self.model = model }
}

/// What an evaluation measured: `streamline eval --json`'s object.
public struct EvaluationResult: Codable {
  /// Token-id sequences' mean next-token NLL.
  public struct TokenIds: Codable {
    public let nll: Double
    public let perplexity: Double
    public let tokens: Int
    public let sequences: Int
  }

  public var model: String
  public var tokenIds: TokenIds?
  public var perplexity: TextPerplexity?
  public var divergence: Divergence?
  public var tasks: [TaskReport]

  enum CodingKeys: String, CodingKey {
    case model, perplexity, divergence, tasks
    case tokenIds = "token_ids"
  }
}

/// An evaluation as one call: read every input (so a bad file fails before any model work),
/// load the model (and the reference), score the token ids, the perplexity text (with the
/// divergence from the reference in the same pass) and each task, and write the predictions.
public struct EvaluationJob {
  public let request: EvaluationRequest

  public init(_ request: EvaluationRequest) { self.request = request }

  public static func run(
    _ request: EvaluationRequest,
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> EvaluationResult {
    try EvaluationJob(request).run(progress: progress)
  }

  public func run(
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> EvaluationResult {
    let inputs = request.inputs
    // The predictions file is checked against every input before any work.
    var policy = OutputPolicy()
    policy.add(DemoModel.resolve(request.model), as: request.modelName)
    policy.add(request.reference.map(DemoModel.resolve), as: request.referenceName)
    policy.add(request.tokenIds, as: request.tokenIdsName)
    inputs.addInputs(to: &policy)
    let outputs = OutputSet(policy: policy)
    let predictionsFile = try request.predictions.map { path in
      try outputs.file(path, label: OutputRole.predictions.rawValue)
    }
    // Read every input before the model work starts, so a bad file fails at once.
    let tasks = try inputs.readTasks()
    let documents = try inputs.readDocuments()
    let loaded = try DecoderModel(
      url: URL(fileURLWithPath: DemoModel.resolve(request.model)), precision: request.precision,
      residentWeights: true)
    let referenceModel = try request.reference.map {
      try DecoderModel(
        url: URL(fileURLWithPath: DemoModel.resolve($0)), precision: request.precision,
        residentWeights: true)
    }
    var result = EvaluationResult(model: request.model, tasks: [])

    if let tokenIds = request.tokenIds {
      let sequences = try TokenIdsFile.read(path: tokenIds)
      let shown = progress("scoring sequences", "")
      let scored = try Perplexity.score(loaded, sequences: sequences) { done, total in
        shown.update(done, of: total)
      }
      result.tokenIds = EvaluationResult.TokenIds(
        nll: scored.meanNLL, perplexity: scored.perplexity, tokens: scored.tokens,
        sequences: sequences.count)
    }
    let encoder =
      documents != nil || !tasks.isEmpty
      ? try RequestEncoder(modelFolder: URL(fileURLWithPath: DemoModel.resolve(request.model)))
      : nil
    if let documents, let encoder {
      let (perplexity, divergence) = try inputs.perplexity(
        documents, model: loaded, encoder: encoder, reference: referenceModel,
        progress: progress("perplexity windows", ""))
      result.perplexity = perplexity
      result.divergence = divergence
    }
    var scores: [TaskScore] = []
    if let encoder {
      for task in tasks {
        let (score, report) = try inputs.score(
          task, model: loaded, encoder: encoder, label: "", progress: progress)
        scores.append(score)
        result.tasks.append(report)
      }
    }
    if let predictionsFile {
      try OutputRole.predictions.naming {
        try predictionsFile.write(try PredictionsFile.data(PredictionsFile.lines(scores)))
      }
    }
    try outputs.commit()
    return result
  }
}
