"""LSTM over a whole sequence, parameters and gate order as the book's TimeLSTM."""
from __future__ import annotations

import numpy as np

from .. import functions as F
from ..ops.recurrent import lstm_cell
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
    ``set_state(h)`` with c = 0). The whole sequence is one recorded node (`F.lstm`): the
    input projection of all T steps is one product, each step one ``h @ Wh`` and in-place
    gate math, and its gradient rule is fused the same way (`F.lstm`'s docstring).
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
        # one recorded node for the whole sequence (tinygrad_attn/ops/recurrent.py); its
        # rule falls back to the step-by-step `cell` composite when a pass records a graph
        hs, h, c = F.lstm(xs, self.Wx, self.Wh, self.b, h, c)
        return hs, (h, c)

    def cell(self, xw_t, h, c):
        """One step from the projected input ``xw_t = x_t @ Wx + b`` (N, 4H), recorded op by
        op (for step-by-step decoders; `forward` does all steps as one node).

        ``h`` / ``c`` None stand for zeros (nothing is computed for them).
        """
        return lstm_cell(xw_t, h, c, self.Wh)
