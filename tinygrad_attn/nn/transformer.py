"""Transformer layers (Vaswani et al. 2017), forward code only.

    LayerNorm             (x - mean) / sqrt(var + eps) * gamma + beta over the last axis
    MultiHeadAttention    every head and every query step in one batched matmul
    PositionalEncoding    the sinusoidal table added to the embeddings
    FeedForward           Linear -> relu (or gelu) -> Linear, position-wise
    Dropout               (nn/layers.py) F.dropout in training mode, the identity in eval
    TransformerEncoderLayer / TransformerDecoderLayer   pre-norm residual blocks

Pre-norm (x + Sublayer(LayerNorm(x)), Xiong et al. 2020, "On Layer Normalization in the
Transformer Architecture"), not the original post-norm LayerNorm(x + Sublayer(x)): the
residual path from the output back to the embeddings is then the identity, so gradients
reach every layer at the same scale at initialisation and Adam trains it at a constant
learning rate without the warm-up schedule post-norm needs. The price is one final
LayerNorm after the last layer (the models add it).

Every forward returns the attention weights it computed (no stashed attributes).
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .layers import Dropout, Linear, make_rng
from .module import Module, Parameter

__all__ = ["LayerNorm", "MultiHeadAttention", "PositionalEncoding", "FeedForward", "Dropout",
           "TransformerEncoderLayer", "TransformerDecoderLayer", "sinusoids"]


class LayerNorm(Module):
    """Normalise over the last axis (size `d`), then scale by ``gamma`` (init 1) and shift
    by ``beta`` (init 0)."""

    def __init__(self, d, *, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.eps = eps
        self.gamma = Parameter(np.ones(d, dtype))
        self.beta = Parameter(np.zeros(d, dtype))

    def forward(self, x):
        return F.layer_norm(x, self.gamma, self.beta, eps=self.eps)


class MultiHeadAttention(Module):
    """Scaled dot-product attention with `num_heads` heads of size d_model / num_heads.

    ``forward(query (N, Tq, D), memory (N, Tk, D), mask=None) -> (out (N, Tq, D),
    weights (N, heads, Tq, Tk))``. `mask` (bool, broadcasting to (N, heads, Tq, Tk)) is True
    where a query may NOT look (padding, future steps): those weights are exactly 0.

        Q, K, V = query Wq, memory Wk, memory Wv         split into heads: (N, h, T, d_k)
        A = softmax(Q K^T / sqrt(d_k))                   (N, h, Tq, Tk), one batched matmul
        out = concat_heads(A V) Wo

    The heads are an axis of one array: no Python loop over heads or steps.
    """

    def __init__(self, d_model, num_heads, *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"MultiHeadAttention: d_model {d_model} is not divisible by "
                             f"num_heads {num_heads}")
        rng = make_rng(rng, seed)
        self.d_model, self.num_heads = d_model, num_heads
        self.q = Linear(d_model, d_model, dtype=dtype, rng=rng)
        self.k = Linear(d_model, d_model, dtype=dtype, rng=rng)
        self.v = Linear(d_model, d_model, dtype=dtype, rng=rng)
        self.out = Linear(d_model, d_model, dtype=dtype, rng=rng)

    def _heads(self, x):
        N, T, _ = x.shape
        return F.transpose(F.reshape(x, N, T, self.num_heads, -1), 0, 2, 1, 3)

    def forward(self, query, memory, mask=None):
        N, Tq, D = query.shape
        q, k, v = self._heads(self.q(query)), self._heads(self.k(memory)), \
            self._heads(self.v(memory))
        scores = (q @ F.swapaxes(k, -1, -2)) * (1.0 / np.sqrt(D // self.num_heads))
        a = F.softmax(scores, -1) if mask is None else F.masked_softmax(scores, mask, -1)
        ctx = F.reshape(F.transpose(a @ v, 0, 2, 1, 3), N, Tq, D)
        return self.out(ctx), a


def sinusoids(length, d, offset=0):
    """The sinusoidal table (length, d): PE[p, 2i] = sin(p / 10000^(2i/d)),
    PE[p, 2i+1] = cos(p / 10000^(2i/d)), positions offset .. offset + length - 1."""
    pos = np.arange(offset, offset + length, dtype=np.float64)[:, None]
    rate = 10000.0 ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    pe = np.zeros((length, d))
    pe[:, 0::2] = np.sin(pos * rate)
    pe[:, 1::2] = np.cos(pos * rate)[:, : d // 2]
    return pe


class PositionalEncoding(Module):
    """``forward(x (N, T, d)) -> x + PE[:T]``: the fixed sinusoidal table (no parameters),
    so any length works, including lengths never seen in training."""

    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        return x + sinusoids(x.shape[1], self.d).astype(x.dtype)


class FeedForward(Module):
    """Position-wise ``Linear(d, ff) -> activation -> Linear(ff, d)``; activation "relu"
    (the original Transformer's) or "gelu"."""

    def __init__(self, d, ff, activation="relu", *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"FeedForward: activation must be 'relu' or 'gelu', got "
                             f"{activation!r}")
        rng = make_rng(rng, seed)
        self.activation = activation
        self.fc1 = Linear(d, ff, dtype=dtype, rng=rng)
        self.fc2 = Linear(ff, d, dtype=dtype, rng=rng)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(F.relu(h) if self.activation == "relu" else F.gelu(h))


class TransformerEncoderLayer(Module):
    """Pre-norm: ``x += SelfAttention(LN(x)); x += FeedForward(LN(x))``.

    ``forward(x (N, T, d), mask=None) -> (x, weights (N, heads, T, T))``; `mask` as in
    `MultiHeadAttention` (the encoder's padding mask).
    """

    def __init__(self, d_model, num_heads, ff_size, *, dropout=0.0, activation="relu",
                 dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.attn = MultiHeadAttention(d_model, num_heads, dtype=dtype, rng=rng)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.ff = FeedForward(d_model, ff_size, activation, dtype=dtype, rng=rng)
        self.drop = Dropout(dropout, rng=rng)

    def forward(self, x, mask=None):
        h = self.norm1(x)
        a, weights = self.attn(h, h, mask)
        x = x + self.drop(a)
        x = x + self.drop(self.ff(self.norm2(x)))
        return x, weights


class TransformerDecoderLayer(Module):
    """Pre-norm: ``x += SelfAttention(LN(x), causal + padding mask);
    x += CrossAttention(LN(x), memory, memory's padding mask); x += FeedForward(LN(x))``.

    ``forward(x (N, T, d), memory (N, Te, d), self_mask=None, memory_mask=None) ->
    (x, self_weights (N, heads, T, T), cross_weights (N, heads, T, Te))``.
    """

    def __init__(self, d_model, num_heads, ff_size, *, dropout=0.0, activation="relu",
                 dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.self_attn = MultiHeadAttention(d_model, num_heads, dtype=dtype, rng=rng)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dtype=dtype, rng=rng)
        self.norm3 = LayerNorm(d_model, dtype=dtype)
        self.ff = FeedForward(d_model, ff_size, activation, dtype=dtype, rng=rng)
        self.drop = Dropout(dropout, rng=rng)

    def forward(self, x, memory, self_mask=None, memory_mask=None):
        h = self.norm1(x)
        a, self_weights = self.self_attn(h, h, self_mask)
        x = x + self.drop(a)
        c, cross_weights = self.cross_attn(self.norm2(x), memory, memory_mask)
        x = x + self.drop(c)
        x = x + self.drop(self.ff(self.norm3(x)))
        return x, self_weights, cross_weights
