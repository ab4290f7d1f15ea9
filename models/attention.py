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
    """``forward(ids (N, T), hs_enc, h, state=None) -> (scores (N, T, V), state)``."""

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
        c = self.attention(hs_enc, hs_dec)
        return self.affine(F.concat([c, hs_dec], axis=-1)), state


class AttentionSeq2seq(Seq2seqBase):
    """``attention_weights``: ndarray (N, Td, Te) of the last forward / generate."""

    kind = "attention"
    decoder_class = AttentionDecoder

    def __init__(self, vocab_size, wordvec_size=16, hidden_size=256, *, seed=None,
                 dtype=np.float32):
        super().__init__(vocab_size, wordvec_size, hidden_size, seed=seed, dtype=dtype)
        self.attention_weights = None

    def encode(self, xs):
        hs_enc, h = self.encoder(xs)
        return hs_enc, h

    def forward(self, xs, ts_in):
        scores = super().forward(xs, ts_in)
        self.attention_weights = self.decoder.attention.weights
        return scores

    def generate(self, xs, start_id, length, *, batch_size=256):
        self._weights = []                          # per row block: (n, length, Te)
        out = super().generate(xs, start_id, length, batch_size=batch_size)
        Te = np.shape(xs)[1]
        self.attention_weights = (np.concatenate(self._weights) if self._weights else
                                  np.zeros((0, length, Te), self.decoder.affine.W.dtype))
        return out

    def _generate_rows(self, xs, start_id, length):
        steps = []                                  # each step's weights, (n, 1, Te)
        out = self._greedy(xs, start_id, length,
                           on_step=lambda: steps.append(self.decoder.attention.weights))
        n, Te = xs.shape
        self._weights.append(np.concatenate(steps, axis=1) if steps else
                             np.zeros((n, 0, Te), self.decoder.affine.W.dtype))
        return out
