"""Every differentiable op, as `F.<name>` (``import tinygrad_attn.functions as F``).

The ops live one family per module in `tinygrad_attn/ops/`, each forward beside its gradient
rule. This module gathers them and gives `Variable` its operators, its methods and
`backward` (reverse mode), so that the tape itself imports nothing above it.
"""
from . import autodiff
from .tape import Variable
from .ops.arithmetic import add, div, mul, neg, pow, sub
from .ops.composite import (binary_cross_entropy_with_logits, causal_mask,
                            circular_convolution, cosine_similarity, dropout, gelu, layer_norm,
                            masked_softmax, padding_mask, roll, softplus)
from .ops.elementwise import cast, exp, log, relu, sigmoid, tanh
from .ops.indexing import embedding, getitem, masked_fill, where
from .ops.linalg import matmul
from .ops.normalization import batch_norm
from .ops.recurrent import lstm
from .ops.reduction import max, mean, min, sum
from .ops.shape import (broadcast_to, concat, expand_dims, reshape, split, squeeze, stack,
                        sum_to, swapaxes, transpose, unstack)
from .ops.softmax import log_softmax, softmax, softmax_cross_entropy

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid", "relu", "cast",
    "sum", "mean", "max", "min", "broadcast_to", "sum_to", "reshape", "transpose", "swapaxes",
    "expand_dims", "squeeze", "concat", "split", "stack", "unstack", "matmul", "getitem",
    "embedding", "where", "masked_fill", "softmax", "log_softmax", "softmax_cross_entropy",
    "lstm",
    # compositions (ops/composite.py): no rule of their own
    "layer_norm", "masked_softmax", "softplus", "gelu", "cosine_similarity", "roll",
    "circular_convolution", "dropout", "binary_cross_entropy_with_logits", "batch_norm",
]
# (F.causal_mask and F.padding_mask build bool masks from shapes and ids: helpers, not ops)


def _flip(op):
    return lambda self, other: op(other, self)


Variable.__add__ = add
Variable.__radd__ = _flip(add)
Variable.__sub__ = sub
Variable.__rsub__ = _flip(sub)
Variable.__mul__ = mul
Variable.__rmul__ = _flip(mul)
Variable.__truediv__ = div
Variable.__rtruediv__ = _flip(div)
Variable.__pow__ = pow
Variable.__rpow__ = _flip(pow)
Variable.__matmul__ = matmul
Variable.__rmatmul__ = _flip(matmul)
Variable.__neg__ = neg
Variable.__pos__ = lambda self: self
Variable.__getitem__ = getitem
Variable.T = property(transpose)
Variable.reshape = reshape
Variable.transpose = transpose
Variable.sum = sum
Variable.mean = mean
Variable.max = max
Variable.min = min
Variable.astype = cast
Variable.backward = autodiff.backward
