import Foundation
import Tensors
import Testing

@testable import Checkpoint

/// Writes sample outputs for the Python cross-check, only when asked:
/// `STREAMLINE_CHECKPOINT_EXPORT=/tmp/ckpt-out swift test --filter CheckpointTests`, then
/// `python tools/check_safetensors_roundtrip.py verify /tmp/ckpt-out`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["STREAMLINE_CHECKPOINT_EXPORT"] != nil))
struct ExportTests {
  @Test func export() throws {
    let out = URL(
      fileURLWithPath: ProcessInfo.processInfo.environment["STREAMLINE_CHECKPOINT_EXPORT"]!)
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let source = fixtures.appendingPathComponent("tiny-sharded")
    let input = try ModelFolder(url: source)
    let order =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: source.appendingPathComponent("state_dict_order.json")))
      as! [String: Any]
    let names = order["order"] as! [String]

    // The tiny Llama re-saved sharded (from Float32 values, not raw copies) and as one file.
    for (name, maxShardSize) in [
      ("tiny-sharded", order["max_shard_size"] as! Int), ("tiny-single", 5_000_000_000),
    ] {
      let output = try OutputFolder(target: out.appendingPathComponent(name), force: true)
      let tensors = try names.map { try WritableTensor($0, try input.float($0)) }
      try CheckpointWriter.save(tensors, to: output.url, maxShardSize: maxShardSize)
      try output.copy(source.appendingPathComponent("config.json"))
      if name == "tiny-sharded" {
        try output.copy(source.appendingPathComponent("state_dict_order.json"))
      }
      try output.commit()
    }

    // Random values rounded to each dtype, plus awkward names.
    var state: UInt64 = 42
    let values = (0..<5000).map { _ -> Float in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: state >> 11) % 2_000_000) * 1.37e-4
    }
    let tensors = [
      try WritableTensor("r.f32", shape: [50, 100], values: values),
      try WritableTensor("r.bf16", shape: [5000], values: values, as: .BF16),
      try WritableTensor("r.f16", shape: [100, 50], values: values.map { $0 / 100 }, as: .F16),
      try WritableTensor("awkward \"name\"\\ é\n", shape: [2], values: [1, 2], as: .BF16),
      try WritableTensor("scalar", shape: [], values: [3]),
      try WritableTensor(
        "ids", dtype: .I64, shape: [2],
        bytes: [1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]),
    ]
    try SafeTensorsWriter.write(tensors, to: out.appendingPathComponent("mixed.safetensors").path)
  }
}
