import Checkpoint
import Crypto
import Foundation
import Models
import Tensors
import Tokenizers

/// A Hugging Face model folder (an original or what `prune` wrote) written as one GGUF file that
/// llama.cpp loads as it loads its own converter's output: the family's hyperparameters, tensor
/// names and layouts (from the family's `GGUFNaming`), the tokenizer (`Tokenizer.ggufVocabulary`,
/// the pre-tokenizer named as convert_hf_to_gguf names it), and the prune's provenance from
/// `streamline.json` under `streamline.*`. Written by `GGUFWriter`, one tensor at a time.
public struct GGUFExport {
  /// The file types `--type` offers, with what most tensors become.
  public enum FileType: String, CaseIterable, Sendable {
    case f32, f16, bf16, q8_0

    public var tensorType: GGUF.TensorType {
      switch self {
      case .f32: return .f32
      case .f16: return .f16
      case .bf16: return .bf16
      case .q8_0: return .q8_0
      }
    }
  }

  public let folder: ModelFolder
  public let architecture: any Architecture
  public let naming: any GGUFNaming
  public let tokenizer: Tokenizer
  public let fileType: FileType
  /// `general.name`: the folder's name unless given (a prune writes from its temporary folder
  /// and names the file after the output folder the user gave).
  public let name: String

  public init(folder url: URL, fileType: FileType, name: String? = nil) throws {
    self.name = name ?? url.standardizedFileURL.lastPathComponent
    folder = try ModelFolder(url: url)
    architecture = try Architectures.config(from: folder.configData, path: folder.configPath)
    naming = try Self.requireExportable(architecture)
    // As strict as every other command: every tensor config.json implies, with its shape, and
    // nothing unexplained (a layer config.json does not count is never dropped in silence).
    try DecoderModel.checkTensors(folder: folder, config: architecture)
    tokenizer = try Tokenizer.load(from: url)
    self.fileType = fileType
  }

  /// What a prune's `--gguf` will embed, checked on the source folder before any work: the
  /// family's GGUF naming, the tokenizer as GGUF (vocabulary, pre-tokenizer, chat template) and
  /// the manifest's keys. The pruned folder keeps the source's tokenizer files.
  public static func check(source url: URL, config: any Architecture) throws {
    let naming = try requireExportable(config)
    let tokenizer = try Tokenizer.load(from: url)
    let folder = try ModelFolder(url: url)
    let export = GGUFExport(
      folder: folder, architecture: config, naming: naming, tokenizer: tokenizer,
      fileType: .f32, name: url.lastPathComponent)
    _ = try export.tokenizerEntries()
  }

  init(
    folder: ModelFolder, architecture: any Architecture, naming: any GGUFNaming,
    tokenizer: Tokenizer, fileType: FileType, name: String
  ) {
    self.folder = folder
    self.architecture = architecture
    self.naming = naming
    self.tokenizer = tokenizer
    self.fileType = fileType
    self.name = name
  }

  /// Where a GGUF file may be written, checked before any work by the one output policy every
  /// written path goes through (never blank, never the current folder, never inside or onto an
  /// input, never a folder), and, being a single file, replaced only when `force` says so.
  public static func checkTarget(_ path: String, policy: OutputPolicy, force: Bool) throws {
    let url = try policy.file(path)
    if FileManager.default.fileExists(atPath: url.path) && !force {
      throw CheckpointError.outputFileExists(path: path)
    }
  }

  /// The family's GGUF naming, or why it has none (checked before a prune starts).
  @discardableResult
  public static func requireExportable(_ architecture: any Architecture) throws -> any GGUFNaming {
    guard let naming = architecture as? any GGUFNaming else {
      let reason =
        (architecture as? any GGUFRefusal)?.ggufRefusal
        ?? "its GGUF names and metadata are not written yet"
      throw GGUFExportError.unsupportedArchitecture(
        modelType: architecture.modelType, reason: reason)
    }
    return naming
  }

  /// The key-value pairs of the file, in the order written.
  public func entries() throws -> [GGUF.Entry] {
    var entries: [GGUF.Entry] = [
      GGUF.Entry("general.architecture", .string(naming.ggufArchitecture)),
      GGUF.Entry("general.type", .string("model")),
      GGUF.Entry("general.name", .string(name)),
    ]
    entries += try naming.ggufHyperparameters()
    entries.append(GGUF.Entry("general.file_type", .uint32(GGUF.fileType(fileType.tensorType))))
    entries.append(GGUF.Entry("general.quantization_version", .uint32(2)))
    entries += try tokenizerEntries()
    entries += try Self.provenance(folder.url)
    return entries
  }

  /// `tokenizer.ggml.*` and `tokenizer.chat_template`.
  public func tokenizerEntries() throws -> [GGUF.Entry] {
    let vocabulary: GGUFVocabulary
    do {
      vocabulary = try tokenizer.ggufVocabulary(vocabularySize: architecture.vocabSize)
    } catch let error as TokenizerError {
      throw GGUFExportError.unsupportedTokenizer(path: tokenizer.path, reason: error.description)
    }
    var entries: [GGUF.Entry] = [GGUF.Entry("tokenizer.ggml.model", .string(vocabulary.model))]
    if vocabulary.model == "gpt2" {
      entries.append(GGUF.Entry("tokenizer.ggml.pre", .string(try preTokenizerName())))
    } else {
      entries.append(GGUF.Entry("tokenizer.ggml.pre", .string("default")))
    }
    entries.append(GGUF.Entry("tokenizer.ggml.tokens", .array(.string(vocabulary.tokens))))
    if let scores = vocabulary.scores {
      entries.append(GGUF.Entry("tokenizer.ggml.scores", .array(.float32(scores))))
    }
    entries.append(
      GGUF.Entry(
        "tokenizer.ggml.token_type", .array(.int32(vocabulary.tokenTypes.map(\.rawValue)))))
    if let merges = vocabulary.merges {
      entries.append(GGUF.Entry("tokenizer.ggml.merges", .array(.string(merges))))
    }
    let special: [(String, Int?)] = [
      ("bos_token_id", tokenizer.bosTokenId), ("eos_token_id", tokenizer.eosTokenId),
      ("unknown_token_id", tokenizer.unkTokenId), ("padding_token_id", tokenizer.padTokenId),
    ]
    for (key, id) in special {
      if let id, id >= 0, id < architecture.vocabSize {
        entries.append(GGUF.Entry("tokenizer.ggml.\(key)", .uint32(UInt32(id))))
      }
    }
    if vocabulary.addSpacePrefix == false {
      // llama.cpp's SentencePiece tokenizer adds the space prefix unless told not to (Gemma).
      entries.append(GGUF.Entry("tokenizer.ggml.add_space_prefix", .bool(false)))
    }
    entries.append(GGUF.Entry("tokenizer.ggml.add_bos_token", .bool(tokenizer.addsBOS)))
    entries.append(GGUF.Entry("tokenizer.ggml.add_eos_token", .bool(tokenizer.addsEOS)))
    entries += try Self.chatTemplateEntries(folder.url)
    return entries
  }

  /// The name llama.cpp picks its pre-tokenizer regex by, found as convert_hf_to_gguf finds it:
  /// the hash of the ids of its check text.
  public func preTokenizerName() throws -> String {
    let hash = try Self.preTokenizerHash(tokenizer)
    guard let name = GGUFPreTokenizers.byHash[hash] else {
      throw GGUFExportError.unsupportedTokenizer(
        path: tokenizer.path,
        reason:
          "llama.cpp knows no pre-tokenizer for it (check-text hash \(hash)); its converter refuses it too"
      )
    }
    return name
  }

  public static func preTokenizerHash(_ tokenizer: Tokenizer) throws -> String {
    let ids = try tokenizer.encode(GGUFPreTokenizers.checkText, addSpecialTokens: true)
    let text = "[" + ids.map(String.init).joined(separator: ", ") + "]"
    return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
  }

  /// `tokenizer.chat_template` and, for a list of named templates in tokenizer_config.json
  /// (`[{"name": …, "template": …}]`), the others as `tokenizer.chat_template.NAME` with their
  /// names in `tokenizer.chat_templates`, as llama.cpp's converter writes them.
  static func chatTemplateEntries(_ folder: URL) throws -> [GGUF.Entry] {
    let config = folder.appendingPathComponent("tokenizer_config.json")
    if let data = FileManager.default.contents(atPath: config.path),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let list = object["chat_template"] as? [Any]
    {
      var entries: [GGUF.Entry] = []
      var names: [String] = []
      for item in list {
        guard let item = item as? [String: Any], let name = item["name"] as? String,
          let template = item["template"] as? String, !name.isEmpty
        else {
          throw GGUFExportError.unsupportedTokenizer(
            path: config.path,
            reason: "chat_template is a list whose items are not {\"name\", \"template\"} strings")
        }
        if name == "default" {
          entries.insert(GGUF.Entry("tokenizer.chat_template", .string(template)), at: 0)
        } else {
          guard !names.contains(name) else {
            throw GGUFExportError.unsupportedTokenizer(
              path: config.path, reason: "chat_template names \(name) twice")
          }
          names.append(name)
          entries.append(GGUF.Entry("tokenizer.chat_template.\(name)", .string(template)))
        }
      }
      if !names.isEmpty {
        entries.append(GGUF.Entry("tokenizer.chat_templates", .array(.string(names))))
      }
      return entries
    }
    return try chatTemplate(folder).map { [GGUF.Entry("tokenizer.chat_template", .string($0))] }
      ?? []
  }

  /// tokenizer_config.json's `chat_template` (a string), else chat_template.jinja.
  static func chatTemplate(_ folder: URL) throws -> String? {
    let config = folder.appendingPathComponent("tokenizer_config.json")
    if let data = FileManager.default.contents(atPath: config.path),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let template = object["chat_template"] as? String
    {
      return template
    }
    let jinja = folder.appendingPathComponent("chat_template.jinja")
    if let data = FileManager.default.contents(atPath: jinja.path) {
      return String(decoding: data, as: UTF8.self)
    }
    return nil
  }

  /// streamline.json as `streamline.*` keys: the whole manifest as `streamline.manifest` (JSON
  /// text), and each scalar or list of scalars under its dotted path (`streamline.removed_layers`,
  /// `streamline.evaluation.perplexity`, …). Nothing when the folder has no streamline.json.
  public static func provenance(_ folder: URL) throws -> [GGUF.Entry] {
    let url = folder.appendingPathComponent("streamline.json")
    guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw StreamlineError.badRequest("\(url.path): not a JSON object")
    }
    var entries = [
      GGUF.Entry("streamline.manifest", .string(String(decoding: data, as: UTF8.self)))
    ]
    func flatten(_ value: Any, _ key: String) {
      // A key the file already has (a `manifest` field would be `streamline.manifest`) is
      // left out: a GGUF file holds each key once.
      guard !entries.contains(where: { $0.key == key }) else { return }
      if let dictionary = value as? [String: Any] {
        for name in dictionary.keys.sorted() { flatten(dictionary[name]!, key + "." + name) }
      } else if let scalar = scalar(value) {
        entries.append(GGUF.Entry(key, scalar))
      } else if let list = value as? [Any] {
        if list.allSatisfy({ isInteger($0) }), let ints = list as? [NSNumber] {
          entries.append(
            GGUF.Entry(key, .array(.int32(ints.map { Int32(truncatingIfNeeded: $0.int64Value) }))))
        } else if let strings = list as? [String] {
          entries.append(GGUF.Entry(key, .array(.string(strings))))
        } else if list.allSatisfy({ $0 is NSNumber && !isBool($0) }),
          let numbers = list as? [NSNumber]
        {
          entries.append(GGUF.Entry(key, .array(.float32(numbers.map { $0.floatValue }))))
        }
      }
    }
    for name in object.keys.sorted() { flatten(object[name]!, "streamline." + name) }
    return entries
  }

  static func isBool(_ value: Any) -> Bool {
    guard let number = value as? NSNumber else { return false }
    return String(cString: number.objCType) == "c" || type(of: value) == Bool.self
  }

  static func isInteger(_ value: Any) -> Bool {
    guard let number = value as? NSNumber, !isBool(value) else { return false }
    let kind = String(cString: number.objCType)
    return kind != "d" && kind != "f"
  }

  static func scalar(_ value: Any) -> GGUF.Value? {
    if let text = value as? String { return .string(text) }
    if isBool(value), let flag = value as? Bool { return .bool(flag) }
    if isInteger(value), let number = value as? NSNumber { return .int64(number.int64Value) }
    if let number = value as? NSNumber { return .float64(number.doubleValue) }
    return nil
  }

  /// The tensors as written: llama.cpp's names, the family's layouts, stored as the file type
  /// asks except where the converter keeps F32 (norms, one-dimensional tensors) or F16 (Q8_0 of
  /// rows that are not a multiple of 32).
  public func tensors() throws -> [GGUFTensor] {
    try Self.tensors(naming, from: folder, fileType: fileType)
  }

  /// `tensors()` for any family's naming and folder (also without a tokenizer, for tests).
  public static func tensors(_ naming: any GGUFNaming, from folder: ModelFolder, fileType: FileType)
    throws -> [GGUFTensor]
  {
    try naming.ggufTensors().map { plan in
      var type = fileType.tensorType
      if plan.alwaysF32 {
        type = .f32
      } else if type == .q8_0, plan.shape.last! % GGUF.q8BlockSize != 0 {
        type = .f16
      }
      return try GGUFTensor(plan.name, shape: plan.shape, type: type) {
        try Self.values(plan, from: folder)
      }
    }
  }

  /// One tensor's Float32 values, read from the folder and laid out for llama.cpp.
  static func values(_ plan: GGUFTensorPlan, from folder: ModelFolder) throws -> Tensor {
    if case .values(let values) = plan.transform {
      return Tensor(shape: plan.shape, values: values)
    }
    guard let source = plan.source else {
      throw StreamlineError.badRequest("GGUF tensor \(plan.name) has no source")
    }
    let tensor = try folder.float(source, shape: plan.shape)
    switch plan.transform {
    case .none, .values:
      return tensor
    case .addOne:
      for i in 0..<tensor.count { tensor.data[i] += 1 }
      return tensor
    case .ropePermute(let heads):
      return try ropePermuted(tensor, heads: heads, name: source)
    }
  }

  /// convert_hf_to_gguf's `LlamaModel.permute`: rows of each head reordered from
  /// `[x0 … x(d/2−1), y0 … y(d/2−1)]` to `[x0, y0, x1, y1, …]`.
  public static func ropePermuted(_ tensor: Tensor, heads: Int, name: String) throws -> Tensor {
    let rows = tensor.shape[0]
    let columns = tensor.shape.count > 1 ? tensor.count / rows : 1
    guard heads > 0, rows % (2 * heads) == 0 else {
      throw StreamlineError.badRequest(
        "\(name): \(rows) rows do not split into \(heads) heads of an even size")
    }
    let half = rows / heads / 2
    let out = Tensor(uninitialized: tensor.shape)
    for head in 0..<heads {
      for j in 0..<half {
        for s in 0..<2 {
          let from = head * 2 * half + s * half + j
          let to = head * 2 * half + j * 2 + s
          (out.pointer + to * columns).update(from: tensor.pointer + from * columns, count: columns)
        }
      }
    }
    return out
  }

  /// Writes the file at `path` (atomically); `progress` gets bytes written and their total.
  public func write(to path: String, progress: Progress? = nil) throws {
    let entries = try entries()
    let tensors = try tensors()
    try GGUFWriter.write(entries, tensors: tensors, to: path) { written, total, _ in
      progress?.update(written >> 20, of: max(1, total >> 20))
    }
  }

  /// Writes the file into `file`, committed by the caller with the run's other outputs.
  public func write(into file: StagedFile, progress: Progress? = nil) throws {
    let entries = try entries()
    let tensors = try tensors()
    try GGUFWriter.write(entries, tensors: tensors, into: file) { written, total, _ in
      progress?.update(written >> 20, of: max(1, total >> 20))
    }
  }
}
