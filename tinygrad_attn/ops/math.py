"""Elementwise math written with the primitives: no rule of its own.

abs  sqrt  square  reciprocal  tan  clip  maximum  minimum  leaky_relu  (differentiable)
sign  floor  ceil  (piecewise constant: their value, with a zero gradient)

Each is a line or two over ops whose rules are already proved, so first and second order
come for free. The choices at kinks are PyTorch's: abs'(0) = 0, clip passes the gradient
where lo <= x <= hi (bounds included), leaky_relu'(0) = the slope; maximum and minimum
split a tie equally between the operands, as `max` splits it between tied entries (they
*are* `max`/`min` over the two stacked operands).
"""
import numpy as np

from ..tape import Variable, as_operand
from ._operands import operands
from .arithmetic import div, mul, pow
from .elementwise import cos, sin
from .indexing import where
from .reduction import max as _max, min as _min
from .shape import broadcast_to, stack

__all__ = ["abs", "sqrt", "square", "reciprocal", "tan", "clip", "maximum", "minimum",
           "leaky_relu", "sign", "floor", "ceil"]


def _data(x):
    return x.data if isinstance(x, Variable) else np.asarray(x)


def _constant_with_zero_gradient(x, value):
    """`value` (an array of x's shape), tied to x with a zero gradient: where(False, x,
    value). The result depends on x as PyTorch's floor does: its gradient is 0, not
    missing."""
    return where(np.False_, x, as_operand(value, x) if isinstance(x, Variable) else value)


def abs(x):  # noqa: A001 - the public name is F.abs
    """|x| as x * sign(x), the sign a constant: the gradient is sign(x) (0 at 0)."""
    return mul(x, np.sign(_data(x)))


def sqrt(x):
    """x ** 0.5 (the gradient at 0 is inf, the true one)."""
    return pow(x, 0.5)


def square(x):
    """x * x."""
    return mul(x, x)


def reciprocal(x):
    """1 / x."""
    return div(1.0, x)


def tan(x):
    """sin(x) / cos(x)."""
    return div(sin(x), cos(x))


def sign(x):
    """-1, 0 or 1 by the sign of x (NaN for NaN); gradient 0."""
    return _constant_with_zero_gradient(x, np.sign(_data(x)))


def floor(x):
    """The largest integer <= x, as a float; gradient 0."""
    return _constant_with_zero_gradient(x, np.floor(_data(x)))


def ceil(x):
    """The smallest integer >= x, as a float; gradient 0."""
    return _constant_with_zero_gradient(x, np.ceil(_data(x)))


def clip(x, lo=None, hi=None):
    """x limited to [lo, hi] (either bound may be None; NumPy's `np.clip`, PyTorch's
    `clamp`). The gradient reaches x where lo <= x <= hi, bounds included, and reaches a
    bound that is a Variable where it was taken. Where lo > hi the result is hi, as in
    NumPy."""
    if lo is None and hi is None:
        raise ValueError("clip: give lo, hi or both")
    y = x
    if lo is not None:
        y = where(_data(y) < _data(lo), lo, y)
    if hi is not None:
        y = where(_data(y) > _data(hi), hi, y)
    return y


def _pairwise(reduce, name, a, b):
    a, b = operands(a, b)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast") from None
    return reduce(stack([broadcast_to(a, shape), broadcast_to(b, shape)]), axis=0)


def maximum(a, b):
    """The larger of a and b elementwise, broadcasting; a tie sends half the gradient to
    each (it is `max` over the two stacked operands)."""
    return _pairwise(_max, "maximum", a, b)


def minimum(a, b):
    """The smaller of a and b elementwise, broadcasting; a tie sends half the gradient to
    each (it is `min` over the two stacked operands)."""
    return _pairwise(_min, "minimum", a, b)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, negative_slope * x elsewhere: x times a constant slope (1 or
    negative_slope), so the gradient at 0 is negative_slope, as in PyTorch."""
    d = _data(x)
    return mul(x, np.where(d > 0, 1.0, negative_slope).astype(
        d.dtype if d.dtype.kind == "f" else np.float64))
