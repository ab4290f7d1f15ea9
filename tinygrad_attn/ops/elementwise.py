"""exp, log, tanh, sigmoid, relu, cast: one input, one output, same shape."""
import numpy as np

from ..engine import Function


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    def forward(self, x):
        return np.log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Tanh(Function):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, gy):
        y = self.output()
        return gy * (1 - y * y)


class Sigmoid(Function):
    def forward(self, x):
        # tanh form: no overflow for large |x| and no dtype change
        return 0.5 * np.tanh(0.5 * x) + 0.5

    def backward(self, gy):
        y = self.output()
        return gy * y * (1 - y)


class ReLU(Function):
    op_name = "relu"

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x.data > 0).astype(x.dtype)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def attributes(self):
        return {"dtype": self.dtype.name}

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
    return ReLU()(x)


def cast(x, dtype):
    """x as `dtype`; the gradient is cast back to x's dtype."""
    if x.dtype == np.dtype(dtype):
        return x
    return Cast(dtype)(x)
