#!/usr/bin/env python3
"""llama.cpp's convert_hf_to_gguf.py for a folder without a tokenizer (the tiny model fixtures):
the family's set_vocab is skipped, so the file holds the converter's architecture metadata and
tensors only, which is what GGUFExportTests compares with Streamline's for Phi-3.

    cd LLAMA_CPP && PYTHONPATH=gguf-py:. python /path/to/tools/convert_without_vocab.py \\
        Tests/Fixtures/models/phi3-longrope --outtype f32 \\
        --outfile Tests/Fixtures/gguf/phi3-longrope-converter-f32.gguf

(llama.cpp from llama-cpp-python 0.3.36's sdist; see tools/check_gguf_llamacpp.py.)
"""
import convert_hf_to_gguf

original = convert_hf_to_gguf.get_model_class


def get_model_class(*args, **kwargs):
    """The family's class, with no vocabulary step (Phi-3 has its own set_vocab)."""
    cls = original(*args, **kwargs)
    cls.set_vocab = lambda self: None
    return cls


convert_hf_to_gguf.get_model_class = get_model_class

if __name__ == "__main__":
    convert_hf_to_gguf.main()
