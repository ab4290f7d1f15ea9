"""The compositions of ops/composite.py: each row of OPS is one op with a NumPy reference
and an input strategy; every row is checked forward, first order and second order against
finite differences. Hand cases below pin what a table cannot: exact zeros of the masked
softmax, fully masked rows, large |x|, dropout's seeding and its identity when not training."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.ops.composite import layer_norm_composed
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples


# --- references, straight from the formulas -------------------------------------------------
def layer_norm_ref(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def masked_softmax_ref(x, mask):
    mask = np.broadcast_to(mask, x.shape)
    e = np.where(mask, 0.0, np.exp(x))
    s = e.sum(-1, keepdims=True)
    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)


def gelu_ref(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def cosine_ref(a, b, eps=1e-8):
    return (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))


def circular_convolution_ref(w, s):
    n, K = w.shape[-1], s.shape[-1]
    out = np.zeros(np.broadcast_shapes(w.shape[:-1], s.shape[:-1]) + (n,))
    for i in range(n):
        for j in range(K):
            out[..., i] += s[..., j] * w[..., (i - (j - K // 2)) % n]
    return out


def bce_ref(z, t):
    p = 1 / (1 + np.exp(-z))
    return np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p))


@st.composite
def bce_args(draw):
    z = draw(tst.floats_arrays())
    return z, draw(tst.floats_arrays(z.shape, min_value=0.0, max_value=1.0))


def dropout_ref(x, p, seed):
    keep = np.random.default_rng(seed).random(x.shape) >= p
    return x * keep / (1 - p)


# --- input strategies -----------------------------------------------------------------------
@st.composite
def layer_norm_args(draw):
    # distinct entries on a 0.05 grid: every row has variance >> eps, so the derivatives
    # (which grow like 1/sqrt(var)) stay moderate and finite differences meaningful
    x = draw(tst.floats_arrays(min_dims=1, distinct=True, gap=0.05))
    x = x if x.shape[-1] > 1 else np.concatenate([x, x + 1.0], axis=-1)
    n = x.shape[-1]
    g = draw(tst.floats_arrays((n,)))
    b = draw(tst.floats_arrays((n,)))
    return x, g, b


@st.composite
def masked_args(draw):
    shape = draw(tst.shapes(min_dims=1))
    x = draw(tst.floats_arrays(shape))
    lead = draw(st.integers(0, len(shape) - 1))   # a mask of x's shape or broadcasting to it
    mshape = tuple(1 if (i < lead and draw(st.booleans())) else s for i, s in enumerate(shape))
    return x, draw(tst.bool_masks(mshape))


@st.composite
def pair_args(draw):
    shape = draw(tst.shapes(min_dims=1))
    kw = dict(avoid=(0.0,), margin=0.1)            # no vector near 0 (see the hand case)
    return draw(tst.floats_arrays(shape, **kw)), draw(tst.floats_arrays(shape, **kw))


@st.composite
def roll_args(draw):
    x = draw(tst.floats_arrays(min_dims=1))
    return x, draw(st.integers(-6, 6)), draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def convolution_args(draw):
    lead = draw(tst.shapes(max_dims=2))
    n = draw(st.integers(1, 5))
    K = draw(st.sampled_from([1, 3, 5]))
    return draw(tst.floats_arrays(lead + (n,))), draw(tst.floats_arrays(lead + (K,)))


def single(strategy):
    return strategy.map(lambda x: (x,))


# name -> (op on Variables, reference on arrays, strategy of argument tuples). Integer and
# bool arguments (masks, shifts, axes) are data: gradcheck passes them through unchanged.
OPS = {
    "layer_norm": (lambda x, g, b: F.layer_norm(x, g, b), layer_norm_ref, layer_norm_args()),
    "layer_norm_composed": (lambda x, g, b: layer_norm_composed(x, g, b), layer_norm_ref,
                            layer_norm_args()),
    "masked_softmax": (F.masked_softmax, masked_softmax_ref, masked_args()),
    "softplus": (F.softplus, lambda x: np.logaddexp(0, x), single(tst.floats_arrays())),
    "gelu": (F.gelu, gelu_ref, single(tst.floats_arrays())),
    "cosine_similarity": (F.cosine_similarity, cosine_ref, pair_args()),
    "roll": (lambda x, k, a: F.roll(x, int(k), int(a)), np.roll, roll_args()),
    "circular_convolution": (F.circular_convolution, circular_convolution_ref,
                             convolution_args()),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, bce_ref,
                                         bce_args()),
    "dropout": (lambda x: F.dropout(x, 0.3, np.random.default_rng(7), training=True),
                lambda x: dropout_ref(x, 0.3, 7), single(tst.floats_arrays())),
}


def _variables(args):
    return [Variable(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in args]


def _gradcheck_args(args):
    # Python ints (shift, axis) are wrapped as 0-d integer arrays: data to gradcheck
    return [np.asarray(a) if isinstance(a, int) else a for a in args]


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_forward_matches_reference(name, data):
    op, ref, strategy = OPS[name]
    args = data.draw(strategy)
    assert_same(op(*_variables(args)), ref(*args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPS))
@examples(0.5)
@given(data=st.data())
def test_gradcheck(name, data):
    op, _, strategy = OPS[name]
    assert gradcheck(op, *_gradcheck_args(data.draw(strategy)))


@pytest.mark.parametrize("name", sorted(OPS))
@examples(0.2)
@given(data=st.data())
def test_gradgradcheck(name, data):
    op, _, strategy = OPS[name]
    assert gradgradcheck(op, *_gradcheck_args(data.draw(strategy)))


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_stays_float32(name):
    op, _, _ = OPS[name]
    y = op(*_variables(_fixed_args(name)))
    assert y.dtype == np.float32, (name, y.dtype)


def _fixed_args(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5)).astype(np.float32)
    affine = (x, np.ones(5, np.float32), np.zeros(5, np.float32))
    return {"layer_norm": affine, "layer_norm_composed": affine,
            "masked_softmax": (x, rng.random((2, 5)) < 0.5),
            "cosine_similarity": (x, x[::-1].copy()),
            "roll": (x, 2, -1),
            "circular_convolution": (x, rng.random((2, 3)).astype(np.float32)),
            "binary_cross_entropy_with_logits": (x, np.ones((2, 5), np.float32))}.get(name, (x,))


# --- layer_norm --------------------------------------------------------------------------------
def test_layer_norm_normalises():
    x = np.random.default_rng(1).standard_normal((3, 4, 8)) * 5 + 3
    y = F.layer_norm(Variable(x)).data
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), x.var(-1) / (x.var(-1) + 1e-5), rtol=1e-12)
    by_hand = (x[0, 0] - x[0, 0].mean()) / np.sqrt(x[0, 0].var() + 1e-5)
    np.testing.assert_allclose(y[0, 0], by_hand, rtol=1e-12)


@examples(0.3)
@given(args=layer_norm_args(), data=st.data())
def test_layer_norm_primitive_equals_the_composition(args, data):
    """normalize (one op, its own rule) against layer_norm_composed (ordinary ops): values,
    first derivatives and second derivatives (the gradient of a random projection of the
    gradient), on any axis."""
    x, g, b = args
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    g = g if axis in (-1, x.ndim - 1) else None      # gamma/beta have the last axis's size
    b = b if g is not None else None
    rng = np.random.default_rng(x.size)
    u, w = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    results = []
    for op in (F.layer_norm, layer_norm_composed):
        v = Variable(x)
        y = op(v, g, b, axis=axis)
        (gx,) = grad(y, [v], grad_outputs=Variable(u), create_graph=True)
        (ggx,) = grad((gx * w).sum(), [v])
        results.append((y.data, gx.data, ggx.data))
    for got, ref in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-11)


def test_layer_norm_of_a_constant_row_is_zero_with_finite_gradient():
    x = Variable(np.full((2, 4), 3.0))
    y = F.layer_norm(x)
    (g,) = grad((y * np.arange(8.0).reshape(2, 4)).sum(), [x])
    assert np.all(y.data == 0) and np.all(np.isfinite(g.data))


# --- masked_softmax ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_masked_softmax_gives_masked_positions_exactly_zero(dtype, scale):
    rng = np.random.default_rng(2)
    x = Variable((rng.standard_normal((3, 4, 6)) * scale).astype(dtype))
    mask = rng.random((3, 4, 6)) < 0.4
    mask[0, 0] = True                                        # one fully masked row
    mask[1, 1] = False                                       # one row without a mask
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.masked_softmax(x, mask)
        (g,) = grad(y, [x], grad_outputs=Variable(rng.standard_normal(x.shape).astype(dtype)))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.all(y.data[mask] == 0.0) and np.all(g.data[mask] == 0.0)   # exactly
    assert np.all(y.data[0, 0] == 0.0) and np.all(g.data[0, 0] == 0.0)   # the masked row
    live = ~mask.all(-1)
    np.testing.assert_allclose(y.data.sum(-1)[live], 1.0, rtol=1e-6)
    np.testing.assert_allclose(y.data[1, 1], F.softmax(x).data[1, 1], rtol=1e-6)
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(g.data))


def test_masked_softmax_errors():
    x = Variable(np.ones((2, 3)))
    with pytest.raises(TypeError, match="masked_softmax: mask must be a bool array"):
        F.masked_softmax(x, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"masked_softmax: mask of shape \(3, 3\) does not"):
        F.masked_softmax(x, np.zeros((3, 3), bool))


def test_causal_and_padding_masks():
    np.testing.assert_array_equal(F.causal_mask(3), [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    # 2 new queries after a prefix of 2: query i sees keys 0 .. 2 + i
    np.testing.assert_array_equal(F.causal_mask(2, 4), [[0, 0, 0, 1], [0, 0, 0, 0]])
    m = F.padding_mask(np.array([[5, 0, 0], [1, 2, 3]]), pad_id=0)
    assert m.shape == (2, 1, 1, 3)
    np.testing.assert_array_equal(m[:, 0, 0], [[0, 1, 1], [0, 0, 0]])
    assert not F.padding_mask(np.ones((2, 3), int), None).any()


# --- softplus, gelu ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_is_stable_for_large_magnitudes(dtype):
    x = Variable(np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4], dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.softplus(x)
        (g,) = grad(y.sum(), [x])
    ref = np.logaddexp(0, x.data.astype(np.float64))
    np.testing.assert_allclose(y.data, ref, rtol=1e-6, atol=1e-15)
    sig = 0.5 * np.tanh(x.data.astype(np.float64) / 2) + 0.5
    np.testing.assert_allclose(g.data, sig, rtol=1e-6, atol=1e-15)
    assert y.dtype == dtype and g.dtype == dtype


def test_softplus_derivatives_at_zero():
    x = Variable(np.array(0.0))
    (g,) = grad(F.softplus(x), [x], create_graph=True)
    (gg,) = grad(g, [x])
    assert g.item() == 0.5 and gg.item() == 0.25


# --- cosine similarity -------------------------------------------------------------------------
def test_cosine_similarity_by_hand():
    a = Variable(np.array([[1.0, 0.0], [3.0, 4.0]]))
    b = Variable(np.array([[0.0, 2.0], [6.0, 8.0]]))
    np.testing.assert_allclose(F.cosine_similarity(a, b, eps=0.0).data, [0.0, 1.0])
    # one key against every memory row: (N, 1, M) with (N, R, M) -> (N, R)
    mem = np.random.default_rng(3).standard_normal((2, 5, 3))
    key = mem[:, 2:3] * 2.0
    sim = F.cosine_similarity(Variable(key), Variable(mem)).data
    assert sim.shape == (2, 5)
    np.testing.assert_allclose(sim[:, 2], 1.0, rtol=1e-8)


def test_cosine_similarity_of_a_zero_vector_is_zero_with_finite_gradients():
    a, b = Variable(np.zeros(3)), Variable(np.array([1.0, 2.0, 3.0]))
    y = F.cosine_similarity(a, b)
    ga, gb = grad(y, [a, b])
    assert y.item() == 0.0 and np.all(np.isfinite(ga.data)) and np.all(gb.data == 0)


# --- roll and circular convolution -------------------------------------------------------------
def test_circular_convolution_by_hand():
    w = Variable(np.array([0.0, 1.0, 0.0, 0.0]))
    forward = F.circular_convolution(w, Variable(np.array([0.0, 0.0, 1.0])))   # s_+1 = 1
    backward = F.circular_convolution(w, Variable(np.array([1.0, 0.0, 0.0])))  # s_-1 = 1
    np.testing.assert_array_equal(forward.data, [0, 0, 1, 0])
    np.testing.assert_array_equal(backward.data, [1, 0, 0, 0])
    wrap = F.circular_convolution(Variable(np.array([0.0, 0.0, 0.0, 1.0])),
                                  Variable(np.array([0.0, 0.5, 0.5])))
    np.testing.assert_array_equal(wrap.data, [0.5, 0, 0, 0.5])               # wraps around


def test_circular_convolution_needs_an_odd_kernel():
    with pytest.raises(ValueError, match="circular_convolution: the shift kernel must have"):
        F.circular_convolution(Variable(np.ones(4)), Variable(np.ones(2)))


# --- dropout -----------------------------------------------------------------------------------
def test_dropout_is_seeded_scaled_and_the_identity_only_when_not_training():
    x = Variable(np.ones((200, 50)))
    a = F.dropout(x, 0.25, np.random.default_rng(11))
    b = F.dropout(x, 0.25, np.random.default_rng(11))
    np.testing.assert_array_equal(a.data, b.data)                    # the seed decides
    assert set(np.unique(a.data)) == {0.0, 1 / 0.75}
    assert abs((a.data == 0).mean() - 0.25) < 0.01
    with tga.no_grad():              # the mode decides, not whether ops are recorded
        np.testing.assert_array_equal(F.dropout(x, 0.25, np.random.default_rng(11)).data,
                                      a.data)
    assert F.dropout(x, 0.25, np.random.default_rng(11), training=False) is x   # evaluation
    with pytest.raises(TypeError, match="dropout: training must be True or False"):
        F.dropout(x, 0.25, np.random.default_rng(11), training=None)
    assert F.dropout(x, 0.0, None) is x
    (g,) = grad((a * 3.0).sum(), [x])
    np.testing.assert_array_equal(g.data, 3.0 * a.data)               # gy * mask / (1 - p)


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\)"):
        F.dropout(Variable(np.ones(3)), 1.0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="dropout: rng must be a numpy.random.Generator"):
        F.dropout(Variable(np.ones(3)), 0.5, 0)
