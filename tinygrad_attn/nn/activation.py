"""Activation functions as modules (for `Sequential`), under PyTorch's names.

    ReLU  Tanh  Sigmoid  GELU  SiLU  Mish  LeakyReLU  ELU  Softplus  Softmax  LogSoftmax

Each forward is one `F` op or a short composition of them, so first, second and higher
derivatives come from rules that are already proved. At a kink the derivative taken is
PyTorch's: LeakyReLU's at 0 is the negative slope, ELU's is alpha, ReLU's is 0.

Differences from PyTorch, on purpose: `GELU` is the tanh approximation (PyTorch's
``approximate="tanh"``; the exact erf form, PyTorch's default, needs an erf op this
framework does not have: the two differ by less than 5e-4); `Softplus` takes ``beta`` but
no ``threshold`` (ours is exact and finite for every x; PyTorch switches to ``x`` above
the threshold).
"""
from __future__ import annotations

from .. import functions as F
from ..tape import as_variable
from .module import Module

__all__ = ["ReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Mish", "LeakyReLU", "ELU", "Softplus",
           "Softmax", "LogSoftmax"]


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, x):
        return F.sigmoid(x)


class GELU(Module):
    """x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): `F.gelu`, the tanh approximation
    (``approximate`` must be "tanh"; see the module docstring)."""

    def __init__(self, approximate="tanh"):
        super().__init__()
        if approximate != "tanh":
            raise ValueError(f"GELU: only approximate='tanh' is available (the exact erf "
                             f"form needs an erf op), got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x)


class SiLU(Module):
    """x * sigmoid(x) (swish)."""

    def forward(self, x):
        return x * F.sigmoid(x)


class Mish(Module):
    """x * tanh(softplus(x))."""

    def forward(self, x):
        return x * F.tanh(F.softplus(x))


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise (`F.leaky_relu`; derivative s at 0, as
    PyTorch's)."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class ELU(Module):
    """x for x > 0, ``alpha (e^x - 1)`` otherwise; written ``relu(x) + alpha (e^(x -
    relu(x)) - 1)`` (the exponent is never positive: no overflow), derivative alpha at 0."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        x = as_variable(x)
        r = F.relu(x)
        return r + self.alpha * (F.exp(x - r) - 1.0)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, finite for every x (`F.softplus`)."""

    def __init__(self, beta=1.0):
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus: beta must be > 0, got {beta}")
        self.beta = float(beta)

    def forward(self, x):
        if self.beta == 1.0:
            return F.softplus(x)
        return F.softplus(as_variable(x) * self.beta) * (1.0 / self.beta)


class _AlongAxis(Module):
    def __init__(self, axis=-1, *, dim=None):
        super().__init__()
        self.axis = axis if dim is None else dim


class Softmax(_AlongAxis):
    """softmax along `axis` (PyTorch's ``dim`` is accepted as a keyword too)."""

    def forward(self, x):
        return F.softmax(x, self.axis)


class LogSoftmax(_AlongAxis):
    """log_softmax along `axis` (or ``dim``), computed as x - logsumexp(x)."""

    def forward(self, x):
        return F.log_softmax(x, self.axis)
