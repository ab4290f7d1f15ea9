"""GNMT-like seq2seq (Wu et al. 2016, as the book summarises it in ch. 8, section 8.5.1).

    Encoder (L layers):  x1 = BiLSTM(Embed(xs))                 (N, Te, 2H)  bidirectional first
                         hs_enc = StackedLSTM_{L-1}(x1)          2H -> H, then residual H -> H
    Decoder (L layers):  y1 = LSTM_bottom(Embed(ts_in))          the bottom layer
                         a = softmax(y1 @ hs_enc^T), c = a @ hs_enc     attention from the bottom
                         top = StackedLSTM_{L-1}(y1, extra=c)    every upper layer reads
                                                                 concat(its input, c); residual
                                                                 from the third layer on
                         scores = Affine(top)                    W (H, V)

As GNMT: the bidirectional layer only at the bottom of the encoder; residual connections
from the third layer up in both stacks (the first two change the width); the attention is
computed from the bottom decoder layer and its context fed to all the other decoder layers;
the softmax reads the top layer. Since the bottom layer does not depend on the attention,
training stays batched over time (no per-step loop), which is why GNMT wires it so.
Initial states: the decoder's bottom layer starts from the encoder's backward direction's
final h (it has read the whole input), each upper layer from the final h of the encoder
layer at its height (c = 0 everywhere, as the book). Simplification: the book's dot-product
attention, not GNMT's additive one.
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import nn

from .seq2seq import Seq2seqBase, _ids

__all__ = ["GNMTEncoder", "GNMTDecoder", "GNMTSeq2seq"]


class GNMTEncoder(nn.Module):
    """``forward(xs) -> (hs_enc (N, Te, H), (backward h, h^2, .., h^L))``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, num_layers, *, rng,
                 dtype=np.float32):
        super().__init__()
        H = hidden_size
        self.embed = nn.Embedding(vocab_size, wordvec_size, rng=rng, dtype=dtype)
        self.bi = nn.BiLSTM(wordvec_size, H, rng=rng, dtype=dtype)
        self.lstm = nn.StackedLSTM(2 * H, H, num_layers - 1, rng=rng, dtype=dtype)

    def forward(self, xs):
        x1, (_, (h_b, _)) = self.bi(self.embed(xs))
        hs, finals = self.lstm(x1)
        return hs, (h_b, *(h for h, _ in finals))


class GNMTDecoder(nn.Module):
    """``forward(ids (N, T), hs_enc, *h0s, state=None) -> (scores, (bottom (h, c),
    upper layers' (h, c)), {"attention": (N, T, Te)})``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, num_layers, *, rng,
                 dtype=np.float32):
        super().__init__()
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = nn.Embedding(V, D, rng=rng, dtype=dtype)
        self.bottom = nn.LSTM(D, H, rng=rng, dtype=dtype)
        self.attention = nn.Attention()
        self.lstm = nn.StackedLSTM(H, H, num_layers - 1, extra_size=H, rng=rng, dtype=dtype)
        self.affine = nn.Linear(H, V, rng=rng, dtype=dtype)

    def forward(self, ids, hs_enc, h_bottom, *h_upper, state=None):
        if state is None:
            state = ((h_bottom, None), tuple((h, None) for h in h_upper))
        y1, s_bottom = self.bottom(self.embed(ids), state[0])
        c, a = self.attention(hs_enc, y1)
        top, s_upper = self.lstm(y1, state[1], extra=c)
        return self.affine(top), (s_bottom, s_upper), {"attention": a}


class GNMTSeq2seq(Seq2seqBase):
    """``GNMTSeq2seq(V, D, H, num_layers=3)`` (L >= 2 layers in encoder and decoder);
    ``encode(xs) -> (hs_enc, backward h, h^2, .., h^L)``."""

    kind = "gnmt"

    def __init__(self, vocab_size, wordvec_size=16, hidden_size=256, *, num_layers=3,
                 seed=None, dtype=np.float32):
        if int(num_layers) != num_layers or num_layers < 2:
            raise ValueError(f"GNMTSeq2seq: num_layers must be an integer >= 2 (a "
                             f"bidirectional layer and at least one above), got {num_layers!r}")
        nn.Module.__init__(self)
        self.vocab_size, self.wordvec_size, self.hidden_size = vocab_size, wordvec_size, \
            hidden_size
        self.num_layers = int(num_layers)
        rng = np.random.default_rng(seed)
        args = (vocab_size, wordvec_size, hidden_size, self.num_layers)
        self.encoder = GNMTEncoder(*args, rng=rng, dtype=dtype)
        self.decoder = GNMTDecoder(*args, rng=rng, dtype=dtype)

    def config(self):
        return {**super().config(), "num_layers": self.num_layers}

    def encode(self, xs):
        hs, h0s = self.encoder(_ids(xs, "encode: xs"))
        return (hs, *h0s)
