"""exp, log, tanh, sigmoid, relu, cast: one input, one output, same shape."""
import numpy as np

from ..tape import Function


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
    return Tanh()(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow."""
    return Sigmoid()(x)


def relu(x):
    """max(x, 0); the gradient at 0 is taken as 0."""
    return Relu()(x)


def cast(x, dtype):
    """x as `dtype`; the gradient is cast back to x's dtype."""
    if x.dtype == np.dtype(dtype):
        return x
    return Cast(dtype=np.dtype(dtype))(x)
