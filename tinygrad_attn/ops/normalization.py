"""normalize: (x - mean) / sqrt(var + eps) over one axis, as a primitive with its own rule.

Why a primitive: written as a composition (ops/composite.py, `layer_norm_composed`) the
normalisation is 8 recorded ops forward and about 16 rule ops backward, and a measurement
(docs/autograd.md, "Compositions and the primitives") found it taking up to 28% of a
Transformer training step. Here it is one op forward and one op backward.

    y  = (x - mean(x)) * r,        r = (var(x) + eps)^(-1/2)
    gx = r * (gy - mean(gy) - y * mean(gy * y))                (normalize_grad)

`normalize_grad` is itself a primitive (one NumPy pass, as tanh_grad); its own rule (needed
only for second order) is derived in its backward and written with ordinary ops and these
two primitives, so every higher order is exact too. tests/ops/test_composite.py proves the primitive equal to the
composition: values, first and second derivatives.
"""
from __future__ import annotations

import numpy as np

from ..tape import Function
from ._axes import normalize_axis
from .reduction import mean


def _stats(x, axis, eps):
    d = x - x.mean(axis=axis, keepdims=True)
    r = 1.0 / np.sqrt((d * d).mean(axis=axis, keepdims=True) + eps)
    return d, r


class Normalize(Function):
    def forward(self, x):
        d, r = _stats(x, self.axis, self.eps)
        d *= r
        return d

    def backward(self, gy):
        return NormalizeGrad(axis=self.axis, eps=self.eps)(self.inputs[0], gy)


class NormalizeGrad(Function):
    """The gradient of normalize at x for the output gradient gy, in one pass."""

    def forward(self, x, gy):
        d, r = _stats(x, self.axis, self.eps)
        y = d * r
        out = gy - gy.mean(axis=self.axis, keepdims=True)
        out -= y * (gy * y).mean(axis=self.axis, keepdims=True)
        out *= r
        return out

    def backward(self, g):
        # <g, gx> differentiated by hand (J = r (I - 1/n - y y^T / n) is symmetric):
        #   d/dgy = normalize_grad(x, g)
        #   d/dx  = -r (y mean(g gx) + mean(gy y) normalize_grad(x, g) + mean(g y) gx)
        # all in ordinary ops and these two primitives, so higher orders follow.
        x, gy = self.inputs
        gx = self.output()
        m = lambda v: mean(v, self.axis, keepdims=True)  # noqa: E731
        y = Normalize(axis=self.axis, eps=self.eps)(x)
        d = x - m(x)
        r = (m(d * d) + self.eps) ** -0.5
        ng = NormalizeGrad(axis=self.axis, eps=self.eps)(x, g)
        return -r * (y * m(g * gx) + m(gy * y) * ng + m(g * y) * gx), ng


def normalize(x, axis=-1, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over `axis` (biased variance), one op."""
    (axis,) = normalize_axis(axis, x.ndim, "normalize")
    return Normalize(axis=axis, eps=eps)(x)
