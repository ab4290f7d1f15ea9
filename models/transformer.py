"""Transformer encoder-decoder (Vaswani et al. 2017) on the model protocol, forward only.

    encoder:  x = Embed(xs) + PE;   N x pre-norm [self-attention (padding mask), feed-forward]
              memory = LayerNorm(x)                                          (N, Te, d)
    decoder:  y = Embed(prefix) + PE;  N x pre-norm [self-attention (causal + padding mask),
              cross-attention over memory (padding mask), feed-forward]
              scores = Linear(LayerNorm(y))                                  (N, Td, V)

Sizes: d_model = `hidden_size`; tokens are embedded with `wordvec_size` entries (unit
normal init) and projected to d_model by a Linear when the two differ (a factorised
embedding), so the protocol's two sizes keep their meaning. Heads (`num_heads`), layers
(`num_layers`, encoder and decoder each), feed-forward width (`ff_size`, default 4 d_model),
`dropout` (default 0; off in evaluation mode, which decoding switches to) and `pad_id` (None: nothing is padded,
as in the book's data, which pads with a real character) are constructor keywords.

Decoding. ``decode_step(ids, memory, state)`` keeps the ids decoded so far as its state
(an integer Variable (N, t): re-indexable along axis 0, so beam search works) and
recomputes the decoder over the whole prefix each step; the causal mask makes the result
for earlier positions identical to what they were, so only the new positions' scores are
returned. That costs O(t^2) per sequence, nothing for the short outputs here, and keeps the
decoder a single code path (no key/value cache to get wrong).

Extras (per decoded step, steps on axis 1):
    "attention"        (N, Td, Te): the LAST decoder layer's cross-attention averaged over
                       its heads: the map a heatmap shows (`Decoded.attention`)
    "cross_attention"  (N, Td, layers, heads, Te): every head of every layer
and from `forward` (teacher forcing) also
    "self_attention"   (N, Td, layers, heads, Td), "encoder_attention" (N, Te, layers,
                       heads, Te).
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import nn

from .seq2seq import Seq2seqBase, _ids

__all__ = ["Transformer", "TokenEmbedding"]


class TokenEmbedding(nn.Module):
    """``W[ids]`` with W (V, D) ~ N(0, 1), then a Linear to d_model when D != d_model.

    Unit variance (not the book's N(0, 1)/100): the sinusoidal positions added next have
    entries of size 1, and tokens must not start 100 times quieter than positions.
    """

    def __init__(self, vocab_size, wordvec_size, d_model, *, rng, dtype=np.float32):
        super().__init__()
        self.W = nn.Parameter(rng.standard_normal((vocab_size, wordvec_size)).astype(dtype))
        self.proj = None
        if wordvec_size != d_model:
            self.proj = nn.Linear(wordvec_size, d_model, bias=False, rng=rng, dtype=dtype)

    def forward(self, ids):
        x = F.embedding(self.W, ids)
        return x if self.proj is None else self.proj(x)


class Transformer(nn.Module):
    """The encoder-decoder Transformer; see the module docstring."""

    kind = "transformer"

    def __init__(self, vocab_size, wordvec_size=16, hidden_size=256, *, seed=None,
                 dtype=np.float32, num_layers=2, num_heads=4, ff_size=None, dropout=0.0,
                 pad_id=None, activation="relu"):
        super().__init__()
        V, D, d = vocab_size, wordvec_size, hidden_size
        ff_size = 4 * d if ff_size is None else ff_size
        self._config = {"vocab_size": V, "wordvec_size": D, "hidden_size": d,
                        "num_layers": num_layers, "num_heads": num_heads, "ff_size": ff_size,
                        "dropout": dropout, "pad_id": pad_id, "activation": activation}
        self.pad_id = pad_id
        rng = np.random.default_rng(seed)
        kw = dict(dropout=dropout, activation=activation, dtype=dtype, rng=rng)
        self.src_embed = TokenEmbedding(V, D, d, rng=rng, dtype=dtype)
        self.tgt_embed = TokenEmbedding(V, D, d, rng=rng, dtype=dtype)
        self.positions = nn.PositionalEncoding(d)
        self.drop = nn.Dropout(dropout, rng=rng)
        for i in range(num_layers):
            setattr(self, f"encoder{i}", nn.TransformerEncoderLayer(d, num_heads, ff_size, **kw))
        self.encoder_norm = nn.LayerNorm(d, dtype=dtype)
        for i in range(num_layers):
            setattr(self, f"decoder{i}", nn.TransformerDecoderLayer(d, num_heads, ff_size, **kw))
        self.decoder_norm = nn.LayerNorm(d, dtype=dtype)
        self.out = nn.Linear(d, V, rng=rng, dtype=dtype)
        self.num_layers = num_layers

    def config(self):
        """The constructor's keywords (JSON-able): ``Transformer(**config())`` rebuilds it."""
        return dict(self._config)

    def _mask(self, ids):
        return None if self.pad_id is None else F.padding_mask(ids, self.pad_id)

    # --- the protocol -----------------------------------------------------------------------
    def _encode(self, xs):
        xs = _ids(xs, "encode: xs")
        mask = self._mask(xs)
        x = self.drop(self.positions(self.src_embed(xs)))
        maps = []
        for i in range(self.num_layers):
            x, w = getattr(self, f"encoder{i}")(x, mask)
            maps.append(w)
        memory = (self.encoder_norm(x),)
        if mask is not None:
            memory += (tga.Variable(mask[:, 0, 0], requires_grad=False),)
        return memory, maps

    def encode(self, xs):
        """``memory = (encoder output (N, Te, d),)``, plus the source's padding (N, Te) bool
        when `pad_id` is set."""
        return self._encode(xs)[0]

    def _decode(self, ids, memory, state):
        ids = _ids(ids, "decode_step: ids")
        prefix = ids if state is None else np.concatenate([state[0].data, ids], axis=1)
        T, new = prefix.shape[1], ids.shape[1]
        self_mask = F.causal_mask(T)
        if self.pad_id is not None:
            self_mask = self_mask | F.padding_mask(prefix, self.pad_id)
        memory_mask = None if len(memory) == 1 else memory[1].data[:, None, None, :]
        y = self.drop(self.positions(self.tgt_embed(prefix)))
        selfs, crosses = [], []
        for i in range(self.num_layers):
            y, ws, wc = getattr(self, f"decoder{i}")(y, memory[0], self_mask, memory_mask)
            selfs.append(ws)
            crosses.append(wc[:, :, T - new:])                     # the new steps' maps
        y = self.decoder_norm(y[:, T - new:] if new < T else y)
        cross = F.transpose(F.stack(crosses, 1), 0, 3, 1, 2, 4)    # (N, new, L, h, Te)
        extras = {"attention": F.mean(crosses[-1], axis=1), "cross_attention": cross}
        state = (tga.Variable(prefix, requires_grad=False),)
        return self.out(y), state, extras, selfs

    def decode_step(self, ids, memory, state):
        """Scores of the next token after each of `ids` (N, n): ``(scores (N, n, V), state,
        extras)``; the state is the prefix decoded so far (see the module docstring)."""
        scores, state, extras, _ = self._decode(ids, memory, state)
        return scores, state, extras

    def forward(self, xs, ts_in):
        """``(scores (N, Td, V), extras)`` with teacher forcing; the extras also hold the
        decoder's and the encoder's self-attention of every head and layer."""
        memory, enc_maps = self._encode(xs)
        scores, _, extras, selfs = self._decode(ts_in, memory, None)
        extras["self_attention"] = F.transpose(F.stack(selfs, 1), 0, 3, 1, 2, 4)
        extras["encoder_attention"] = F.transpose(F.stack(enc_maps, 1), 0, 3, 1, 2, 4)
        return scores, extras

    def loss(self, xs, ts):
        """Mean cross-entropy of ``ts[:, 1:]`` given xs and ``ts[:, :-1]`` (pad targets
        ignored when `pad_id` is set)."""
        ts = _ids(ts, "loss: ts")
        scores, _ = self(xs, ts[:, :-1])
        return F.softmax_cross_entropy(scores, ts[:, 1:], axis=-1, ignore_index=self.pad_id)

    # decoding is the protocol's, shared with the RNN models (greedy, and beam search
    # wherever Seq2seqBase.decode offers it)
    decode = Seq2seqBase.decode
    generate = Seq2seqBase.generate
