"""Peeky seq2seq (chapter 7): the encoder's h is also "peeked at" by every decoder step.

    h_rep  = h repeated over the Td steps                          (N, Td, H)
    hs_dec = LSTM(concat(h_rep, Embed(ts_in)); h0 = h, c0 = 0)      Wx (H + D, 4H)
    scores = Affine(concat(h_rep, hs_dec))                          W (2H, V)
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn.functions as F
from tinygrad_attn import nn

from .seq2seq import Seq2seqBase

__all__ = ["PeekyDecoder", "PeekySeq2seq"]


class PeekyDecoder(nn.Module):
    """``forward(ids (N, T), h, state=None) -> (scores (N, T, V), state, {})``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, rng, dtype=np.float32):
        super().__init__()
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = nn.Embedding(V, D, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(H + D, H, rng=rng, dtype=dtype)
        self.affine = nn.Linear(2 * H, V, rng=rng, dtype=dtype)

    def forward(self, ids, h, state=None):
        N, T = ids.shape
        if state is None:
            state = (h, None)                                    # h0 = h, c0 = 0
        h_rep = F.broadcast_to(F.expand_dims(h, 1), (N, T, h.shape[-1]))
        hs, state = self.lstm(F.concat([h_rep, self.embed(ids)], axis=-1), state)
        return self.affine(F.concat([h_rep, hs], axis=-1)), state, {}


class PeekySeq2seq(Seq2seqBase):
    kind = "peeky"
    decoder_class = PeekyDecoder
