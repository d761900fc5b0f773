import Checkpoint
import Foundation
import Models
import Tensors
import Testing
import Tokenizers

@testable import Streamline

/// The keys Streamline writes differently from llama.cpp's converter, on purpose (README, GGUF):
/// names the converter guesses from the folder name, and the tokenizer flags it leaves out.
let documentedDifferences: Set<String> = [
  "general.name", "general.size_label", "general.basename", "general.finetune",
  "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_sep_token",
  "tokenizer.ggml.unknown_token_id",
  // SentencePiece-style BPE: the converter's LlamaHfVocab gives every token -1000 (so llama.cpp
  // merges leftmost-first); Streamline ranks scores by merge order, which llama.cpp's SPM
  // tokenizer follows. Token types differ only where the converter types a special added token
  // NORMAL.
  "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
]

@Suite("GGUF export")
struct GGUFExportTests {
  @Test(
    "a Llama folder exports as llama.cpp's converter writes it: names, shapes, values, metadata")
  func matchesConverter() throws {
    let output = Fixtures.temporary("gguf").appendingPathExtension("gguf")
    defer { try? FileManager.default.removeItem(at: output) }
    try GGUFExport(
      folder: Fixtures.root.appendingPathComponent("eval/models/llama"), fileType: .f32
    )
    .write(to: output.path)
    let ours = try GGUFFile(path: output.path)
    let theirs = try GGUFFile(
      path: Fixtures.root.appendingPathComponent("gguf/llama-converter-f32.gguf").path)
    #expect(Set(ours.tensors.map(\.name)) == Set(theirs.tensors.map(\.name)))
    for tensor in theirs.tensors {
      let mine = try #require(ours.tensor(tensor.name))
      #expect(mine.shape == tensor.shape, "\(tensor.name)")
      #expect(mine.type == tensor.type, "\(tensor.name)")
      #expect(
        ours.floats(mine).map(\.bitPattern) == theirs.floats(tensor).map(\.bitPattern),
        "\(tensor.name)")
    }
    for entry in theirs.entries where !documentedDifferences.contains(entry.key) {
      #expect(ours[entry.key] == entry.value, "\(entry.key)")
    }
    for entry in ours.entries where !documentedDifferences.contains(entry.key) {
      #expect(theirs[entry.key] != nil, "\(entry.key) is not written by the converter")
    }
  }

  @Test(
    "a Phi-3 folder's tensors (fused qkv and gate-up, LongRoPE factors) and hyperparameters are what llama.cpp's converter writes"
  )
  func phi3MatchesConverter() throws {
    // The converter's output without its vocabulary step (tools/convert_without_vocab.py): the
    // model fixture has no tokenizer, and the architecture is what is compared here.
    let folder = try ModelFolder(url: Fixtures.model("phi3-longrope"))
    let config = try Architectures.config(from: folder.configData, path: folder.configPath)
    let naming = try #require(config as? any GGUFNaming)
    let output = Fixtures.temporary("gguf").appendingPathExtension("gguf")
    defer { try? FileManager.default.removeItem(at: output) }
    try GGUFWriter.write(
      [GGUF.Entry("general.architecture", .string(naming.ggufArchitecture))]
        + (try naming.ggufHyperparameters()),
      tensors: try GGUFExport.tensors(naming, from: folder, fileType: .f32), to: output.path)
    let ours = try GGUFFile(path: output.path)
    let theirs = try GGUFFile(
      path: Fixtures.root.appendingPathComponent("gguf/phi3-longrope-converter-f32.gguf").path)
    #expect(ours.tensors.map(\.name).sorted() == theirs.tensors.map(\.name).sorted())
    for tensor in theirs.tensors {
      let mine = try #require(ours.tensor(tensor.name))
      #expect(mine.shape == tensor.shape, "\(tensor.name)")
      #expect(mine.type == tensor.type, "\(tensor.name)")
      #expect(
        ours.floats(mine).map(\.bitPattern) == theirs.floats(tensor).map(\.bitPattern),
        "\(tensor.name)")
    }
    for entry in theirs.entries where entry.key.hasPrefix("phi3.") {
      #expect(ours[entry.key] == entry.value, "\(entry.key)")
    }
    // Streamline adds the head widths (README, GGUF), as for every family.
    let added: Set<String> = ["phi3.attention.key_length", "phi3.attention.value_length"]
    for entry in ours.entries where !added.contains(entry.key) {
      #expect(theirs[entry.key] != nil, "\(entry.key) is not written by the converter")
    }
  }

  @Test("a pruned folder exports its kept layers, renumbered, with its provenance")
  func prunedWithProvenance() throws {
    let sourceURL = Fixtures.root.appendingPathComponent("eval/models/llama")
    let source = try ModelFolder(url: sourceURL)
    let config = try DecoderModel(folder: source).config
    let pruned = Fixtures.temporary("pruned")
    let output = Fixtures.temporary("gguf").appendingPathExtension("gguf")
    defer {
      try? FileManager.default.removeItem(at: pruned)
      try? FileManager.default.removeItem(at: output)
    }
    _ = try Surgery.write(
      source: source, config: config, removing: [1, 2],
      manifest: ["replacement": "none", "evaluation": ["perplexity": 12.5]], to: pruned)
    try GGUFExport(folder: pruned, fileType: .f32).write(to: output.path)
    let file = try GGUFFile(path: output.path)
    #expect(file["llama.block_count"] == .uint32(2))
    #expect(file.tensors.filter { $0.name.hasPrefix("blk.") }.count == 2 * 9)
    #expect(file.tensor("blk.2.attn_q.weight") == nil)
    // Kept layer 3 is block 1, its v projection copied as it is.
    let v = file.floats(try #require(file.tensor("blk.1.ffn_down.weight")))
    #expect(
      v.map(\.bitPattern)
        == (try source.float("model.layers.3.mlp.down_proj.weight")).toArray().map(\.bitPattern))
    #expect(file["streamline.removed_layers"] == .array(.int32([1, 2])))
    #expect(file["streamline.replacement"] == .string("none"))
    #expect(file["streamline.evaluation.perplexity"] == .float64(12.5))
    #expect(file["streamline.num_layers.after"] == .int64(2))
    guard case .string(let manifest)? = file["streamline.manifest"] else {
      Issue.record("no streamline.manifest")
      return
    }
    #expect(manifest.contains("\"removed_layers\""))
  }

  @Test("Q8_0 export quantizes the matrices and keeps norms in F32")
  func q8Types() throws {
    let output = Fixtures.temporary("gguf").appendingPathExtension("gguf")
    defer { try? FileManager.default.removeItem(at: output) }
    let export = try GGUFExport(
      folder: Fixtures.root.appendingPathComponent("eval/models/llama"), fileType: .q8_0)
    try export.write(to: output.path)
    let file = try GGUFFile(path: output.path)
    #expect(file["general.file_type"] == .uint32(7))
    for tensor in file.tensors {
      if tensor.shape.count == 1 {
        #expect(tensor.type == .f32, "\(tensor.name)")
      } else {
        // Rows of 96 (ffn_down) quantize; rows of 48 fall back to F16, as the converter does.
        #expect(tensor.type == (tensor.shape.last! % 32 == 0 ? .q8_0 : .f16), "\(tensor.name)")
      }
    }
    #expect(file.tensors.contains { $0.type == .q8_0 })
  }

  @Test("SentencePiece-style BPE becomes llama.cpp's SPM vocabulary with merge-ranked scores")
  func sentencePieceVocabulary() throws {
    let folder = Fixtures.root.appendingPathComponent("eval/models/llama")
    let tokenizer = try Tokenizer.load(from: folder)
    let vocabulary = try tokenizer.ggufVocabulary(vocabularySize: 1156)
    #expect(vocabulary.model == "llama")
    #expect(vocabulary.merges == nil)
    #expect(vocabulary.addSpacePrefix == true)
    let scores = try #require(vocabulary.scores)
    // Byte tokens are BYTE; the result of the first merge outranks that of the second.
    let byte = try #require(tokenizer.tokenToId("<0x41>"))
    #expect(vocabulary.tokenTypes[byte] == .byte)
    let merges = try tokenizer.mergeStrings()
    let first = try #require(tokenizer.tokenToId(merges[0].replacingOccurrences(of: " ", with: "")))
    let second = try #require(
      tokenizer.tokenToId(merges[1].replacingOccurrences(of: " ", with: "")))
    #expect(scores[first] > scores[second])
  }

  @Test("the rotary permutation interleaves each head's halves")
  func ropePermutation() throws {
    // 2 heads of 4 rows, 1 column: rows [a0 a1 b0 b1 | c0 c1 d0 d1] → [a0 b0 a1 b1 | c0 d0 c1 d1].
    let tensor = Tensor(shape: [8, 1], values: [0, 1, 2, 3, 4, 5, 6, 7])
    let permuted = try GGUFExport.ropePermuted(tensor, heads: 2, name: "q")
    #expect(permuted.toArray() == [0, 2, 1, 3, 4, 6, 5, 7])
    #expect(throws: StreamlineError.self) {
      try GGUFExport.ropePermuted(Tensor(zeros: [6, 1]), heads: 2, name: "q")
    }
  }

  @Test("families llama.cpp cannot hold and tokenizers it cannot read are refused with a reason")
  func refusals() throws {
    // OPT has no llama.cpp architecture.
    let opt = try Architectures.config(
      from: Data(
        #"{"model_type":"opt","hidden_size":16,"ffn_dim":32,"num_hidden_layers":2,"num_attention_heads":2,"vocab_size":50,"max_position_embeddings":64,"word_embed_proj_dim":16}"#
          .utf8), path: "config.json")
    #expect(throws: GGUFExportError.self) { try GGUFExport.requireExportable(opt) }
    // The Qwen2 fixture's tiny tokenizer matches no pre-tokenizer llama.cpp knows.
    #expect(throws: GGUFExportError.self) {
      try GGUFExport(
        folder: Fixtures.root.appendingPathComponent("eval/models/qwen2"), fileType: .f32
      )
      .tokenizerEntries()
    }
  }
}
