"""Wrong gradient rules, planted in real ops to prove the testing kit finds them.

Each entry of BUGS replaces one op class's `backward` with a rule that is wrong in one
specific way (a test fixture patches it in and restores the original afterwards). The
rules are module-level functions on purpose: a repro script written while one is planted
imports it from here and plants it again, so the script fails the same way.

The op classes are taken from ops the public API builds, not imported from their modules,
so this file does not depend on where an op class lives.
"""
import numpy as np

import tinygrad_attn.functions as F
from tinygrad_attn import Variable


def _op_class(make):
    x = Variable(np.ones((2, 3, 2)))
    return type(make(x).creator)


Softmax = _op_class(lambda x: F.softmax(x, axis=-1))
Sigmoid = _op_class(F.sigmoid)
Tanh = _op_class(F.tanh)
MatMul = _op_class(lambda x: x @ np.ones((2, 2)))
Concat = _op_class(lambda x: F.concat([x, x], axis=-1))
SoftmaxCrossEntropy = _op_class(lambda x: F.softmax_cross_entropy(x, np.zeros((2, 3), int)))

# the correct rules, captured before anything is planted
_softmax_backward = Softmax.backward
_matmul_backward = MatMul.backward
_tanh_backward = Tanh.backward
_concat_backward = Concat.backward
_sce_backward = SoftmaxCrossEntropy.backward


def softmax_wrong_sign(self, gy):
    """softmax's rule with its sign flipped."""
    return -_softmax_backward(self, gy)


def sigmoid_missing_factor(self, gy):
    """sigmoid's rule without the (1 - y) factor: gy * y instead of gy * y * (1 - y)."""
    return gy * self.output()


def sce_missing_mean(self, gy):
    """softmax_cross_entropy's rule without the 1/count of its mean."""
    x = self.inputs[0]
    axis = self.attributes()["axis"]
    count = x.size // x.shape[axis]
    return _sce_backward(self, gy) * float(count)


def matmul_batch_sum_dropped(self, gy):
    """matmul's rule, wrong only when the weight's gradient is reduced over a batch axis
    ((T, N, K) @ (K, M)): it keeps the last batch slice instead of summing over all."""
    ga, gb = _matmul_backward(self, gy)
    a, b = self.inputs
    if gb is not None and a.ndim > 2 and b.ndim == 2:
        gb = F.swapaxes(a[-1], -1, -2) @ gy[-1]
    return ga, gb


def tanh_float32_fast_path(self, gy):
    """tanh's rule with a float32 "fast path" that forgets to square: gy * (1 - y)."""
    y = self.output()
    if y.dtype == np.float32:
        return gy * (1 - y)
    return _tanh_backward(self, gy)


def concat_pieces_swapped(self, gy):
    """concat's rule handing the gradient pieces back in reverse order (wrong whenever
    the pieces have the same shape, as attention's context and decoder states do)."""
    return tuple(reversed(_concat_backward(self, gy)))


# name -> (op class, wrong rule, dtype of the model that shows it, the op locate must name
# and its scope: the first op of that class the attention model runs, read off models/)
BUGS = {
    "wrong sign": (Softmax, softmax_wrong_sign, np.float64, "softmax",
                   "decoder.attention"),
    "missing factor": (Sigmoid, sigmoid_missing_factor, np.float64, "sigmoid", "encoder.lstm"),
    "missing factor (mean)": (SoftmaxCrossEntropy, sce_missing_mean, np.float64,
                              "softmax_cross_entropy", ""),
    "wrong only when an axis is reduced": (MatMul, matmul_batch_sum_dropped, np.float64,
                                           "matmul", "encoder.lstm"),
    "wrong only for float32": (Tanh, tanh_float32_fast_path, np.float32, "tanh",
                               "encoder.lstm"),
    "wrong order": (Concat, concat_pieces_swapped, np.float64, "concat", "decoder"),
}
