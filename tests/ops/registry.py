"""The op registry: one row per op of `tinygrad_attn.functions`, from which
tests/ops/test_registry.py generates the checks every op must pass (PyTorch's OpInfo,
MyGrad's test factories).

A row says once what is particular to its op:

name       the F name (an op may have several rows, told apart by `variant`)
fn         the op on the sample's inputs (Variables, or plain arrays), in order
sample     a hypothesis strategy of input tuples. Floating arrays are the differentiable
           inputs; everything else (ints, bools, tuples, strings, None) is data, passed
           through unchanged. Its values stay in the op's domain and a margin away from
           its kinks, by construction.
ref        the NumPy reference of the forward, on the same inputs (None: no reference)
torch      the op in PyTorch on the same inputs as tensors (None: not compared)
order      2 when second order applies (the first-order gradient is itself
           differentiable where the sample lies), else 1
torch_order the order compared with PyTorch (default: `order`)
kinks      a strategy of input tuples *at* the op's kinks (None: smooth); there the
           autograd value must lie between the one-sided differences, and equal PyTorch's
           choice when `torch_at_kinks`
broadcast  a strategy of input tuples whose floating inputs have different, mutually
           broadcastable shapes (None: the op does not broadcast)
same_dtype float32 in gives float32 out (False only for cast)
mixed      which floating input is made the float32 Variable among float64 constants:
           "first", or "each" in turn (one op, as `add`, where a constant on either side
           takes the Variable's dtype; in a composition, later inputs meet the constants'
           own result, a Variable, and Variables of two dtypes promote, as in PyTorch)
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_attn.functions as F
from tinygrad_attn.testing import strategies as tst

from .test_composite import (bce_ref, circular_convolution_ref, convolution_args, cosine_ref,
                             dropout_ref, gelu_ref, layer_norm_ref, masked_args,
                             masked_softmax_ref, pair_args, roll_args)

SIDE = 3  # arrays of at most 3 x 3 x 3: second-order checks stay fast


@dataclasses.dataclass
class OpInfo:
    name: str
    fn: Callable
    sample: Any
    ref: Optional[Callable] = None
    torch: Optional[Callable] = None
    order: int = 2
    kinks: Any = None
    torch_at_kinks: bool = True
    torch_order: Optional[int] = None
    broadcast: Any = None
    same_dtype: bool = True
    mixed: str = "first"
    variant: str = ""

    @property
    def id(self):
        return self.name + (f"-{self.variant}" if self.variant else "")


# --- domains: floats arrays of a shape, in the op's domain ------------------------------------
def real(shape, **kw):
    return tst.floats_arrays(shape, **kw)


def positive(shape):
    return tst.positive_arrays(shape)


def away(*points, margin=0.05):
    return lambda shape: tst.floats_arrays(shape, avoid=points, margin=margin)


def interval(lo, hi):
    return lambda shape: tst.floats_arrays(shape, min_value=lo, max_value=hi)


def at(*points):
    return lambda shape: tst.floats_arrays(shape, kinks=points)


def grid(offset):
    """Multiples of 0.1 plus `offset`: two grids with different offsets never tie."""
    return lambda shape: hnp.arrays(np.int64, shape, elements=st.integers(-30, 29)).map(
        lambda k: np.asarray(k * 0.1 + offset))


NONINTEGER = away(*range(-3, 4))
SHAPES = tst.shapes(max_side=SIDE)


@st.composite
def same_shape(draw, *domains, shapes=SHAPES):
    shape = draw(shapes)
    return tuple(draw(d(shape)) for d in domains)


@st.composite
def broadcasting(draw, *domains):
    shapes = draw(tst.broadcastable_shapes(len(domains), max_side=SIDE))
    if len({s for s in shapes}) == 1:  # make them differ: drop the first one's lead dims
        shapes = (shapes[0][1:],) + tuple(shapes[1:]) if shapes[0] else shapes
    return tuple(draw(d(s)) for d, s in zip(domains, shapes))


def elementwise(name, domain, ref, torch=None, fn=None, kinks=None, order=2, **kw):
    return OpInfo(name, fn or getattr(F, name), same_shape(domain), ref, torch, order,
                  kinks=None if kinks is None else same_shape(kinks), **kw)


def binary(name, da, db, ref, torch=None, fn=None, kinks=None, order=2, **kw):
    kw.setdefault("mixed", "each")
    return OpInfo(name, fn or getattr(F, name), same_shape(da, db), ref, torch, order,
                  kinks=kinks, broadcast=broadcasting(da, db), **kw)


# --- samples with data arguments ------------------------------------------------------------
@st.composite
def with_axis(draw, domain=real, min_dims=0, allow_tuple=True, allow_none=True,
              keepdims=True):
    x = draw(domain(draw(tst.shapes(min_dims=min_dims, max_side=SIDE))))
    axis = draw(tst.axes(x.ndim, allow_none=allow_none, allow_tuple=allow_tuple))
    return (x, axis, draw(st.booleans())) if keepdims else (x, axis)


def distinct(shape):
    return tst.floats_arrays(shape, distinct=True, gap=0.05)


@st.composite
def var_args(draw, constant=False):
    shape = draw(tst.shapes(min_dims=1, max_side=SIDE))
    # distinct entries: every variance is well away from 0 (std's kink) unless `constant`
    x = draw(distinct(shape)) if not constant else np.full(shape, draw(st.floats(-2, 2)))
    axis = draw(tst.axes(len(shape), allow_tuple=True))
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    n = int(np.prod([shape[a] for a in axes]))
    if n < 2:  # a variance of one value is 0 everywhere: std has nothing but its kink
        return (np.concatenate([x, x + 1.0], 0) if not constant else
                np.concatenate([x, x], 0), 0 if axis is None else (0,), 0, False)
    ddof = draw(st.integers(0, 1))
    return x, axis, ddof, draw(st.booleans())


@st.composite
def cumsum_args(draw):
    x = draw(real(draw(tst.shapes(max_side=SIDE))))
    return x, draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None


@st.composite
def broadcast_to_args(draw):
    shape, target = draw(tst.broadcast_to_shapes(max_side=SIDE))
    return draw(real(shape)), target


@st.composite
def sum_to_args(draw):
    shape, target = draw(tst.broadcast_to_shapes(max_side=SIDE))
    return draw(real(target)), shape


@st.composite
def reshape_args(draw):
    x = draw(real(draw(SHAPES)))
    return x, draw(tst.reshape_targets(x.shape))


@st.composite
def transpose_args(draw):
    x = draw(real(draw(SHAPES)))
    return x, draw(tst.permutations(x.ndim))


@st.composite
def two_axes(draw, min_dims=1):
    x = draw(real(draw(tst.shapes(min_dims=min_dims, max_side=SIDE))))
    a = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, a, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def expand_dims_args(draw):
    x = draw(real(draw(SHAPES)))
    return x, draw(st.integers(-x.ndim - 1, x.ndim))


@st.composite
def squeeze_args(draw):
    shape = list(draw(SHAPES))
    ones = draw(st.lists(st.integers(0, len(shape)), max_size=2))
    for i in sorted(ones, reverse=True):
        shape.insert(i, 1)
    x = draw(real(tuple(shape)))
    axis = draw(st.none() | st.sampled_from([i for i, s in enumerate(shape) if s == 1] or
                                            [None]))
    return x, axis


@st.composite
def concat_args(draw, stack=False):
    if stack:
        shape = draw(SHAPES)
        return draw(real(shape)), draw(real(shape)), draw(st.integers(-len(shape) - 1,
                                                                       len(shape)))
    shapes, axis = draw(tst.concat_shapes(min_inputs=2, max_inputs=2, max_side=SIDE))
    return draw(real(shapes[0])), draw(real(shapes[1])), axis


@st.composite
def split_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    ios, axis = draw(tst.split_args(x.shape))
    return x, ios, axis


@st.composite
def unstack_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def flatten_args(draw):
    x = draw(real(draw(SHAPES)))
    if x.ndim == 0:
        return x, 0, -1
    a, b = sorted(draw(st.lists(st.integers(0, x.ndim - 1), min_size=2, max_size=2)))
    return x, a - x.ndim * draw(st.booleans()), b


@st.composite
def moveaxis_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    k = draw(st.integers(1, x.ndim))
    src = draw(st.permutations(range(x.ndim)))[:k]
    dst = draw(st.permutations(range(x.ndim)))[:k]
    if k == 1 and draw(st.booleans()):
        return x, src[0], dst[0]
    return x, tuple(src), tuple(dst)


@st.composite
def repeat_args(draw):
    x = draw(real(draw(tst.shapes(max_side=SIDE))))
    axis = draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    n = x.size if axis is None else x.shape[axis]
    if draw(st.booleans()):
        return x, draw(st.integers(0, 3)), axis
    return x, tuple(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))), axis


@st.composite
def tile_args(draw):
    x = draw(real(draw(tst.shapes(max_side=SIDE))))
    return x, tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=4)))


@st.composite
def flip_args(draw):
    x = draw(real(draw(SHAPES)))
    return x, draw(tst.axes(x.ndim))


@st.composite
def tri_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    return x, draw(st.integers(-2, 2))


@st.composite
def diagonal_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=2, max_side=SIDE))))
    a1, a2 = draw(st.permutations(range(x.ndim)))[:2]
    return x, draw(st.integers(-2, 2)), a1 - x.ndim * draw(st.booleans()), a2


@st.composite
def pad_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    kind = draw(st.sampled_from(["int", "pair", "each"]))
    width = st.integers(0, 2)
    pw = {"int": width, "pair": st.tuples(width, width),
          "each": st.tuples(*[st.tuples(width, width)] * x.ndim)}[kind]
    return x, draw(pw), mode


@st.composite
def getitem_basic(draw):
    x = draw(real(draw(tst.shapes(max_side=SIDE))))
    return x, draw(tst.basic_indices(x.shape))


@st.composite
def getitem_array(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    axis = draw(st.integers(0, x.ndim - 1))
    idx = draw(tst.index_arrays(x.shape, axis))
    return x, (slice(None),) * axis + (idx,)


@st.composite
def embedding_args(draw):
    V, D = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    W = draw(real((V, D)))
    return W, draw(tst.index_arrays((V, D), 0, allow_negative=False))


@st.composite
def where_args(draw, broadcast=False):
    if broadcast:
        sc, sa, sb = draw(tst.broadcastable_shapes(3, max_side=SIDE))
    else:
        sc = sa = sb = draw(SHAPES)
    return draw(tst.bool_masks(sc)), draw(real(sa)), draw(real(sb))


@st.composite
def masked_fill_args(draw):
    x, mask = draw(masked_args())
    return x, mask


@st.composite
def softmax_args(draw):
    x = draw(real(draw(tst.shapes(min_dims=1, max_side=SIDE))))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def clip_bounds(draw, broadcast=False):
    shapes = draw(tst.broadcastable_shapes(3, max_side=SIDE)) if broadcast else \
        (draw(SHAPES),) * 3
    x = draw(grid(0.0)(shapes[0]))
    lo = np.asarray(draw(hnp.arrays(np.int64, shapes[1], elements=st.integers(-20, -5)))
                    * 0.1 + 0.05)
    hi = np.asarray(draw(hnp.arrays(np.int64, shapes[2], elements=st.integers(5, 20)))
                    * 0.1 + 0.05)
    return x, lo, hi


@st.composite
def ties(draw):
    shape = draw(SHAPES)
    a = draw(grid(0.0)(shape))
    b = np.where(draw(tst.bool_masks(shape)), a, draw(grid(0.05)(shape)))
    return a, b


@st.composite
def matmul_args(draw):
    sa, sb = draw(tst.matmul_shapes(max_side=SIDE))
    return draw(real(sa)), draw(real(sb))


@st.composite
def einsum_args(draw):
    """A random einsum: 1-3 operands over labels a-e (a label may repeat inside one
    operand: a diagonal), an explicit output (any subset of the labels, any order) or
    NumPy's implicit one, and sometimes '...' with broadcast batch dims."""
    labels = "abcde"
    size = {c: draw(st.integers(1, 3)) for c in labels}
    n = draw(st.integers(1, 3))
    terms = [draw(st.lists(st.sampled_from(labels), max_size=3)) for _ in range(n)]
    ellipsis = draw(st.booleans())
    batch = draw(tst.broadcastable_shapes(n, max_dims=2, max_side=2)) if ellipsis else None
    arrays, texts = [], []
    for k, t in enumerate(terms):
        shape = tuple(size[c] for c in t)
        text = "".join(t)
        if ellipsis:
            shape = tuple(batch[k]) + shape
            text = "..." + text
        arrays.append(draw(real(shape)))
        texts.append(text)
    used = sorted(set("".join("".join(t) for t in terms)))
    if draw(st.booleans()):
        out = draw(st.permutations(used))[:draw(st.integers(0, len(used)))]
        spec = ",".join(texts) + "->" + ("..." if ellipsis else "") + "".join(out)
    else:
        spec = ",".join(texts)
    return (spec, *arrays)


@st.composite
def tensordot_args(draw):
    k = draw(st.integers(0, 2))
    shared = draw(tst.shapes(k, k, max_side=SIDE))
    fa, fb = draw(tst.shapes(0, 2, max_side=SIDE)), draw(tst.shapes(0, 2, max_side=SIDE))
    a, b = draw(real(fa + shared)), draw(real(shared + fb))
    if draw(st.booleans()):
        return a, b, k
    axes_a = [a.ndim - k + i for i in range(k)]
    axes_b = list(range(k))
    order = draw(st.permutations(range(k)))
    return a, b, ([axes_a[i] for i in order], [axes_b[i] for i in order])


@st.composite
def outer_args(draw):
    return draw(real(draw(SHAPES))), draw(real(draw(SHAPES)))


@st.composite
def linear_args(draw):
    lead = draw(tst.shapes(0, 2, max_side=SIDE))
    i, o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x, W = draw(real(lead + (i,))), draw(real((i, o)))
    return (x, W, draw(real((o,)))) if draw(st.booleans()) else (x, W)


@st.composite
def sce_args(draw):
    return draw(tst.logits_and_targets(max_classes=SIDE))


@st.composite
def layer_norm_args(draw):
    # entries on a 0.25 grid, no two alike: every row's variance is >= 1/64, so its second
    # derivatives (~ 1/var) stay within what float32 finite differences resolve
    x = draw(tst.floats_arrays(tst.shapes(min_dims=1, max_side=SIDE), min_value=-4.0,
                               max_value=4.0, distinct=True, gap=0.25))
    x = x if x.shape[-1] > 1 else np.concatenate([x, x + 1.0], axis=-1)
    n = x.shape[-1]
    return x, draw(real((n,))), draw(real((n,)))


@st.composite
def batch_norm_args(draw):
    # (N >= 2, C[, L]) on a 0.25 grid, no two alike: every channel's variance is well away
    # from 0, as layer_norm_args keeps each row's
    N, C = draw(st.integers(2, SIDE)), draw(st.integers(1, SIDE))
    shape = (N, C) + ((draw(st.integers(1, 2)),) if draw(st.booleans()) else ())
    x = draw(tst.floats_arrays(shape, min_value=-4.0, max_value=4.0, distinct=True, gap=0.25))
    return x, draw(real((C,))), draw(real((C,)))


def batch_norm_ref(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@st.composite
def lstm_args(draw):
    N, T, D, H = (draw(st.integers(1, 2)) for _ in range(4))
    return tuple(draw(real(s)) for s in [(N, T, D), (D, 4 * H), (H, 4 * H), (4 * H,), (N, H),
                                          (N, H)])


@st.composite
def bce_args(draw):
    z = draw(real(draw(SHAPES)))
    return z, draw(tst.floats_arrays(z.shape, min_value=0.0, max_value=1.0))


def one(strategy):
    return strategy.map(lambda x: (x,))


# --- references -----------------------------------------------------------------------------
def sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


def _sum_to(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1)
    return x.sum(axes, keepdims=True).reshape(shape)


def _lstm_ref(xs, Wx, Wh, b, h, c):
    hs = []
    for t in range(xs.shape[1]):
        A = xs[:, t] @ Wx + h @ Wh + b
        f, g, i, o = np.split(A, 4, axis=1)
        s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c = s(f) * c + np.tanh(g) * s(i)
        h = s(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1), h, c


def _sce_ref(x, t, axis):
    z = x - x.max(axis, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis, keepdims=True))
    return -np.take_along_axis(logp, np.expand_dims(t, axis), axis).mean()


def _logsumexp_ref(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis if axis is not None else
                                           tuple(range(x.ndim)))


# --- torch versions (the test converts float arrays to float64 tensors) -----------------------
def _dims(x, axis):
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _t(name):
    """torch.<name>, looked up when called (torch is optional)."""
    def call(*args, **kwargs):
        import torch
        obj = torch
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)
    return call


def _torch_reduce(name):
    def call(x, axis, keepdims):
        import torch
        dims = _dims(x, axis)
        if not dims:
            return x
        if name in ("amax", "amin", "sum", "mean"):
            return getattr(torch, name)(x, dim=dims, keepdim=keepdims)
        return getattr(torch, name)(x, dims, keepdim=keepdims)
    return call


def _torch_var(std):
    def call(x, axis, ddof, keepdims):
        import torch
        return (torch.std if std else torch.var)(x, dim=_dims(x, axis), correction=ddof,
                                                 keepdim=keepdims)
    return call


def _torch_prod(x, axis, keepdims):
    dims = {d % x.ndim for d in _dims(x, axis)}
    for d in sorted(dims, reverse=True):
        x = x.prod(d, keepdim=keepdims)
    return x


def _torch_repeat(x, repeats, axis):
    import torch
    if axis is None:
        x, axis = x.reshape(-1), 0
    r = torch.tensor(repeats) if isinstance(repeats, tuple) else repeats
    return torch.repeat_interleave(x, r, dim=axis)


def _torch_einsum(spec, *xs):
    import torch
    return torch.einsum(spec, *xs)


def _torch_moveaxis(x, src, dst):
    import torch
    return torch.movedim(x, src, dst)


def _torch_tensordot(a, b, axes):
    import torch
    return torch.tensordot(a, b, dims=axes if isinstance(axes, int) else
                           (list(axes[0]), list(axes[1])))


def _torch_pad_constant(x, width):
    import torch
    w = np.broadcast_to(np.asarray(width), (x.ndim, 2))
    return torch.nn.functional.pad(x, [int(v) for pair in w[::-1] for v in pair])


def _torch_flatten(x, a, b):
    import torch
    return torch.flatten(x, a, b) if x.ndim else x.reshape(1)


def _torch_cumsum(x, axis):
    import torch
    return torch.cumsum(x.reshape(-1) if axis is None else x, 0 if axis is None else axis)


def _torch_flip(x, axis):
    import torch
    return torch.flip(x, _dims(x, axis))


def _torch_diagonal(x, offset, a1, a2):
    import torch
    return torch.diagonal(x, offset, a1, a2)


def _torch_clip(x, lo, hi):
    import torch
    return torch.clamp(x, lo, hi)


def _torch_leaky(x):
    import torch
    return torch.nn.functional.leaky_relu(x, 0.2)


def _torch_mse(x, t):
    import torch
    return torch.nn.functional.mse_loss(x, t)


def _torch_logsumexp(x, axis, keepdims):
    import torch
    dims = _dims(x, axis)
    return torch.logsumexp(x, dims, keepdim=keepdims) if dims else x


def _torch_linear(x, W, b=None):
    import torch
    return torch.nn.functional.linear(x, W.T, b)


def _torch_softmax(log):
    def call(x, axis):
        import torch
        return (torch.log_softmax if log else torch.softmax)(x, axis)
    return call


def _np_pad(x, width, mode):
    return np.pad(x, width, mode=mode)


def _np_repeat(x, repeats, axis):
    return np.repeat(x, repeats, axis)


# --- the rows -----------------------------------------------------------------------------------
R = real
OPS = [
    # arithmetic
    binary("add", R, R, np.add, _t("add")),
    binary("sub", R, R, np.subtract, _t("sub")),
    binary("mul", R, R, np.multiply, _t("mul")),
    binary("div", R, away(0.0, margin=0.5), np.divide, _t("div")),
    # (exponents away from 0: there PyTorch's second order drops d2/dx dc = 1/x, which ours
    # keeps; test_arithmetic.py proves ours against finite differences at c = 0)
    binary("pow", positive, lambda s: tst.floats_arrays(s, min_value=-2, max_value=2, avoid=(0.0,), margin=0.05),
           np.power, _t("pow")),
    elementwise("neg", R, np.negative, _t("neg")),
    # elementwise primitives
    elementwise("exp", R, np.exp, _t("exp")),
    elementwise("log", positive, np.log, _t("log")),
    elementwise("tanh", R, np.tanh, _t("tanh")),
    elementwise("sigmoid", R, sigmoid_ref, _t("sigmoid")),
    elementwise("relu", away(0.0), lambda x: np.maximum(x, 0), _t("relu"), kinks=at(0.0)),
    elementwise("cast", R, lambda x: x.astype(np.float64), None,
                fn=lambda x: F.cast(x, np.float64) * 1.0, same_dtype=False),
    elementwise("sin", R, np.sin, _t("sin")),
    elementwise("cos", R, np.cos, _t("cos")),
    elementwise("log1p", interval(-0.5, 3), np.log1p, _t("log1p")),
    elementwise("expm1", R, np.expm1, _t("expm1")),
    # elementwise compositions (ops/math.py)
    elementwise("abs", away(0.0), np.abs, _t("abs"), kinks=at(0.0)),
    elementwise("sqrt", positive, np.sqrt, _t("sqrt")),
    elementwise("square", R, np.square, _t("square")),
    elementwise("reciprocal", away(0.0, margin=0.5), np.reciprocal, _t("reciprocal")),
    elementwise("tan", interval(-1.2, 1.2), np.tan, _t("tan")),
    elementwise("sign", away(0.0), np.sign, _t("sign")),  # a jump at 0: see test_math.py
    elementwise("floor", NONINTEGER, np.floor, _t("floor"), kinks=at(-1.0, 0.0, 2.0)),
    elementwise("ceil", NONINTEGER, np.ceil, _t("ceil"), kinks=at(-1.0, 0.0, 2.0)),
    elementwise("leaky_relu", away(0.0), lambda x: np.where(x > 0, x, 0.2 * x), _torch_leaky,
                fn=lambda x: F.leaky_relu(x, 0.2), kinks=at(0.0)),
    OpInfo("clip", lambda x: F.clip(x, -1.0, 1.0), same_shape(away(-1.0, 1.0)),
           lambda x: np.clip(x, -1.0, 1.0), lambda x: _t("clamp")(x, -1.0, 1.0),
           kinks=same_shape(at(-1.0, 1.0)), variant="scalar-bounds"),
    OpInfo("clip", F.clip, clip_bounds(), np.clip, _torch_clip,
           broadcast=clip_bounds(broadcast=True), variant="variable-bounds"),
    binary("maximum", grid(0.0), grid(0.05), np.maximum, _t("maximum"), kinks=ties()),
    binary("minimum", grid(0.0), grid(0.05), np.minimum, _t("minimum"), kinks=ties()),
    # reductions and scans
    OpInfo("sum", F.sum, with_axis(), lambda x, a, k: np.sum(x, a, keepdims=k),
           _torch_reduce("sum")),
    OpInfo("mean", F.mean, with_axis(), lambda x, a, k: np.mean(x, a, keepdims=k),
           _torch_reduce("mean")),
    OpInfo("max", F.max, with_axis(distinct), lambda x, a, k: np.max(x, a, keepdims=k),
           _torch_reduce("amax"), kinks=with_axis(grid(0.0))),
    OpInfo("min", F.min, with_axis(distinct), lambda x, a, k: np.min(x, a, keepdims=k),
           _torch_reduce("amin"), kinks=with_axis(grid(0.0))),
    # (PyTorch's second order of prod is wrong for tiny entries: -2**63 for an entry
    # 1.3e-36; ours, a tree of products, passes check_op there; compared at first order)
    OpInfo("prod", F.prod, with_axis(at(0.0)), lambda x, a, k: np.prod(x, a, keepdims=k),
           _torch_prod, torch_order=1),
    OpInfo("var", F.var, var_args(), lambda x, a, d, k: np.var(x, a, ddof=d, keepdims=k),
           _torch_var(False)),
    OpInfo("std", F.std, var_args(), lambda x, a, d, k: np.std(x, a, ddof=d, keepdims=k),
           _torch_var(True), kinks=var_args(constant=True), torch_at_kinks=False),
    OpInfo("logsumexp", F.logsumexp, with_axis(), _logsumexp_ref, _torch_logsumexp),
    OpInfo("cumsum", F.cumsum, cumsum_args(), np.cumsum, _torch_cumsum),
    OpInfo("mean_squared_error", F.mean_squared_error, same_shape(R, R),
           lambda x, t: np.mean((x - t) ** 2), _torch_mse, broadcast=broadcasting(R, R)),
    # shape
    OpInfo("broadcast_to", F.broadcast_to, broadcast_to_args(), np.broadcast_to,
           lambda x, s: x.broadcast_to(s)),
    OpInfo("sum_to", F.sum_to, sum_to_args(), _sum_to),
    OpInfo("reshape", F.reshape, reshape_args(), np.reshape, lambda x, s: x.reshape(s)),
    OpInfo("transpose", F.transpose, transpose_args(), np.transpose,
           lambda x, p: x.permute(tuple(p))),
    OpInfo("swapaxes", F.swapaxes, two_axes(), np.swapaxes, lambda x, a, b: x.transpose(a, b)),
    OpInfo("expand_dims", F.expand_dims, expand_dims_args(), np.expand_dims,
           lambda x, a: x.unsqueeze(a)),
    OpInfo("squeeze", F.squeeze, squeeze_args(), np.squeeze),
    OpInfo("concat", lambda a, b, axis: F.concat([a, b], axis), concat_args(),
           lambda a, b, axis: np.concatenate([a, b], axis),
           lambda a, b, axis: _t("cat")([a, b], axis)),
    OpInfo("split", F.split, split_args(), np.split),
    OpInfo("stack", lambda a, b, axis: F.stack([a, b], axis), concat_args(stack=True),
           lambda a, b, axis: np.stack([a, b], axis),
           lambda a, b, axis: _t("stack")([a, b], axis)),
    OpInfo("unstack", F.unstack, unstack_args(),
           lambda x, axis: list(np.moveaxis(x, axis, 0)),
           lambda x, axis: list(_t("unbind")(x, axis))),
    OpInfo("flatten", F.flatten, flatten_args(),
           lambda x, a, b: x.reshape(1) if x.ndim == 0 else
           x.reshape(x.shape[:a % x.ndim] + (-1,) + x.shape[b % x.ndim + 1:]),
           _torch_flatten),
    OpInfo("moveaxis", F.moveaxis, moveaxis_args(), np.moveaxis, _torch_moveaxis),
    OpInfo("repeat", F.repeat, repeat_args(), _np_repeat, _torch_repeat),
    OpInfo("tile", F.tile, tile_args(), np.tile, lambda x, r: x.tile(r) if r else x),
    OpInfo("flip", F.flip, flip_args(), np.flip, _torch_flip),
    OpInfo("triu", F.triu, tri_args(), np.triu),
    OpInfo("tril", F.tril, tri_args(), np.tril),
    OpInfo("diagonal", F.diagonal, diagonal_args(), np.diagonal, _torch_diagonal),
    OpInfo("trace", F.trace, diagonal_args(), np.trace),
    OpInfo("pad", F.pad, pad_args(), _np_pad),
    OpInfo("pad", F.pad, pad_args().map(lambda a: (a[0], a[1])),
           lambda x, w: np.pad(x, w), _torch_pad_constant, variant="constant"),
    # indexing
    OpInfo("getitem", F.getitem, getitem_basic(), lambda x, i: x[i], variant="basic"),
    OpInfo("getitem", F.getitem, getitem_array(), lambda x, i: x[i], variant="array"),
    OpInfo("embedding", F.embedding, embedding_args(), lambda W, ids: W[ids],
           lambda W, ids: W[_t("as_tensor")(ids)]),
    OpInfo("where", F.where, where_args(), np.where,
           lambda c, a, b: _t("where")(_t("as_tensor")(c), a, b),
           broadcast=where_args(broadcast=True), mixed="each"),
    OpInfo("masked_fill", lambda x, m: F.masked_fill(x, m, -1.5), masked_fill_args(),
           lambda x, m: np.where(m, -1.5, x)),
    # linalg and contractions
    OpInfo("matmul", F.matmul, matmul_args(), np.matmul, _t("matmul")),
    OpInfo("einsum", F.einsum, einsum_args(), np.einsum, _torch_einsum),
    OpInfo("tensordot", F.tensordot, tensordot_args(), np.tensordot, _torch_tensordot),
    OpInfo("outer", F.outer, outer_args(), np.outer,
           lambda a, b: _t("outer")(a.reshape(-1), b.reshape(-1))),
    OpInfo("linear", F.linear, linear_args(),
           lambda x, W, b=None: x @ W + (0 if b is None else b), _torch_linear),
    # softmax family
    OpInfo("softmax", F.softmax, softmax_args(),
           lambda x, a: np.exp(x - x.max(a, keepdims=True)) /
           np.exp(x - x.max(a, keepdims=True)).sum(a, keepdims=True), _torch_softmax(False)),
    OpInfo("log_softmax", F.log_softmax, softmax_args(),
           lambda x, a: x - _logsumexp_ref(x, a, True), _torch_softmax(True)),
    OpInfo("softmax_cross_entropy", F.softmax_cross_entropy, sce_args(), _sce_ref),
    # recurrent
    OpInfo("lstm", lambda *a: F.lstm(*a), lstm_args(), _lstm_ref),
    # compositions of ops/composite.py
    OpInfo("layer_norm", F.layer_norm, layer_norm_args(), layer_norm_ref),
    OpInfo("masked_softmax", F.masked_softmax, masked_args(), masked_softmax_ref),
    OpInfo("batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           batch_norm_args(), batch_norm_ref,
           lambda x, w, b: _t("nn.functional.batch_norm")(x, None, None, w, b, training=True)),
    elementwise("softplus", R, lambda x: np.logaddexp(0, x),
                lambda x: _t("nn.functional.softplus")(x)),
    elementwise("gelu", R, gelu_ref,
                lambda x: _t("nn.functional.gelu")(x, approximate="tanh")),
    OpInfo("cosine_similarity", F.cosine_similarity, pair_args(), cosine_ref),
    OpInfo("roll", lambda x, k, a: F.roll(x, k, a), roll_args(), np.roll,
           lambda x, k, a: _t("roll")(x, k, a)),
    OpInfo("circular_convolution", F.circular_convolution, convolution_args(),
           circular_convolution_ref),
    OpInfo("dropout", lambda x: F.dropout(x, 0.3, np.random.default_rng(7), training=True),
           one(real(SHAPES)), lambda x: dropout_ref(x, 0.3, 7)),
    OpInfo("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
           bce_args(), bce_ref,
           lambda z, t: _t("nn.functional.binary_cross_entropy_with_logits")(z, t)),
]

ROWS = {row.id: row for row in OPS}
assert len(ROWS) == len(OPS), "two rows with one id"
