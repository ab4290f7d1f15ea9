"""Every differentiable op, as `F.<name>` (``import tinygrad_attn.functions as F``).

The ops live one family per module in `tinygrad_attn/ops/`, each forward beside its gradient
rule, and the compositions beside the primitives they are made of. This module gathers
them and gives `Variable` its operators (arithmetic, `@`, comparisons), its NumPy-style
methods, NumPy interop (`np.exp(v)` runs F.exp, `np.sum(v)` runs v.sum) and `backward`
(reverse mode), so that the tape itself imports nothing above it.
"""
import numpy as np

from . import autodiff
from .tape import Variable
from .ops import comparison as _cmp
from .ops.arithmetic import add, div, mul, neg, pow, sub
from .ops.composite import (binary_cross_entropy_with_logits, causal_mask,
                            circular_convolution, cosine_similarity, dropout, gelu, layer_norm,
                            masked_softmax, padding_mask, roll, softplus)
from .ops.contraction import einsum, linear, outer, tensordot
from .ops.elementwise import cast, cos, exp, expm1, log, log1p, relu, sigmoid, sin, tanh
from .ops.indexing import embedding, getitem, masked_fill, where
from .ops.layout import (diagonal, flatten, flip, moveaxis, pad, repeat, tile, trace, tril,
                         triu)
from .ops.linalg import matmul
from .ops.math import (abs, ceil, clip, floor, leaky_relu, maximum, minimum, reciprocal,
                       sign, sqrt, square, tan)
from .ops.normalization import batch_norm
from .ops.recurrent import lstm
from .ops.reduction import cumsum, max, mean, min, sum
from .ops.shape import (broadcast_to, concat, expand_dims, reshape, split, squeeze, stack,
                        sum_to, swapaxes, transpose, unstack)
from .ops.softmax import log_softmax, softmax, softmax_cross_entropy
from .ops.statistics import logsumexp, mean_squared_error, prod, std, var

__all__ = [
    # primitives: a forward and a rule each (tinygrad_attn/ops/)
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid", "relu", "cast",
    "sin", "cos", "log1p", "expm1",
    "sum", "mean", "max", "min", "cumsum", "broadcast_to", "sum_to", "reshape", "transpose",
    "swapaxes", "expand_dims", "squeeze", "concat", "split", "stack", "unstack", "matmul",
    "getitem", "embedding", "where", "masked_fill", "softmax", "log_softmax",
    "softmax_cross_entropy", "lstm",
    # compositions: no rule of their own
    "abs", "sqrt", "square", "reciprocal", "tan", "clip", "maximum", "minimum", "leaky_relu",
    "sign", "floor", "ceil",                                                   # ops/math.py
    "prod", "var", "std", "logsumexp", "mean_squared_error",                   # statistics
    "flatten", "moveaxis", "repeat", "tile", "flip", "triu", "tril", "diagonal", "trace",
    "pad",                                                                     # layout
    "einsum", "tensordot", "outer", "linear",                                  # contraction
    "layer_norm", "masked_softmax", "softplus", "gelu", "cosine_similarity", "roll",
    "circular_convolution", "dropout", "binary_cross_entropy_with_logits",     # composite
    "batch_norm",                                                       # normalization
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
Variable.__abs__ = abs
Variable.__getitem__ = getitem
# comparisons compare values (bool data Variables); hashing stays identity (tape.py)
Variable.__eq__ = _cmp.equal
Variable.__ne__ = _cmp.not_equal
Variable.__lt__ = _cmp.less
Variable.__le__ = _cmp.less_equal
Variable.__gt__ = _cmp.greater
Variable.__ge__ = _cmp.greater_equal
Variable.T = property(transpose)
Variable.backward = autodiff.backward


# --- methods, in NumPy's spelling; NumPy's functions call them (np.sum(v) is v.sum()) ------
def _method(op, name, dtype_casts_input=False):
    """`op` as a Variable method that also takes the keywords NumPy's functions pass along
    (`out=None`, `dtype=None`, `order="C"`): `out` and other orders are refused by name,
    `dtype` casts the input first (as a NumPy accumulator dtype would)."""
    def method(self, *args, out=None, dtype=None, order="C", **kwargs):
        if out is not None:
            raise TypeError(f"Variable.{name}: out= is not supported (ops make new "
                            "Variables; use the result)")
        if order not in ("C", "A", "K", None):
            raise TypeError(f"Variable.{name}: only C order exists for a Variable, got "
                            f"order={order!r}")
        if dtype is not None:
            if not dtype_casts_input:
                raise TypeError(f"Variable.{name}: dtype= is not supported; cast first "
                                "(v.astype(dtype))")
            self = cast(self, dtype)
        return op(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"F.{op.__name__}(self, ...): {op.__doc__ or ''}"
    return method


def _squeeze(x, axis=None):
    return squeeze(x, axis)


for _name, _op, _casts in [
        ("sum", sum, True), ("mean", mean, True), ("max", max, False), ("min", min, False),
        ("prod", prod, True), ("var", var, True), ("std", std, True),
        ("cumsum", cumsum, True), ("reshape", reshape, False), ("transpose", transpose, False),
        ("swapaxes", swapaxes, False), ("squeeze", _squeeze, False), ("clip", clip, False),
        ("repeat", repeat, False), ("diagonal", diagonal, False), ("trace", trace, False),
        ("flatten", flatten, False)]:
    setattr(Variable, _name, _method(_op, _name, _casts))
Variable.ravel = _method(lambda x: reshape(x, -1), "ravel")
Variable.astype = cast
Variable.expand_dims = expand_dims
Variable.abs = abs
Variable.exp = exp
Variable.log = log
Variable.tanh = tanh
Variable.sigmoid = sigmoid
Variable.relu = relu
Variable.sqrt = sqrt


def _arg(reduce, name):
    def method(self, axis=None, out=None, keepdims=False):
        if out is not None:
            raise TypeError(f"Variable.{name}: out= is not supported")
        return Variable(reduce(self.data, axis=axis, keepdims=keepdims))
    method.__name__ = name
    method.__doc__ = f"np.{name} of the values: an integer data Variable (no gradient)."
    return method


Variable.argmax = _arg(np.argmax, "argmax")
Variable.argmin = _arg(np.argmin, "argmin")


# --- NumPy's ufuncs on Variables run as F's ops -----------------------------------------
_UFUNCS = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.power: pow,
    np.negative: neg, np.positive: lambda x: x, np.matmul: matmul, np.exp: exp, np.log: log,
    np.tanh: tanh, np.sin: sin, np.cos: cos, np.tan: tan, np.log1p: log1p, np.expm1: expm1,
    np.sqrt: sqrt, np.square: square, np.absolute: abs, np.reciprocal: reciprocal,
    np.sign: sign, np.floor: floor, np.ceil: ceil, np.maximum: maximum, np.minimum: minimum,
    np.equal: _cmp.equal, np.not_equal: _cmp.not_equal, np.less: _cmp.less,
    np.less_equal: _cmp.less_equal, np.greater: _cmp.greater,
    np.greater_equal: _cmp.greater_equal,
}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """`np.exp(v)`, `array + v`, `array < v`: the ufunc runs as the F op of that name, on the
    tape. What has no F op (another ufunc, `out=`, `.reduce`, `.at`) is refused by name."""
    op = _UFUNCS.get(ufunc)
    if op is None or method != "__call__" or kwargs:
        extra = f".{method}" if method != "__call__" else ""
        why = f" with {', '.join(f'{k}=' for k in kwargs)}" if kwargs else ""
        raise TypeError(f"numpy.{ufunc.__name__}{extra}{why} on a Variable: not an op of "
                        "tinygrad_attn.functions; use F's ops to stay on the tape (F.sum, "
                        "F.max, ...), or v.data for the values")
    return op(*inputs)


Variable.__array_ufunc__ = _array_ufunc
