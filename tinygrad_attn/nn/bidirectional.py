"""Bidirectional LSTM: a second LSTM reads the sequence backwards (the book, ch. 8,
section 8.4.1)."""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .layers import make_rng
from .module import Module
from .recurrent import LSTM

__all__ = ["BiLSTM"]


class BiLSTM(Module):
    """Two LSTMs over one sequence: ``fwd`` reads t = 0 .. T-1, ``bwd`` reads t = T-1 .. 0.

    ``forward(xs (N, T, D), state=None) -> (hs (N, T, 2H), ((h_f, c_f), (h_b, c_b)))``:
    ``hs[:, t] = concat(fwd's h at t, bwd's h at t)``, so every step sees the whole
    sequence, the past through the first half and the future through the second. The final
    states are where each direction ended: ``fwd`` after t = T-1, ``bwd`` after t = 0 (so
    both have read every token). ``state`` is an initial ``((h, c), (h, c))`` pair, or None
    (zeros, as `LSTM`).

    The backward direction runs `LSTM.cell` over the steps in reverse order instead of
    copying a reversed input: the tests prove it equals a plain `LSTM` run on ``xs[:, ::-1]``
    with the result reversed back.
    Parameters: ``fwd.Wx, fwd.Wh, fwd.b, bwd.Wx, bwd.Wh, bwd.b`` (each as `LSTM`'s).
    """

    def __init__(self, input_size, hidden_size, *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.fwd = LSTM(input_size, hidden_size, dtype=dtype, rng=rng)
        self.bwd = LSTM(input_size, hidden_size, dtype=dtype, rng=rng)

    def forward(self, xs, state=None):
        state_f, state_b = (None, None) if state is None else state
        hs_f, state_f = self.fwd(xs, state_f)
        hs_b, state_b = self.bwd_direction(xs, state_b)
        return F.concat([hs_f, hs_b], axis=-1), (state_f, state_b)

    def bwd_direction(self, xs, state=None):
        """The backward LSTM alone: ``(hs_b (N, T, H) in the input's time order, (h, c)
        after reading t = 0)``."""
        lstm = self.bwd
        h, c = (None, None) if state is None else state
        xw = F.unstack(F.swapaxes(xs, 0, 1) @ lstm.Wx + lstm.b, axis=0)   # T x (N, 4H)
        hs = [None] * len(xw)
        for t in reversed(range(len(xw))):
            h, c = lstm.cell(xw[t], h, c)
            hs[t] = h
        return F.stack(hs, axis=1), (h, c)
