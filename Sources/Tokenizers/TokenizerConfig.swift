import Foundation

/// What `tokenizer_config.json` and `special_tokens_map.json` say about special tokens.
public struct TokenizerConfig: Sendable, Equatable {
  public var bosToken: String?
  public var eosToken: String?
  public var padToken: String?
  public var unkToken: String?
  /// `add_bos_token` / `add_eos_token` as written (nil when absent). `transformers` uses them
  /// to rebuild the post-processor of some tokenizer classes; `encode` follows tokenizer.json.
  public var addBosToken: Bool?
  public var addEosToken: Bool?

  public init(
    bosToken: String? = nil, eosToken: String? = nil, padToken: String? = nil,
    unkToken: String? = nil, addBosToken: Bool? = nil, addEosToken: Bool? = nil
  ) {
    self.bosToken = bosToken
    self.eosToken = eosToken
    self.padToken = padToken
    self.unkToken = unkToken
    self.addBosToken = addBosToken
    self.addEosToken = addEosToken
  }

  /// Reads the two files from a model folder; values in tokenizer_config.json win. Returns nil
  /// when neither file exists.
  public static func load(folder: URL) throws -> TokenizerConfig? {
    var config = TokenizerConfig()
    var found = false
    for name in ["special_tokens_map.json", "tokenizer_config.json"] {
      let url = folder.appendingPathComponent(name)
      guard FileManager.default.fileExists(atPath: url.path) else { continue }
      found = true
      let data: Data
      try RegularFile.require(url.path)
      do {
        data = try Data(contentsOf: url)
      } catch {
        throw TokenizerError.malformedJSON(
          path: url.path, reason: "cannot read: \(ReadFailure.words(error))")
      }
      config = try parse(data, path: url.path, over: config)
    }
    return found ? config : nil
  }

  /// `config` with the special-token settings of one file's bytes (tokenizer_config.json or
  /// special_tokens_map.json, at `path`) laid over it.
  public static func parse(_ data: Data, path: String, over config: TokenizerConfig = .init())
    throws -> TokenizerConfig
  {
    var config = config
    let json: JSON
    do {
      json = try JSON.parse(data)
    } catch let e as JSONParseError {
      throw TokenizerError.malformedJSON(path: path, reason: e.message)
    }
    guard json.objectValue != nil else {
      throw TokenizerError.malformedJSON(path: path, reason: "expected an object")
    }
    func token(_ key: String) -> String?? {
      guard let v = json[key] else { return .none }
      if v.isNull { return .some(nil) }
      if let s = v.stringValue { return .some(s) }
      if let c = v["content"]?.stringValue { return .some(c) }
      return .none
    }
    if let v = token("bos_token") { config.bosToken = v }
    if let v = token("eos_token") { config.eosToken = v }
    if let v = token("pad_token") { config.padToken = v }
    if let v = token("unk_token") { config.unkToken = v }
    if let v = json["add_bos_token"]?.boolValue { config.addBosToken = v }
    if let v = json["add_eos_token"]?.boolValue { config.addEosToken = v }
    return config
  }
}
