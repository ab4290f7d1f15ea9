"""exp, log, tanh, sigmoid, relu, cast, sin, cos, log1p, expm1: one input, one output, same
shape.

sin, cos, log1p and expm1 are primitives because no composition of the others computes
them: log1p(x) is not log(1 + x) for small x (1 + 1e-17 rounds to 1), and their rules
are one line each (sin' = cos, cos' = -sin, log1p' = 1 / (1 + x), expm1' = e^x).
"""
import numpy as np

from ..tape import Function, as_variable


def _empty_like(x):
    """A fresh float array of x's shape for in-place work (ints promote, as np.tanh would)."""
    dtype = x.dtype
    return np.empty(x.shape, dtype if dtype.kind in "fc" else np.result_type(dtype, np.float16))


class Exp(Function):
    forward = staticmethod(np.exp)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    forward = staticmethod(np.log)

    def backward(self, gy):
        return gy / self.inputs[0]


class Tanh(Function):
    forward = staticmethod(np.tanh)

    def backward(self, gy):
        return TanhGrad()(self.output(), gy)


class TanhGrad(Function):
    """gy * (1 - y²): tanh's gradient from its output, as one op (one pass, one array).

    Its own rule keeps higher orders exact: d/dy = -2 y gy, d/dgy = 1 - y².
    """

    def forward(self, y, gy):
        out = np.multiply(y, y, out=_empty_like(y))
        np.subtract(1, out, out=out)
        out *= gy
        return out

    def backward(self, g):
        y, gy = self.inputs
        return g * gy * y * -2, g * (1 - y * y)


class Sigmoid(Function):
    def forward(self, x):
        # tanh form: no overflow for large |x|, no dtype change; in place: one array
        y = np.multiply(x, 0.5, out=_empty_like(x))
        np.tanh(y, out=y)
        y *= 0.5
        y += 0.5
        return y

    def backward(self, gy):
        return SigmoidGrad()(self.output(), gy)


class SigmoidGrad(Function):
    """gy * y * (1 - y): sigmoid's gradient from its output, as one op.

    Its own rule keeps higher orders exact: d/dy = gy (1 - 2y), d/dgy = y (1 - y).
    """

    def forward(self, y, gy):
        out = np.subtract(1, y, out=_empty_like(y))
        out *= y
        out *= gy
        return out

    def backward(self, g):
        y, gy = self.inputs
        return g * gy * (1 - 2 * y), g * y * (1 - y)


class Relu(Function):
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x.data > 0).astype(x.dtype)


class Sin(Function):
    def forward(self, x):
        return np.sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    def forward(self, x):
        return np.cos(x)

    def backward(self, gy):
        return gy * -sin(self.inputs[0])


class Log1p(Function):
    def forward(self, x):
        return np.log1p(x)

    def backward(self, gy):
        return gy / (1.0 + self.inputs[0])


class Expm1(Function):
    def forward(self, x):
        return np.expm1(x)

    def backward(self, gy):
        return gy * exp(self.inputs[0])


class Cast(Function):
    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.inputs[0].dtype)


def exp(x):
    """e ** x."""
    return Exp()(x)


def log(x):
    """Natural logarithm."""
    return Log()(x)


def tanh(x):
    """Hyperbolic tangent."""
    return Tanh()(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow."""
    return Sigmoid()(x)


def relu(x):
    """max(x, 0); the gradient at 0 is taken as 0."""
    return Relu()(x)


def sin(x):
    """Sine (radians)."""
    return Sin()(x)


def cos(x):
    """Cosine (radians)."""
    return Cos()(x)


def log1p(x):
    """log(1 + x), accurate for small x."""
    return Log1p()(x)


def expm1(x):
    """e ** x - 1, accurate for small x."""
    return Expm1()(x)


def cast(x, dtype):
    """x as `dtype`; the gradient is cast back to x's dtype."""
    if x.dtype == np.dtype(dtype):
        return as_variable(x)
    return Cast(dtype=np.dtype(dtype))(x)
