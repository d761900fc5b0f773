import CDNNL
import Foundation

/// Every matrix product in Streamline goes through this file, to oneDNN.
///
/// Linear layers use the matmul primitive (Float32 or bf16 operands, Float32 results), created
/// once per shape and cached; strided products inside attention use `dnnl_sgemm`. oneDNN
/// threads internally, so callers must not call it from several threads at once.
public enum MatMul {
  public enum Operand: Sendable {
    case f32
    case bf16

    var dnnlType: dnnl_data_type_t { self == .f32 ? dnnl_f32 : dnnl_bf16 }
  }

  /// `c[m, n] (+)= a[m, k] · w[n, k]ᵀ` with Float32 results: the Linear layer, weight in
  /// Hugging Face's `[out, in]` layout read transposed in place.
  public static func linear(
    _ a: UnsafeRawPointer, _ w: UnsafeRawPointer, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, operands: Operand, accumulate: Bool = false
  ) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
      if !accumulate { c.update(repeating: 0, count: m * n) }
      return
    }
    let key = Key(m: m, n: n, k: k, operands: operands, accumulate: accumulate)
    let primitive = cache.primitive(for: key)
    primitive.execute(a: a, w: w, c: c)
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
    precondition(status == dnnl_success, "dnnl_sgemm failed with status \(status.rawValue)")
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

  /// Whether this CPU runs bf16 products natively (AVX-512 BF16 or AMX); elsewhere oneDNN
  /// emulates them slowly.
  public static var nativeBF16: Bool {
    dnnl_get_effective_cpu_isa().rawValue >= dnnl_cpu_isa_avx512_core_bf16.rawValue
  }

  // MARK: - Primitive cache

  struct Key: Hashable {
    let m: Int
    let n: Int
    let k: Int
    let operands: Operand
    let accumulate: Bool
  }

  static let cache = PrimitiveCache()

  final class PrimitiveCache: @unchecked Sendable {
    let lock = NSLock()
    var primitives: [Key: LinearPrimitive] = [:]
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    init() {
      var engine: dnnl_engine_t?
      check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
      var stream: dnnl_stream_t?
      check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
      self.engine = engine!
      self.stream = stream!
    }

    func primitive(for key: Key) -> LinearPrimitive {
      lock.lock()
      defer { lock.unlock() }
      if let found = primitives[key] { return found }
      let made = LinearPrimitive(key: key, engine: engine, stream: stream)
      primitives[key] = made
      return made
    }
  }

  final class LinearPrimitive {
    /// The memory objects are rebound to new buffers on every call, so one caller at a time.
    let lock = NSLock()
    let primitive: dnnl_primitive_t
    let src: dnnl_memory_t
    let weights: dnnl_memory_t
    let dst: dnnl_memory_t
    let stream: dnnl_stream_t

    init(key: Key, engine: dnnl_engine_t, stream: dnnl_stream_t) {
      self.stream = stream
      let type = key.operands.dnnlType
      var srcDesc = memoryDesc(rows: key.m, columns: key.k, rowStride: key.k, type: type)
      // The weight is [n, k] row-major; oneDNN wants [k, n], so describe it with strides (1, k).
      var weightDesc = memoryDesc(
        rows: key.k, columns: key.n, rowStride: 1, columnStride: key.k, type: type)
      var dstDesc = memoryDesc(rows: key.m, columns: key.n, rowStride: key.n, type: dnnl_f32)
      var opDesc = dnnl_matmul_desc_t()
      check(dnnl_matmul_desc_init(&opDesc, &srcDesc, &weightDesc, nil, &dstDesc), "matmul desc")

      var attr: dnnl_primitive_attr_t?
      check(dnnl_primitive_attr_create(&attr), "attr")
      defer { dnnl_primitive_attr_destroy(attr) }
      if key.accumulate {
        var postOps: dnnl_post_ops_t?
        check(dnnl_post_ops_create(&postOps), "post ops")
        check(dnnl_post_ops_append_sum(postOps, 1), "sum post op")
        check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set post ops")
        dnnl_post_ops_destroy(postOps)
      }
      var descriptor: dnnl_primitive_desc_t?
      check(
        dnnl_primitive_desc_create(&descriptor, &opDesc, attr, engine, nil), "primitive desc")
      defer { dnnl_primitive_desc_destroy(descriptor) }
      var primitive: dnnl_primitive_t?
      check(dnnl_primitive_create(&primitive, descriptor), "primitive")
      self.primitive = primitive!

      func memory(_ desc: inout dnnl_memory_desc_t) -> dnnl_memory_t {
        var mem: dnnl_memory_t?
        check(dnnl_memory_create(&mem, &desc, engine, nil), "memory")
        return mem!
      }
      src = memory(&srcDesc)
      weights = memory(&weightDesc)
      dst = memory(&dstDesc)
    }

    func execute(a: UnsafeRawPointer, w: UnsafeRawPointer, c: UnsafeMutablePointer<Float>) {
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
      check(dnnl_primitive_execute(primitive, stream, 3, &args), "execute")
      check(dnnl_stream_wait(stream), "wait")
    }
  }
}

private func memoryDesc(
  rows: Int, columns: Int, rowStride: Int, columnStride: Int = 1, type: dnnl_data_type_t
) -> dnnl_memory_desc_t {
  var desc = dnnl_memory_desc_t()
  var dims: [dnnl_dim_t] = [Int64(rows), Int64(columns)]
  var strides: [dnnl_dim_t] = [Int64(rowStride), Int64(columnStride)]
  check(dnnl_memory_desc_init_by_strides(&desc, 2, &dims, type, &strides), "memory desc")
  return desc
}

private func check(_ status: dnnl_status_t, _ what: String) {
  // oneDNN fails only on programming errors or exhausted memory here; shapes come validated.
  precondition(status == dnnl_success, "oneDNN \(what) failed with status \(status.rawValue)")
}
