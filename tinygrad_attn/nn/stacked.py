"""Stacked LSTM layers with residual (skip) connections (the book, ch. 8,
sections 8.4.3 and 8.5.1)."""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .layers import make_rng
from .module import Module
from .recurrent import LSTM

__all__ = ["StackedLSTM"]


class StackedLSTM(Module):
    """``num_layers`` LSTMs, each reading the hidden states of the one below.

    ``forward(xs (N, T, D), state=None, extra=None) -> (hs (N, T, H), states)``:

        x_0 = xs
        y_i = LSTM_i(concat(x_i, extra))        (just x_i when extra is None)
        x_{i+1} = y_i + x_i   for i >= 1        (residual: layers of equal width H)
        x_{i+1} = y_i         for i == 0        (the first layer changes the width)

    ``hs`` is the top layer's output (with its residual), ``states`` a tuple with each
    layer's final ``(h, c)``; ``state`` gives each layer's initial ``(h, c)`` (a tuple of
    ``num_layers`` pairs, any of them None for zeros), or None for all zeros.

    The addition passes the gradient to the layer below unchanged, so deep stacks train
    (the notes' skip connection). ``extra (N, T, E)`` is concatenated to every layer's input:
    GNMT feeds the attention context to each decoder layer this way. The first layer gets no
    residual even when ``D == H``: the skip connections run between LSTM layers, as GNMT's
    (which start at the third layer: its first two are the bottom layer and this stack's
    first). Parameters: ``layer0.Wx, layer0.Wh, layer0.b, layer1.Wx, ...``.
    """

    def __init__(self, input_size, hidden_size, num_layers, *, extra_size=0, residual=True,
                 dtype=np.float32, rng=None, seed=None):
        super().__init__()
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"StackedLSTM: num_layers must be a positive integer, got "
                             f"{num_layers!r}")
        rng = make_rng(rng, seed)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.extra_size, self.residual = int(num_layers), extra_size, residual
        for i in range(self.num_layers):
            width = input_size if i == 0 else hidden_size
            setattr(self, f"layer{i}", LSTM(width + extra_size, hidden_size, dtype=dtype,
                                            rng=rng))

    def layers(self):
        return [getattr(self, f"layer{i}") for i in range(self.num_layers)]

    def forward(self, xs, state=None, extra=None):
        if (extra is None) != (self.extra_size == 0):
            raise ValueError(f"StackedLSTM: built with extra_size={self.extra_size}, called "
                             f"with extra {'None' if extra is None else extra.shape}")
        if state is None:
            state = (None,) * self.num_layers
        if len(state) != self.num_layers:
            raise ValueError(f"StackedLSTM: state has {len(state)} layers, the stack "
                             f"{self.num_layers}")
        x, finals = xs, []
        for i, (lstm, s) in enumerate(zip(self.layers(), state)):
            y, s = lstm(x if extra is None else F.concat([x, extra], axis=-1), s)
            x = y + x if self.residual and i >= 1 else y
            finals.append(s)
        return x, tuple(finals)
