"""How much of a Transformer training step do the composed ops cost? (re-runnable)

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python experiments/composite_share.py

A training step (loss + backward) of the date-task Transformer (d 64, 2 + 2 layers, 4
heads, batch 128, Te 29, Td 11) is timed with layer_norm as the primitive `normalize` +
affine (as it is now), as the composition of ordinary ops (as it was), and replaced by its
affine part alone (x * gamma + beta: the floor any layer_norm implementation is above). Steps are interleaved and the minimum of the
repeats is kept (the machine is shared).
"""
import time

import numpy as np

import tinygrad_attn.functions as F
import tinygrad_attn_models as models
from tinygrad_attn.nn import transformer as T

rng = np.random.default_rng(0)
model = models.Transformer(61, 64, 64, num_layers=2, num_heads=4, ff_size=128, seed=0)
xs, ts = rng.integers(0, 61, (128, 29)), rng.integers(0, 61, (128, 12))
real_ln = F.layer_norm
from tinygrad_attn.ops.composite import layer_norm_composed  # noqa: E402


def cheap_ln(x, gamma=None, beta=None, axis=-1, eps=1e-5):
    return x * gamma + beta


def step():
    model.zero_grad()
    t0 = time.perf_counter()
    model.loss(xs, ts).backward()
    return time.perf_counter() - t0


variants = {"primitive (as is)": real_ln, "composition": layer_norm_composed,
            "affine only": cheap_ln}
times = {k: [] for k in variants}
for _ in range(5):
    for k, fn in variants.items():
        T.F.layer_norm = fn
        times[k].append(step())
T.F.layer_norm = real_ln
base = min(times["composition"])
for k, v in times.items():
    print(f"{k:28s} min {min(v) * 1e3:7.1f} ms  ({min(v) / base:.2f} of the composition's)")
