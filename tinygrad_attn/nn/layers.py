"""Linear and Embedding, initialised as the book's Affine and Embedding."""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .module import Module, Parameter

__all__ = ["Linear", "Embedding", "make_rng"]


def make_rng(rng=None, seed=None):
    """A `numpy.random.Generator`: `rng` itself, or a new one from `seed`."""
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _normal(rng, shape, divisor, dtype):
    """The book's `randn(*shape) / divisor`, drawn in float64 and cast to `dtype`."""
    return (rng.standard_normal(shape) / divisor).astype(dtype)


class Linear(Module):
    """``y = x @ W + b`` with ``W (in, out)`` (the book's Affine / TimeAffine).

    ``x`` may have any number of leading axes; (N, T, in) goes through one matmul.
    Init: ``W ~ N(0, 1) / sqrt(in)``, ``b = 0``.
    """

    def __init__(self, in_features, out_features, *, bias=True, dtype=np.float32, rng=None,
                 seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.in_features, self.out_features = in_features, out_features
        self.W = Parameter(_normal(rng, (in_features, out_features),
                                   np.sqrt(in_features), dtype))
        self.b = Parameter(np.zeros(out_features, dtype)) if bias else None

    def forward(self, x):
        y = x @ self.W
        return y + self.b if self.b is not None else y


class Embedding(Module):
    """``W[ids]``: integer ids of any shape -> ids.shape + (D,). Init ``W ~ N(0, 1) / 100``."""

    def __init__(self, vocab_size, embed_size, *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.W = Parameter(_normal(rng, (vocab_size, embed_size), 100, dtype))

    def forward(self, ids):
        return F.embedding(self.W, ids)
