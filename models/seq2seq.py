"""Seq2seq (chapter 7 of the book), and what the three models share.

    Encoder:  hs = LSTM(Embed(xs))                        hs (N, Te, H), h = hs[:, -1]
    Decoder:  scores = Affine(LSTM(Embed(ts_in); h0 = h, c0 = 0))     (N, Td, V)
    loss      = mean cross-entropy(scores, ts[:, 1:]),  ts_in = ts[:, :-1]  (teacher forcing)

Forward code only: the gradients come from the tape.
"""
from __future__ import annotations

import numpy as np

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import decoding, nn

__all__ = ["Seq2seqBase", "Encoder", "Decoder", "Seq2seq"]


def _ids(x, what):
    """Token ids as an integer ndarray (a Variable's data, or any array-like)."""
    arr = x.data if isinstance(x, tga.Variable) else np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what}: token ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{what}: expected token ids of shape (N, T), got {arr.shape}")
    return arr


class Encoder(nn.Module):
    """Embedding -> LSTM (from h = c = 0). ``forward(xs (N, Te)) -> (hs (N, Te, H), h (N, H))``:
    every hidden state and the last one (the plain models use only ``h``)."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, rng, dtype=np.float32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, wordvec_size, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(wordvec_size, hidden_size, rng=rng, dtype=dtype)

    def forward(self, xs):
        hs, (h, _) = self.lstm(self.embed(xs))
        return hs, h


class Decoder(nn.Module):
    """Embedding -> LSTM (starting from the encoder's h, c = 0) -> Linear(H, V).

    ``forward(ids (N, T), h, state=None) -> (scores (N, T, V), state, extras)``; ``state``
    is the LSTM's ``(h, c)`` to continue from (None: start from ``h``), so decoding can
    feed one step at a time through the same code; ``extras`` (here empty) holds whatever
    else a decoder produces, e.g. attention weights.
    """

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, rng, dtype=np.float32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, wordvec_size, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(wordvec_size, hidden_size, rng=rng, dtype=dtype)
        self.affine = nn.Linear(hidden_size, vocab_size, rng=rng, dtype=dtype)

    def forward(self, ids, h, state=None):
        if state is None:
            state = (h, None)                        # h0 = encoder's h, c0 = 0
        hs, state = self.lstm(self.embed(ids), state)
        return self.affine(hs), state, {}


class Seq2seqBase(nn.Module):
    """An encoder and a decoder, initialised as the book, following the model protocol
    (docs/protocol.md): `loss`, `encode` / `decode_step`, `decode` / `generate`, `config`,
    and the book's parameter list (`book_params`, `load_book_params`).

    Subclasses set `kind` and `decoder_class`; `encode(xs) -> memory` is the tuple handed to
    ``decoder(ids, *memory, state=...)``: the encoder's last h here, which the plain and
    peeky decoders need (the attention model overrides it to pass every hidden state).
    """

    kind = None
    decoder_class = None

    def __init__(self, vocab_size, wordvec_size=16, hidden_size=256, *, seed=None,
                 dtype=np.float32):
        super().__init__()
        self.vocab_size, self.wordvec_size, self.hidden_size = vocab_size, wordvec_size, \
            hidden_size
        # one generator, drawn in the book's order: encoder (embed, Wx, Wh), then decoder
        # (embed, Wx, Wh, affine W), so a seed gives the book's `init_params` exactly
        rng = np.random.default_rng(seed)
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.encoder = Encoder(V, D, H, rng=rng, dtype=dtype)
        self.decoder = self.decoder_class(V, D, H, rng=rng, dtype=dtype)

    def config(self):
        """The constructor's keywords (JSON-able): ``type(self)(**config())`` rebuilds it."""
        return {"vocab_size": self.vocab_size, "wordvec_size": self.wordvec_size,
                "hidden_size": self.hidden_size}

    def encode(self, xs):
        _, h = self.encoder(_ids(xs, "encode: xs"))
        return (h,)

    def decode_step(self, ids, memory, state):
        """One decoder step (or several, teacher-forced): ``(scores, state, extras)``."""
        return self.decoder(ids, *memory, state=state)

    def forward(self, xs, ts_in):
        """``(scores (N, Td, V), extras)`` of the decoder fed ``ts_in`` (teacher forcing)."""
        memory = self.encode(xs)
        scores, _, extras = self.decode_step(_ids(ts_in, "forward: ts_in"), memory, None)
        return scores, extras

    def loss(self, xs, ts):
        """Mean cross-entropy of ``ts[:, 1:]`` given ``xs`` and ``ts[:, :-1]``."""
        ts = _ids(ts, "loss: ts")
        scores, _ = self(xs, ts[:, :-1])
        return F.softmax_cross_entropy(scores, ts[:, 1:], axis=-1)

    def decode(self, xs, start_id, length, *, beam=1, batch_size=256, **beam_options):
        """Greedy decoding (``beam=1``) or beam search (``beam=K``), batched ->
        `decoding.Decoded` (ids, attention, extras, logprob). Rows are decoded `batch_size`
        at a time; the result does not depend on it. `beam_options` (end_id, length_norm)
        go to `decoding.beam_search`."""
        if beam == 1 and not beam_options:
            return decoding.greedy(self, xs, start_id, length, batch_size=batch_size)
        return decoding.beam_search(self, xs, start_id, length, beam=beam,
                                    batch_size=batch_size, **beam_options)

    def generate(self, xs, start_id, length, **kwargs):
        """The ids of `decode`: (N, length) int64, each step's argmax fed back."""
        return self.decode(xs, start_id, length, **kwargs).ids

    # --- weights shared with the book's code ----------------------------------------------
    def book_params(self):
        """Copies of the parameters in the book's order (encoder embed W, lstm Wx, Wh, b;
        decoder embed W, lstm Wx, Wh, b, affine W, b)."""
        return [p.data.copy() for p in self.parameters()]

    def load_book_params(self, arrays):
        """Load a list of arrays in the book's order (e.g. a book model's ``params``)."""
        names = [name for name, _ in self.named_parameters()]
        arrays = list(arrays)
        if len(arrays) != len(names):
            raise ValueError(f"{type(self).__name__}.load_book_params: expected {len(names)} "
                             f"arrays ({', '.join(names)}), got {len(arrays)}")
        self.load_state_dict(dict(zip(names, arrays)))


class Seq2seq(Seq2seqBase):
    """The plain seq2seq: the decoder sees the input only through the encoder's last h."""

    kind = "seq2seq"
    decoder_class = Decoder
