"""Linear and Embedding (initialised as the book's Affine and Embedding unless told
otherwise), and the small layers Identity, Flatten and Dropout."""
from __future__ import annotations

import math

import numpy as np

from .. import functions as F
from . import init as _init
from .init import make_rng
from .module import Module, Parameter

__all__ = ["Linear", "Embedding", "Identity", "Flatten", "Dropout", "make_rng", "INITS"]


def _normal(rng, shape, divisor, dtype):
    """The book's `randn(*shape) / divisor`, drawn in float64 and cast to `dtype`."""
    return (rng.standard_normal(shape) / divisor).astype(dtype)


# The named weight initialisations a layer's `init` takes besides "book" and "torch" (each
# fills W, laid out (fan_in, fan_out), in place; the bias starts at zero).
INITS = {
    "xavier_uniform": _init.xavier_uniform_,
    "xavier_normal": _init.xavier_normal_,
    "kaiming_uniform": lambda W, rng: _init.kaiming_uniform_(W, nonlinearity="relu", rng=rng),
    "kaiming_normal": lambda W, rng: _init.kaiming_normal_(W, nonlinearity="relu", rng=rng),
}


def _initialised(shape, dtype, init, rng, who):
    """A Parameter of `shape` filled by a named init or a callable ``init(W, rng)``."""
    W = Parameter(np.zeros(shape, dtype))
    if callable(init):
        init(W, rng)
    elif init in INITS:
        INITS[init](W, rng=rng)
    else:
        raise ValueError(f"{who}: init must be 'book', 'torch', one of "
                         f"{', '.join(map(repr, INITS))} or a callable init(W, rng); got "
                         f"{init!r}")
    if W.shape != tuple(shape) or W.dtype != dtype:
        raise ValueError(f"{who}: the init callable changed W to {W.shape} {W.dtype} "
                         f"(expected {tuple(shape)} {np.dtype(dtype)}); fill it in place")
    return W


class Linear(Module):
    """``y = x @ W + b`` with ``W (in, out)`` (the book's Affine / TimeAffine).

    ``x`` may have any number of leading axes; (N, T, in) goes through one matmul.

    init  "book" (default): ``W ~ N(0, 1) / sqrt(in)``, ``b = 0``, the book's Affine.
          "torch": PyTorch's nn.Linear, ``W, b ~ U(-1/sqrt(in), 1/sqrt(in))``.
          "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal" (gain of
          relu, fan_in): the `nn.init` function of that name on W, ``b = 0``.
          A callable ``init(W, rng)`` filling the Parameter W in place (``lambda W, rng:
          nn.init.xavier_uniform_(W, gain=2.0, rng=rng)``), ``b = 0``.
    Every draw comes from `rng` (or a Generator from `seed`) in float64, cast to `dtype`.
    """

    def __init__(self, in_features, out_features, *, bias=True, dtype=np.float32, init="book",
                 rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.in_features, self.out_features = in_features, out_features
        shape = (in_features, out_features)
        b = np.zeros(out_features, dtype)
        if isinstance(init, str) and init == "book":
            W = Parameter(_normal(rng, shape, np.sqrt(in_features), dtype))
        elif isinstance(init, str) and init == "torch":
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
            W = Parameter(rng.uniform(-bound, bound, shape).astype(dtype))
            if bias:
                b = rng.uniform(-bound, bound, out_features).astype(dtype)
        else:
            W = _initialised(shape, dtype, init, rng, "Linear")
        self.W = W
        self.b = Parameter(b) if bias else None

    def forward(self, x):
        y = x @ self.W
        return y + self.b if self.b is not None else y


class Embedding(Module):
    """``W[ids]``: integer ids of any shape -> ids.shape + (D,).

    init  "book" (default): ``W ~ N(0, 1) / 100``, the book's Embedding. "torch":
          ``W ~ N(0, 1)``, PyTorch's nn.Embedding. A name of `Linear`'s or a callable
          ``init(W, rng)`` as there (W is (vocab_size, D): fan_in is vocab_size).
    """

    def __init__(self, vocab_size, embed_size, *, dtype=np.float32, init="book", rng=None,
                 seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        shape = (vocab_size, embed_size)
        if isinstance(init, str) and init in ("book", "torch"):
            self.W = Parameter(_normal(rng, shape, 100 if init == "book" else 1, dtype))
        else:
            self.W = _initialised(shape, dtype, init, rng, "Embedding")

    def forward(self, ids):
        return F.embedding(self.W, ids)


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. where a layer is switched off)."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge the axes `start_dim` .. `end_dim` (inclusive) into one: (N, C, L) -> (N, C*L)
    with the defaults 1 and -1, as PyTorch's nn.Flatten."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        shape = x.shape
        n = len(shape)
        s = self.start_dim + n if self.start_dim < 0 else self.start_dim
        e = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if not (0 <= s < n and 0 <= e < n) or s > e:
            raise ValueError(f"Flatten: start_dim {self.start_dim} and end_dim "
                             f"{self.end_dim} do not select axes of an input of shape "
                             f"{shape}")
        return F.reshape(x, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


class Dropout(Module):
    """`F.dropout` with probability `p`, drawing masks from its own Generator, in training
    mode (``module.train()``, the default); the identity in evaluation mode
    (``module.eval()``; decoding switches to it) and when p == 0."""

    def __init__(self, p=0.0, *, rng=None, seed=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = make_rng(rng, seed)

    def forward(self, x):
        return F.dropout(x, self.p, self.rng, training=self.training) if self.p else x
