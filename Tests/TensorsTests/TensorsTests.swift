import CDNNL
import Foundation
import Testing

@testable import Tensors

@Suite struct VectorMathTests {
  @Test func expIsWithinTwoUlpOfTheLibrary() {
    var worst: Float = 0
    var x: Float = -87
    while x < 88 {
      let values = VectorMath.Vector((0..<8).map { x + Float($0) * 0.0137 })
      let fast = VectorMath.exp(values)
      for i in 0..<8 {
        let exact = Foundation.exp(Double(values[i]))
        let ulp = Double(Float(exact).ulp)
        worst = max(worst, Float(abs(Double(fast[i]) - exact) / ulp))
      }
      x += 0.1093
    }
    #expect(worst <= 2, "worst error \(worst) ulp")
    let edges = VectorMath.exp(VectorMath.Vector([-200, -88, 0, 1, -1, 89, 200, .infinity]))
    #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == 1)
    #expect(edges[5] == .infinity && edges[6] == .infinity && edges[7] == .infinity)
    #expect(abs(edges[3] - 2.7182817) < 1e-6)
  }

  @Test func siluGateMatchesTheDefinition() {
    let rows = 3
    let width = 13
    var fused = (0..<(rows * 2 * width)).map { Float($0 % 17) / 3 - 2.5 }
    var out = [Float](repeating: 0, count: rows * width)
    fused.withUnsafeMutableBufferPointer { f in
      out.withUnsafeMutableBufferPointer { o in
        Kernels.siluGate(f.baseAddress!, out: o.baseAddress!, rows: rows, width: width)
      }
    }
    for r in 0..<rows {
      for c in 0..<width {
        let g = Double(fused[r * 2 * width + c])
        let u = Double(fused[r * 2 * width + width + c])
        let expected = g / (1 + Foundation.exp(-g)) * u
        #expect(abs(Double(out[r * width + c]) - expected) < 1e-5 * max(1, abs(expected)))
      }
    }
  }

  @Test func bf16RoundsToNearestEven() {
    #expect(Numerics.bf16(from: 1.0) == 0x3F80)
    #expect(Numerics.bf16(from: Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even
    #expect(Numerics.bf16(from: Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie to even
    #expect(Numerics.bf16(from: Float(bitPattern: 0x3F80_8001)) == 0x3F81)
    #expect(Numerics.float(fromBF16: 0xC000) == -2)
  }
}

@Suite struct BF16ConversionTests {
  @Test func vectorConversionEqualsTheScalarRounding() {
    var values: [Float] = [
      1, -2, 0, -0, .infinity, -.infinity, .nan, -.nan, Float.greatestFiniteMagnitude,
      Float.leastNonzeroMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
      Float(bitPattern: 0x3F80_8001), Float(bitPattern: 0x7F7F_FFFF),
    ]
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<1000 { values.append(Float(bitPattern: generator.next())) }
    var out = [UInt16](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { v in
      out.withUnsafeMutableBufferPointer { o in
        Kernels.toBF16(v.baseAddress!, out: o.baseAddress!, count: v.count)
      }
    }
    for (value, converted) in zip(values, out) {
      #expect(converted == Numerics.bf16(from: value), "\(value.bitPattern)")
    }
  }
}

@Suite struct MatMulTests {
  /// bf16 products run only where oneDNN runs them natively; `ONEDNN_MAX_CPU_ISA=AVX2` (as CI
  /// runs the suite a second time) makes an AVX-512 machine compute as an AVX2-only one.
  @Test func bf16RunsOnlyWhereItIsNative() {
    #expect(Precision.f32.effective == .f32)
    #expect(Precision.bf16.effective == (CPU.nativeBF16 ? .bf16 : .f32))
    if ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"]?.uppercased() == "AVX2" {
      #expect(CPU.isa == "avx2")
      #expect(!CPU.nativeBF16)
    }
    #expect(CPU.nativeBF16 == CPU.isa.hasPrefix("avx512_core_bf16") || CPU.isa.contains("amx"))
  }

  /// A product oneDNN refuses is a typed error with one line, never a precondition.
  @Test func refusedProductsAreTypedErrors() throws {
    let key = MatMul.Key(m: 1, n: 1, k: -1, operands: .f32, accumulate: false)
    #expect(throws: MatMulError.self) { try MatMul.cache.primitive(for: key) }
    if !CPU.nativeBF16 {
      let bf16 = MatMul.Key(m: 8, n: 8, k: 8, operands: .bf16, accumulate: false)
      do {
        _ = try MatMul.cache.primitive(for: bf16)
        Issue.record("oneDNN 2.x has no bf16 matmul below AVX-512 BF16")
      } catch {
        #expect(error.description.contains("bf16 matrix product"))
        #expect(!error.description.contains("\n"))
      }
    }
  }

  /// Failures inside a kernel are kept (the first one) until the next check, which throws it.
  @Test func failuresAreKeptUntilChecked() {
    let record = MatMul.FailureRecord()
    #expect(record.take() == nil)
    record.record(MatMulError(operation: "first", precision: .f32, status: dnnl_out_of_memory))
    record.record(MatMulError(operation: "second", precision: .f32, status: dnnl_unimplemented))
    let first = record.take()
    #expect(first?.operation == "first")
    #expect(first?.status == "out of memory")
    #expect(record.take() == nil)
  }
}

@Suite struct RowSoftmaxTests {
  /// The vectorised row statistics against the definitions in Double, on a vocabulary that is
  /// not a multiple of the vector width and spans more than one summation block. VectorMath.exp
  /// is within 2 ulp, and each block sums at most 512 Float terms, so the results agree to
  /// about 512·2⁻²⁴ ≈ 3e-5 relative in the worst case; 1e-5 holds the typical case.
  @Test func matchesTheDefinitions() {
    let count = 1003
    var generator: UInt64 = 7
    func next() -> Float {
      generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: generator >> 11) % 2000) / 100
    }
    let teacher = (0..<count).map { _ in next() }
    var student = (0..<count).map { _ in next() }
    func logSumExp(_ row: [Float]) -> Double {
      let m = Double(row.max()!)
      return m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
    }
    let tLog = logSumExp(teacher)
    let sLog = logSumExp(student)
    var kl = 0.0
    var gradient = [Double](repeating: 0, count: count)
    for v in 0..<count {
      let p = Foundation.exp(Double(teacher[v]) - tLog)
      let q = Foundation.exp(Double(student[v]) - sLog)
      kl += p * ((Double(teacher[v]) - tLog) - (Double(student[v]) - sLog))
      gradient[v] = 0.5 * (q - p)
    }
    teacher.withUnsafeBufferPointer { t in
      #expect(abs(Double(RowSoftmax.logSumExp(t.baseAddress!, count: count)) - tLog) < 1e-5 * tLog)
    }
    let measured = teacher.withUnsafeBufferPointer { t in
      student.withUnsafeMutableBufferPointer { s in
        RowSoftmax.klDivergence(
          teacher: t.baseAddress!, student: s.baseAddress!, count: count, gradientScale: 0.5)
      }
    }
    #expect(abs(measured - kl) < 1e-5 * max(1, kl), "\(measured) against \(kl)")
    let worst = zip(student, gradient).map { abs(Double($0) - $1) }.max()!
    #expect(worst < 1e-6, "gradient off by \(worst)")
  }
}
