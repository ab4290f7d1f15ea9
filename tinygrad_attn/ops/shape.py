"""broadcast_to, sum_to, reshape, transpose, expand_dims, squeeze, concat, split, stack,
unstack: ops that move numbers around without changing them, so each rule is the inverse
move."""
import numpy as np

from ..tape import Function, Variable, as_operand, as_variable
from ._axes import normalize_axis


# --- broadcasting, and its inverse ------------------------------------------------------
def sum_to_array(x, shape):
    """Sum ndarray `x` down to `shape`, the inverse of broadcasting `shape` up to x.shape."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape) if lead or y.shape != tuple(shape) else y


class BroadcastTo(Function):
    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    def forward(self, x):
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


def broadcast_to(x, shape):
    """x repeated to `shape` by NumPy's broadcasting rules."""
    shape = tuple(shape)
    if x.shape == shape:
        return as_variable(x)
    if len(shape) < x.ndim:
        raise ValueError(f"broadcast_to: cannot broadcast {x.shape} to {shape}")
    try:
        return BroadcastTo(shape=shape)(x)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast {x.shape} to {shape}") from None


def sum_to(x, shape):
    """Sum x down to `shape` (which must broadcast to x.shape): the gradient of broadcasting."""
    shape = tuple(shape)
    if x.shape == shape:
        return as_variable(x)
    lead = x.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != t for s, t in zip(shape, x.shape[lead:])):
        raise ValueError(f"sum_to: cannot sum {x.shape} to {shape}: {shape} does not broadcast "
                         f"to {x.shape}")
    return SumTo(shape=shape)(x)


# --- reshaping and permuting ------------------------------------------------------------
class Reshape(Function):
    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


def reshape(x, *shape):
    """x with a new shape (one entry may be -1); `reshape(x, 2, 3)` or `reshape(x, (2, 3))`."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(shape)
    if shape == x.shape:
        return as_variable(x)
    try:
        return Reshape(shape=shape)(x)
    except (ValueError, TypeError):  # checked only on failure: no cost on the hot path
        raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) to "
                         f"{shape}") from None


def expand_dims(x, axis):
    """x with a new length-1 axis at `axis`."""
    axes = normalize_axis(axis, x.ndim + (1 if isinstance(axis, int) else len(axis)),
                          "expand_dims")
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    shape = tuple(shape)
    return Reshape(shape=shape)(x)


def squeeze(x, axis=None):
    """x without length-1 axes (all of them, or those in `axis`)."""
    axes = normalize_axis(axis, x.ndim, "squeeze") if axis is not None else \
        tuple(i for i, s in enumerate(x.shape) if s == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, "
                             "not 1")
    return Reshape(shape=tuple(s for i, s in enumerate(x.shape) if i not in axes))(x)


class Transpose(Function):
    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return transpose(gy, tuple(np.argsort(self.axes)))


def transpose(x, *axes):
    """x with its axes permuted (reversed by default), as ndarray.transpose."""
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    axes = tuple(reversed(range(x.ndim))) if not axes else tuple(int(a) for a in axes)
    if sorted(a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes "
                         f"of shape {x.shape}")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return as_variable(x)
    return Transpose(axes=axes)(x)


def swapaxes(x, a, b):
    """x with axes a and b exchanged."""
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


# --- joining and splitting --------------------------------------------------------------
class Concat(Function):
    def forward(self, *xs):
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        sizes = np.cumsum([x.shape[self.axis] for x in self.inputs])[:-1]
        return tuple(split(gy, list(sizes), self.axis))


class Split(Function):
    def forward(self, x):
        return tuple(np.split(x, self.indices, axis=self.axis))

    def backward(self, *gys):
        return concat(gys, self.axis)


class Stack(Function):
    def forward(self, *xs):
        return np.stack(xs, axis=self.axis)

    def backward(self, gy):
        return tuple(unstack(gy, self.axis))


class Unstack(Function):
    def forward(self, x):
        return tuple(np.moveaxis(x, self.axis, 0))

    def backward(self, *gys):
        return stack(gys, self.axis)


def _check_join(op, xs, axis, same_axis_len):
    if len(xs) == 0:
        raise ValueError(f"{op}: needs at least one input")
    ref = xs[0].shape
    for i, x in enumerate(xs):
        if x.ndim != len(ref):
            raise ValueError(f"{op}: input {i} has shape {x.shape} ({x.ndim} dims) but input 0 "
                             f"has shape {ref} ({len(ref)} dims)")
        for d, (s, r) in enumerate(zip(x.shape, ref)):
            if s != r and (same_axis_len or d != axis):
                raise ValueError(f"{op} along axis {axis}: input {i} has shape {x.shape}, "
                                 f"input 0 has shape {ref}; they differ on axis {d}")


def _join_operands(xs):
    """Constants joined with Variables take the first Variable's float dtype, as in `x + c`."""
    xs = list(xs)
    like = next((x for x in xs if isinstance(x, Variable)), None)
    return [as_variable(x) if like is None else as_operand(x, like) for x in xs]


def concat(xs, axis=0):
    """Join `xs` along an existing axis."""
    xs = _join_operands(xs)
    if not xs:
        raise ValueError("concat: needs at least one input")
    (axis,) = normalize_axis(axis, xs[0].ndim, "concat")
    _check_join("concat", xs, axis, same_axis_len=False)
    if len(xs) == 1:
        return xs[0]
    return Concat(axis=axis)(*xs)


def split(x, indices_or_sections, axis=0):
    """Split x along `axis` into equal sections (an int) or at `indices` (a list): a list."""
    (axis,) = normalize_axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"split: axis {axis} of shape {x.shape} (length {n}) does not "
                             f"divide into {k} equal sections")
        indices = [n // k * i for i in range(1, k)]
    else:
        indices = [int(i) for i in indices_or_sections]
    out = Split(indices=indices, axis=axis)(x)
    return out if isinstance(out, list) else [out]


def stack(xs, axis=0):
    """Join same-shaped `xs` along a new axis."""
    xs = _join_operands(xs)
    if not xs:
        raise ValueError("stack: needs at least one input")
    (axis,) = normalize_axis(axis, xs[0].ndim + 1, "stack")
    _check_join("stack", xs, axis, same_axis_len=True)
    return Stack(axis=axis)(*xs)


def unstack(x, axis=0):
    """The slices of x along `axis`, as a list (the inverse of stack)."""
    (axis,) = normalize_axis(axis, x.ndim, "unstack")
    out = Unstack(axis=axis)(x)
    return out if isinstance(out, list) else [out]
