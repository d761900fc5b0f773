#!/usr/bin/env python3
"""Reference for the training-free `linear` replacement (ReplaceMe): a NumPy least-squares fit.

    python tools/make_replacement_fixtures.py

With `transformers` on Tests/Fixtures/models/llama-gqa and the importance calibration rows:
the residual a after layer 1's attention (the input of its post_attention_layernorm), its MLP
output m = h_2 − a, and y = h_4 − a for the block of layers 2–3; T = lstsq(m, y) from
numpy.linalg.lstsq. Also writes calibration.jsonl (40 rows of 24 ids) for training tests.
Outputs go to Tests/Fixtures/replacement/.
"""
import json
import os

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import AutoModelForCausalLM

OUT = "Tests/Fixtures/replacement"


def main():
    os.makedirs(OUT, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained("Tests/Fixtures/models/llama-gqa",
                                                 dtype=torch.float32).eval()
    rows = [json.loads(l)["input_ids"] for l in open("Tests/Fixtures/importance/calibration.jsonl")]
    ids = torch.tensor(rows)
    captured = {}
    layer = model.model.layers[1]
    hook = layer.post_attention_layernorm.register_forward_pre_hook(
        lambda mod, args: captured.__setitem__("a", args[0].detach().clone()))
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
    hook.remove()
    c = model.config.hidden_size
    a = captured["a"].reshape(-1, c).double().numpy()
    h2 = out.hidden_states[2].reshape(-1, c).double().numpy()
    h4 = out.hidden_states[4].reshape(-1, c).double().numpy()
    m, y = h2 - a, h4 - a
    t, *_ = np.linalg.lstsq(m, y, rcond=None)
    save_file({"m": m.astype(np.float32), "y": y.astype(np.float32), "t": t.astype(np.float32)},
              os.path.join(OUT, "linear.safetensors"))
    g = np.random.default_rng(11)
    with open(os.path.join(OUT, "calibration.jsonl"), "w") as f:
        for _ in range(40):
            f.write(json.dumps({"input_ids": g.integers(0, 128, 24).tolist()}) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
