"""Reductions written with the primitives: no rule of their own.

prod  var  std  logsumexp  mean_squared_error, and `cumsum_composed` (the reference the
primitive cumsum is proved against).

prod multiplies halves of the axis pairwise (a tree of log2 n products), so zeros need no
special case: with one zero on the axis the gradient of that entry is the product of the
others, with two or more every gradient is 0, exactly. std is sqrt(var) except where the
variance is exactly 0; there its value is 0 with gradient 0 (a kink: the one-sided
derivatives are -sigma(v) and +sigma(v) along a direction v, and 0 lies between them), never
0 * inf.
"""
import numpy as np

from ..tape import Variable
from ._axes import keepdims_shape, normalize_axis
from .arithmetic import add, mul, pow, sub
from .elementwise import exp, log
from .indexing import getitem, where
from .linalg import matmul
from .reduction import mean, sum as _sum
from .shape import concat, reshape, swapaxes, transpose

__all__ = ["prod", "var", "std", "logsumexp", "mean_squared_error", "cumsum_composed"]


def _data(x):
    return x.data if isinstance(x, Variable) else np.asarray(x)


def prod(x, axis=None, keepdims=False):
    """The product over `axis` (all axes by default), as np.prod; exact gradients at
    zeros (see the module docstring). An empty axis gives 1."""
    d = _data(x)
    axes = normalize_axis(axis, d.ndim, "prod")
    out_shape = keepdims_shape(d.shape, axes) if keepdims else \
        tuple(s for i, s in enumerate(d.shape) if i not in axes)
    kept = [i for i in range(d.ndim) if i not in axes]
    n = int(np.prod([d.shape[a] for a in axes]))
    if n == 0:  # the empty product: 1, tied to x with a zero gradient
        return where(np.False_, _sum(x, axes, keepdims), np.ones(out_shape, d.dtype))
    # the reduced axes last, merged into one
    y = reshape(transpose(x, kept + list(axes)), tuple(d.shape[i] for i in kept) + (n,))
    while n > 1:
        h = n // 2
        pairs = mul(getitem(y, (Ellipsis, slice(0, h))), getitem(y, (Ellipsis, slice(h, 2 * h))))
        y = concat([pairs, getitem(y, (Ellipsis, slice(2 * h, n)))], -1) if n % 2 else pairs
        n = h + n % 2
    return reshape(y, out_shape)


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over `axis`: sum((x - mean)^2) / (n - ddof), as np.var (ddof=1: the
    unbiased estimate, PyTorch's default)."""
    d = _data(x)
    axes = normalize_axis(axis, d.ndim, "var")
    n = int(np.prod([d.shape[a] for a in axes]))
    if n - ddof <= 0:
        raise ValueError(f"var: {n} value(s) over axis {axis} of shape {d.shape} leave no "
                         f"degrees of freedom with ddof={ddof}")
    dev = sub(x, mean(x, axes, keepdims=True))
    return mul(_sum(mul(dev, dev), axes, keepdims), 1.0 / (n - ddof))


def std(x, axis=None, ddof=0, keepdims=False):
    """Standard deviation, sqrt(var); where the variance is exactly 0 the value is 0 and the
    gradient 0 (not NaN)."""
    v = var(x, axis, ddof, keepdims)
    zero = v.data == 0
    if not zero.any():
        return pow(v, 0.5)
    return where(zero, 0.0, pow(where(zero, 1.0, v), 0.5))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over `axis`, computed as m + log(sum(exp(x - m))) with m the
    (constant) maximum: finite for inputs of any size (1e10 or -1e10 included); its
    gradient is softmax(x)."""
    d = _data(x)
    axes = normalize_axis(axis, d.ndim, "logsumexp")
    if any(d.shape[a] == 0 for a in axes):
        raise ValueError(f"logsumexp: cannot reduce an empty axis of shape {d.shape}")
    m = np.max(d, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(d.dtype if d.dtype.kind == "f" else np.float64)
    s = log(_sum(exp(sub(x, m)), axes, keepdims))
    return add(s, m if keepdims else m.reshape(s.shape))


def mean_squared_error(x, t):
    """mean((x - t)^2) over every entry (PyTorch's `mse_loss`; DeZero's function of this
    name divides by len(x) instead, the same for (N, 1) outputs). x and t broadcast."""
    dev = sub(x, t)
    return mean(mul(dev, dev))


def cumsum_composed(x, axis=None):
    """cumsum as a composition, x @ U with U the upper-triangular matrix of ones along
    `axis`: the reference the primitive (ops/reduction.py) is proved equal to."""
    if axis is None:
        x = reshape(x, -1)
        axis = 0
    d = _data(x)
    (axis,) = normalize_axis(axis, d.ndim, "cumsum")
    n = d.shape[axis]
    upper = np.triu(np.ones((n, n), d.dtype if d.dtype.kind == "f" else np.float64))
    return swapaxes(matmul(swapaxes(x, axis, -1), upper), axis, -1)
