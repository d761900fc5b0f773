// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for every parser Streamline reads untrusted files with. Kept out of the main
// package so that `swift build` and `swift test` never need the fuzzer runtime; built and run
// by scripts/fuzz with `-sanitize=fuzzer,address`. Each target is parsed as a library: libFuzzer
// supplies `main` and calls `LLVMFuzzerTestOneInput`.
let settings: [SwiftSetting] = [.swiftLanguageMode(.v5), .unsafeFlags(["-parse-as-library"])]

func fuzzer(_ name: String, _ products: [String]) -> Target {
  .executableTarget(
    name: name,
    dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: "Streamline") },
    swiftSettings: settings)
}

let package = Package(
  name: "StreamlineFuzz",
  dependencies: [.package(name: "Streamline", path: "..")],
  targets: [
    .target(name: "FuzzSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
    fuzzer("fuzz-safetensors", ["Checkpoint"]),
    fuzzer("fuzz-index", ["Checkpoint"]),
    fuzzer("fuzz-config", ["Models"]),
    fuzzer("fuzz-tokenizer", ["Tokenizers"]),
    fuzzer("fuzz-encode", ["Tokenizers"]),
    fuzzer("fuzz-added-tokens", ["Tokenizers"]),
    fuzzer("fuzz-task", ["Evaluation"]),
    fuzzer("fuzz-calibration", ["Evaluation"]),
    fuzzer("fuzz-token-ids", ["Evaluation"]),
    // Scoring statistics are a Streamline type, so this one target also builds swift-crypto.
    fuzzer("fuzz-stats", ["Streamline"]),
  ]
)
