import CDNNL
import Foundation

/// Every matrix product in Streamline goes through this file, to oneDNN.
///
/// Linear layers use the matmul primitive (Float32 or bf16 operands, Float32 results), created
/// once per shape and cached; strided products inside attention use `dnnl_sgemm`. oneDNN
/// threads internally, so callers must not call it from several threads at once.
///
/// A product that oneDNN refuses (an unimplemented primitive, exhausted memory) does not stop
/// the process: its output is zeroed and the failure kept, and the next `checkFailures()`
/// throws it as a `MatMulError`. The kernels stay non-throwing (they run inside every layer's
/// forward and backward, some on worker threads), and every driver of a computation (a model's
/// forward, a training step, an output's commit) checks before it uses what was computed, as
/// code checks a GPU's deferred errors.
public enum MatMul {

  /// `c[m, n] (+)= a[m, k] · w[n, k]ᵀ` with Float32 results: the Linear layer, weight in
  /// Hugging Face's `[out, in]` layout read transposed in place.
  public static func linear(
    _ a: UnsafeRawPointer, _ w: UnsafeRawPointer, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, operands: Precision, accumulate: Bool = false
  ) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
      if !accumulate { c.update(repeating: 0, count: m * n) }
      return
    }
    let key = Key(m: m, n: n, k: k, operands: operands, accumulate: accumulate)
    do {
      try cache.primitive(for: key).execute(a: a, w: w, c: c)
    } catch {
      c.update(repeating: 0, count: m * n)
      failures.record(error)
    }
  }

  /// Row-major `c = alpha · op(a) · op(b) + beta · c` with leading dimensions, for strided
  /// views such as one attention head inside a `[tokens, heads · headDim]` buffer.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    let status = dnnl_sgemm(
      CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
      Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
    if status != dnnl_success {
      for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
      failures.record(
        MatMulError(operation: "sgemm [\(m), \(k)]·[\(k), \(n)]", precision: .f32, status: status))
    }
  }

  /// The Linear layer's input gradient: `dx[m, k] (+)= dy[m, n] · w[n, k]`, the Float32 weight
  /// in its `[out, in]` layout read as it is stored.
  public static func linearInputGradient(
    _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool = true
  ) {
    gemm(
      transposeA: false, transposeB: false, m: m, n: k, k: n, a: dy, lda: n, b: w, ldb: k,
      beta: accumulate ? 1 : 0, c: dx, ldc: k)
  }

  /// The Linear layer's weight gradient: `dw[n, k] += dy[m, n]ᵀ · x[m, k]`, summed over the m
  /// rows of a batch into the `[out, in]` layout of the weight.
  public static func linearWeightGradient(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int
  ) {
    gemm(
      transposeA: true, transposeB: false, m: n, n: k, k: m, a: dy, lda: n, b: x, ldb: k,
      beta: 1, c: dw, ldc: k)
  }

  /// Throws the first product oneDNN refused since the last check, if any (and forgets it).
  public static func checkFailures() throws {
    if let failure = failures.take() { throw failure }
  }

  static let failures = FailureRecord()

  final class FailureRecord: @unchecked Sendable {
    let lock = NSLock()
    var first: MatMulError?

    func record(_ failure: MatMulError) {
      lock.lock()
      defer { lock.unlock() }
      if first == nil { first = failure }
    }

    func take() -> MatMulError? {
      lock.lock()
      defer { lock.unlock() }
      defer { first = nil }
      return first
    }
  }

  // MARK: - Primitive cache

  struct Key: Hashable {
    let m: Int
    let n: Int
    let k: Int
    let operands: Precision
    let accumulate: Bool

    var shape: String { "[\(m), \(k)]·[\(n), \(k)]ᵀ" }
  }

  static let cache = PrimitiveCache()

  final class PrimitiveCache: @unchecked Sendable {
    let lock = NSLock()
    var primitives: [Key: LinearPrimitive] = [:]
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    init() {
      // Creating the CPU engine and its stream needs no memory worth speaking of and fails only
      // in a broken oneDNN installation, where nothing can run at all.
      var engine: dnnl_engine_t?
      var stream: dnnl_stream_t?
      guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success,
        dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success
      else { fatalError("oneDNN cannot create a CPU engine: the installed libdnnl is broken") }
      self.engine = engine!
      self.stream = stream!
    }

    func primitive(for key: Key) throws(MatMulError) -> LinearPrimitive {
      lock.lock()
      defer { lock.unlock() }
      if let found = primitives[key] { return found }
      let made = try LinearPrimitive(key: key, engine: engine, stream: stream)
      primitives[key] = made
      return made
    }
  }

  final class LinearPrimitive {
    /// The memory objects are rebound to new buffers on every call, so one caller at a time.
    let lock = NSLock()
    let key: Key
    let primitive: dnnl_primitive_t
    let src: dnnl_memory_t
    let weights: dnnl_memory_t
    let dst: dnnl_memory_t
    let stream: dnnl_stream_t

    init(key: Key, engine: dnnl_engine_t, stream: dnnl_stream_t) throws(MatMulError) {
      self.key = key
      self.stream = stream
      func check(_ status: dnnl_status_t, _ step: String) throws(MatMulError) {
        try MatMulError.check(status, key: key, step: step)
      }
      let type = key.operands == .f32 ? dnnl_f32 : dnnl_bf16
      var srcDesc = try memoryDesc(rows: key.m, columns: key.k, rowStride: key.k, type: type)
      // The weight is [n, k] row-major; oneDNN wants [k, n], so describe it with strides (1, k).
      var weightDesc = try memoryDesc(
        rows: key.k, columns: key.n, rowStride: 1, columnStride: key.k, type: type)
      var dstDesc = try memoryDesc(rows: key.m, columns: key.n, rowStride: key.n, type: dnnl_f32)
      var opDesc = dnnl_matmul_desc_t()
      try check(dnnl_matmul_desc_init(&opDesc, &srcDesc, &weightDesc, nil, &dstDesc), "desc")

      var attr: dnnl_primitive_attr_t?
      try check(dnnl_primitive_attr_create(&attr), "attributes")
      defer { dnnl_primitive_attr_destroy(attr) }
      if key.accumulate {
        var postOps: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&postOps), "post ops")
        defer { dnnl_post_ops_destroy(postOps) }
        try check(dnnl_post_ops_append_sum(postOps, 1), "sum post op")
        try check(dnnl_primitive_attr_set_post_ops(attr, postOps), "post ops")
      }
      var descriptor: dnnl_primitive_desc_t?
      try check(
        dnnl_primitive_desc_create(&descriptor, &opDesc, attr, engine, nil), "primitive desc")
      defer { dnnl_primitive_desc_destroy(descriptor) }
      var primitive: dnnl_primitive_t?
      try check(dnnl_primitive_create(&primitive, descriptor), "primitive")
      self.primitive = primitive!

      func memory(_ desc: inout dnnl_memory_desc_t) throws(MatMulError) -> dnnl_memory_t {
        var mem: dnnl_memory_t?
        try check(dnnl_memory_create(&mem, &desc, engine, nil), "memory")
        return mem!
      }
      src = try memory(&srcDesc)
      weights = try memory(&weightDesc)
      dst = try memory(&dstDesc)
    }

    func execute(a: UnsafeRawPointer, w: UnsafeRawPointer, c: UnsafeMutablePointer<Float>)
      throws(MatMulError)
    {
      lock.lock()
      defer { lock.unlock() }
      dnnl_memory_set_data_handle(src, UnsafeMutableRawPointer(mutating: a))
      dnnl_memory_set_data_handle(weights, UnsafeMutableRawPointer(mutating: w))
      dnnl_memory_set_data_handle(dst, UnsafeMutableRawPointer(c))
      var args = [
        dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src),
        dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights),
        dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst),
      ]
      try MatMulError.check(
        dnnl_primitive_execute(primitive, stream, 3, &args), key: key, step: "execute")
      try MatMulError.check(dnnl_stream_wait(stream), key: key, step: "execute")
    }
  }
}

private func memoryDesc(
  rows: Int, columns: Int, rowStride: Int, columnStride: Int = 1, type: dnnl_data_type_t
) throws(MatMulError) -> dnnl_memory_desc_t {
  var desc = dnnl_memory_desc_t()
  var dims: [dnnl_dim_t] = [Int64(rows), Int64(columns)]
  var strides: [dnnl_dim_t] = [Int64(rowStride), Int64(columnStride)]
  let status = dnnl_memory_desc_init_by_strides(&desc, 2, &dims, type, &strides)
  guard status == dnnl_success else {
    throw MatMulError(
      operation: "memory descriptor [\(rows), \(columns)]",
      precision: type == dnnl_f32 ? .f32 : .bf16, status: status)
  }
  return desc
}

/// A matrix product oneDNN refused, in words for the user.
public struct MatMulError: Error, CustomStringConvertible, Sendable {
  public let operation: String
  public let precision: Precision
  public let status: String

  init(operation: String, precision: Precision, status: dnnl_status_t) {
    self.operation = operation
    self.precision = precision
    switch status {
    case dnnl_out_of_memory: self.status = "out of memory"
    case dnnl_unimplemented:
      self.status = "not implemented by oneDNN for this CPU (\(CPU.isa))"
    case dnnl_invalid_arguments: self.status = "invalid arguments"
    default: self.status = "oneDNN status \(status.rawValue)"
    }
  }

  static func check(_ status: dnnl_status_t, key: MatMul.Key, step: String)
    throws(MatMulError)
  {
    guard status != dnnl_success else { return }
    throw MatMulError(
      operation: "matmul \(key.shape) (\(step))", precision: key.operands, status: status)
  }

  public var description: String {
    "the \(precision.rawValue) matrix product \(operation) failed: \(status)"
  }
}
