"""normalize: (x - mean) / sqrt(var + eps) over one axis, as a primitive with its own rule;
batch_norm, a composition (see its docstring).

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

from ..tape import Function, as_operand, as_variable
from ._axes import normalize_axis
from .reduction import mean
from .shape import reshape


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


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation (Ioffe & Szegedy 2015) of `x` (N, C) or (N, C, d1, ...) per
    channel C, PyTorch's ``F.batch_norm``.

    training  True: normalise with the batch's statistics over every axis but 1 (mean and
              biased variance, as the gradient needs), and when `running_mean` /
              `running_var` are given update them in place:
              ``r = (1 - momentum) r + momentum b``, with the batch's unbiased variance
              (n / (n - 1), n = values per channel) for ``running_var``.
              False: normalise with `running_mean` and `running_var` (constants).
    weight, bias  optional (C,) scale and shift (Variables to be trained).

    A composition of mean, sub, mul and pow (no rule of its own), so every derivative
    order is exact; float32 stays float32 (the running arrays keep their own dtype).
    """
    x = as_variable(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C) or (N, C, ...), got shape "
                         f"{x.shape}")
    C = x.shape[1]
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and (not isinstance(r, np.ndarray) or r.shape != (C,)):
            got = getattr(r, "shape", type(r).__name__)
            raise ValueError(f"batch_norm: {name} must be a numpy array of shape ({C},) "
                             f"for input {x.shape}, got {got}")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, C) + (1,) * (x.ndim - 2)
    if training:
        n = x.size // C
        if n < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, "
                             f"got input shape {x.shape}")
        mu = mean(x, axes, keepdims=True)
        d = x - mu
        sq = d * d
        y = d * (mean(sq, axes, keepdims=True) + eps) ** -0.5
        if running_mean is not None:
            running_mean[...] = (momentum * mu.data.reshape(C)
                                 + (1 - momentum) * running_mean)
        if running_var is not None:
            unbiased = sq.data.sum(axis=axes) / (n - 1)
            running_var[...] = momentum * unbiased + (1 - momentum) * running_var
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean "
                             "and running_var")
        centre = as_operand(running_mean.reshape(shape), x)
        scale = as_operand((1.0 / np.sqrt(running_var + eps)).reshape(shape), x)
        y = (x - centre) * scale
    if weight is not None:       # an array (not a Variable) takes x's dtype, as in x * w
        y = y * reshape(as_operand(weight, x), shape)
    if bias is not None:
        y = y + reshape(as_operand(bias, x), shape)
    return y
