"""add, sub, mul, div, neg, pow.

Rules return gradients in the broadcast shape of the output; the engine sums them back
to each input's shape, so no rule here mentions broadcasting.
"""
import numpy as np

from ..tape import Function
from ._operands import operands as _operands
from .elementwise import log
from .indexing import where


def _check_broadcast(op, symbol, a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: {a.shape} {symbol} {b.shape}: shapes do not broadcast") from None


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, -gy


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, gy * a


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        gb = -gy * a / (b * b) if b.requires_grad else None
        return gy / b, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """x ** c; the exponent may be a constant or a differentiable Variable.

    At x = 0 the textbook rules are 0 * inf: there the true derivative is taken instead,
    as PyTorch does. d/dx x**0 = 0 (x**0 is the constant 1), and d/dc 0**c = 0 for c >= 0.
    The offending entries of x are replaced by 1 inside the rule (`where`), so the rule
    stays a graph without inf or NaN and higher orders see the same choice.
    """

    def forward(self, x, c):
        return x ** c

    def backward(self, gy):
        x, c = self.inputs
        gx = gc = None
        if x.requires_grad:
            base = x
            zero_c = c.data == 0
            if zero_c.any():
                at = zero_c & (x.data == 0)     # c * x**(c-1) would be 0 * inf
                if at.any():
                    base = where(at, 1.0, x)    # there c = 0, so the term is 0
            gx = gy * c * base ** (c - 1)
        if c.requires_grad:
            at = (x.data == 0) & (c.data >= 0)  # y * log(x) would be 0 * -inf (or 1 * -inf)
            gc = gy * self.output() * log(where(at, 1.0, x) if at.any() else x)
        return gx, gc


def _binary(cls, symbol):
    op = cls.__name__.lower()

    def apply(a, b):
        a, b = _operands(a, b)
        try:
            return cls()(a, b)
        except ValueError:  # shapes are checked only on failure: no cost on the hot path
            _check_broadcast(op, symbol, a, b)
            raise

    apply.__name__ = op
    apply.__doc__ = f"Elementwise a {symbol} b with NumPy broadcasting."
    return apply


add = _binary(Add, "+")
sub = _binary(Sub, "-")
mul = _binary(Mul, "*")
div = _binary(Div, "/")
pow = _binary(Pow, "**")  # noqa: A001 - the public name is F.pow


def neg(x):
    """-x."""
    return Neg()(x)


