"""The LSTM's NumPy kernels: a whole sequence forward and its first-order rule on ndarrays.

They serve `lstm` (ops/recurrent.py), whose definition is the step-by-step composite; these
compute the same values and gradients faster:

* forward: the input projection of all steps, bias included (as the weight of a column of
  ones), is one product written time-major into a (T, N, 4H) workspace; each step is one
  ``h @ Wh`` and a few in-place passes of gate math on its slice;
* first-order rule: per step one pass of gate derivatives written over that workspace (so
  the gradient costs no new (T, N, 4H) array) and one ``dA @ Whᵀ``; the weight gradients are
  single products over all steps.

Internally the gate blocks are laid out (f, i, o, g) instead of the book's (f, g, i, o), so
the three sigmoid gates are one contiguous block; and the sigmoid columns of the weights are
pre-scaled by 1/2, so one ``tanh`` over all 4H columns gives every gate (``sigmoid(x) =
tanh(x/2)/2 + 1/2``, the same formula `sigmoid` uses; scaling by 1/2 is exact in binary
floating point). The parameters keep the book's public layout: only private copies are
permuted, and gradients are permuted back. Batch rows never mix, so each recurrence runs
as row blocks on tinygrad_attn.threads.

Inside `frozen_weights()` (decoding) each weight's internal layout is prepared once and
scratch buffers are reused.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from .. import threads

__all__ = ["forward_arrays", "backward_arrays", "frozen_weights", "prepare_weights",
           "to_internal", "to_public"]


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
