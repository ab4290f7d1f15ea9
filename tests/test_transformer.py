"""Transformer layers (tinygrad_attn/nn/transformer.py): proofs by formula and by property.

* MultiHeadAttention with one head equals the book's dot-product attention
  (nn.attention_weight / nn.weight_sum) between the projections;
* with h heads it equals h separate one-head computations on the column blocks
  (the batched code has no loop over heads, the reference loops);
* the causal mask makes step t independent of later inputs (perturbing them changes
  nothing at steps <= t, in the decoder layer and in a whole encoder-decoder);
* LayerNorm and PositionalEncoding match their formulas; every layer passes first- and
  second-order gradient checks.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, nn
from tinygrad_attn.testing import gradcheck, gradgradcheck

side = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


def _mha(d, heads, rng):
    mha = nn.MultiHeadAttention(d, heads, dtype=np.float64, rng=rng)
    for p in mha.parameters():                     # O(1) biases too, so they are checked
        p.data = rng.standard_normal(p.shape) * 0.7
    return mha


@given(N=side, Tq=side, Tk=side, d=side, seed=seeds)
def test_one_head_equals_book_attention_between_projections(N, Tq, Tk, d, seed):
    rng = np.random.default_rng(seed)
    mha = _mha(d, 1, rng)
    q, m = Variable(rng.standard_normal((N, Tq, d))), Variable(rng.standard_normal((N, Tk, d)))
    out, a = mha(q, m)
    Q, K, V = mha.q(q), mha.k(m), mha.v(m)
    a_ref = nn.attention_weight(K, Q * (1 / np.sqrt(d)))                   # (N, Tq, Tk)
    out_ref = mha.out(nn.weight_sum(V, a_ref))
    np.testing.assert_allclose(a.data[:, 0], a_ref.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out.data, out_ref.data, rtol=1e-12, atol=1e-13)


@given(N=side, Tq=side, Tk=side, heads=st.integers(1, 3), dk=st.integers(1, 3), seed=seeds,
       masked=st.booleans())
def test_heads_equal_separate_one_head_attentions(N, Tq, Tk, heads, dk, seed, masked):
    rng = np.random.default_rng(seed)
    d = heads * dk
    mha = _mha(d, heads, rng)
    q, m = rng.standard_normal((N, Tq, d)), rng.standard_normal((N, Tk, d))
    mask = rng.random((N, 1, Tq, Tk)) < 0.3 if masked else None
    out, a = mha(Variable(q), Variable(m), mask)
    Q, K, V = (q @ mha.q.W.data + mha.q.b.data, m @ mha.k.W.data + mha.k.b.data,
               m @ mha.v.W.data + mha.v.b.data)
    ctx = np.zeros((N, Tq, d))
    for h in range(heads):                         # the reference loops over heads
        cols = slice(h * dk, (h + 1) * dk)
        s = Q[..., cols] @ np.swapaxes(K[..., cols], 1, 2) / np.sqrt(dk)
        e = np.exp(s - s.max(-1, keepdims=True))
        if masked:
            e = np.where(mask[:, 0], 0.0, e)
        tot = e.sum(-1, keepdims=True)
        w = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
        np.testing.assert_allclose(a.data[:, h], w, rtol=1e-12, atol=1e-14)
        ctx[..., cols] = w @ V[..., cols]
    np.testing.assert_allclose(out.data, ctx @ mha.out.W.data + mha.out.b.data, rtol=1e-11,
                               atol=1e-12)


@settings(max_examples=15)
@given(N=side, T=st.integers(2, 5), t=st.integers(0, 3), seed=seeds)
def test_causal_mask_makes_step_t_independent_of_later_inputs(N, T, t, seed):
    t = t % (T - 1)
    rng = np.random.default_rng(seed)
    layer = nn.TransformerDecoderLayer(4, 2, 8, dtype=np.float64, rng=rng)
    x = rng.standard_normal((N, T, 4))
    memory = Variable(rng.standard_normal((N, 3, 4)))
    y0, ws, _ = layer(Variable(x), memory, F.causal_mask(T))
    x2 = x.copy()
    x2[:, t + 1:] += rng.standard_normal(x2[:, t + 1:].shape) * 3    # perturb the future
    y1, _, _ = layer(Variable(x2), memory, F.causal_mask(T))
    np.testing.assert_array_equal(y1.data[:, :t + 1], y0.data[:, :t + 1])   # bit for bit
    assert not np.allclose(y1.data[:, t + 1:], y0.data[:, t + 1:])          # the control
    assert np.all(ws.data * F.causal_mask(T) == 0)                # the future gets 0 weight


def test_layer_norm_module_matches_formula():
    rng = np.random.default_rng(0)
    ln = nn.LayerNorm(5, dtype=np.float64)
    ln.gamma.data, ln.beta.data = rng.standard_normal(5), rng.standard_normal(5)
    x = rng.standard_normal((2, 3, 5))
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(ln(Variable(x)).data,
                               (x - mu) / np.sqrt(var + 1e-5) * ln.gamma.data + ln.beta.data,
                               rtol=1e-12)


def test_positional_encoding_formula():
    pe = nn.transformer.sinusoids(50, 6)
    p, i = 37, 2                                               # columns 4 (sin) and 5 (cos)
    assert pe[p, 2 * i] == pytest.approx(np.sin(p / 10000 ** (2 * i / 6)), rel=1e-14)
    assert pe[p, 2 * i + 1] == pytest.approx(np.cos(p / 10000 ** (2 * i / 6)), rel=1e-14)
    assert nn.transformer.sinusoids(3, 5).shape == (3, 5)     # odd widths work
    x = Variable(np.zeros((2, 4, 6), np.float32))
    y = nn.PositionalEncoding(6)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data[1], pe[:4], rtol=1e-6)


def _layers(rng):
    d, kw = 4, dict(dtype=np.float64, rng=rng)
    return {
        "layer_norm": (nn.LayerNorm(d, dtype=np.float64), lambda m, x, mem: m(x)),
        "multi_head_attention": (nn.MultiHeadAttention(d, 2, **kw),
                                 lambda m, x, mem: m(x, mem, F.padding_mask(
                                     np.array([[1, 0, 0], [1, 1, 0]]), 0))[0]),
        "feed_forward_gelu": (nn.FeedForward(d, 6, "gelu", **kw), lambda m, x, mem: m(x)),
        "encoder_layer": (nn.TransformerEncoderLayer(d, 2, 6, **kw),
                          lambda m, x, mem: m(x, F.causal_mask(3))[0]),
        "decoder_layer": (nn.TransformerDecoderLayer(d, 2, 6, **kw),
                          lambda m, x, mem: m(x, mem, F.causal_mask(3))[0]),
    }


@pytest.mark.parametrize("name", list(_layers(np.random.default_rng(0))))
def test_layers_first_and_second_order(name):
    """Gradients of the inputs against finite differences, first and second order (the
    parameters' gradients are checked through the models, tests/models/test_models_xfmr.py).
    The parameters are moved off their init (gamma 1, beta 0, ...) first."""
    rng = np.random.default_rng(1)
    module, run = _layers(rng)[name]
    for p in module.parameters():
        p.data = p.data + rng.standard_normal(p.shape) * 0.3
    x, mem = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    assert gradcheck(lambda x, mem: run(module, x, mem), x, mem)
    assert gradgradcheck(lambda x, mem: run(module, x, mem), x, mem)


def test_dropout_layer_is_identity_in_evaluation_and_seeded_in_training():
    import tinygrad_attn as tga
    x = Variable(np.ones((4, 8)))
    a = nn.Dropout(0.5, seed=3)(x)
    b = nn.Dropout(0.5, seed=3)(x)
    np.testing.assert_array_equal(a.data, b.data)
    assert (a.data == 0).any()
    assert nn.Dropout(0.5, seed=3).eval()(x) is x
    with tga.no_grad():               # the mode decides, not whether ops are recorded
        np.testing.assert_array_equal(nn.Dropout(0.5, seed=3)(x).data, a.data)


def test_mha_errors():
    with pytest.raises(ValueError, match="d_model 5 is not divisible by num_heads 2"):
        nn.MultiHeadAttention(5, 2)
    with pytest.raises(ValueError, match="activation must be 'relu' or 'gelu'"):
        nn.FeedForward(4, 4, "tanh")
