"""Dot-product attention (chapter 8): the book's AttentionWeight and WeightSum as functions,
and `Attention`, every decoder step at once."""
from __future__ import annotations

from .. import functions as F
from .module import Module

__all__ = ["Attention", "attention_weight", "weight_sum"]


def attention_weight(hs, h):
    """The book's AttentionWeight: ``a = softmax_t(hs[n, t] . h[n])``.

    ``hs (N, Te, H)`` with ``h (N, H)`` -> ``a (N, Te)``; or with all decoder steps at once,
    ``h (N, Td, H)`` -> ``a (N, Td, Te)``: scores ``h @ hs^T``, softmax over encoder steps.
    """
    if h.ndim == 2:
        scores = F.squeeze(hs @ F.expand_dims(h, -1), -1)   # (N, Te, H) @ (N, H, 1)
    else:
        scores = h @ F.swapaxes(hs, 1, 2)                   # (N, Td, H) @ (N, H, Te)
    return F.softmax(scores, axis=-1)


def weight_sum(hs, a):
    """The book's WeightSum: ``c[n] = sum_t a[n, t] * hs[n, t]``.

    ``a (N, Te)`` -> ``c (N, H)``; ``a (N, Td, Te)`` -> ``c (N, Td, H)`` (``a @ hs``).
    """
    if a.ndim == 2:
        return F.squeeze(F.expand_dims(a, 1) @ hs, 1)       # (N, 1, Te) @ (N, Te, H)
    return a @ hs


class Attention(Module):
    """Dot-product attention of the decoder states over the encoder states.

    ``forward(hs_enc (N, Te, H), hs_dec (N, Td, H)) -> (context (N, Td, H), weights
    (N, Td, Te))``, every decoder step at once (the book's TimeAttention without its loop);
    ``hs_dec (N, H)`` gives one step, ``(N, H)`` and ``(N, Te)`` (the book's Attention).
    The weights are returned, as a Variable, for plotting or for a loss of their own.
    """

    def forward(self, hs_enc, hs_dec):
        a = attention_weight(hs_enc, hs_dec)
        return weight_sum(hs_enc, a), a
