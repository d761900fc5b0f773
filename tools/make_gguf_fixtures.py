#!/usr/bin/env python3
"""A small GGUF file written by the `gguf` Python package (llama.cpp's own writer), for the Swift
writer's byte-for-byte test (Tests/CheckpointTests/GGUFTests.swift).

    python tools/make_gguf_fixtures.py   # -> Tests/Fixtures/gguf/reference.gguf

The key-value pairs cover every value type and the array types llama.cpp's metadata uses; the
tensors are F32, F16, BF16 and Q8_0 (quantized by gguf.quants, llama.cpp's reference rounding),
with values x_i = ((37 i + k) mod 101 − 50) · scale / 7 (computed in float64, rounded once to
float32), which Swift recomputes bit for bit. Needs gguf and
numpy; llama.cpp's vendored gguf-py is used when GGUF_PY points at it.

Tests/Fixtures/gguf/llama-converter-f32.gguf is llama.cpp's own converter's output for the tiny
Llama evaluation fixture (GGUFExportTests compares Streamline's export with it):

    cd LLAMA_CPP && PYTHONPATH=gguf-py python convert_hf_to_gguf.py \
        Tests/Fixtures/eval/models/llama --outtype f32 --outfile llama-converter-f32.gguf

(llama.cpp from llama-cpp-python 0.3.36's sdist; see tools/check_gguf_llamacpp.py.)
"""

import os
import sys
from pathlib import Path

if os.environ.get("GGUF_PY"):
    sys.path.insert(0, os.environ["GGUF_PY"])

import gguf  # noqa: E402
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "gguf" / "reference.gguf"


def values(count: int, k: float, scale: float) -> np.ndarray:
    i = np.arange(count, dtype=np.int64)
    return ((((37 * i + int(k)) % 101) - 50).astype(np.float64) * scale / 7.0).astype(np.float32)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(OUT), "llama")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo ✓ 🦙")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 1e-300)
    w.add_array("t.strings", ["a", "", "Ġ t", "<|im_end|>"])
    w.add_array("t.int32s", [1, -2, 3])
    w.add_array("t.float32s", [0.5, -1.25])
    w.add_array("t.bools", [True, False, True])
    f32 = values(6 * 5, 0.0, 3.0).reshape(6, 5)
    f16 = values(4 * 3, 1.0, 2.0).reshape(4, 3)
    bf16 = values(7, 2.0, 100.0)
    q8 = values(3 * 64, 3.0, 5.0).reshape(3, 64)
    q8[1, :32] = 0  # an all-zero block: scale 0
    w.add_tensor("f32.weight", f32, raw_dtype=gguf.GGMLQuantizationType.F32)
    w.add_tensor("f16.weight", f16.astype(np.float16), raw_dtype=gguf.GGMLQuantizationType.F16)
    w.add_tensor(
        "bf16.weight", gguf.quants.quantize(bf16, gguf.GGMLQuantizationType.BF16),
        raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.add_tensor(
        "q8.weight", gguf.quants.quantize(q8, gguf.GGMLQuantizationType.Q8_0),
        raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
