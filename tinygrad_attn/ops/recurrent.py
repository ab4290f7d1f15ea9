"""lstm: the book's TimeLSTM, defined by its composite, recorded as one node with a fast rule.

* `lstm_composite` is the definition: the cell written with primitive ops, step by step.
* `LSTMSequence` fuses it: one recorded node whose forward and first-order rule are NumPy
  kernels over the whole sequence (ops/lstm_kernels.py). Its `composite` is the definition,
  so a backward pass that records (higher order) differentiates the composite (on the
  node's own inputs only: autodiff._composite_rule), and inside
  `tape.unfused()` (also `step_by_step()`) `lstm` records the composite itself. The rule is
  attached to the composite, as JAX's `custom_vjp` attaches one.

Why one node: recorded step by step, an LSTM of T steps is ~20 T op calls, T small nodes to
visit in the backward pass, and a fresh array for every intermediate; as one node each step
is one product and a few in-place passes. tests/ops/test_recurrent.py proves the fused
forward and rule equal to the composite.
"""
from __future__ import annotations

import numpy as np

from ..tape import (Function, Variable, as_operand, as_variable, is_grad_enabled, is_unfused,
                    unfused)
from .elementwise import sigmoid, tanh
from .lstm_kernels import backward_arrays, forward_arrays, frozen_weights
from .shape import split, stack, swapaxes, unstack

__all__ = ["lstm", "lstm_composite", "lstm_cell", "LSTMSequence", "frozen_weights",
           "step_by_step"]

step_by_step = unfused   # the name tools and the CLI use: every LSTM recorded as its composite


# --- the definition ------------------------------------------------------------------------
def lstm_cell(xw_t, h, c, Wh):
    """One step from the projected input ``xw_t = x_t @ Wx + b`` (N, 4H), book gate order.

    ``h`` / ``c`` None stand for zeros (nothing is computed for them)."""
    A = xw_t if h is None else xw_t + h @ Wh
    f, g, i, o = split(A, 4, axis=-1)
    f, g, i, o = sigmoid(f), tanh(g), sigmoid(i), sigmoid(o)
    c = g * i if c is None else f * c + g * i
    h = o * tanh(c)
    return h, c


def lstm_composite(xs, Wx, Wh, b, h0=None, c0=None):
    """The LSTM written with primitive ops, step by step -> (hs, h_T, c_T)."""
    h, c = h0, c0
    # all steps' input projections at once, time-major so each step's slice is contiguous
    xw = swapaxes(xs, 0, 1) @ Wx + b     # (T, N, 4H)
    hs = []
    for xw_t in unstack(xw, axis=0):
        h, c = lstm_cell(xw_t, h, c, Wh)
        hs.append(h)
    return stack(hs, axis=1), h, c


# --- the fused node: the definition's fast forward and first-order rule ------------------
class LSTMSequence(Function):
    """``(xs, Wx, Wh, b[, h0][, c0]) -> (hs, h_T, c_T)``; which of h0 / c0 are inputs is
    said by the attributes ``has_h0``, ``has_c0`` (absent means zeros)."""

    _name = "lstm"

    def _split(self, inputs):
        xs, Wx, Wh, b, *state = inputs
        return (xs, Wx, Wh, b, state[0] if self.has_h0 else None,
                state[-1] if self.has_c0 else None)

    def composite(self, *inputs):
        return lstm_composite(*self._split(inputs))

    def forward(self, *arrays):
        hs, h, c, self._ws = forward_arrays(*self._split(arrays), keep=True)
        return hs, h, c

    def backward(self, dhs, dh, dc):   # first order only (see Function.composite)
        xs, Wx, Wh, b, h0, c0 = (None if v is None else v.data
                                 for v in self._split(self.inputs))
        ws, self._ws = self._ws, None   # the rule writes over the workspace: use it once
        if ws is None:  # a second pass over the same graph: recompute the workspace
            *_, ws = forward_arrays(xs, Wx, Wh, b, h0, c0, keep=True)
        grads = backward_arrays(ws, Wx, Wh, h0 is not None, c0, dhs.data, dh.data, dc.data,
                                self.inputs[0].requires_grad)
        gxs, gWx, gWh, gb, gh0, gc0 = (None if a is None else as_variable(a) for a in grads)
        return (gxs, gWx, gWh, gb) + ((gh0,) if self.has_h0 else ()) + \
            ((gc0,) if self.has_c0 else ())


def lstm(xs, Wx, Wh, b, h0=None, c0=None):
    """An LSTM over a sequence, the book's TimeLSTM: ``xs (N, T, D)``, ``Wx (D, 4H)``,
    ``Wh (H, 4H)``, ``b (4H,)``, gate blocks f, g, i, o; ``h0`` / ``c0`` (N, H) or None
    (zeros) -> ``(hs (N, T, H), h_T, c_T)``, one recorded node (see the module docstring).

    Operands of mixed dtypes go through the composite (which promotes as the ops do), and so
    does everything inside `unfused()` / `step_by_step()`.
    """
    # constants take the dtype of the first Variable, as in `x + c` (float32 stays float32)
    like = next((v for v in (xs, Wx, Wh, b, h0, c0) if isinstance(v, Variable)), None)
    cast = as_variable if like is None else (lambda v: as_operand(v, like))
    xs, Wx, Wh, b = (cast(v) for v in (xs, Wx, Wh, b))
    state = [cast(v) for v in (h0, c0) if v is not None]
    h0, c0 = (state[0] if h0 is not None else None), (state[-1] if c0 is not None else None)
    operands = [xs, Wx, Wh, b, *state]
    if xs.ndim != 3 or Wx.ndim != 2 or Wh.ndim != 2 or b.ndim != 1 \
            or Wh.shape[1] != 4 * Wh.shape[0] or Wx.shape != (xs.shape[2], Wh.shape[1]) \
            or b.shape != (Wh.shape[1],) or xs.shape[1] == 0 \
            or any(s.shape != (xs.shape[0], Wh.shape[0]) for s in state):
        raise ValueError(
            f"lstm: expected xs (N, T>0, D), Wx (D, 4H), Wh (H, 4H), b (4H,), h0 / c0 (N, H); "
            f"got xs {xs.shape}, Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}"
            + "".join(f", state {s.shape}" for s in state))
    dtype = xs.dtype
    if dtype.kind != "f" or any(v.dtype != dtype for v in operands) or is_unfused():
        return lstm_composite(xs, Wx, Wh, b, h0, c0)
    if not (is_grad_enabled() and any(v.requires_grad for v in operands)):
        # nothing to record: no node, no workspace kept
        hs, h, c, _ = forward_arrays(*(v.data for v in (xs, Wx, Wh, b)),
                                     None if h0 is None else h0.data,
                                     None if c0 is None else c0.data, keep=False)
        return tuple(as_variable(np.asarray(a)) for a in (hs, h, c))
    return tuple(LSTMSequence(has_h0=h0 is not None, has_c0=c0 is not None)(*operands))
