import Foundation
import Testing

@testable import Checkpoint

@Suite struct OutputFolderTests {
  let scratch = Scratch()

  func listing(_ url: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
  }

  /// An input model folder with one file.
  func input() -> URL {
    let folder = scratch.folder("input")
    scratch.write("input/config.json", "{}")
    return folder
  }

  @Test func commitMovesTheFolderIntoPlace() throws {
    let target = scratch.url.appendingPathComponent("out")
    let output = try OutputFolder(target: target, inputs: [input()])
    #expect(output.url.deletingLastPathComponent() == target.deletingLastPathComponent())
    #expect(output.url.lastPathComponent.hasPrefix("."))
    #expect(
      !FileManager.default.fileExists(atPath: target.path), "nothing at the target before commit")
    try output.write(Data("{}".utf8), as: "config.json")
    try output.copy(scratch.url.appendingPathComponent("input/config.json"), as: "copied.json")
    try output.commit()
    #expect(listing(target) == ["config.json", "copied.json"])
    #expect(listing(scratch.url) == ["input", "out"], "no hidden folder left")
  }

  @Test func withoutCommitNothingIsLeft() throws {
    let target = scratch.url.appendingPathComponent("deep/er/out")
    do {
      let output = try OutputFolder(target: target)
      try output.write(Data("partial".utf8), as: "model.safetensors")
      #expect(FileManager.default.fileExists(atPath: output.file("model.safetensors").path))
      // The output goes out of scope unfinished, as when an error is thrown.
    }
    #expect(listing(scratch.url) == [], "temporary folder and the parents it made are gone")
  }

  @Test func discardAfterAFailure() throws {
    let target = scratch.url.appendingPathComponent("out")
    let output = try OutputFolder(target: target)
    #expect(throws: CheckpointError.self) {
      try SafeTensorsWriter.write(
        [
          try WritableTensor("x", shape: [2]) {
            throw CheckpointError.writeFailed(path: "x", reason: "boom")
          }
        ],
        to: output.file("model.safetensors").path)
    }
    output.discard()
    #expect(listing(scratch.url) == [])
  }

  @Test func refusesTheInputFolderItself() {
    let model = input()
    expectError([model.path, "is the input model folder"]) {
      _ = try OutputFolder(target: model, inputs: [model], force: true)
    }
    expectError([model.path, "is the input model folder"]) {
      _ = try OutputFolder(target: URL(fileURLWithPath: model.path + "/./sub/.."), inputs: [model])
    }
    #expect(listing(model) == ["config.json"])
  }

  @Test func refusesAFolderInsideTheInput() {
    let model = input()
    let target = model.appendingPathComponent("pruned")
    expectError([target.path, "inside the input model folder", model.path]) {
      _ = try OutputFolder(target: target, inputs: [model])
    }
    #expect(listing(model) == ["config.json"])
  }

  @Test func refusesTheInputThroughASymbolicLink() throws {
    let model = input()
    let link = scratch.url.appendingPathComponent("link")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: model)
    expectError(["inside the input model folder"]) {
      _ = try OutputFolder(target: link.appendingPathComponent("out"), inputs: [model])
    }
    expectError(["is the input model folder"]) {
      _ = try OutputFolder(target: model, inputs: [link])
    }
  }

  @Test func refusesAFolderHoldingTheInput() {
    let model = input()
    expectError([scratch.url.path, "contains the input model folder"]) {
      _ = try OutputFolder(target: scratch.url, inputs: [model], force: true)
    }
  }

  @Test func existingNonEmptyTargetNeedsForce() throws {
    let target = scratch.folder("out")
    scratch.write("out/old.txt", "old")
    expectError([target.path, "not empty", "--force"]) { _ = try OutputFolder(target: target) }

    // With force, a run that fails leaves the old folder as it was.
    do {
      let output = try OutputFolder(target: target, force: true)
      try output.write(Data("new".utf8), as: "new.txt")
      #expect(listing(target) == ["old.txt"])
    }
    #expect(listing(target) == ["old.txt"])
    #expect(listing(scratch.url) == ["out"])

    // A run that commits replaces it.
    let output = try OutputFolder(target: target, force: true)
    try output.write(Data("new".utf8), as: "new.txt")
    try output.commit()
    #expect(listing(target) == ["new.txt"])
    #expect(listing(scratch.url) == ["out"], "the replaced folder is removed")
  }

  @Test func existingEmptyTargetIsFine() throws {
    let target = scratch.folder("out")
    let output = try OutputFolder(target: target)
    try output.write(Data("x".utf8), as: "x")
    try output.commit()
    #expect(listing(target) == ["x"])
  }

  @Test func refusesAFile() {
    let path = scratch.write("out", "a file")
    expectError([path, "not a folder"]) {
      _ = try OutputFolder(target: URL(fileURLWithPath: path), force: true)
    }
  }

  @Test func targetAppearingBeforeCommitNeedsForce() throws {
    let target = scratch.url.appendingPathComponent("out")
    let output = try OutputFolder(target: target)
    scratch.write("out/someone-else.txt", "x")
    expectError([target.path, "not empty"]) { try output.commit() }
    output.discard()
    #expect(listing(target) == ["someone-else.txt"])
    #expect(listing(scratch.url) == ["out"])
  }
}
