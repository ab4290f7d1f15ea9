"""Hypothesis strategies for property-testing tinygrad_attn ops (and ops of your own).

    from hypothesis import given
    import tinygrad_attn.functions as F
    from tinygrad_attn.testing import gradcheck, strategies as tst

    @given(tst.floats_arrays(min_dims=1), tst.data())
    def test_softmax(x, data):
        axis = data.draw(tst.axes(x.ndim, allow_none=False, allow_tuple=False))
        assert gradcheck(lambda v: F.softmax(v, axis), x)

Every array strategy here is bounded and finite (default values in [-3, 3], sides 1..4,
at most 3 dims), so that finite differences are meaningful and checks stay fast. Ops with
kinks get inputs that stay away from them by construction (`avoid=` keeps every entry a
margin from the kinks, `distinct=` draws entries from a grid without repeats, so max/min
have no ties), never by rejecting whole examples; test the kinks themselves by hand.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

__all__ = [
    "shapes", "floats_arrays", "positive_arrays", "broadcastable_shapes",
    "broadcast_to_shapes", "matmul_shapes", "concat_shapes", "axes", "index_arrays",
    "basic_indices", "bool_masks", "reshape_targets", "permutations", "split_args",
    "logits_and_targets", "data",
]

MAX_DIMS = 3
MAX_SIDE = 4

data = st.data  # re-exported for convenience: draw dependent values inside a test


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """Array shapes (tuples) with `min_dims`..`max_dims` dims, each side in
    `min_side`..`max_side`; ``()`` (a scalar) is included when ``min_dims == 0``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def _resolve_shape(draw, shape, min_dims, max_dims, min_side, max_side):
    if shape is None:
        return draw(shapes(min_dims, max_dims, min_side, max_side))
    if isinstance(shape, st.SearchStrategy):
        return tuple(draw(shape))
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(shape)


@st.composite
def floats_arrays(draw, shape=None, dtype=np.float64, min_value=-3.0, max_value=3.0, *,
                  min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE, avoid=(),
                  margin=1e-2, distinct=False, gap=1e-2, kinks=()):
    """Finite float arrays with values in [`min_value`, `max_value`].

    shape
        A tuple, an int, a strategy of shapes, or None (drawn from `shapes(min_dims,
        max_dims, min_side, max_side)`).
    dtype
        A float dtype (float64 by default; finite differences want float64).
    avoid, margin
        Values to keep at least `margin` away from: the kinks of the op under test
        (``avoid=(0,)`` for relu), so that a step of eps never crosses one.
    distinct, gap
        With ``distinct=True`` all entries differ by at least `gap` (values on a grid of
        step `gap`): no ties, so max/min have a unique, stable arg-extremum.
    kinks
        Values drawn often, exactly (e.g. ``kinks=(0.0,)`` for relu): to check an op *at*
        its kinks, where the checks accept an autograd value between the one-sided
        differences (the opposite of `avoid`).
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise InvalidArgument(f"floats_arrays: dtype must be a float dtype, got {dtype}")
    if not (np.isfinite(min_value) and np.isfinite(max_value) and min_value <= max_value):
        raise InvalidArgument(f"floats_arrays: need finite min_value <= max_value, got "
                              f"[{min_value}, {max_value}]")
    shape = _resolve_shape(draw, shape, min_dims, max_dims, min_side, max_side)
    if distinct:
        lo, hi = int(np.ceil(min_value / gap)), int(np.floor(max_value / gap))
        size = int(np.prod(shape))
        if hi - lo + 1 < size:
            raise InvalidArgument(f"floats_arrays: {size} distinct values with gap {gap} do "
                                  f"not fit in [{min_value}, {max_value}]")
        ks = draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi), unique=True))
        return np.asarray(ks * gap, dtype=dtype)
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False, width=8 * dtype.itemsize)
    if avoid:
        avoid = tuple(float(a) for a in avoid)
        elements = elements.filter(lambda v: all(abs(v - a) >= margin for a in avoid))
    if kinks:
        elements = st.one_of(st.sampled_from([float(k) for k in kinks]), elements)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def positive_arrays(shape=None, dtype=np.float64, min_value=0.5, max_value=3.0, **kwargs):
    """Finite arrays with values in [`min_value`, `max_value`] (> 0): inputs of log, bases of
    pow, denominators. The lower bound keeps 1/x and log's derivatives moderate."""
    if min_value <= 0:
        raise InvalidArgument(f"positive_arrays: min_value must be > 0, got {min_value}")
    return floats_arrays(shape, dtype, min_value, max_value, **kwargs)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS, min_side=1,
                         max_side=MAX_SIDE):
    """Tuples of `num_shapes` mutually broadcastable shapes, e.g. ((3, 1), (2, 1, 4))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda r: tuple(r.input_shapes))


@st.composite
def broadcast_to_shapes(draw, min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """Pairs (shape, target) where `shape` broadcasts to `target`: some of target's leading
    dims dropped and some of the rest set to 1 (broadcast_to; sum_to goes the other way)."""
    target = draw(shapes(min_dims, max_dims, min_side, max_side))
    lead = draw(st.integers(0, len(target)))
    ones = draw(st.lists(st.booleans(), min_size=len(target) - lead,
                         max_size=len(target) - lead))
    shape = tuple(1 if one else s for s, one in zip(target[lead:], ones))
    return shape, target


@st.composite
def matmul_shapes(draw, max_batch_dims=2, min_side=1, max_side=MAX_SIDE, kinds=None):
    """Pairs (a_shape, b_shape) valid for numpy.matmul: every kind NumPy allows.

    The kind is one of "1d@1d", "1d@nd", "nd@1d", "nd@nd" (or drawn from `kinds`); the
    matrix operands get up to `max_batch_dims` batch dims that broadcast against each
    other on both sides, e.g. ((2, 1, 3, 4), (5, 4, 2)) or ((3, 4), (2, 4, 1)).
    """
    kind = draw(st.sampled_from(kinds or ("1d@1d", "1d@nd", "nd@1d", "nd@nd")))
    side = st.integers(min_side, max_side)
    M, K, N = draw(side), draw(side), draw(side)
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=max_batch_dims, min_side=1,
        max_side=max(1, max_side - 1))).input_shapes
    a = (K,) if kind.startswith("1d") else tuple(batch_a) + (M, K)
    b = (K,) if kind.endswith("1d") else tuple(batch_b) + (K, N)
    return a, b


@st.composite
def concat_shapes(draw, min_inputs=1, max_inputs=4, min_dims=1, max_dims=MAX_DIMS,
                  min_side=1, max_side=MAX_SIDE, allow_negative_axis=True):
    """(shapes, axis): a list of shapes that concatenate along `axis` (which may be
    negative): equal everywhere except on `axis`, where each has its own length."""
    base = draw(shapes(min_dims, max_dims, min_side, max_side))
    ndim = len(base)
    axis = draw(st.integers(-ndim if allow_negative_axis else 0, ndim - 1))
    n = draw(st.integers(min_inputs, max_inputs))
    lens = draw(st.lists(st.integers(min_side, max_side), min_size=n, max_size=n))
    out = []
    for k in lens:
        s = list(base)
        s[axis] = k
        out.append(tuple(s))
    return out, axis


@st.composite
def axes(draw, ndim, allow_none=True, allow_int=True, allow_tuple=True,
         allow_negative=True):
    """A valid `axis` argument for an array of `ndim` dims: None, an int (negative ones
    included) or a tuple of distinct axes (possibly empty, in any order)."""
    options = []
    if allow_none:
        options.append("none")
    if allow_int and ndim > 0:
        options.append("int")
    if allow_tuple:
        options.append("tuple")
    if not options:
        raise InvalidArgument(f"axes: no kind of axis is allowed for ndim={ndim}")
    kind = draw(st.sampled_from(options))
    lo = -ndim if allow_negative else 0
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(lo, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim \
        else []
    if allow_negative:
        signs = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
        chosen = [a - ndim if neg else a for a, neg in zip(chosen, signs)]
    return tuple(chosen)


@st.composite
def index_arrays(draw, shape, axis=0, index_shape=None, allow_negative=True):
    """Integer index arrays valid for axis `axis` of `shape` (values in [-n, n) or [0, n)),
    of shape `index_shape` (drawn, 0-2 dims, if None). Small ranges make repeated indices
    common: their gradients must accumulate. For embedding use ``allow_negative=False``."""
    n = tuple(shape)[axis]
    if n < 1:
        raise InvalidArgument(f"index_arrays: axis {axis} of {shape} is empty")
    if index_shape is None:
        index_shape = draw(shapes(0, 2, 1, MAX_SIDE + 1))
    lo = -n if allow_negative else 0
    return draw(hnp.arrays(np.intp, index_shape, elements=st.integers(lo, n - 1)))


def basic_indices(shape, allow_newaxis=True, allow_ellipsis=True):
    """Basic indices for `shape`: ints, slices (negative steps included), None, Ellipsis."""
    return hnp.basic_indices(tuple(shape), allow_newaxis=allow_newaxis,
                             allow_ellipsis=allow_ellipsis)


def bool_masks(shape):
    """Boolean arrays of `shape` (a tuple or a strategy of shapes)."""
    return hnp.arrays(np.bool_, shape)


@st.composite
def reshape_targets(draw, shape, allow_minus_one=True, max_dims=4):
    """A shape with as many elements as `shape` (at most `max_dims` dims), possibly with one
    entry -1 to be inferred."""
    size = int(np.prod(shape))
    if size == 0:
        return tuple(shape)
    k = draw(st.integers(0 if size == 1 else 1, max_dims))
    dims, rest = [], size
    for _ in range(max(k - 1, 0)):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        dims.append(d)
        rest //= d
    if k:
        dims.append(rest)
    dims = draw(st.permutations(dims)) if dims else []
    if allow_minus_one and dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


def permutations(ndim):
    """Permutations of range(ndim), as tuples (transpose axes)."""
    return st.permutations(list(range(ndim))).map(tuple)


@st.composite
def split_args(draw, shape, allow_negative_axis=True):
    """(indices_or_sections, axis) valid for split of an array of `shape` (ndim >= 1):
    an int number of equal sections dividing the axis, or a sorted list of split points
    in [0, n] (repeats and the ends included, which give empty pieces)."""
    ndim = len(shape)
    if ndim == 0:
        raise InvalidArgument("split_args: a 0-d array cannot be split")
    axis = draw(st.integers(-ndim if allow_negative_axis else 0, ndim - 1))
    n = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
        return sections, axis
    points = draw(st.lists(st.integers(0, n), min_size=0, max_size=3))
    return sorted(points), axis


@st.composite
def logits_and_targets(draw, dtype=np.float64, min_dims=1, max_dims=MAX_DIMS, min_classes=1,
                       max_classes=MAX_SIDE, ignore_index=None, min_value=-3.0,
                       max_value=3.0):
    """(logits, targets, axis) for softmax_cross_entropy: classes on `axis` (any axis,
    possibly negative), integer targets of logits' shape without that axis. With an
    `ignore_index`, some targets (possibly all) are set to it."""
    shape = list(draw(shapes(min_dims, max_dims)))
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1))
    C = draw(st.integers(min_classes, max_classes))
    shape[axis] = C
    logits = draw(floats_arrays(tuple(shape), dtype, min_value, max_value))
    tshape = tuple(s for i, s in enumerate(shape) if i != axis % ndim)
    targets = draw(hnp.arrays(np.int64, tshape, elements=st.integers(0, C - 1)))
    if ignore_index is not None:
        ignored = draw(hnp.arrays(np.bool_, tshape))
        targets = np.where(ignored, ignore_index, targets)
    return logits, targets, axis
