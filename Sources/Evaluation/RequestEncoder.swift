import Foundation
import Models
import Tokenizers

/// Turns text requests into token ids exactly as lm-eval 0.4's Hugging Face backend does
/// (`HFLM.tok_encode`, `TemplateLM._encode_pair`, `loglikelihood`'s empty-context rule).
public struct RequestEncoder: Sendable {
  public let tokenizer: Tokenizer
  /// `prefix_token_id`: BOS, or EOS when the tokenizer has no BOS.
  public let prefixTokenId: Int
  /// `max_length`: config.json's `n_positions`, `max_position_embeddings` or `n_ctx`, else 2048.
  public let maxLength: Int
  /// The text of the prefix token: a string starting with it is encoded without special tokens.
  let prefixText: String

  public init(tokenizer: Tokenizer, maxLength: Int) throws {
    self.tokenizer = tokenizer
    guard let prefix = tokenizer.bosTokenId ?? tokenizer.eosTokenId else {
      throw EvaluationError.invalid(
        "\(tokenizer.path): the tokenizer has neither a BOS nor an EOS token to condition on")
    }
    prefixTokenId = prefix
    self.maxLength = maxLength
    prefixText = tokenizer.decode([prefix], skipSpecialTokens: false)
  }

  /// The tokenizer of a model folder and the model's context length.
  public init(modelFolder url: URL) throws {
    try self.init(
      tokenizer: try Tokenizer.load(from: url), maxLength: Self.maxLength(modelFolder: url))
  }

  /// `resolve_max_length`: the first of `n_positions`, `max_position_embeddings`, `n_ctx` in
  /// config.json (inside `text_config` first), else 2048.
  public static func maxLength(modelFolder url: URL) -> Int {
    let keys = ["n_positions", "max_position_embeddings", "n_ctx"]
    guard
      let data = FileManager.default.contents(
        atPath: url.appendingPathComponent("config.json").path),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return 2048 }
    for scope in [object["text_config"] as? [String: Any], object].compactMap({ $0 }) {
      for key in keys {
        if let n = scope[key] as? Int, n > 0 { return n }
      }
    }
    return 2048
  }

  /// `tok_encode(string)`: special tokens as the tokenizer adds them, none when the string
  /// already starts with the prefix token's text.
  public func encode(_ text: String) throws -> [Int] {
    let special = prefixText.isEmpty || !text.hasPrefix(prefixText)
    return try tokenizer.encode(text, addSpecialTokens: special)
  }

  /// lm-eval's (context, continuation) token split.
  public func encodePair(context: String, continuation: String) throws -> (
    context: [Int], continuation: [Int]
  ) {
    if context.isEmpty {
      let c = try tokenizer.encode(continuation, addSpecialTokens: false)
      if let first = c.first, first == prefixTokenId { return ([first], Array(c.dropFirst())) }
      return ([prefixTokenId], c)
    }
    // Trailing whitespace of the context moves to the continuation.
    let trimmed = Text.rstrip(context)
    let spaces = String(context.unicodeScalars.dropFirst(trimmed.unicodeScalars.count))
    let whole = try encode(trimmed + spaces + continuation)
    let contextTokens = try encode(trimmed)
    return (contextTokens, Array(whole.dropFirst(contextTokens.count)))
  }
}
