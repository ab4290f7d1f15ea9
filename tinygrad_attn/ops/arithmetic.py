"""add, sub, mul, div, neg, pow.

Rules return gradients in the broadcast shape of the output; the engine sums them back
to each input's shape, so no rule here mentions broadcasting. A forward that is one NumPy
ufunc is that ufunc (``forward = staticmethod(np.add)``): the call costs no Python frame.
"""
import numpy as np

from ..tape import Function, Variable, _grad_enabled, _wrap, as_operand
from .elementwise import log


def _check_broadcast(op, symbol, a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: {a.shape} {symbol} {b.shape}: shapes do not broadcast") from None


class Add(Function):
    forward = staticmethod(np.add)    # a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    forward = staticmethod(np.subtract)    # a - b

    def backward(self, gy):
        return gy, -gy


class Mul(Function):
    forward = staticmethod(np.multiply)    # a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b if a.requires_grad else None, gy * a if b.requires_grad else None


class Div(Function):
    forward = staticmethod(np.divide)    # a / b

    def backward(self, gy):
        a, b = self.inputs
        gb = -gy * a / (b * b) if b.requires_grad else None
        return gy / b, gb


class Neg(Function):
    forward = staticmethod(np.negative)

    def backward(self, gy):
        return -gy


class Pow(Function):
    """x ** c; the exponent may be a constant or a differentiable Variable."""

    def forward(self, x, c):
        return x ** c

    def backward(self, gy):
        x, c = self.inputs
        gx = gy * c * x ** (c - 1) if x.requires_grad else None
        gc = gy * self.output() * log(x) if c.requires_grad else None
        return gx, gc


def _binary(cls, symbol, ufunc=None):
    """The public function of a two-operand op. `ufunc`, the op's forward when that is one
    NumPy ufunc, is called directly when nothing is to be recorded (a rule running in a
    first-order backward pass, `no_grad`): no Function, no tape, same result."""
    op = cls.__name__.lower()

    def apply(a, b):
        if not isinstance(a, Variable):
            a = as_operand(a, b)
        elif not isinstance(b, Variable):
            b = as_operand(b, a)
        try:
            if ufunc is None or (a.requires_grad or b.requires_grad) and _grad_enabled.get():
                return cls()(a, b)
            return _wrap(ufunc(a.data, b.data), None, 0, False)
        except ValueError:  # shapes are checked only on failure: no cost on the hot path
            _check_broadcast(op, symbol, a, b)
            raise

    apply.__name__ = op
    apply.__doc__ = f"Elementwise a {symbol} b with NumPy broadcasting."
    return apply


add = _binary(Add, "+", np.add)
sub = _binary(Sub, "-", np.subtract)
mul = _binary(Mul, "*", np.multiply)
div = _binary(Div, "/", np.divide)
pow = _binary(Pow, "**")  # noqa: A001 - the public name is F.pow


def neg(x):
    """-x."""
    return Neg()(x)


