"""tinygrad_attn.nn: the Module machinery, and each layer proved equal to the book's layer.

Proofs (hypothesis, float64, random small sizes and weights): every layer's forward equals
the book's hand-written layer (`tinygrad_attn.book.layers`), every input and parameter
gradient equals the book's hand-written backward, and both equal central differences along
a random output projection (never an all-ones seed).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import nn, topological_order
from tinygrad_attn.book import layers as book
from tinygrad_attn.testing import numerical_grad

RTOL, ATOL = 1e-9, 1e-12          # ours vs the book's backward (same math, other order)
FD_RTOL, FD_ATOL = 1e-6, 1e-8     # ours vs central differences (eps 1e-6, float64)

size = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


def close(actual, expected, what, rtol=RTOL, atol=ATOL):
    if actual is None:  # no gradient: the value had no effect (e.g. Wh of a 1-step LSTM)
        actual = np.zeros_like(expected)
    actual = actual.data if isinstance(actual, tga.Variable) else actual
    assert actual.shape == np.shape(expected), f"{what}: shape {actual.shape} vs " \
                                                f"{np.shape(expected)}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def fd_agrees(f, inputs, u, autograd, names):
    """Central differences of sum(u * f(*inputs)) equal the autograd gradients."""
    numerical = numerical_grad(f, *inputs, grad_output=u)
    for name, num, ag in zip(names, numerical, autograd):
        if num is not None:
            close(ag, num, f"{name} vs finite differences", FD_RTOL, FD_ATOL)


def projection(rng, shape):
    """A random output gradient (a random projection; never all ones)."""
    return rng.standard_normal(shape)


# --- Parameter and Module ---------------------------------------------------------------
def test_parameter_is_a_trainable_leaf():
    p = nn.Parameter(np.zeros((2, 3), np.float32))
    assert isinstance(p, tga.Variable) and p.requires_grad and p.is_leaf
    assert "shape=(2, 3)" in repr(p)
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.zeros(3, np.int64))


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.ones(2))
        self.inner = nn.Linear(2, 3, dtype=np.float64, seed=0)
        self.v = nn.Parameter(np.zeros(1))
        self.note = "not a parameter"

    def forward(self, x):
        return self.inner(x * self.w) + self.v


def test_module_registers_in_order_with_dotted_paths():
    m = Pair()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["w", "v", "inner.W", "inner.b"]  # own parameters first, then children
    assert [p for _, p in m.named_parameters()] == m.parameters()
    assert list(m.children()) == [m.inner]
    assert [n for n, _ in m.named_modules()] == ["", "inner"]
    m.w = nn.Parameter(np.zeros(2))                         # reassigning keeps one entry
    assert [n for n, _ in m.named_parameters()].count("w") == 1
    m.v = None                                              # replacing with a non-parameter
    assert "v" not in dict(m.named_parameters())
    del m.inner
    assert list(m.children()) == [] and list(dict(m.named_parameters())) == ["w"]


def test_module_needs_init_before_attributes():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match="Module.__init__"):
        Bad()


def test_shared_parameter_listed_once():
    m = Pair()
    m.again = m.w
    assert [n for n, _ in m.named_parameters()].count("again") == 0
    assert len(m.parameters()) == len({id(p) for p in m.parameters()})


def test_zero_grad_and_state_dict_round_trip():
    m = Pair()
    m(tga.Variable(np.ones((4, 2)))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    state = m.state_dict()
    assert list(state) == [n for n, _ in m.named_parameters()]
    state["inner.W"][...] = 7.0                     # a copy: the model is untouched
    assert not np.any(m.inner.W.data == 7.0)
    W_before = m.inner.W.data
    m.load_state_dict(state)
    assert m.inner.W.data is W_before and np.all(m.inner.W.data == 7.0)  # copied in place


def test_load_state_dict_names_every_problem():
    m = Pair()
    state = m.state_dict()
    del state["w"]
    state["extra"] = np.zeros(1)
    state["inner.W"] = np.zeros((3, 2))
    state["inner.b"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError) as e:
        m.load_state_dict(state)
    msg = str(e.value)
    assert "missing keys: w" in msg and "unexpected keys: extra" in msg
    assert "inner.W: shape (3, 2) in the state, (2, 3) in the model" in msg
    assert "inner.b: dtype float32 in the state, float64 in the model" in msg


def test_calls_record_ops_under_the_module_path():
    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.Attention()
            self.affine = nn.Linear(3, 2, dtype=np.float64, seed=1)

        def forward(self, hs):
            return self.affine(self.attention(hs, hs)[0])

    class Root(nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = Inner()

        def forward(self, hs):
            return self.decoder(hs).sum()

    loss = Root()(tga.Variable(np.random.default_rng(0).standard_normal((2, 4, 3))))
    scopes = {(f.name, f.scope) for f in topological_order(loss)}
    assert ("softmax", ("decoder", "attention")) in scopes
    assert ("matmul", ("decoder", "affine")) in scopes
    assert ("sum", ()) in scopes                       # the root module has no scope
    assert tga.current_scope() == ()


# --- initialisation and dtype -----------------------------------------------------------
def test_layers_initialise_as_the_book():
    rng = np.random.default_rng(5)
    lstm = nn.LSTM(3, 4, seed=5)
    assert lstm.Wx.shape == (3, 16) and lstm.Wh.shape == (4, 16) and lstm.b.shape == (16,)
    np.testing.assert_array_equal(lstm.Wx.data, (rng.standard_normal((3, 16)) / np.sqrt(3))
                                  .astype(np.float32))
    np.testing.assert_array_equal(lstm.Wh.data, (rng.standard_normal((4, 16)) / 2)
                                  .astype(np.float32))
    assert not lstm.b.data.any()
    emb = nn.Embedding(7, 3, seed=1)
    np.testing.assert_array_equal(
        emb.W.data, (np.random.default_rng(1).standard_normal((7, 3)) / 100).astype(np.float32))
    lin = nn.Linear(6, 2, seed=2, bias=False)
    assert lin.b is None and [n for n, _ in lin.named_parameters()] == ["W"]
    for layer in (lstm, emb, lin):
        assert all(p.dtype == np.float32 for p in layer.parameters())
    with pytest.raises(ValueError):
        nn.Linear(2, 2, rng=rng, seed=1)


def test_float32_end_to_end():
    rng = np.random.default_rng(0)
    emb, lstm, att, lin = (nn.Embedding(5, 3, rng=rng), nn.LSTM(3, 4, rng=rng),
                           nn.Attention(), nn.Linear(8, 5, rng=rng))
    ids = rng.integers(0, 5, (2, 3))
    hs, (h, c) = lstm(emb(ids))
    ctx, weights = att(hs, hs)
    scores = lin(F.concat([ctx, hs], axis=-1))
    loss = F.softmax_cross_entropy(scores, ids)
    for v in (hs, h, c, ctx, scores, loss):
        assert v.dtype == np.float32
    assert weights.dtype == np.float32
    loss.backward()
    for m in (emb, lstm, lin):
        for p in m.parameters():
            assert p.grad.dtype == np.float32


# --- proofs: each layer equals the book's ----------------------------------------------
@given(N=size, T=size, H=size, seed=seeds)
def test_weight_sum_equals_book(N, T, H, seed):
    rng = np.random.default_rng(seed)
    hs, a = rng.standard_normal((N, T, H)), rng.random((N, T))
    hv, av = tga.Variable(hs), tga.Variable(a)
    c = nn.weight_sum(hv, av)
    u = projection(rng, c.shape)
    c.backward(u)
    layer = book.WeightSum()
    close(c, layer.forward(hs, a), "c")
    dhs, da = layer.backward(u)
    close(hv.grad, dhs, "dhs")
    close(av.grad, da, "da")
    fd_agrees(nn.weight_sum, [hs, a], u, [hv.grad.data, av.grad.data], ["dhs", "da"])


@given(N=size, T=size, H=size, seed=seeds)
def test_attention_weight_equals_book(N, T, H, seed):
    rng = np.random.default_rng(seed)
    hs, h = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))
    hv, v = tga.Variable(hs), tga.Variable(h)
    a = nn.attention_weight(hv, v)
    u = projection(rng, a.shape)
    a.backward(u)
    layer = book.AttentionWeight()
    close(a, layer.forward(hs, h), "a")
    dhs, dh = layer.backward(u)
    close(hv.grad, dhs, "dhs")
    close(v.grad, dh, "dh")
    fd_agrees(nn.attention_weight, [hs, h], u, [hv.grad.data, v.grad.data], ["dhs", "dh"])


@given(N=size, T=size, H=size, seed=seeds)
def test_attention_one_step_equals_book(N, T, H, seed):
    rng = np.random.default_rng(seed)
    hs, h = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))
    hv, v = tga.Variable(hs), tga.Variable(h)
    att = nn.Attention()
    c, weights = att(hv, v)
    u = projection(rng, c.shape)
    c.backward(u)
    layer = book.Attention()
    close(c, layer.forward(hs, h), "c")
    close(weights, layer.attention_weight, "weights")
    dhs, dh = layer.backward(u)
    close(hv.grad, dhs, "dhs")
    close(v.grad, dh, "dh")
    fd_agrees(lambda *a: nn.Attention()(*a)[0], [hs, h], u, [hv.grad.data, v.grad.data],
              ["dhs", "dh"])


@given(N=size, Te=size, Td=size, H=size, seed=seeds)
def test_batched_attention_equals_book_time_attention(N, Te, Td, H, seed):
    """All decoder steps in one batched matmul == the book's loop of Attention layers."""
    rng = np.random.default_rng(seed)
    enc, dec = rng.standard_normal((N, Te, H)), rng.standard_normal((N, Td, H))
    ev, dv = tga.Variable(enc), tga.Variable(dec)
    att = nn.Attention()
    c, weights = att(ev, dv)
    u = projection(rng, c.shape)
    c.backward(u)
    layer = book.TimeAttention()
    close(c, layer.forward(enc, dec), "context")
    close(weights, np.stack(layer.attention_weights, axis=1), "weights")
    denc, ddec = layer.backward(u)
    close(ev.grad, denc, "dhs_enc")
    close(dv.grad, ddec, "dhs_dec")
    fd_agrees(lambda *a: nn.Attention()(*a)[0], [enc, dec], u, [ev.grad.data, dv.grad.data],
              ["dhs_enc", "dhs_dec"])


@given(N=size, T=size, V=st.integers(1, 5), D=size, seed=seeds)
def test_embedding_equals_book(N, T, V, D, seed):
    rng = np.random.default_rng(seed)
    emb = nn.Embedding(V, D, rng=rng, dtype=np.float64)
    ids = rng.integers(0, V, (N, T))                 # V small: ids repeat, grads add up
    layer = book.TimeEmbedding(emb.W.data.copy())
    y = emb(ids)
    u = projection(rng, y.shape)
    y.backward(u)
    close(y, layer.forward(ids), "out")
    layer.backward(u)
    close(emb.W.grad, layer.grads[0], "dW")

    def f(W):
        emb.W.data = W.data
        return emb(ids)

    fd_agrees(f, [emb.W.data.copy()], u, [emb.W.grad.data], ["dW"])


@given(N=size, T=st.integers(0, 3), I=size, O=size, seed=seeds)
def test_linear_equals_book_affine(N, T, I, O, seed):
    rng = np.random.default_rng(seed)
    lin = nn.Linear(I, O, rng=rng, dtype=np.float64)
    lin.b.data[...] = rng.standard_normal(O)
    x = rng.standard_normal((N, T, I) if T else (N, I))   # TimeAffine (3-D) or Affine (2-D)
    layer = (book.TimeAffine if T else book.Affine)(lin.W.data.copy(), lin.b.data.copy())
    xv = tga.Variable(x)
    y = lin(xv)
    u = projection(rng, y.shape)
    y.backward(u)
    close(y, layer.forward(x), "y")
    close(xv.grad, layer.backward(u), "dx")
    close(lin.W.grad, layer.grads[0], "dW")
    close(lin.b.grad, layer.grads[1], "db")

    def f(x, W, b):
        lin.W.data, lin.b.data = W.data, b.data
        return lin(x)

    fd_agrees(f, [x, lin.W.data.copy(), lin.b.data.copy()], u,
              [xv.grad.data, lin.W.grad.data, lin.b.grad.data], ["dx", "dW", "db"])


@given(N=size, T=size, D=size, H=size, start=st.sampled_from(["zeros", "h", "h and c"]),
       seed=seeds)
def test_lstm_equals_book_time_lstm(N, T, D, H, start, seed):
    rng = np.random.default_rng(seed)
    lstm = nn.LSTM(D, H, rng=rng, dtype=np.float64)
    lstm.b.data[...] = rng.standard_normal(4 * H)
    xs, h0, c0 = (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
                  rng.standard_normal((N, H)))
    layer = book.TimeLSTM(lstm.Wx.data.copy(), lstm.Wh.data.copy(), lstm.b.data.copy(),
                          stateful=start != "zeros")
    xv, hv, cv = tga.Variable(xs), tga.Variable(h0), tga.Variable(c0)
    state = {"zeros": None, "h": (hv, None), "h and c": (hv, cv)}[start]
    hs, (h, c) = lstm(xv, state)
    u = projection(rng, hs.shape)
    hs.backward(u)
    if start != "zeros":
        layer.set_state(h0, c0 if start == "h and c" else None)
    close(hs, layer.forward(xs), "hs")
    close(h, layer.h, "last h")
    close(c, layer.c, "last c")
    close(xv.grad, layer.backward(u), "dxs")
    for p, g, name in zip(lstm.parameters(), layer.grads, ["dWx", "dWh", "db"]):
        close(p.grad, g, name)
    if start != "zeros":
        close(hv.grad, layer.dh, "dh0")
    if start == "h and c":
        close(cv.grad, layer.dc, "dc0")

    def f(xs, Wx, Wh, b, h0, c0):
        lstm.Wx.data, lstm.Wh.data, lstm.b.data = Wx.data, Wh.data, b.data
        state = {"zeros": None, "h": (h0, None), "h and c": (h0, c0)}[start]
        return lstm(xs, state)[0]

    args = [xs, lstm.Wx.data.copy(), lstm.Wh.data.copy(), lstm.b.data.copy(), h0, c0]
    grads = [xv.grad, lstm.Wx.grad, lstm.Wh.grad, lstm.b.grad, hv.grad, cv.grad]
    grads = [np.zeros_like(a) if g is None else g.data for a, g in zip(args, grads)]
    fd_agrees(f, args, u, grads, ["dxs", "dWx", "dWh", "db", "dh0", "dc0"])


@given(N=size, T=size, V=st.integers(2, 5), seed=seeds)
def test_softmax_cross_entropy_equals_book(N, T, V, seed):
    rng = np.random.default_rng(seed)
    x, ts = rng.standard_normal((N, T, V)) * 2, rng.integers(0, V, (N, T))
    xv = tga.Variable(x)
    loss = F.softmax_cross_entropy(xv, ts, axis=-1)
    u = rng.standard_normal()                        # a random seed, not 1
    loss.backward(np.asarray(u))
    layer = book.TimeSoftmaxWithLoss()
    close(loss, np.asarray(layer.forward(x, ts)), "loss")
    close(xv.grad, layer.backward(u), "dx")
    fd_agrees(lambda x: F.softmax_cross_entropy(x, ts, axis=-1), [x], np.asarray(u),
              [xv.grad.data], ["dx"])


def test_shared_and_cyclic_modules_are_walked_once():
    a, b = Pair(), Pair()
    a.twin = a.inner                  # the same child under two names
    b.parent = a
    a.child = b                       # a cycle
    names = [n for n, _ in a.named_modules()]
    assert names == ["", "inner", "child", "child.inner"]
    assert len(a.parameters()) == 8   # a: w, v, inner.W, inner.b; b: w, v, inner.W, inner.b
