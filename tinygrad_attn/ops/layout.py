"""Shape helpers written with the primitives: no rule of their own.

flatten  moveaxis  repeat  tile  flip  triu  tril  diagonal  trace  pad

Each moves entries with `reshape`, `transpose`, `broadcast_to`, `getitem`, `concat` or
`where`, whose rules put every gradient back where its entry came from (an entry used
twice, by `repeat`, `tile` or `pad`'s edge modes, receives the sum). NumPy's semantics
throughout (`flatten` is PyTorch's, which with its defaults is NumPy's).
"""
import numpy as np

from ..tape import Variable, as_variable
from ._axes import normalize_axis
from .indexing import getitem, where
from .reduction import sum as _sum
from .shape import broadcast_to, concat, expand_dims, reshape, transpose

__all__ = ["flatten", "moveaxis", "repeat", "tile", "flip", "triu", "tril", "diagonal",
           "trace", "pad"]


def _shape(x):
    return x.shape if isinstance(x, Variable) else np.shape(x)


def flatten(x, start_dim=0, end_dim=-1):
    """x with axes start_dim..end_dim merged into one (PyTorch's `flatten`; with the
    defaults, a 1-D copy as NumPy's). A 0-d x becomes shape (1,)."""
    shape = _shape(x)
    if len(shape) == 0:
        return reshape(x, (1,))
    (start,) = normalize_axis(start_dim, len(shape), "flatten")
    (end,) = normalize_axis(end_dim, len(shape), "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                         f"shape {shape}")
    merged = int(np.prod(shape[start:end + 1]))
    return reshape(x, shape[:start] + (merged,) + shape[end + 1:])


def moveaxis(x, source, destination):
    """x with axes `source` moved to `destination` (ints or sequences), the others in their
    order: np.moveaxis."""
    ndim = len(_shape(x))
    src = normalize_axis(source, ndim, "moveaxis") if isinstance(source, int) else \
        tuple(normalize_axis(a, ndim, "moveaxis")[0] for a in source)
    dst = normalize_axis(destination, ndim, "moveaxis") if isinstance(destination, int) else \
        tuple(normalize_axis(a, ndim, "moveaxis")[0] for a in destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: {len(src)} source axes but {len(dst)} destinations")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in source {source} or destination "
                         f"{destination}")
    order = [a for a in range(ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def repeat(x, repeats, axis=None):
    """Each entry repeated along `axis` (None: of the flattened x), as np.repeat: `repeats`
    an int or one count per entry."""
    if axis is None:
        x = reshape(x, -1)
        axis = 0
    shape = _shape(x)
    (axis,) = normalize_axis(axis, len(shape), "repeat")
    n = shape[axis]
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iu" or np.any(counts < 0) or counts.ndim > 1 or \
            (counts.ndim == 1 and counts.size not in (1, n)):
        raise ValueError(f"repeat: repeats must be a count >= 0 or {n} of them for axis "
                         f"{axis} of shape {shape}, got {repeats!r}")
    if counts.ndim == 0 or counts.size == 1:  # every entry alike: broadcast a new axis
        r = int(counts.reshape(()))
        wide = broadcast_to(expand_dims(x, axis + 1),
                            shape[:axis + 1] + (r,) + shape[axis + 1:])
        return reshape(wide, shape[:axis] + (n * r,) + shape[axis + 1:])
    index = np.repeat(np.arange(n), counts)
    return getitem(x, (slice(None),) * axis + (index,))


def tile(x, reps):
    """x repeated as a block `reps` times along each axis, as np.tile."""
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be >= 0, got {reps}")
    shape = _shape(x)
    d = max(len(shape), len(reps))
    shape = (1,) * (d - len(shape)) + tuple(shape)
    reps = (1,) * (d - len(reps)) + reps
    inter = tuple(v for s in shape for v in (1, s))       # (1, s0, 1, s1, ...)
    wide = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    y = broadcast_to(reshape(x, inter), wide)
    return reshape(y, tuple(r * s for r, s in zip(reps, shape)))


def flip(x, axis=None):
    """x reversed along `axis` (all axes by default), as np.flip."""
    ndim = len(_shape(x))
    axes = normalize_axis(axis, ndim, "flip")
    if not axes:
        return as_variable(x)
    return getitem(x, tuple(slice(None, None, -1) if a in axes else slice(None)
                            for a in range(ndim)))


def triu(x, k=0):
    """x with the entries below the k-th diagonal of the last two axes set to 0, as
    np.triu (a 1-D x is taken as every row of a square matrix)."""
    shape = _shape(x)
    if len(shape) == 0:
        raise ValueError("triu: needs at least one dimension, got a 0-d input")
    below = np.tri(*shape[-2:], k=k - 1, dtype=bool)
    return where(below, 0.0, x)


def tril(x, k=0):
    """x with the entries above the k-th diagonal of the last two axes set to 0, as
    np.tril."""
    shape = _shape(x)
    if len(shape) == 0:
        raise ValueError("tril: needs at least one dimension, got a 0-d input")
    keep = np.tri(*shape[-2:], k=k, dtype=bool)
    return where(keep, x, 0.0)


def _diagonal_index(shape, offset, axis1, axis2, op):
    ndim = len(shape)
    if ndim < 2:
        raise ValueError(f"{op}: needs at least two dimensions, got shape {shape}")
    (a1,) = normalize_axis(axis1, ndim, op)
    (a2,) = normalize_axis(axis2, ndim, op)
    if a1 == a2:
        raise ValueError(f"{op}: axis1 and axis2 are the same axis ({axis1}, {axis2})")
    n1, n2 = shape[a1], shape[a2]
    k = int(offset)
    length = max(0, min(n1, n2 - k) if k >= 0 else min(n1 + k, n2))
    i = np.arange(length) + (0 if k >= 0 else -k)
    return a1, a2, i, i + k


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal of the (axis1, axis2) planes, `offset` above the main one, as the last
    axis: np.diagonal."""
    a1, a2, i, j = _diagonal_index(_shape(x), offset, axis1, axis2, "diagonal")
    return getitem(moveaxis(x, (a1, a2), (-2, -1)), (Ellipsis, i, j))


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of `diagonal(x, offset, axis1, axis2)`: np.trace."""
    return _sum(diagonal(x, offset, axis1, axis2), -1)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad(x, pad_width, mode="constant", constant_values=0):
    """x padded as np.pad: `pad_width` is an int, a (before, after) pair or one pair per
    axis; `mode` one of constant (with `constant_values`), edge, reflect, symmetric, wrap.
    Axes are padded in turn, as NumPy does, so the corners agree with it too. Padded
    entries of the edge modes are copies of x's entries and send their gradient back to
    them."""
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    shape = _shape(x)
    ndim = len(shape)
    try:
        widths = np.broadcast_to(np.asarray(pad_width), (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit {ndim} axes (an int, a "
                         "(before, after) pair, or one pair per axis)") from None
    if widths.dtype.kind not in "iu" or np.any(widths < 0):
        raise ValueError(f"pad: pad_width must be counts >= 0, got {pad_width!r}")
    values = np.broadcast_to(np.asarray(constant_values), (ndim, 2))
    dtype = x.dtype if isinstance(x, Variable) else np.asarray(x).dtype
    y = x
    for axis, (before, after) in enumerate(widths.tolist()):
        if before == after == 0:
            continue
        n = _shape(y)[axis]
        if mode == "constant":
            parts = []
            for count, value in ((before, values[axis, 0]), (after, values[axis, 1])):
                block = list(_shape(y))
                block[axis] = count
                parts.append(np.full(block, value, dtype=dtype))
            y = concat([parts[0], y, parts[1]], axis)
            continue
        if n == 0:
            raise ValueError(f"pad: cannot pad an empty axis {axis} of shape {shape} in "
                             f"{mode} mode")
        index = np.pad(np.arange(n), (before, after), mode=mode)
        y = getitem(y, (slice(None),) * axis + (index,))
    return as_variable(y)
