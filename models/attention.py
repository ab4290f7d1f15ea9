"""Attention seq2seq (chapter 8): every decoder step looks at all encoder states.

    hs_enc, h = Encoder(xs)                                       (N, Te, H), h = hs_enc[:, -1]
    hs_dec = LSTM(Embed(ts_in); h0 = h, c0 = 0)                   (N, Td, H)
    a      = softmax over Te of (hs_dec @ hs_enc^T)               (N, Td, Te)
    c      = a @ hs_enc                                           (N, Td, H)
    scores = Affine(concat(c, hs_dec))                            W (2H, V)

All Td decoder steps attend in one batched matmul (no loop over decoder steps).
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn.functions as F
from tinygrad_attn import nn

from .seq2seq import Seq2seqBase, _ids

__all__ = ["AttentionDecoder", "AttentionSeq2seq"]


class AttentionDecoder(nn.Module):
    """``forward(ids (N, T), hs_enc, h, state=None) -> (scores (N, T, V), state,
    {"attention": a (N, T, Te)})``: the weights each step gave the encoder states."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, rng, dtype=np.float32):
        super().__init__()
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = nn.Embedding(V, D, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(D, H, rng=rng, dtype=dtype)
        self.attention = nn.Attention()
        self.affine = nn.Linear(2 * H, V, rng=rng, dtype=dtype)

    def forward(self, ids, hs_enc, h, state=None):
        if state is None:
            state = (h, None)                                    # h0 = hs_enc[:, -1], c0 = 0
        hs_dec, state = self.lstm(self.embed(ids), state)
        c, a = self.attention(hs_enc, hs_dec)
        return self.affine(F.concat([c, hs_dec], axis=-1)), state, {"attention": a}


class AttentionSeq2seq(Seq2seqBase):
    """`forward` and `decode` return the attention weights (N, Td, Te) among their extras."""

    kind = "attention"
    decoder_class = AttentionDecoder

    def encode(self, xs):
        hs_enc, h = self.encoder(_ids(xs, "encode: xs"))
        return hs_enc, h
