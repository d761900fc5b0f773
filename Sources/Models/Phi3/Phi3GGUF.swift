/// Phi-3 is llama.cpp's `phi3`, but its export (fused `attn_qkv` and gate-up `ffn_up`, LongRoPE's
/// `rope_factors_long`/`rope_factors_short` tensors, partial rotary dimension) is not written yet.
extension Phi3Config: GGUFRefusal {
  public var ggufRefusal: String {
    "llama.cpp's phi3 architecture exists, but Streamline does not write its fused qkv/gate-up tensors and LongRoPE factor tensors yet"
  }
}
