"""sum, mean, max, min over `axis` (None, int or tuple) with `keepdims`; cumsum along one
axis.

cumsum is a primitive after a measurement (docs/autograd.md, "Compositions and the
primitives"): as a composition it is a product with a triangular matrix of ones,
O(n^2) in the axis length; its rule is the same scan run backwards.
"""
import numpy as np

from ..tape import Function
from ._axes import keepdims_shape, normalize_axis
from .shape import broadcast_to, reshape


class _Reduction(Function):
    """Configured with `axis` (a tuple) and `keepdims`."""

    def _spread(self, gy):
        """gy back in the input's shape: undo the dropped axes, then broadcast."""
        x = self.inputs[0]
        if not self.keepdims:
            gy = reshape(gy, keepdims_shape(x.shape, self.axis))
        return broadcast_to(gy, x.shape)


class Sum(_Reduction):
    def forward(self, x):
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        return self._spread(gy)


class Mean(_Reduction):
    def forward(self, x):
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        count = int(np.prod([x.shape[a] for a in self.axis]))
        # (`max` here is this module's F.max, not the builtin: keep the count plain)
        return self._spread(gy) * (1.0 / (count or 1))


class Max(_Reduction):
    reduce = staticmethod(np.max)

    def forward(self, x):
        return self.reduce(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        # Ties share the gradient equally, so the rule stays a true (sub)gradient.
        x = self.inputs[0]
        y = self.reduce(x.data, axis=self.axis, keepdims=True)
        hit = (x.data == y).astype(x.dtype)
        hit /= hit.sum(axis=self.axis, keepdims=True)
        return self._spread(gy) * hit


class Min(Max):
    reduce = staticmethod(np.min)


def _reduce(cls, x, axis, keepdims):
    axes = normalize_axis(axis, x.ndim, cls.__name__.lower())
    if cls in (Max, Min) and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{cls.__name__.lower()}: cannot reduce an empty axis of shape {x.shape}")
    return cls(axis=axes, keepdims=keepdims)(x)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the public name is F.sum
    """Sum over `axis` (all axes by default)."""
    return _reduce(Sum, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis`."""
    return _reduce(Mean, x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    """Maximum over `axis`; tied maxima share the gradient equally."""
    return _reduce(Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    """Minimum over `axis`; tied minima share the gradient equally."""
    return _reduce(Min, x, axis, keepdims)


class CumSum(Function):
    """Running sums along `axis`; with `reverse`, from the end (the rule of the forward
    scan: d/dx_i sum_{j>=i} gy_j)."""

    def forward(self, x):
        if self.reverse:
            return np.flip(np.cumsum(np.flip(x, self.axis), axis=self.axis), self.axis)
        return np.cumsum(x, axis=self.axis)

    def backward(self, gy):
        return CumSum(axis=self.axis, reverse=not self.reverse)(gy)


def cumsum(x, axis=None):
    """Running sums along `axis`, as np.cumsum (None: over the flattened array)."""
    if axis is None:
        x = reshape(x, -1)
        axis = 0
    (axis,) = normalize_axis(axis, x.ndim, "cumsum")
    return CumSum(axis=axis, reverse=False)(x)
