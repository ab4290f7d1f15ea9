"""LSTM over a whole sequence, parameters and gate order as the book's TimeLSTM."""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .layers import _normal, make_rng
from .module import Module, Parameter

__all__ = ["LSTM"]


class LSTM(Module):
    """An LSTM over a whole sequence, parameters as the book's TimeLSTM.

    ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``; the four gate blocks in the order f, g, i, o:

        A = x_t @ Wx + h_{t-1} @ Wh + b
        f, g, i, o = sigmoid(A_f), tanh(A_g), sigmoid(A_i), sigmoid(A_o)
        c_t = f * c_{t-1} + g * i
        h_t = o * tanh(c_t)

    ``forward(xs (N, T, D), state=None) -> (hs (N, T, H), (h, c))``. ``state`` is an initial
    ``(h, c)``; either may be None, meaning zeros (the book's default, and its decoders'
    ``set_state(h)`` with c = 0). The input projection ``xs @ Wx + b`` of all T steps is one
    matmul; the recurrence then runs `cell` step by step.
    Init: ``Wx ~ N(0, 1) / sqrt(D)``, ``Wh ~ N(0, 1) / sqrt(H)``, ``b = 0``.
    """

    def __init__(self, input_size, hidden_size, *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        D, H = input_size, hidden_size
        self.input_size, self.hidden_size = D, H
        self.Wx = Parameter(_normal(rng, (D, 4 * H), np.sqrt(D), dtype))
        self.Wh = Parameter(_normal(rng, (H, 4 * H), np.sqrt(H), dtype))
        self.b = Parameter(np.zeros(4 * H, dtype))

    def forward(self, xs, state=None):
        h, c = (None, None) if state is None else state
        # all steps' input projections at once, time-major so each step's slice is contiguous
        xw = F.swapaxes(xs, 0, 1) @ self.Wx + self.b     # (T, N, 4H)
        hs = []
        for xw_t in F.unstack(xw, axis=0):
            h, c = self.cell(xw_t, h, c)
            hs.append(h)
        return F.stack(hs, axis=1), (h, c)

    def cell(self, xw_t, h, c):
        """One step from the projected input ``xw_t = x_t @ Wx + b`` (N, 4H).

        ``h`` / ``c`` None stand for zeros (nothing is computed for them).
        """
        A = xw_t if h is None else xw_t + h @ self.Wh
        f, g, i, o = F.split(A, 4, axis=-1)
        f, g, i, o = F.sigmoid(f), F.tanh(g), F.sigmoid(i), F.sigmoid(o)
        c = g * i if c is None else f * c + g * i
        h = o * F.tanh(c)
        return h, c
