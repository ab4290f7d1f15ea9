"""Deep attention seq2seq: L stacked LSTM layers with residual connections (the book, ch. 8,
section 8.4.3).

    Encoder:  hs_enc, (h^1 .. h^L) = StackedLSTM_L(Embed(xs))       (N, Te, H)
    Decoder:  hs_dec = StackedLSTM_L(Embed(ts_in); layer l from h^l, c = 0)
              a = softmax(hs_dec @ hs_enc^T),  c = a @ hs_enc       attention on top
              scores = Affine(concat(c, hs_dec))                    W (2H, V)

Layer l >= 2 adds its input to its output (``x_{l+1} = LSTM_l(x_l) + x_l``); the layers all
have width H, the first reads the D-wide embedding and has no skip. Each decoder layer starts
from the final h of the encoder layer at its height, as the book's decoder starts from the
encoder's (one layer). With ``num_layers=1`` this is exactly `attention` (a test proves it).
Training is batched over time as `attention`: no per-step loop.
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn.functions as F
from tinygrad_attn import nn

from .seq2seq import Seq2seqBase, _ids

__all__ = ["DeepEncoder", "DeepDecoder", "DeepSeq2seq"]


class DeepEncoder(nn.Module):
    """``forward(xs) -> (hs_top (N, Te, H), (h^1, .., h^L))``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, num_layers, *, rng,
                 dtype=np.float32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, wordvec_size, rng=rng, dtype=dtype)
        self.lstm = nn.StackedLSTM(wordvec_size, hidden_size, num_layers, rng=rng,
                                   dtype=dtype)

    def forward(self, xs):
        hs, finals = self.lstm(self.embed(xs))
        return hs, tuple(h for h, _ in finals)


class DeepDecoder(nn.Module):
    """``forward(ids (N, T), hs_enc, *h0s, state=None) -> (scores, per-layer (h, c),
    {"attention": (N, T, Te)})``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, num_layers, *, rng,
                 dtype=np.float32):
        super().__init__()
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = nn.Embedding(V, D, rng=rng, dtype=dtype)
        self.lstm = nn.StackedLSTM(D, H, num_layers, rng=rng, dtype=dtype)
        self.attention = nn.Attention()
        self.affine = nn.Linear(2 * H, V, rng=rng, dtype=dtype)

    def forward(self, ids, hs_enc, *h0s, state=None):
        if state is None:
            state = tuple((h, None) for h in h0s)
        hs_dec, state = self.lstm(self.embed(ids), state)
        c, a = self.attention(hs_enc, hs_dec)
        return self.affine(F.concat([c, hs_dec], axis=-1)), state, {"attention": a}


class DeepSeq2seq(Seq2seqBase):
    """``DeepSeq2seq(V, D, H, num_layers=2)``; ``encode(xs) -> (hs_enc, h^1, .., h^L)``."""

    kind = "deep"

    def __init__(self, vocab_size, wordvec_size=16, hidden_size=256, *, num_layers=2,
                 seed=None, dtype=np.float32):
        nn.Module.__init__(self)
        self.vocab_size, self.wordvec_size, self.hidden_size = vocab_size, wordvec_size, \
            hidden_size
        self.num_layers = num_layers
        rng = np.random.default_rng(seed)
        args = (vocab_size, wordvec_size, hidden_size, num_layers)
        self.encoder = DeepEncoder(*args, rng=rng, dtype=dtype)
        self.decoder = DeepDecoder(*args, rng=rng, dtype=dtype)

    def config(self):
        return {**super().config(), "num_layers": self.num_layers}

    def encode(self, xs):
        hs, h0s = self.encoder(_ids(xs, "encode: xs"))
        return (hs, *h0s)
