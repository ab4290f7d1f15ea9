"""lstm: an LSTM over a whole sequence as ONE recorded node, and the same LSTM written with
primitive ops (`lstm_composite`), which is its definition and its higher-order rule.

Why one node: recorded step by step, an LSTM of T steps is ~20 T op calls, T small nodes to
visit in the backward pass, and a fresh array for every intermediate. As one node:

* forward: the input projection of all steps is one product; each step is one ``h @ Wh``
  and a few in-place passes of gate math into a preallocated (T, N, 4H) workspace;
* first-order rule: per step one pass of gate derivatives written over that workspace (so
  the gradient costs no new (T, N, 4H) array) and one ``dA @ Whᵀ``; the weight gradients
  are single products over all steps.

Internally the gate blocks are laid out (f, i, o, g) instead of the book's (f, g, i, o), so
the three sigmoid gates are one contiguous block; and the sigmoid columns of the weights are
pre-scaled by 1/2, so one ``tanh`` over all 4H columns gives every gate (``sigmoid(x) =
tanh(x/2)/2 + 1/2``, the same formula `sigmoid` uses; scaling by 1/2 is exact in binary
floating point). The parameters keep the book's public layout: only private copies are
permuted, and gradients are permuted back.

When the backward pass records a graph (``create_graph=True``), the rule rebuilds the
step-by-step composite from the node's inputs and differentiates that, so higher orders
work exactly as for any composition of primitives. tests/ops/test_recurrent.py proves the
fused forward and rule equal to the composite.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from .. import threads
from ..autodiff import grad
from ..tape import Function, Variable, _grad_enabled, _wrap, as_operand, as_variable
from .elementwise import sigmoid, tanh
from .shape import split, stack, swapaxes, unstack

__all__ = ["lstm", "lstm_composite", "lstm_cell", "LSTMSequence", "to_internal", "to_public",
           "frozen_weights", "step_by_step"]


# The layout change as four block copies along the last axis: a fancy index over columns
# gathers element by element (1.0-1.3 ms for a (256, 1024) float32 weight, measured) where
# block copies take 70-140 us; about 8 such copies ran in every step.
def to_internal(w, out=None, scale=False):
    """The gate blocks of the last axis from the public order (f, g, i, o) to the internal
    one (f, i, o, g), the three sigmoid blocks times 1/2 if `scale`, written into `out` (a
    new array if None)."""
    H = w.shape[-1] // 4
    out = np.empty(w.shape, w.dtype) if out is None else out
    if scale:
        np.multiply(w[..., :H], 0.5, out=out[..., :H])
        np.multiply(w[..., 2 * H:], 0.5, out=out[..., H:3 * H])
    else:
        out[..., :H] = w[..., :H]
        out[..., H:3 * H] = w[..., 2 * H:]
    out[..., 3 * H:] = w[..., H:2 * H]
    return out


def to_public(w):
    """The inverse of `to_internal` (unscaled): internal f, i, o, g -> public f, g, i, o (a
    new array)."""
    H = w.shape[-1] // 4
    out = np.empty(w.shape, w.dtype)
    out[..., :H] = w[..., :H]
    out[..., H:2 * H] = w[..., 3 * H:]
    out[..., 2 * H:] = w[..., H:3 * H]
    return out


# Inside `frozen_weights()` (decoding) the weights cannot change, so their internal layout
# is prepared once and scratch buffers are reused from step to step.
_frozen = contextvars.ContextVar("tinygrad_attn_lstm_frozen", default=None)


@contextlib.contextmanager
def frozen_weights():
    """Promise that no weight changes inside the block (e.g. while decoding): `lstm` then
    prepares each weight's internal layout once, not at every call, and reuses its scratch
    buffers. Nothing recorded inside may be differentiated after a weight changes."""
    token = _frozen.set({})
    try:
        yield
    finally:
        _frozen.reset(token)


# Inside `step_by_step()` `lstm` records the composite, op by op, as before it was one node.
_step_by_step = contextvars.ContextVar("tinygrad_attn_lstm_step_by_step", default=False)


@contextlib.contextmanager
def step_by_step():
    """Record every LSTM inside the block as its step-by-step composite (primitives only):
    for tools that need each primitive of the cell on the tape (graph diagrams of the cell,
    `testing.locate` hunting a wrong rule among the cell's ops). Same values and
    gradients, slower."""
    token = _step_by_step.set(True)
    try:
        yield
    finally:
        _step_by_step.reset(token)


def _scratch(name, shape, dtype):
    """An uninitialised array; inside `frozen_weights` the same one for the same name, shape
    and dtype (the name keeps two buffers of one shape apart)."""
    cache = _frozen.get()
    if cache is None:
        return np.empty(shape, dtype)
    key = ("scratch", name, shape, np.dtype(dtype))
    buf = cache.get(key)
    if buf is None:
        buf = cache[key] = np.empty(shape, dtype)
    return buf


def prepare_weights(Wx, Wh, b):
    """Private copies of the weights in the internal layout, sigmoid columns scaled by 1/2
    (inside `frozen_weights`, made once per weight)."""
    cache = _frozen.get()
    if cache is not None:
        key = (id(Wx), id(Wh), id(b))
        hit = cache.get(key)
        if hit is None:   # the arrays are kept with the result, so their ids stay theirs
            hit = cache[key] = (Wx, Wh, b, _prepare(Wx, Wh, b))
        return hit[3]
    return _prepare(Wx, Wh, b)


def _prepare(Wx, Wh, b):
    """(Wxb (D + 1, 4H): Wx with b as its last row, Wh (H, 4H)), internal layout, scaled.

    The bias rides in the input projection as the weight of a column of ones: one product
    writes x @ Wx + b (no pass over the (T, N, 4H) workspace to add it), and in the rule
    the same product over all steps gives dWx and db together."""
    H = Wh.shape[0]
    Wxb = np.empty((Wx.shape[0] + 1, 4 * H), Wx.dtype)
    to_internal(Wx, out=Wxb[:-1], scale=True)
    to_internal(b, out=Wxb[-1], scale=True)
    return Wxb, to_internal(Wh, scale=True)


def _gates(A, H):
    """In place: pre-activations (scaled) -> gate values (f, i, o sigmoid, g tanh)."""
    np.tanh(A, out=A)
    s = A[:, :3 * H]
    s *= 0.5
    s += 0.5


def forward_arrays(xs, Wx, Wh, b, h0=None, c0=None, keep=True, prepared=None):
    """The fused forward on ndarrays -> (hs (N, T, H), h_T, c_T, workspace).

    `keep` keeps every step's gates, cells and tanh(cell) for the rule (the workspace); without
    it the step buffers are reused (inference). `prepared` are `prepare_weights` results
    computed once by a caller that runs many short sequences with the same weights.
    """
    N, T, D = xs.shape
    H = Wh.shape[0]
    dt = xs.dtype
    Wxb, Whs = prepare_weights(Wx, Wh, b) if prepared is None else prepared
    xs_tm = np.empty((T, N, D + 1), dt)          # time-major inputs and a column of ones
    xs_tm[:, :, :D] = xs.transpose(1, 0, 2)
    xs_tm[:, :, D] = 1
    xs_tm = xs_tm.reshape(T * N, D + 1)
    # every step's input projection (bias included) in one product, time-major: each step's
    # block contiguous
    G = np.empty((T * N, 4 * H), dt) if keep else _scratch("G", (T * N, 4 * H), dt)
    threads.matmul(xs_tm, Wxb, out=G)
    G = G.reshape(T, N, 4 * H)
    Hb = np.empty((T + 1, N, H), dt)   # h_0 .. h_T, time-major; hs is a view of Hb[1:]
    if h0 is None:
        Hb[0] = 0
    else:
        Hb[0] = h0
    C = np.empty((T, N, H), dt) if keep else np.empty((2, N, H), dt)
    TC = np.empty((T, N, H), dt) if keep else _scratch("TC", (1, N, H), dt)
    tmp = _scratch("tmp", (N, 4 * H), dt)
    t1 = _scratch("t1", (N, H), dt)

    def recurrence(r):
        """Steps 1..T for the batch rows `r` (rows never mix: each block on its own)."""
        c_prev = None if c0 is None else c0[r]
        tmp_r, t1_r = tmp[r], t1[r]
        for t in range(T):
            A = G[t, r]
            if t > 0 or h0 is not None:
                np.dot(Hb[t, r], Whs, out=tmp_r)
                A += tmp_r
            _gates(A, H)
            f, i, o, g = A[:, :H], A[:, H:2 * H], A[:, 2 * H:3 * H], A[:, 3 * H:]
            c = C[t, r] if keep else C[t % 2, r]
            tc = TC[t, r] if keep else TC[0, r]
            if c_prev is None:
                np.multiply(i, g, out=c)
            else:
                np.multiply(f, c_prev, out=c)
                np.multiply(i, g, out=t1_r)
                c += t1_r
            np.tanh(c, out=tc)
            np.multiply(o, tc, out=Hb[t + 1, r])
            c_prev = c

    threads.split_rows(recurrence, N)
    c_last = C[T - 1] if keep else C[(T - 1) % 2]
    hs = Hb[1:].transpose(1, 0, 2)
    ws = (xs_tm, G, C, TC, Hb) if keep else None
    return hs, Hb[T], c_last, ws


class LSTMSequence(Function):
    """``(xs, Wx, Wh, b[, h0][, c0]) -> (hs, h_T, c_T)``; which of h0 / c0 are inputs is
    said by the attributes ``has_h0``, ``has_c0`` (absent means zeros)."""

    _name = "lstm"

    def forward(self, xs, Wx, Wh, b, *state):
        h0 = state[0] if self.has_h0 else None
        c0 = state[-1] if self.has_c0 else None
        hs, h, c, self._ws = forward_arrays(xs, Wx, Wh, b, h0, c0, keep=True)
        return hs, h, c

    def _state(self):
        xs, Wx, Wh, b, *state = self.inputs
        h0 = state[0] if self.has_h0 else None
        c0 = state[-1] if self.has_c0 else None
        return xs, Wx, Wh, b, h0, c0

    def backward(self, dhs, dh, dc):
        if _grad_enabled.get():  # the pass records: differentiate the composite instead
            return self._backward_composite(dhs, dh, dc)
        xs, Wx, Wh, b, h0, c0 = self._state()
        ws, self._ws = self._ws, None   # the rule writes over the workspace: use it once
        if ws is None:  # a second pass over the same graph: recompute the workspace
            *_, ws = forward_arrays(xs.data, Wx.data, Wh.data, b.data,
                                    None if h0 is None else h0.data,
                                    None if c0 is None else c0.data, keep=True)
        grads = backward_arrays(ws, Wx.data, Wh.data, h0 is not None,
                                None if c0 is None else c0.data,
                                dhs.data, dh.data, dc.data, xs.requires_grad)
        out = [None if a is None else _wrap(a, None, 0, False) for a in grads]
        gxs, gWx, gWh, gb, gh0, gc0 = out
        state = ([gh0] if h0 is not None else []) + ([gc0] if c0 is not None else [])
        return (gxs, gWx, gWh, gb, *state)

    def _backward_composite(self, dhs, dh, dc):
        xs, Wx, Wh, b, h0, c0 = self._state()
        outs = lstm_composite(xs, Wx, Wh, b, h0, c0)
        inputs = [x for x in self.inputs]
        pairs = [(y, g) for y, g in zip(outs, (dhs, dh, dc)) if y.requires_grad]
        if not pairs:
            return (None,) * len(inputs)
        return tuple(grad([y for y, _ in pairs], inputs, [g for _, g in pairs],
                          create_graph=True, allow_unused=True))


def backward_arrays(ws, Wx, Wh, has_h0, c0, dhs, dhT, dcT, need_dxs=True):
    """The fused first-order rule on ndarrays -> (dxs, dWx, dWh, db, dh0, dc0).

    Overwrites the workspace `ws` (its gates become dA, its tanh(c) a scratch)."""
    xs_tm, G, C, TC, Hb = ws
    T, N, H4 = G.shape
    H = H4 // 4
    D = xs_tm.shape[1] - 1
    dt = G.dtype
    # unscaled, internal layout, transposed: written straight into a contiguous (4H, H)
    # array (5% faster products than a transposed view)
    WhpT = np.empty((H4, H), Wh.dtype)
    to_internal(Wh, out=WhpT.T)
    # our own buffers, summed into in place and written by np.dot(out=): C order even when
    # the gradient arrives as a broadcast view (np.array keeps a stride-0 axis's order)
    dh = np.array(dhT, dtype=dt, order="C")
    dc = np.array(dcT, dtype=dt, order="C")
    t1 = np.empty((N, H), dt)
    s3 = np.empty((N, 3 * H), dt)
    u3 = np.empty((N, 3 * H), dt)

    def recurrence(r):
        """Steps T..1 for the batch rows `r` (rows never mix: each block on its own)."""
        dh_r, dc_r, t1_r, s3_r, u3_r = dh[r], dc[r], t1[r], s3[r], u3[r]
        for t in range(T - 1, -1, -1):
            dh_r += dhs[r, t]
            A = G[t, r]
            S = A[:, :3 * H]
            f, i, o, g = A[:, :H], A[:, H:2 * H], A[:, 2 * H:3 * H], A[:, 3 * H:]
            tc = TC[t, r]
            c_prev = C[t - 1, r] if t > 0 else (None if c0 is None else c0[r])
            # ds = dc + dh * o * (1 - tanh(c)^2), summed into dc
            np.multiply(tc, tc, out=t1_r)
            np.subtract(1, t1_r, out=t1_r)
            t1_r *= o
            t1_r *= dh_r
            dc_r += t1_r
            # what multiplies each sigmoid's derivative: ds * c_prev, ds * g, dh * tanh(c)
            if c_prev is None:
                u3_r[:, :H] = 0
            else:
                np.multiply(dc_r, c_prev, out=u3_r[:, :H])
            np.multiply(dc_r, g, out=u3_r[:, H:2 * H])
            np.multiply(dh_r, tc, out=u3_r[:, 2 * H:])
            # dA_g = ds * i * (1 - g^2), over g itself
            np.multiply(g, g, out=g)
            np.subtract(1, g, out=g)
            g *= i
            g *= dc_r
            # sigmoid derivatives y (1 - y), then dA of f, i, o over the gates
            np.subtract(1, S, out=s3_r)
            s3_r *= S
            dc_r *= f                          # dc_prev = ds * f (f still intact here)
            np.multiply(s3_r, u3_r, out=S)
            if t > 0 or has_h0:
                np.dot(A, WhpT, out=dh_r)      # dh_prev = dA @ Whᵀ (dhs[t-1] added next)

    threads.split_rows(recurrence, N)
    dA = G.reshape(T * N, H4)
    # weight gradients: one product over all steps each (rows of a zero h_0 skipped)
    if has_h0:
        dWh = threads.matmul(Hb[:-1].reshape(T * N, H).T, dA)
    elif T > 1:
        dWh = threads.matmul(Hb[1:-1].reshape((T - 1) * N, H).T, dA[N:])
    else:
        dWh = None                         # Wh never touched the output
    dWxb = threads.matmul(xs_tm.T, dA)             # (D + 1, 4H): dWx, and db in the last row
    dWx, db = dWxb[:-1], dWxb[-1]
    dxs = None
    if need_dxs:
        dxs = threads.matmul(dA, to_internal(Wx).T).reshape(T, N, D).transpose(1, 0, 2)
    return (dxs, to_public(dWx), None if dWh is None else to_public(dWh), to_public(db),
            dh if has_h0 else None, dc if c0 is not None else None)


# --- the composite: the definition, and the rule's higher-order fallback ----------------
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


def lstm(xs, Wx, Wh, b, h0=None, c0=None):
    """An LSTM over a sequence, the book's TimeLSTM: ``xs (N, T, D)``, ``Wx (D, 4H)``,
    ``Wh (H, 4H)``, ``b (4H,)``, gate blocks f, g, i, o; ``h0`` / ``c0`` (N, H) or None
    (zeros) -> ``(hs (N, T, H), h_T, c_T)``, one recorded node (see the module docstring).

    Operands of mixed dtypes go through the composite (which promotes as the ops do), and so
    does everything inside `step_by_step()`.
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
    if dtype.kind != "f" or any(v.dtype != dtype for v in operands) or _step_by_step.get():
        return lstm_composite(xs, Wx, Wh, b, h0, c0)
    if not (_grad_enabled.get() and any(v.requires_grad for v in operands)):
        # nothing to record: no node, no workspace kept
        hs, h, c, _ = forward_arrays(*(v.data for v in (xs, Wx, Wh, b)),
                                     None if h0 is None else h0.data,
                                     None if c0 is None else c0.data, keep=False)
        return tuple(_wrap(a, None, 0, False) for a in (hs, h, c))
    op = LSTMSequence(has_h0=h0 is not None, has_c0=c0 is not None)
    return tuple(op(*operands))

