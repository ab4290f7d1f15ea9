"""The further RNN layers (the book, ch. 8, sections 8.4.1 and 8.4.3): BiLSTM and StackedLSTM.

* BiLSTM: the forward half equals a plain `LSTM` with the same weights; the backward half
  equals a plain `LSTM` run on the reversed input, reversed back, and its final state is
  that LSTM's (a hypothesis property over lengths, batch sizes and widths, with and
  without an initial state).
* StackedLSTM: equals the layers composed by hand with the residual additions; with the
  upper layers' weights zero they output zero, so the residual makes the stack its first
  layer exactly, values and input gradients alike (the addition passes gradients back
  unchanged).
* first and second order gradients of both layers against central differences
  (`gradcheck`, `gradgradcheck`, float64, tiny sizes), and float32 stays float32.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn as tga
from tinygrad_attn import nn
from tinygrad_attn.testing import gradcheck, gradgradcheck

seeds = st.integers(0, 2**32 - 1)


def randomise(module, rng, scale=0.7):
    module.load_state_dict({n: rng.standard_normal(p.shape) * scale
                            for n, p in module.named_parameters()})


def twin(lstm):
    """A separate plain LSTM holding `lstm`'s weights."""
    other = nn.LSTM(lstm.input_size, lstm.hidden_size, dtype=lstm.Wx.dtype)
    other.load_state_dict(lstm.state_dict())
    return other


@settings(max_examples=40)
@given(N=st.integers(1, 4), T=st.integers(1, 7), D=st.integers(1, 4), H=st.integers(1, 4),
       with_state=st.booleans(), seed=seeds)
def test_bilstm_backward_direction_is_an_lstm_on_the_reversed_input(N, T, D, H, with_state,
                                                                     seed):
    rng = np.random.default_rng(seed)
    bi = nn.BiLSTM(D, H, dtype=np.float64)
    randomise(bi, rng)
    xs = rng.standard_normal((N, T, D))
    state = None
    if with_state:
        state = tuple((tga.Variable(rng.standard_normal((N, H))),
                       tga.Variable(rng.standard_normal((N, H)))) for _ in range(2))
    hs, ((h_f, c_f), (h_b, c_b)) = bi(xs, state)
    assert hs.shape == (N, T, 2 * H)

    ref_f, (rh_f, rc_f) = twin(bi.fwd)(xs, None if state is None else state[0])
    rev, (rh_b, rc_b) = twin(bi.bwd)(np.ascontiguousarray(xs[:, ::-1]),
                                     None if state is None else state[1])
    close = dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hs.data[..., :H], ref_f.data, **close)
    np.testing.assert_allclose(hs.data[..., H:], rev.data[:, ::-1], **close)
    for got, want in [(h_f, rh_f), (c_f, rc_f), (h_b, rh_b), (c_b, rc_b)]:
        np.testing.assert_allclose(got.data, want.data, **close)
    # the backward direction at t = 0 has read the whole input: it is the final state
    np.testing.assert_array_equal(hs.data[:, 0, H:], h_b.data)
    np.testing.assert_array_equal(hs.data[:, -1, :H], h_f.data)


@settings(max_examples=25)
@given(N=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 4), H=st.integers(1, 4),
       L=st.integers(1, 4), E=st.integers(0, 2), seed=seeds)
def test_stacked_lstm_is_its_layers_composed_with_residuals(N, T, D, H, L, E, seed):
    rng = np.random.default_rng(seed)
    stack = nn.StackedLSTM(D, H, L, extra_size=E, dtype=np.float64)
    randomise(stack, rng)
    xs = rng.standard_normal((N, T, D))
    extra = rng.standard_normal((N, T, E)) if E else None
    state = tuple(None if i % 2 else (tga.Variable(rng.standard_normal((N, H))), None)
                  for i in range(L))
    hs, finals = stack(xs, state, extra=None if extra is None else tga.Variable(extra))

    x = xs
    for i, lstm in enumerate(stack.layers()):
        inp = x if extra is None else np.concatenate([x, extra], axis=-1)
        y, (h, c) = twin(lstm)(inp, state[i])
        x = y.data + x if i >= 1 else y.data
        np.testing.assert_allclose(finals[i][0].data, h.data, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(finals[i][1].data, c.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hs.data, x, rtol=1e-12, atol=1e-14)


@given(N=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 4), H=st.integers(1, 4),
       L=st.integers(2, 4), seed=seeds)
@settings(max_examples=20)
def test_residual_makes_zeroed_upper_layers_the_identity(N, T, D, H, L, seed):
    """An LSTM with zero weights outputs h = 0 (g = tanh(0) = 0, so c = 0); with the
    residual additions the stack is then its first layer, values and gradients alike."""
    rng = np.random.default_rng(seed)
    stack = nn.StackedLSTM(D, H, L, dtype=np.float64)
    randomise(stack, rng)
    for lstm in stack.layers()[1:]:
        for p in lstm.parameters():
            p.data[...] = 0
    first = twin(stack.layer0)
    xs = tga.Variable(rng.standard_normal((N, T, D)))
    u = rng.standard_normal((N, T, H))
    hs, _ = stack(xs)
    ref, _ = first(xs)
    np.testing.assert_array_equal(hs.data, ref.data)
    (g,) = tga.grad([hs], [xs], grad_outputs=[tga.Variable(u)])
    (g_ref,) = tga.grad([ref], [xs], grad_outputs=[tga.Variable(u)])
    np.testing.assert_allclose(g.data, g_ref.data, rtol=1e-12, atol=1e-14)


def _as_function(module, make_input):
    """``f(x, *params)`` -> module output computed with the given Variables as parameters."""
    slots = [(m, name) for _, m in module.named_modules() for name in m._parameters]

    def f(x, *params):
        saved = [getattr(m, name) for m, name in slots]
        for (m, name), p in zip(slots, params):
            object.__setattr__(m, name, p)
        try:
            return make_input(module, x)
        finally:
            for (m, name), p in zip(slots, saved):
                object.__setattr__(m, name, p)

    return f, [getattr(m, name).data for m, name in slots]


def _bilstm_outputs(m, x):
    hs, ((_, c_f), (h_b, _)) = m(x[..., 1:])
    return hs, c_f, h_b


# name -> (build(dtype, D, H), run(module, x (N, T, D + 1)) -> Variable or tuple of them)
LAYERS = {
    "BiLSTM": (lambda dtype, D, H: nn.BiLSTM(D, H, dtype=dtype, seed=0), _bilstm_outputs),
    "StackedLSTM extra": (lambda dtype, D, H: nn.StackedLSTM(D, H, 2, extra_size=1,
                                                             dtype=dtype, seed=0),
                          lambda m, x: m(x[..., 1:], extra=x[..., :1])[0]),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("order, D, H", [(1, 2, 2), (2, 1, 1)])
def test_layer_gradients_first_and_second_order(name, order, D, H):
    """Against central differences; second order (create_graph through the layer) at the
    smallest sizes, since it differentiates the whole first-order gradient."""
    rng = np.random.default_rng(order)
    build, run = LAYERS[name]
    module = build(np.float64, D, H)
    randomise(module, rng)
    f, params = _as_function(module, run)
    x = rng.standard_normal((2, 2, D + 1))
    check = gradcheck if order == 1 else gradgradcheck
    assert check(f, x, *params)


@pytest.mark.parametrize("name", list(LAYERS))
def test_float32_stays_float32(name):
    build, run = LAYERS[name]
    module = build(np.float32, 2, 3)
    x = tga.Variable(np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32))
    outs = run(module, x)
    outs = outs if isinstance(outs, tuple) else (outs,)
    assert all(o.dtype == np.float32 for o in outs)
    params = module.parameters()
    seeds = [tga.Variable(np.ones(o.shape, np.float32)) for o in outs]
    grads = tga.grad(list(outs), [x, *params], grad_outputs=seeds, allow_unused=True)
    assert all(g is None or g.dtype == np.float32 for g in grads)
    assert grads[0] is not None and grads[0].dtype == np.float32


def test_stacked_lstm_errors_name_the_problem():
    stack = nn.StackedLSTM(2, 3, 2, extra_size=1)
    x = np.zeros((1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="built with extra_size=1, called with extra None"):
        stack(x)
    with pytest.raises(ValueError, match="state has 1 layers, the stack 2"):
        stack(x, ((None, None),), extra=np.zeros((1, 2, 1), np.float32))
