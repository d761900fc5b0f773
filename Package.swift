// swift-tools-version:6.0
import PackageDescription

// Targets run in Swift 5 language mode: the numeric kernels hand raw buffer pointers to
// `DispatchQueue.concurrentPerform`, which strict Swift 6 sendability checking rejects.
let settings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
  name: "Streamline",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "streamline", targets: ["StreamlineCLI"]),
    .library(name: "Streamline", targets: ["Streamline"]),
    // The parsers on their own, for the fuzz targets in Fuzz/ (all but fuzz-stats build without swift-crypto).
    .library(name: "Checkpoint", targets: ["Checkpoint"]),
    .library(name: "Tokenizers", targets: ["Tokenizers"]),
    .library(name: "Evaluation", targets: ["Evaluation"]),
    .library(name: "Models", targets: ["Models"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
  ],
  targets: [
    .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
    .target(name: "Tensors", dependencies: ["CDNNL"], swiftSettings: settings),
    .target(name: "Checkpoint", dependencies: ["Tensors"], swiftSettings: settings),
    .target(name: "Tokenizers", swiftSettings: settings),
    .target(name: "Models", dependencies: ["Tensors", "Checkpoint"], swiftSettings: settings),
    .target(
      name: "Evaluation", dependencies: ["Checkpoint", "Models", "Tokenizers"],
      swiftSettings: settings),
    .target(
      name: "Streamline",
      dependencies: [
        "Models", "Tokenizers", "Evaluation", "Checkpoint", "Tensors",
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: settings),
    .executableTarget(
      name: "StreamlineCLI",
      dependencies: [
        "Streamline", "Tokenizers", "Evaluation", "Checkpoint", "Models", "Tensors",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: settings),
    .testTarget(
      name: "StreamlineCLITests",
      dependencies: [
        "StreamlineCLI", "Streamline", "Checkpoint", "Evaluation", "Models", "Tensors",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: settings),
    .testTarget(
      name: "TensorsTests", dependencies: ["Tensors", "CDNNL"], swiftSettings: settings),
    .testTarget(
      name: "CheckpointTests", dependencies: ["Checkpoint", "Tensors"], swiftSettings: settings),
    .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], swiftSettings: settings),
    .testTarget(
      name: "ModelsTests", dependencies: ["Models", "Checkpoint", "Tensors"],
      swiftSettings: settings),
    .testTarget(
      name: "StreamlineTests",
      dependencies: ["Streamline", "Models", "Checkpoint", "Tokenizers", "Tensors", "Evaluation"],
      swiftSettings: settings),
    .testTarget(
      name: "EvaluationTests", dependencies: ["Evaluation", "Models", "Tokenizers"],
      swiftSettings: settings),
  ]
)
