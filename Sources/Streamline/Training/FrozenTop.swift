import Foundation
import Models
import Tensors

/// The frozen rest of the model above the replacement, for the language-model loss: the
/// layers after the block and the model's head, all of them backpropagated through.
///
/// The layers are held in memory, or read from the checkpoint each time they run, so that
/// training a large model's replacement holds one frozen layer's weights rather than the depth
/// above the block (an 8B model's 24 layers are 21 GB in Float32); converting a layer from the
/// memory map costs far less than the products it then runs over a micro-batch.
public struct FrozenTop {
  /// Layers after the block.
  public let count: Int
  let resident: [any DecoderLayer]?
  let load: ((Int) throws -> any DecoderLayer)?
  public let head: any LanguageModelHead
  /// The head that computes distillation's teacher logits (forward only, so it may hold bf16
  /// weights); `head` when nil.
  public let teacherHead: (any LanguageModelHead)?

  /// Layers held in memory.
  public init(
    layers: [any DecoderLayer], head: any LanguageModelHead,
    teacherHead: (any LanguageModelHead)? = nil
  ) {
    count = layers.count
    resident = layers
    load = nil
    self.head = head
    self.teacherHead = teacherHead
  }

  /// `count` layers read by `load(i)` (0 the lowest) whenever they run.
  public init(
    count: Int, load: @escaping (Int) throws -> any DecoderLayer, head: any LanguageModelHead,
    teacherHead: (any LanguageModelHead)? = nil
  ) {
    self.count = count
    resident = nil
    self.load = load
    self.head = head
    self.teacherHead = teacherHead
  }

  public var isStreamed: Bool { resident == nil }

  /// Layer `i` above the block (0 the lowest).
  public func layer(_ i: Int) throws -> any DecoderLayer {
    if let resident { return resident[i] }
    return try load!(i)
  }
}
