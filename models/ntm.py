"""Models for the NTM copy task (tinygrad_attn/data/copy_task.py), forward only.

    NTM       nn.NTM (an LSTM controller, or controller="feedforward"; R x M memory, one
              read and one write head) + the bit-wise loss; forward returns the read
              and write weightings of every step
    LSTMCopy  the baseline: an LSTM over the same inputs and a Linear to the bits

Both: ``Model(input_size=9, output_size=8, ..., seed=None, dtype=np.float32)``,
``config()``, ``forward(xs (N, T, in)) -> (logits (N, T, out), extras)``,
``loss(xs, targets, mask) -> mean binary cross-entropy over the masked steps``.
They register in the one model registry (the ``tinygrad_attn.models`` entry points, as
``ntm`` and ``lstm_copy``) and train on the copy task, which builds them with the input and
output sizes of its bit vectors: ``tinygrad-attn train --task copy --model ntm``.
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import nn

__all__ = ["NTM", "LSTMCopy"]


def _floats(x, what):
    arr = x.data if isinstance(x, tga.Variable) else np.asarray(x)
    if arr.ndim != 3:
        raise ValueError(f"{what}: expected inputs of shape (N, T, channels), got {arr.shape}")
    return x if isinstance(x, tga.Variable) else tga.Variable(arr, requires_grad=False)


class _CopyModel(nn.Module):
    def config(self):
        return dict(self._config)

    def loss(self, xs, targets, mask):
        """Mean binary cross-entropy of the outputs at the steps where `mask` (T,) holds."""
        logits, _ = self(xs)
        mask = np.asarray(mask, bool)
        return F.binary_cross_entropy_with_logits(logits[:, mask], np.asarray(targets)[:, mask])


class NTM(_CopyModel):
    kind = "ntm"

    def __init__(self, input_size=9, output_size=8, controller_size=100, memory_size=128,
                 memory_width=20, memory_init="constant", weights_init="onehot",
                 controller="lstm", *, seed=None, dtype=np.float32):
        super().__init__()
        self._config = {"input_size": input_size, "output_size": output_size,
                        "controller_size": controller_size, "memory_size": memory_size,
                        "memory_width": memory_width, "memory_init": memory_init,
                        "weights_init": weights_init, "controller": controller}
        # memory_init: "constant" (1e-6, the default) or "learned"; weights_init: "onehot"
        # (both heads start on row 0, the default) or "learned"; controller: "lstm" (the
        # default) or "feedforward" (nn.NTM's docstring says why the defaults are what they
        # are, and where they come from)
        self.ntm = nn.NTM(input_size, output_size, controller_size, memory_size,
                          memory_width, memory_init=memory_init, weights_init=weights_init,
                          controller=controller, dtype=dtype, seed=seed)

    def forward(self, xs):
        """``(logits (N, T, out), {"read": (N, T, R), "write": (N, T, R)})``."""
        return self.ntm(_floats(xs, "NTM.forward"))


class LSTMCopy(_CopyModel):
    kind = "lstm_copy"

    def __init__(self, input_size=9, output_size=8, hidden_size=256, *, seed=None,
                 dtype=np.float32):
        super().__init__()
        self._config = {"input_size": input_size, "output_size": output_size,
                        "hidden_size": hidden_size}
        rng = np.random.default_rng(seed)
        self.lstm = nn.LSTM(input_size, hidden_size, rng=rng, dtype=dtype)
        self.out = nn.Linear(hidden_size, output_size, rng=rng, dtype=dtype)

    def forward(self, xs):
        """``(logits (N, T, out), {})``."""
        hs, _ = self.lstm(_floats(xs, "LSTMCopy.forward"))
        return self.out(hs), {}
