"""The book's three seq2seq models (chapters 7 and 8) with hand-written backward.

Parameter order (shared with the book's code, so weights can be exchanged):
encoder ``[embed W, lstm Wx, lstm Wh, lstm b]`` then decoder
``[embed W, lstm Wx, lstm Wh, lstm b, affine W, affine b]``.

Constructors: ``Model(vocab_size, wordvec_size, hidden_size, params=None,
seed=None, dtype=None)``.  With ``params=None`` the weights are drawn as the
book does (``np.random.default_rng(seed)``, standard normal scaled, biases 0)
in ``dtype`` (float32 when ``dtype`` is None).  Otherwise ``params`` is a list
of 10 arrays in the order above; copies of them are used, cast to ``dtype``
if one is given, else keeping their own dtype.
"""

import numpy as np

from .layers import TimeAffine, TimeAttention, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

__all__ = [
    "Encoder",
    "Decoder",
    "Seq2seq",
    "PeekyDecoder",
    "PeekySeq2seq",
    "AttentionEncoder",
    "AttentionDecoder",
    "AttentionSeq2seq",
    "init_params",
]

_ENC_N = 4  # number of encoder parameters
_DEC_N = 6  # number of decoder parameters


# ----------------------------------------------------------------------------
# parameter helpers
# ----------------------------------------------------------------------------
def _shapes(kind, V, D, H):
    """Expected shapes of the 10 parameters of a model of the given kind."""
    enc = [(V, D), (D, 4 * H), (H, 4 * H), (4 * H,)]
    if kind == "seq2seq":
        dec = [(V, D), (D, 4 * H), (H, 4 * H), (4 * H,), (H, V), (V,)]
    elif kind == "peeky":
        dec = [(V, D), (H + D, 4 * H), (H, 4 * H), (4 * H,), (2 * H, V), (V,)]
    elif kind == "attention":
        dec = [(V, D), (D, 4 * H), (H, 4 * H), (4 * H,), (2 * H, V), (V,)]
    else:  # pragma: no cover
        raise ValueError(kind)
    return enc + dec


def init_params(kind, vocab_size, wordvec_size, hidden_size, seed=None, dtype=np.float32):
    """The book's initialisation for ``kind`` in {"seq2seq", "peeky", "attention"}.

    Embeddings ``N(0,1)/100``; LSTM ``Wx ~ N(0,1)/sqrt(in)``, ``Wh ~ N(0,1)/sqrt(H)``,
    ``b = 0``; Affine ``W ~ N(0,1)/sqrt(in)``, ``b = 0``.  Drawn in the book's
    order (encoder then decoder, each embed, Wx, Wh, affine W) in float64,
    scaled, then cast to ``dtype``.
    """
    rng = np.random.default_rng(seed)
    shapes = _shapes(kind, vocab_size, wordvec_size, hidden_size)
    params = []
    for k, shape in enumerate(shapes):
        local = k if k < _ENC_N else k - _ENC_N
        if local == 0:  # embedding
            p = rng.standard_normal(shape) / 100
        elif local in (1, 2, 4):  # LSTM Wx, LSTM Wh, Affine W
            p = rng.standard_normal(shape) / np.sqrt(shape[0])
        else:  # biases
            p = np.zeros(shape)
        params.append(p.astype(dtype))
    return params


def _make_params(kind, V, D, H, params, seed, dtype):
    if params is None:
        return init_params(kind, V, D, H, seed=seed, dtype=np.float32 if dtype is None else dtype)
    params = list(params)
    shapes = _shapes(kind, V, D, H)
    if len(params) != len(shapes):
        raise ValueError("expected %d parameter arrays, got %d" % (len(shapes), len(params)))
    out = []
    for k, (p, shape) in enumerate(zip(params, shapes)):
        p = np.array(p, dtype=dtype, copy=True)
        if p.shape != shape:
            raise ValueError("parameter %d: expected shape %s, got %s" % (k, shape, p.shape))
        out.append(p)
    return out


# ----------------------------------------------------------------------------
# plain seq2seq (chapter 7)
# ----------------------------------------------------------------------------
class Encoder:
    """TimeEmbedding -> TimeLSTM(stateful=False); ``forward(xs) -> hs[:, -1]``."""

    def __init__(self, embed_W, lstm_Wx, lstm_Wh, lstm_b):
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=False)
        self.params = self.embed.params + self.lstm.params
        self.grads = self.embed.grads + self.lstm.grads
        self.hs = None

    def forward(self, xs):
        xs = self.embed.forward(xs)
        hs = self.lstm.forward(xs)
        self.hs = hs
        return hs[:, -1, :]

    def backward(self, dh):
        dhs = np.zeros_like(self.hs)
        dhs[:, -1, :] = dh
        dout = self.lstm.backward(dhs)
        self.embed.backward(dout)
        return None


class Decoder:
    """TimeEmbedding -> TimeLSTM(stateful, h from the encoder, c = 0) -> TimeAffine.

    ``forward(xs, h) -> score (N, T, V)``; ``backward(dscore) -> dh``;
    ``generate(h, start_id, sample_size) -> (N, sample_size)`` int array.
    """

    def __init__(self, embed_W, lstm_Wx, lstm_Wh, lstm_b, affine_W, affine_b):
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs, h):
        self.lstm.set_state(h)
        out = self.embed.forward(xs)
        out = self.lstm.forward(out)
        return self.affine.forward(out)

    def backward(self, dscore):
        dout = self.affine.backward(dscore)
        dout = self.lstm.backward(dout)
        self.embed.backward(dout)
        return self.lstm.dh

    def generate(self, h, start_id, sample_size):
        N = h.shape[0]
        sampled = np.empty((N, sample_size), dtype=np.int64)
        ids = np.full((N,), start_id, dtype=np.int64)
        self.lstm.set_state(h)
        for k in range(sample_size):
            x = ids.reshape(N, 1)
            out = self.embed.forward(x)
            out = self.lstm.forward(out)
            score = self.affine.forward(out)
            ids = np.argmax(score[:, 0, :], axis=1)
            sampled[:, k] = ids
        return sampled


class _Seq2seqBase:
    """Shared ``forward`` / ``backward`` / ``generate`` of the three models."""

    def _build(self, encoder, decoder):
        self.encoder = encoder
        self.decoder = decoder
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def forward(self, xs, ts):
        """Teacher forcing: decoder input ``ts[:, :-1]``, target ``ts[:, 1:]``;
        returns the mean cross-entropy as a Python float."""
        decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]
        h = self.encoder.forward(xs)
        score = self.decoder.forward(decoder_xs, h)
        loss = self.softmax.forward(score, decoder_ts)
        return float(loss)

    def backward(self, dout=1):
        """Fills ``self.grads`` (in place); returns None."""
        dout = self.softmax.backward(dout)
        dh = self.decoder.backward(dout)
        self.encoder.backward(dh)
        return None

    def generate(self, xs, start_id, sample_size):
        """Greedy decoding, batched over the rows of ``xs``: (N, sample_size) ints."""
        h = self.encoder.forward(xs)
        return self.decoder.generate(h, start_id, sample_size)


class Seq2seq(_Seq2seqBase):
    """Chapter 7 seq2seq: Encoder + Decoder + TimeSoftmaxWithLoss."""

    kind = "seq2seq"

    def __init__(self, vocab_size, wordvec_size, hidden_size, params=None, seed=None, dtype=None):
        ps = _make_params(self.kind, vocab_size, wordvec_size, hidden_size, params, seed, dtype)
        self._build(Encoder(*ps[:_ENC_N]), Decoder(*ps[_ENC_N:]))


# ----------------------------------------------------------------------------
# peeky seq2seq (chapter 7)
# ----------------------------------------------------------------------------
class PeekyDecoder:
    """Decoder that also feeds the encoder's h to every step:
    LSTM input ``concat(h, embedded)`` (Wx (H + D, 4H)) and
    Affine input ``concat(h, lstm_out)`` (W (2H, V)).  LSTM starts at h, c = 0."""

    def __init__(self, embed_W, lstm_Wx, lstm_Wh, lstm_b, affine_W, affine_b):
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads
        self.cache = None

    def forward(self, xs, h):
        N, T = xs.shape
        N, H = h.shape

        self.lstm.set_state(h)
        out = self.embed.forward(xs)
        hs = np.repeat(h, T, axis=0).reshape(N, T, H)
        out = np.concatenate((hs, out), axis=2)

        out = self.lstm.forward(out)
        out = np.concatenate((hs, out), axis=2)

        score = self.affine.forward(out)
        self.cache = H
        return score

    def backward(self, dscore):
        H = self.cache
        dout = self.affine.backward(dscore)
        dout, dhs0 = dout[:, :, H:], dout[:, :, :H]
        dout = self.lstm.backward(dout)
        dembed, dhs1 = dout[:, :, H:], dout[:, :, :H]
        self.embed.backward(dembed)

        dhs = dhs0 + dhs1
        dh = self.lstm.dh + np.sum(dhs, axis=1)
        return dh

    def generate(self, h, start_id, sample_size):
        N, H = h.shape
        sampled = np.empty((N, sample_size), dtype=np.int64)
        ids = np.full((N,), start_id, dtype=np.int64)
        self.lstm.set_state(h)
        peeky_h = h.reshape(N, 1, H)
        for k in range(sample_size):
            x = ids.reshape(N, 1)
            out = self.embed.forward(x)
            out = np.concatenate((peeky_h, out), axis=2)
            out = self.lstm.forward(out)
            out = np.concatenate((peeky_h, out), axis=2)
            score = self.affine.forward(out)
            ids = np.argmax(score[:, 0, :], axis=1)
            sampled[:, k] = ids
        return sampled


class PeekySeq2seq(_Seq2seqBase):
    """Chapter 7 peeky seq2seq: Encoder + PeekyDecoder + TimeSoftmaxWithLoss."""

    kind = "peeky"

    def __init__(self, vocab_size, wordvec_size, hidden_size, params=None, seed=None, dtype=None):
        ps = _make_params(self.kind, vocab_size, wordvec_size, hidden_size, params, seed, dtype)
        self._build(Encoder(*ps[:_ENC_N]), PeekyDecoder(*ps[_ENC_N:]))


# ----------------------------------------------------------------------------
# attention seq2seq (chapter 8)
# ----------------------------------------------------------------------------
class AttentionEncoder(Encoder):
    """Encoder returning all hidden states: ``forward(xs) -> hs (N, Te, H)``,
    ``backward(dhs)``."""

    def forward(self, xs):
        xs = self.embed.forward(xs)
        hs = self.lstm.forward(xs)
        self.hs = hs
        return hs

    def backward(self, dhs):
        dout = self.lstm.backward(dhs)
        self.embed.backward(dout)
        return None


class AttentionDecoder:
    """TimeEmbedding -> TimeLSTM(h = hs_enc[:, -1], c = 0) -> TimeAttention(hs_enc, hs_dec)
    -> concat([context, hs_dec]) -> TimeAffine(2H, V).

    ``forward(xs, enc_hs) -> score``; ``backward(dscore) -> denc_hs`` (the LSTM's
    initial-state gradient added to ``denc_hs[:, -1]``);
    ``generate(enc_hs, start_id, sample_size) -> (N, sample_size)``.
    ``attention_weights``: (N, Td, Te) weights of the last forward / generate.
    """

    def __init__(self, embed_W, lstm_Wx, lstm_Wh, lstm_b, affine_W, affine_b):
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.attention = TimeAttention()
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.attention, self.affine):
            self.params += layer.params
            self.grads += layer.grads
        self.attention_weights = None

    def forward(self, xs, enc_hs):
        h = enc_hs[:, -1]
        self.lstm.set_state(h)

        out = self.embed.forward(xs)
        dec_hs = self.lstm.forward(out)
        c = self.attention.forward(enc_hs, dec_hs)
        out = np.concatenate((c, dec_hs), axis=2)
        score = self.affine.forward(out)
        self.attention_weights = np.stack(self.attention.attention_weights, axis=1)
        return score

    def backward(self, dscore):
        dout = self.affine.backward(dscore)
        N, T, H2 = dout.shape
        H = H2 // 2

        dc, ddec_hs0 = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_hs1 = self.attention.backward(dc)
        ddec_hs = ddec_hs0 + ddec_hs1
        dout = self.lstm.backward(ddec_hs)
        dh = self.lstm.dh
        denc_hs[:, -1] += dh
        self.embed.backward(dout)
        return denc_hs

    def generate(self, enc_hs, start_id, sample_size):
        N = enc_hs.shape[0]
        sampled = np.empty((N, sample_size), dtype=np.int64)
        ids = np.full((N,), start_id, dtype=np.int64)
        weights = []
        h = enc_hs[:, -1]
        self.lstm.set_state(h)

        for k in range(sample_size):
            x = ids.reshape(N, 1)
            out = self.embed.forward(x)
            dec_hs = self.lstm.forward(out)
            c = self.attention.forward(enc_hs, dec_hs)
            out = np.concatenate((c, dec_hs), axis=2)
            score = self.affine.forward(out)
            weights.append(self.attention.attention_weights[0])
            ids = np.argmax(score[:, 0, :], axis=1)
            sampled[:, k] = ids
        if weights:
            self.attention_weights = np.stack(weights, axis=1)
        else:
            self.attention_weights = np.zeros((N, 0, enc_hs.shape[1]), dtype=enc_hs.dtype)
        return sampled


class AttentionSeq2seq(_Seq2seqBase):
    """Chapter 8 attention seq2seq: AttentionEncoder + AttentionDecoder +
    TimeSoftmaxWithLoss.  ``attention_weights`` (N, Td, Te): the weights of the
    last ``forward`` or ``generate``."""

    kind = "attention"

    def __init__(self, vocab_size, wordvec_size, hidden_size, params=None, seed=None, dtype=None):
        ps = _make_params(self.kind, vocab_size, wordvec_size, hidden_size, params, seed, dtype)
        self._build(AttentionEncoder(*ps[:_ENC_N]), AttentionDecoder(*ps[_ENC_N:]))

    @property
    def attention_weights(self):
        return self.decoder.attention_weights
