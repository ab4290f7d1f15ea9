"""The book's hand-derived layers and models (the oracles) checked against
central finite differences in float64, plus dtype, generate, params and
optimiser checks.

Every gradient check projects the output(s) on a random ``dout`` (never an
all-ones seed) and differentiates ``sum(dout * f(...))``.
"""

import math

import numpy as np
import pytest

from tinygrad_attn.book import (
    LSTM,
    SGD,
    Adam,
    Affine,
    Attention,
    AttentionSeq2seq,
    AttentionWeight,
    Embedding,
    PeekySeq2seq,
    Seq2seq,
    Softmax,
    TimeAffine,
    TimeAttention,
    TimeEmbedding,
    TimeLSTM,
    TimeSoftmaxWithLoss,
    WeightSum,
    clip_grads,
    init_params,
)

RTOL, ATOL = 1e-6, 1e-8
EPS = 1e-5

N, TE, TD, V, D, H = 3, 5, 4, 7, 3, 4


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def numgrad(f, x, eps=EPS):
    """Central differences of the scalar ``f()`` w.r.t. the array ``x``
    (perturbed in place and restored)."""
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + eps
        fp = f()
        x[idx] = old - eps
        fm = f()
        x[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def rand(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


# ----------------------------------------------------------------------------
# simple layers
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5)])
def test_softmax(rng, shape):
    x = rand(rng, *shape, scale=2.0)
    dout = rand(rng, *shape)
    layer = Softmax()
    y = layer.forward(x)
    close(y.sum(axis=-1), np.ones(shape[:-1]))
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    close(y, e / e.sum(axis=-1, keepdims=True))
    dx = layer.backward(dout)

    def f():
        return np.sum(dout * Softmax().forward(x))

    close(dx, numgrad(f, x))


def test_softmax_stable_with_huge_inputs():
    x = np.array([[1000.0, 1000.0, -1000.0]], dtype=np.float32)
    y = Softmax().forward(x)
    assert np.all(np.isfinite(y))
    close(y, [[0.5, 0.5, 0.0]])


def test_embedding(rng):
    W = rand(rng, V, D)
    idx = np.array([1, 4, 1, 6, 1])  # repeated rows must accumulate
    dout = rand(rng, len(idx), D)
    layer = Embedding(W)
    out = layer.forward(idx)
    close(out, W[idx])
    assert layer.backward(dout) is None

    def f():
        return np.sum(dout * Embedding(W).forward(idx))

    close(layer.grads[0], numgrad(f, W))


def test_time_embedding(rng):
    W = rand(rng, V, D)
    xs = rng.integers(0, V, size=(N, TE))
    dout = rand(rng, N, TE, D)
    layer = TimeEmbedding(W)
    out = layer.forward(xs)
    close(out, W[xs])
    layer.backward(dout)

    def f():
        return np.sum(dout * TimeEmbedding(W).forward(xs))

    close(layer.grads[0], numgrad(f, W))


def test_affine(rng):
    W, b = rand(rng, D, H), rand(rng, H)
    x = rand(rng, N, D)
    dout = rand(rng, N, H)
    layer = Affine(W, b)
    close(layer.forward(x), x @ W + b)
    dx = layer.backward(dout)

    def f():
        return np.sum(dout * Affine(W, b).forward(x))

    close(dx, numgrad(f, x))
    close(layer.grads[0], numgrad(f, W))
    close(layer.grads[1], numgrad(f, b))


def test_time_affine(rng):
    W, b = rand(rng, D, V), rand(rng, V)
    x = rand(rng, N, TE, D)
    dout = rand(rng, N, TE, V)
    layer = TimeAffine(W, b)
    close(layer.forward(x), x @ W + b)
    dx = layer.backward(dout)

    def f():
        return np.sum(dout * TimeAffine(W, b).forward(x))

    close(dx, numgrad(f, x))
    close(layer.grads[0], numgrad(f, W))
    close(layer.grads[1], numgrad(f, b))


# ----------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------
def _lstm_params(rng, d_in=D):
    return rand(rng, d_in, 4 * H, scale=0.5), rand(rng, H, 4 * H, scale=0.5), rand(rng, 4 * H, scale=0.5)


def test_lstm_gate_order(rng):
    """The slices of A are f, g, i, o (the book's `TimeLSTM`, ch. 6, section 6.3)."""
    Wx, Wh, b = _lstm_params(rng)
    x, h, c = rand(rng, N, D), rand(rng, N, H), rand(rng, N, H)
    A = x @ Wx + h @ Wh + b
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    f, g, i, o = sig(A[:, :H]), np.tanh(A[:, H:2 * H]), sig(A[:, 2 * H:3 * H]), sig(A[:, 3 * H:])
    c_ref = f * c + g * i
    h_ref = o * np.tanh(c_ref)
    h_next, c_next = LSTM(Wx, Wh, b).forward(x, h, c)
    close(h_next, h_ref)
    close(c_next, c_ref)


def test_lstm_step(rng):
    Wx, Wh, b = _lstm_params(rng)
    x, h, c = rand(rng, N, D), rand(rng, N, H), rand(rng, N, H)
    dh_next, dc_next = rand(rng, N, H), rand(rng, N, H)
    layer = LSTM(Wx, Wh, b)
    layer.forward(x, h, c)
    dx, dh, dc = layer.backward(dh_next, dc_next)

    def f():
        hn, cn = LSTM(Wx, Wh, b).forward(x, h, c)
        return np.sum(dh_next * hn) + np.sum(dc_next * cn)

    close(dx, numgrad(f, x))
    close(dh, numgrad(f, h))
    close(dc, numgrad(f, c))
    for grad, p in zip(layer.grads, (Wx, Wh, b)):
        close(grad, numgrad(f, p))


@pytest.mark.parametrize("with_c", [True, False])
def test_time_lstm_stateful(rng, with_c):
    Wx, Wh, b = _lstm_params(rng)
    xs = rand(rng, N, TE, D)
    h0, c0 = rand(rng, N, H), rand(rng, N, H)
    dhs = rand(rng, N, TE, H)

    def run(layer):
        layer.set_state(h0, c0 if with_c else None)
        return layer.forward(xs)

    layer = TimeLSTM(Wx, Wh, b, stateful=True)
    hs = run(layer)
    # compare with a hand loop of LSTM steps
    h, c = h0, (c0 if with_c else np.zeros_like(h0))
    for t in range(TE):
        h, c = LSTM(Wx, Wh, b).forward(xs[:, t], h, c)
        close(hs[:, t], h)
    close(layer.h, h)
    close(layer.c, c)

    dxs = layer.backward(dhs)

    def f():
        return np.sum(dhs * run(TimeLSTM(Wx, Wh, b, stateful=True)))

    close(dxs, numgrad(f, xs))
    close(layer.dh, numgrad(f, h0))
    if with_c:
        close(layer.dc, numgrad(f, c0))
    for grad, p in zip(layer.grads, (Wx, Wh, b)):
        close(grad, numgrad(f, p))


def test_time_lstm_state_handling(rng):
    Wx, Wh, b = _lstm_params(rng)
    xs = rand(rng, N, 2 * TE, D)
    full = TimeLSTM(Wx, Wh, b, stateful=False).forward(xs)

    # stateful: two halves continue from each other
    st = TimeLSTM(Wx, Wh, b, stateful=True)
    first = st.forward(xs[:, :TE])
    second = st.forward(xs[:, TE:])
    close(np.concatenate([first, second], axis=1), full)
    st.reset_state()
    close(st.forward(xs[:, :TE]), full[:, :TE])

    # not stateful: every call starts from zeros, set_state has no effect
    ns = TimeLSTM(Wx, Wh, b, stateful=False)
    ns.set_state(rand(rng, N, H), rand(rng, N, H))
    close(ns.forward(xs[:, :TE]), full[:, :TE])
    close(ns.forward(xs[:, :TE]), full[:, :TE])


# ----------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------
def _ce_reference(xs, ts):
    e = np.exp(xs - xs.max(axis=-1, keepdims=True))
    ys = e / e.sum(axis=-1, keepdims=True)
    total, count = 0.0, 0
    for n in range(ts.shape[0]):
        for t in range(ts.shape[1]):
            if ts[n, t] != -1:
                total -= np.log(ys[n, t, ts[n, t]])
                count += 1
    return total / count


@pytest.mark.parametrize("ignore", [False, True])
def test_time_softmax_with_loss(rng, ignore):
    xs = rand(rng, N, TD, V, scale=2.0)
    ts = rng.integers(0, V, size=(N, TD))
    if ignore:
        ts[0, 1] = ts[2, 3] = ts[1, 0] = -1
    dout = 0.7
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    close(loss, _ce_reference(xs, ts))
    dxs = layer.backward(dout)
    if ignore:
        assert np.all(dxs[0, 1] == 0) and np.all(dxs[2, 3] == 0)

    def f():
        return dout * TimeSoftmaxWithLoss().forward(xs, ts)

    close(dxs, numgrad(f, xs))


def test_time_softmax_with_loss_one_hot(rng):
    xs = rand(rng, N, TD, V)
    ts = rng.integers(0, V, size=(N, TD))
    a, b = TimeSoftmaxWithLoss(), TimeSoftmaxWithLoss()
    close(a.forward(xs, ts), b.forward(xs, np.eye(V)[ts]))
    close(a.backward(), b.backward())


# ----------------------------------------------------------------------------
# attention layers
# ----------------------------------------------------------------------------
def test_weight_sum(rng):
    hs, a = rand(rng, N, TE, H), rand(rng, N, TE)
    dc = rand(rng, N, H)
    layer = WeightSum()
    c = layer.forward(hs, a)
    close(c, np.einsum("nt,nth->nh", a, hs))
    dhs, da = layer.backward(dc)
    # the closed forms of the book, ch. 8, section 8.1.3
    close(dhs, a[:, :, None] * dc[:, None, :])
    close(da, np.einsum("nth,nh->nt", hs, dc))

    def f():
        return np.sum(dc * WeightSum().forward(hs, a))

    close(dhs, numgrad(f, hs))
    close(da, numgrad(f, a))


def test_attention_weight(rng):
    hs, h = rand(rng, N, TE, H), rand(rng, N, H)
    da = rand(rng, N, TE)
    layer = AttentionWeight()
    a = layer.forward(hs, h)
    s = np.einsum("nth,nh->nt", hs, h)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    close(a, e / e.sum(axis=1, keepdims=True))
    dhs, dh = layer.backward(da)
    ds = a * (da - np.sum(a * da, axis=1, keepdims=True))
    close(dhs, ds[:, :, None] * h[:, None, :])
    close(dh, np.einsum("nt,nth->nh", ds, hs))

    def f():
        return np.sum(da * AttentionWeight().forward(hs, h))

    close(dhs, numgrad(f, hs))
    close(dh, numgrad(f, h))


def test_attention(rng):
    hs, h = rand(rng, N, TE, H), rand(rng, N, H)
    dc = rand(rng, N, H)
    layer = Attention()
    c = layer.forward(hs, h)
    close(layer.attention_weight.sum(axis=1), np.ones(N))
    close(c, np.einsum("nt,nth->nh", layer.attention_weight, hs))
    dhs, dh = layer.backward(dc)

    def f():
        return np.sum(dc * Attention().forward(hs, h))

    close(dhs, numgrad(f, hs))
    close(dh, numgrad(f, h))


def test_time_attention(rng):
    hs_enc, hs_dec = rand(rng, N, TE, H), rand(rng, N, TD, H)
    dout = rand(rng, N, TD, H)
    layer = TimeAttention()
    out = layer.forward(hs_enc, hs_dec)
    assert len(layer.attention_weights) == TD
    for t in range(TD):
        close(out[:, t], Attention().forward(hs_enc, hs_dec[:, t]))
        assert layer.attention_weights[t].shape == (N, TE)
    denc, ddec = layer.backward(dout)

    def f():
        return np.sum(dout * TimeAttention().forward(hs_enc, hs_dec))

    close(denc, numgrad(f, hs_enc))
    close(ddec, numgrad(f, hs_dec))


# ----------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------
MODELS = {"seq2seq": Seq2seq, "peeky": PeekySeq2seq, "attention": AttentionSeq2seq}


def _random_params(rng, kind, scale=0.5):
    """Parameters of the right shapes with non-trivial biases (exercise every path)."""
    shapes = [p.shape for p in init_params(kind, V, D, H, seed=0, dtype=np.float64)]
    return [rand(rng, *s, scale=scale) for s in shapes]


def _data(rng):
    xs = rng.integers(0, V, size=(N, TE))
    ts = rng.integers(0, V, size=(N, TD + 1))
    return xs, ts


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_param_gradients(rng, kind):
    params = _random_params(rng, kind)
    model = MODELS[kind](V, D, H, params=params)
    xs, ts = _data(rng)
    dout = 0.8
    loss = model.forward(xs, ts)
    assert isinstance(loss, float)
    model.backward(dout)
    grads = [g.copy() for g in model.grads]

    # one model, its params perturbed in place
    probe = MODELS[kind](V, D, H, params=params)

    def f():
        return dout * probe.forward(xs, ts)

    assert len(grads) == len(probe.params) == 10
    for k, (g, p) in enumerate(zip(grads, probe.params)):
        np.testing.assert_allclose(g, numgrad(f, p), rtol=RTOL, atol=ATOL, err_msg="param %d" % k)


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_book_init_gradients(rng, kind):
    """Same check from the book's own initialisation (small embeddings, zero biases)."""
    model = MODELS[kind](V, D, H, seed=3, dtype=np.float64)
    xs, ts = _data(rng)
    model.forward(xs, ts)
    model.backward()

    def f():
        return model.forward(xs, ts)

    for k in (0, 2, 4, 5, 8):  # a spread of encoder and decoder parameters
        g = model.grads[k].copy()
        np.testing.assert_allclose(g, numgrad(f, model.params[k]), rtol=RTOL, atol=ATOL, err_msg="param %d" % k)


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_init_shapes_and_scales(kind):
    V_, D_, H_ = 50, 16, 64
    model = MODELS[kind](V_, D_, H_, seed=0)
    dec_in = H_ + D_ if kind == "peeky" else D_
    aff_in = H_ if kind == "seq2seq" else 2 * H_
    expected = [(V_, D_), (D_, 4 * H_), (H_, 4 * H_), (4 * H_,),
                (V_, D_), (dec_in, 4 * H_), (H_, 4 * H_), (4 * H_,), (aff_in, V_), (V_,)]
    assert [p.shape for p in model.params] == expected
    assert all(p.dtype == np.float32 for p in model.params)
    assert [g.shape for g in model.grads] == expected
    for k in (3, 7, 9):
        assert np.all(model.params[k] == 0)
    for k, scale in [(0, 1 / 100), (4, 1 / 100), (1, 1 / math.sqrt(D_)), (2, 1 / math.sqrt(H_)),
                     (5, 1 / math.sqrt(dec_in)), (6, 1 / math.sqrt(H_)), (8, 1 / math.sqrt(aff_in))]:
        assert abs(model.params[k].std() / scale - 1) < 0.2, k
    # seeded: reproducible
    again = MODELS[kind](V_, D_, H_, seed=0)
    for p, q in zip(model.params, again.params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_from_params(rng, kind):
    params = _random_params(rng, kind)
    model = MODELS[kind](V, D, H, params=params)
    for p, q in zip(model.params, params):
        np.testing.assert_array_equal(p, q)
        assert p is not q and p.dtype == np.float64  # copies, own dtype kept
    xs, ts = _data(rng)
    loss = model.forward(xs, ts)
    # the values are really used: changing the caller's arrays has no effect,
    # changing the model's own arrays in place does
    # (one entry only: adding a constant to all of W shifts every logit alike)
    params[8][0, 0] += 1.0
    assert model.forward(xs, ts) == loss
    model.params[8][0, 0] += 1.0
    assert model.forward(xs, ts) != loss
    # explicit dtype casts
    m32 = MODELS[kind](V, D, H, params=params, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in m32.params)
    with pytest.raises(ValueError):
        MODELS[kind](V, D, H, params=params[:-1])


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_grads_are_layer_arrays(rng, kind):
    """An optimiser updating ``model.params`` in place updates the model."""
    model = MODELS[kind](V, D, H, seed=1)
    xs, ts = _data(rng)
    before = model.forward(xs, ts)
    model.backward()
    g_ids = [id(g) for g in model.grads]
    opt = SGD(lr=0.5)
    for _ in range(3):
        model.forward(xs, ts)
        model.backward()
        opt.update(model.params, model.grads)
    assert [id(g) for g in model.grads] == g_ids
    assert model.forward(xs, ts) < before


@pytest.mark.parametrize("kind", list(MODELS))
def test_model_float32(rng, kind):
    model = MODELS[kind](V, D, H, seed=2, dtype=np.float32)
    xs, ts = _data(rng)
    model.forward(xs, ts)
    model.backward()
    assert all(g.dtype == np.float32 for g in model.grads)
    assert model.decoder.affine.x.dtype == np.float32
    assert model.softmax.cache[1].dtype == np.float32  # the probabilities
    # same result as float64 up to float32 precision
    m64 = MODELS[kind](V, D, H, params=model.params, dtype=np.float64)
    l64 = m64.forward(xs, ts)
    m64.backward()
    np.testing.assert_allclose(model.forward(xs, ts), l64, rtol=1e-5)
    for g32, g64 in zip(model.grads, m64.grads):
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-6)


def test_layers_float32(rng):
    f32 = np.float32
    hs = rand(rng, N, TE, H).astype(f32)
    hd = rand(rng, N, TD, H).astype(f32)
    ta = TimeAttention()
    out = ta.forward(hs, hd)
    denc, ddec = ta.backward(out)
    assert out.dtype == denc.dtype == ddec.dtype == f32
    assert ta.attention_weights[0].dtype == f32

    Wx, Wh, b = (p.astype(f32) for p in _lstm_params(rng))
    lstm = TimeLSTM(Wx, Wh, b, stateful=True)
    lstm.set_state(rand(rng, N, H).astype(f32))
    hs2 = lstm.forward(rand(rng, N, TE, D).astype(f32))
    dxs = lstm.backward(hs2)
    assert hs2.dtype == dxs.dtype == lstm.dh.dtype == lstm.dc.dtype == f32
    assert all(g.dtype == f32 for g in lstm.grads)

    loss_layer = TimeSoftmaxWithLoss()
    ts = rng.integers(0, V, size=(N, TD))
    ts[0, 0] = -1
    loss = loss_layer.forward(rand(rng, N, TD, V).astype(f32), ts)
    assert loss.dtype == f32 and loss_layer.backward().dtype == f32

    sm = Softmax()
    assert sm.forward(hs).dtype == f32 and sm.backward(hs).dtype == f32
    ws = WeightSum()
    c = ws.forward(hs, rand(rng, N, TE).astype(f32))
    assert c.dtype == f32 and all(a.dtype == f32 for a in ws.backward(c))
    emb = TimeEmbedding(rand(rng, V, D).astype(f32))
    e = emb.forward(ts.clip(0))
    emb.backward(e)
    assert e.dtype == emb.grads[0].dtype == f32
    aff = TimeAffine(rand(rng, D, V).astype(f32), np.zeros(V, f32))
    y = aff.forward(e)
    assert y.dtype == aff.backward(y).dtype == aff.grads[0].dtype == f32


@pytest.mark.parametrize("kind", list(MODELS))
def test_generate_batched_equals_rows(rng, kind):
    model = MODELS[kind](V, D, H, params=_random_params(rng, kind, scale=1.0))
    xs = rng.integers(0, V, size=(5, TE))
    out = model.generate(xs, start_id=2, sample_size=6)
    assert out.shape == (5, 6) and np.issubdtype(out.dtype, np.integer)
    for n in range(5):
        np.testing.assert_array_equal(model.generate(xs[n:n + 1], 2, 6)[0], out[n])


@pytest.mark.parametrize("kind", list(MODELS))
def test_generate_is_greedy_argmax(rng, kind):
    """Each generated token is the argmax of the teacher-forced decoder fed the
    start id followed by the tokens generated before it."""
    model = MODELS[kind](V, D, H, params=_random_params(rng, kind, scale=1.0))
    xs = rng.integers(0, V, size=(N, TE))
    out = model.generate(xs, start_id=1, sample_size=TD)
    weights = model.attention_weights if kind == "attention" else None
    dec_in = np.concatenate([np.full((N, 1), 1), out[:, :-1]], axis=1)
    score = model.decoder.forward(dec_in, model.encoder.forward(xs))
    np.testing.assert_array_equal(score.argmax(axis=-1), out)
    if kind == "attention":
        assert weights.shape == (N, TD, TE)
        np.testing.assert_allclose(weights, model.attention_weights, rtol=1e-12)


def test_attention_weights_after_forward(rng):
    model = AttentionSeq2seq(V, D, H, seed=0)
    xs, ts = _data(rng)
    model.forward(xs, ts)
    w = model.attention_weights
    assert w.shape == (N, TD, TE) and w.dtype == np.float32
    np.testing.assert_allclose(w.sum(axis=-1), 1, rtol=1e-5)


# ----------------------------------------------------------------------------
# optimisers
# ----------------------------------------------------------------------------
def test_adam_two_steps_by_hand():
    p = np.array([1.0, -2.0, 0.5])
    g1 = np.array([0.5, -0.1, 0.0])
    g2 = np.array([-0.2, 0.3, 1.0])
    lr, b1, b2 = 0.01, 0.9, 0.999
    opt = Adam(lr=lr)
    ref = p.copy()
    m = np.zeros(3)
    v = np.zeros(3)
    for t, g in enumerate([g1, g2], start=1):
        obj = p
        opt.update([p], [g.copy()])
        assert obj is p  # in place
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        ref = ref - lr_t * m / (np.sqrt(v) + 1e-7)
        np.testing.assert_allclose(p, ref, rtol=1e-12, atol=1e-15)
    # first step by hand: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1
    # so the step is lr * g / (|g| + 1e-7 / sqrt(0.001)) ~ lr * sign(g)
    q = np.array([1.0, -2.0])
    Adam(lr=0.01).update([q], [np.array([0.5, -0.1])])
    np.testing.assert_allclose(q, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-5)


def test_adam_keeps_float32():
    p = np.ones(4, np.float32)
    Adam().update([p], [np.full(4, 0.3, np.float32)])
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, 1 - 0.001, rtol=1e-6)


def test_sgd():
    p = np.array([1.0, 2.0])
    SGD(lr=0.1).update([p], [np.array([1.0, -1.0])])
    np.testing.assert_allclose(p, [0.9, 2.1])


def test_clip_grads():
    a, b = np.array([3.0]), np.array([[4.0, 0.0]])  # total norm 5
    ida = id(a)
    total = clip_grads([a, b], 1.0)
    assert total == pytest.approx(5.0)
    rate = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a, [3.0 * rate], rtol=1e-14)
    np.testing.assert_allclose(b, [[4.0 * rate, 0.0]], rtol=1e-14)
    assert id(a) == ida
    # below the threshold: untouched
    c, d = np.array([3.0]), np.array([4.0])
    clip_grads([c, d], 10.0)
    np.testing.assert_array_equal(c, [3.0])
    np.testing.assert_array_equal(d, [4.0])
    # float32 stays float32
    e = np.array([30.0, 40.0], np.float32)
    clip_grads([e], 5.0)
    assert e.dtype == np.float32
    np.testing.assert_allclose(e, [3.0, 4.0], rtol=1e-6)
