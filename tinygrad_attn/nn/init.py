"""Initialisers under PyTorch's names (``torch.nn.init``), drawing from a NumPy Generator.

    from tinygrad_attn.nn import init
    init.xavier_uniform_(layer.W, rng=rng)          # in place; returns layer.W
    init.kaiming_normal_(layer.W, nonlinearity="relu", seed=0)
    init.zeros_(layer.b)

Each function fills a `Parameter` (its ``.data``), a `Variable` or a writable NumPy array in
place and returns it. Values are drawn in float64 from ``rng`` (a ``numpy.random.Generator``)
or a new Generator from ``seed``, then cast to the array's dtype (a float32 weight stays
float32), as the book draws ``randn(...) / sqrt(n)`` and then casts. With neither ``rng``
nor ``seed`` the draw is from fresh OS entropy: pass one of them for a reproducible run.

Fans and the weight layout. This project's layers compute ``x @ W``, so a 2-D weight is
``(fan_in, fan_out)``: `Linear(in, out).W` is ``(in, out)``, the transpose of PyTorch's
``(out, in)`` weight. `calculate_fan_in_and_fan_out` reads the fans in that layout:
``fan_in = shape[0] * receptive``, ``fan_out = shape[1] * receptive``, ``receptive =
prod(shape[2:])``. This equals PyTorch's fans of the same layer's weight (PyTorch's
formula on the array with its first two axes swapped), so ``kaiming_*`` with
``mode="fan_in"`` scales by the layer's true input width in both frameworks.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tape import Variable

__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_",
           "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "orthogonal_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "make_rng"]


def make_rng(rng=None, seed=None):
    """A `numpy.random.Generator`: `rng` itself, or a new one from `seed`."""
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _array(tensor, who):
    """The float ndarray to fill in place (a read-only Variable's data is copied first)."""
    if isinstance(tensor, Variable):
        if not tensor.data.flags.writeable:
            tensor.data = tensor.data.copy()
        arr = tensor.data
    elif isinstance(tensor, np.ndarray):
        arr = tensor
        if not arr.flags.writeable:
            raise ValueError(f"{who}: the array is read-only")
    else:
        raise TypeError(f"{who}: expected a Parameter, Variable or numpy array, got "
                        f"{type(tensor).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating array, got dtype {arr.dtype}")
    return arr


def _fill(tensor, who, draw):
    arr = _array(tensor, who)
    arr[...] = draw(arr.shape)
    return tensor


_LINEAR_GAIN = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table): 1 for linear / conv /
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu
    (`param` the negative slope, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR_GAIN:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (known: "
                     f"{', '.join(_LINEAR_GAIN)}, tanh, relu, leaky_relu, selu)")


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight laid out ``(in, out, *receptive)`` (see the module
    docstring); a shape tuple works too."""
    shape = tuple(tensor) if isinstance(tensor, tuple) else np.shape(
        tensor.data if isinstance(tensor, Variable) else tensor)
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: fans need at least 2 dimensions, "
                         f"got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[0] * receptive, shape[1] * receptive


def _fan(tensor, mode, who):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor, who).shape)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, *, rng=None, seed=None):
    """Fill with U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    g = make_rng(rng, seed)
    return _fill(tensor, "uniform_", lambda shape: g.uniform(a, b, shape))


def normal_(tensor, mean=0.0, std=1.0, *, rng=None, seed=None):
    """Fill with N(mean, std^2)."""
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    g = make_rng(rng, seed)
    return _fill(tensor, "normal_", lambda shape: mean + std * g.standard_normal(shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, *, rng=None, seed=None):
    """Fill with N(mean, std^2) conditioned on [a, b] (absolute bounds, as PyTorch's):
    entries outside are drawn again until every one lies inside."""
    if not a < b or not std > 0:
        raise ValueError(f"trunc_normal_: need a < b and std > 0, got a={a}, b={b}, "
                         f"std={std}")
    lo, hi = (a - mean) / std, (b - mean) / std
    if lo > 6 or hi < -6:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] lies more than 6 std from "
                         f"the mean {mean}: almost no mass to draw from")
    g = make_rng(rng, seed)

    def draw(shape):
        z = g.standard_normal(shape)
        bad = (z < lo) | (z > hi)
        while bad.any():
            z[bad] = g.standard_normal(int(bad.sum()))
            bad = (z < lo) | (z > hi)
        return mean + std * z

    return _fill(tensor, "trunc_normal_", draw)


def constant_(tensor, val):
    """Fill with `val`."""
    return _fill(tensor, "constant_", lambda shape: val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """A 2-D identity (ones on the diagonal of a rectangular array too)."""
    arr = _array(tensor, "eye_")
    if arr.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D array, got shape {arr.shape}")
    return _fill(tensor, "eye_", lambda shape: np.eye(*shape))


def orthogonal_(tensor, gain=1.0, *, rng=None, seed=None):
    """A (semi-)orthogonal matrix times `gain` (Saxe et al. 2013), PyTorch's construction:
    the Q of a QR decomposition of a normal matrix, signs fixed by R's diagonal; an array
    of more than 2 dimensions is treated as (shape[0], rest)."""
    arr = _array(tensor, "orthogonal_")
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {arr.shape}")
    if arr.size == 0:
        return tensor
    g = make_rng(rng, seed)
    rows = arr.shape[0]
    cols = arr.size // rows

    def draw(shape):
        flat = g.standard_normal((rows, cols))
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (gain * q).reshape(shape)

    return _fill(tensor, "orthogonal_", draw)


def xavier_uniform_(tensor, gain=1.0, *, rng=None, seed=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor, "xavier_uniform_").shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    g = make_rng(rng, seed)
    return _fill(tensor, "xavier_uniform_", lambda shape: g.uniform(-a, a, shape))


def xavier_normal_(tensor, gain=1.0, *, rng=None, seed=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor, "xavier_normal_").shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    g = make_rng(rng, seed)
    return _fill(tensor, "xavier_normal_", lambda shape: std * g.standard_normal(shape))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng=None,
                     seed=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al. 2015); gain from
    `calculate_gain(nonlinearity, a)`, fan the fan_in or fan_out (`mode`)."""
    fan = _fan(tensor, mode, "kaiming_uniform_")
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    g = make_rng(rng, seed)
    return _fill(tensor, "kaiming_uniform_", lambda shape: g.uniform(-bound, bound, shape))


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng=None,
                    seed=None):
    """N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015)."""
    fan = _fan(tensor, mode, "kaiming_normal_")
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    g = make_rng(rng, seed)
    return _fill(tensor, "kaiming_normal_", lambda shape: std * g.standard_normal(shape))
