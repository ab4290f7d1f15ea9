"""add, sub, mul, div, neg, pow.

Rules return gradients in the broadcast shape of the output; the engine sums them back
to each input's shape, so no rule here mentions broadcasting. A forward that is one NumPy
ufunc is that ufunc (``forward = staticmethod(np.add)``): the call costs no Python frame.
"""
import numpy as np

from ..tape import Function, Variable, _grad_enabled, _wrap
from ._operands import operands as _operands
from .elementwise import log
from .indexing import where


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


def _binary(cls, symbol, ufunc=None):
    """The public function of a two-operand op. `ufunc`, the op's forward when that is one
    NumPy ufunc, is called directly when nothing is to be recorded (a rule running in a
    first-order backward pass, `no_grad`): no Function, no tape, same result."""
    op = cls.__name__.lower()

    def apply(a, b):
        if not isinstance(a, Variable) or not isinstance(b, Variable):
            a, b = _operands(a, b)
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


