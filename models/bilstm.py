"""Attention seq2seq with a bidirectional encoder (the book, ch. 8, section 8.4.1).

    hs2    = BiLSTM(Embed(xs))                          (N, Te, 2H): [forward h_t ; backward h_t]
    keys   = hs2 @ P                                    (N, Te, H),  P (2H, H), no bias
    h0     = [forward h_{Te-1} ; backward h_0] @ P      (N, H): both directions' final states
    then the attention decoder of `attention` (H wide) over ``keys``:
    hs_dec = LSTM(Embed(ts_in); h0, c0 = 0);  a = softmax(hs_dec @ keys^T);  c = a @ keys
    scores = Affine(concat(c, hs_dec))

How the 2H encoder fits the H decoder: one projection P, shared by the attention keys
(which are also the values) and the decoder's initial state, so the decoder and its
attention are exactly those of `attention` (H wide) and only the encoder doubles. The
alternative, a 2H-wide decoder, would quadruple the decoder's Wh.
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn.functions as F
from tinygrad_attn import nn

from .attention import AttentionDecoder
from .seq2seq import Seq2seqBase, _ids

__all__ = ["BiEncoder", "BiLSTMSeq2seq"]


class BiEncoder(nn.Module):
    """Embedding -> BiLSTM -> projection ``P (2H, H)``. ``forward(xs) -> (keys (N, Te, H),
    h0 (N, H))``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, rng, dtype=np.float32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, wordvec_size, rng=rng, dtype=dtype)
        self.lstm = nn.BiLSTM(wordvec_size, hidden_size, rng=rng, dtype=dtype)
        self.proj = nn.Linear(2 * hidden_size, hidden_size, bias=False, rng=rng, dtype=dtype)

    def forward(self, xs):
        hs, ((h_f, _), (h_b, _)) = self.lstm(self.embed(xs))
        return self.proj(hs), self.proj(F.concat([h_f, h_b], axis=-1))


class BiLSTMSeq2seq(Seq2seqBase):
    """`encode(xs) -> (keys, h0)`; the decoder is `AttentionDecoder`; extras
    ``{"attention": (N, Td, Te)}``."""

    kind = "bilstm"
    decoder_class = AttentionDecoder

    def __init__(self, vocab_size, wordvec_size=16, hidden_size=256, *, seed=None,
                 dtype=np.float32):
        nn.Module.__init__(self)
        self.vocab_size, self.wordvec_size, self.hidden_size = vocab_size, wordvec_size, \
            hidden_size
        rng = np.random.default_rng(seed)
        self.encoder = BiEncoder(vocab_size, wordvec_size, hidden_size, rng=rng, dtype=dtype)
        self.decoder = AttentionDecoder(vocab_size, wordvec_size, hidden_size, rng=rng,
                                        dtype=dtype)

    def encode(self, xs):
        return self.encoder(_ids(xs, "encode: xs"))
