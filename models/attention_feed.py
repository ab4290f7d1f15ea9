"""Attention seq2seq with input feeding (the book, ch. 8, section 8.4.2: where the
Attention layer's output goes).

The context vector of step t-1 is fed into step t's LSTM input, as well as (as in
`attention`) into step t's Affine:

    x_t    = concat(Embed(y_{t-1}), c_{t-1})              c_{-1} = 0;  Wx (D + H, 4H)
    h_t    = LSTM step(x_t; h_{t-1}, c_lstm)               h_{-1} = the encoder's last h
    a_t    = softmax(hs_enc h_t),  c_t = a_t hs_enc        (N, Te), (N, H)
    scores = Affine(concat(c_t, h_t))                      W (2H, V), all steps at once

So the LSTM knows what it attended to before (e.g. which input positions it has already
covered). The price: step t's input depends on step t-1's attention, so training runs the
decoder step by step (batched over N) where `attention` attends to all Td steps in one
matmul. The per-step loop costs what docs/results.md (further RNN structures) measures.
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import nn

from .seq2seq import Seq2seqBase, _ids

__all__ = ["FeedDecoder", "AttentionFeedSeq2seq"]


class FeedDecoder(nn.Module):
    """``forward(ids (N, T), hs_enc, h, state=None) -> (scores (N, T, V), (h, c, context),
    {"attention": (N, T, Te)})``; the state carries the last context to feed."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, rng, dtype=np.float32):
        super().__init__()
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = nn.Embedding(V, D, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(D + H, H, rng=rng, dtype=dtype)
        self.attention = nn.Attention()
        self.affine = nn.Linear(2 * H, V, rng=rng, dtype=dtype)

    def forward(self, ids, hs_enc, h, state=None):
        if state is None:                                 # h0 = encoder's h, c0 = 0, ctx = 0
            zeros = np.zeros((ids.shape[0], hs_enc.shape[-1]), hs_enc.dtype)
            state = (h, None, tga.Variable(zeros, requires_grad=False))
        h, c, ctx = state
        lstm = self.lstm
        hs, cs, ws = [], [], []
        for e_t in F.unstack(self.embed(ids), axis=1):
            # one product per step with the whole Wx (a leaf), so the engine sums the
            # per-step weight products as one
            h, c = lstm.cell(F.concat([e_t, ctx], axis=-1) @ lstm.Wx + lstm.b, h, c)
            ctx, a = self.attention(hs_enc, h)           # (N, H), (N, Te)
            hs.append(h), cs.append(ctx), ws.append(a)
        hs, cs = F.stack(hs, axis=1), F.stack(cs, axis=1)
        scores = self.affine(F.concat([cs, hs], axis=-1))
        return scores, (h, c, ctx), {"attention": F.stack(ws, axis=1)}


class AttentionFeedSeq2seq(Seq2seqBase):
    """The book's encoder; `FeedDecoder`. ``encode(xs) -> (hs_enc, h)``."""

    kind = "attention-feed"
    decoder_class = FeedDecoder

    def encode(self, xs):
        return self.encoder(_ids(xs, "encode: xs"))

