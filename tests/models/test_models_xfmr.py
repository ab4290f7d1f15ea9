"""The Transformer and the copy-task models (NTM, LSTM baseline) at tiny sizes, float64.

* the loss's gradient with respect to EVERY parameter agrees with central differences
  (along a random direction in that parameter's space, output seed a random scalar);
* the Transformer's step-by-step decode (prefix recomputed from the state) gives exactly
  the scores and attention maps of one teacher-forced forward over the decoded sequence;
  its state and memory are re-indexable along axis 0 (beam search);
* config() rebuilds the model.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn as tga
import tinygrad_attn_models as models
from tinygrad_attn.data.copy_task import copy_batch
from tinygrad_attn.testing import numerical_grad

seeds = st.integers(0, 2**32 - 1)


def _randomise(model, rng, scale=0.5):
    for p in model.parameters():
        p.data = p.data + rng.standard_normal(p.shape) * scale


def assert_every_parameter_gradient(model, loss_fn, rng):
    u = rng.standard_normal()
    model.zero_grad()
    loss_fn().backward(np.asarray(u))
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        p0, d = p.data.copy(), rng.standard_normal(p.shape)

        def along(t):
            p.data = p0 + t.data * d
            return loss_fn()

        (numerical,) = numerical_grad(along, np.zeros(()), grad_output=np.asarray(u))
        p.data = p0
        np.testing.assert_allclose(float(np.sum(p.grad.data * d)), numerical, rtol=1e-6,
                                   atol=1e-9, err_msg=name)


TRANSFORMERS = {
    "plain": dict(num_layers=1, num_heads=2, ff_size=6),
    "two_layers_padded_gelu": dict(num_layers=2, num_heads=2, ff_size=5, pad_id=0,
                                   activation="gelu"),
}


@pytest.mark.parametrize("name", list(TRANSFORMERS))
@settings(max_examples=1)   # ~100 parameter tensors, two evaluations each: one example
@given(N=st.integers(1, 3), Te=st.integers(1, 4), Td=st.integers(1, 4), seed=seeds)
def test_transformer_gradcheck_every_parameter(name, N, Te, Td, seed):
    rng = np.random.default_rng(seed)
    model = models.Transformer(5, 3, 4, dtype=np.float64, seed=seed, **TRANSFORMERS[name])
    _randomise(model, rng)
    xs, ts = rng.integers(0, 5, (N, Te)), rng.integers(0, 5, (N, Td + 1))
    if "pad_id" in TRANSFORMERS[name]:
        xs[:, 0] = 1                                        # at least one real token
    assert_every_parameter_gradient(model, lambda: model.loss(xs, ts), rng)


@pytest.mark.parametrize("pad_id", [None, 0])
@settings(max_examples=8)
@given(N=st.integers(1, 3), Te=st.integers(1, 5), length=st.integers(1, 5), seed=seeds)
def test_transformer_decode_equals_teacher_forced_forward(pad_id, N, Te, length, seed):
    rng = np.random.default_rng(seed)
    model = models.Transformer(7, 4, 8, num_layers=2, num_heads=2, ff_size=8, pad_id=pad_id,
                               dtype=np.float64, seed=seed)
    _randomise(model, rng, 1.0)
    xs = rng.integers(1, 7, (N, Te))
    if pad_id is not None and Te > 1:
        xs[0, -1] = pad_id
    decoded = model.decode(xs, 1, length)
    ts_in = np.concatenate([np.ones((N, 1), np.int64), decoded.ids[:, :-1]], axis=1)
    with tga.no_grad():
        scores, extras = model(xs, ts_in)
    np.testing.assert_array_equal(scores.data.argmax(-1), decoded.ids)
    np.testing.assert_allclose(decoded.attention, extras["attention"].data, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(decoded.extras["cross_attention"],
                               extras["cross_attention"].data, rtol=1e-12, atol=1e-14)
    assert decoded.attention.shape == (N, length, Te)
    assert extras["cross_attention"].shape == (N, length, 2, 2, Te)
    assert extras["self_attention"].shape == (N, length, 2, 2, length)
    assert extras["encoder_attention"].shape == (N, Te, 2, 2, Te)
    np.testing.assert_allclose(decoded.attention,
                               decoded.extras["cross_attention"][:, :, -1].mean(2))
    if pad_id is not None and Te > 1:
        assert np.all(extras["cross_attention"].data[0, ..., -1] == 0)   # padding: exactly 0


def test_transformer_state_and_memory_reindex_along_axis_0():
    rng = np.random.default_rng(0)
    model = models.Transformer(6, 4, 8, num_layers=1, num_heads=2, pad_id=0, seed=0,
                               dtype=np.float64)
    xs = rng.integers(1, 6, (3, 4))
    xs[1, -1] = 0
    with tga.no_grad():
        memory = model.encode(xs)
        _, state, _ = model.decode_step(np.full((3, 1), 1), memory, None)
        scores, _, _ = model.decode_step(np.array([[2], [3], [4]]), memory, state)
        order = np.array([2, 0, 0])
        again, _, _ = model.decode_step(np.array([[4], [2], [2]]),
                                        tuple(m[order] for m in memory),
                                        tuple(s[order] for s in state))
    np.testing.assert_allclose(again.data, scores.data[order], rtol=1e-12)


def test_transformer_config_rebuilds_it():
    model = models.Transformer(9, 4, 8, num_layers=3, num_heads=4, ff_size=12, pad_id=2,
                               seed=1)
    again = models.Transformer(**model.config(), seed=1)
    assert again.config() == model.config()
    for (n, p), (m, q) in zip(model.named_parameters(), again.named_parameters()):
        assert n == m
        np.testing.assert_array_equal(p.data, q.data)
    assert model.kind == "transformer"


COPY_MODELS = {
    "ntm": lambda seed: models.NTM(4, 3, controller_size=3, memory_size=5, memory_width=2,
                                   seed=seed, dtype=np.float64),
    "ntm_learned_start": lambda seed: models.NTM(4, 3, controller_size=3, memory_size=5,
                                                  memory_width=2, memory_init="learned",
                                                  weights_init="learned", seed=seed,
                                                  dtype=np.float64),
    "ntm_feedforward": lambda seed: models.NTM(4, 3, controller_size=3, memory_size=5,
                                                memory_width=2, controller="feedforward",
                                                seed=seed, dtype=np.float64),
    "lstm": lambda seed: models.LSTMCopy(4, 3, hidden_size=3, seed=seed, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(COPY_MODELS))
@settings(max_examples=2)
@given(seed=seeds, length=st.integers(1, 3))
def test_copy_models_gradcheck_every_parameter(name, seed, length):
    rng = np.random.default_rng(seed)
    model = COPY_MODELS[name](seed)
    _randomise(model, rng, 0.3)
    xs, ts, mask = copy_batch(rng, 2, length, bits=3, dtype=np.float64)
    assert_every_parameter_gradient(model, lambda: model.loss(xs, ts, mask), rng)


def test_copy_models_config_and_shapes():
    for name, make in COPY_MODELS.items():
        model = make(0)
        again = type(model)(**model.config(), dtype=np.float64, seed=0)
        for p, q in zip(model.parameters(), again.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
        xs, _, _ = copy_batch(np.random.default_rng(0), 2, 3, bits=3)
        logits, extras = model(xs)
        assert logits.shape == (2, 7, 3)
        if name.startswith("ntm"):
            assert extras["read"].shape == extras["write"].shape == (2, 7, 5)


def test_transformer_beam_search_through_the_protocol():
    """Beam search reorders the prefix state and the memory (padding included) generically:
    beam 1 is greedy, and a wider beam finds a sequence at least as likely as greedy's on
    this example (checked against the model's own teacher-forced log-probabilities)."""
    rng = np.random.default_rng(4)
    model = models.Transformer(6, 4, 8, num_layers=1, num_heads=2, pad_id=0, seed=4,
                               dtype=np.float64)
    _randomise(model, rng, 1.5)
    xs = rng.integers(1, 6, (3, 4))
    xs[2, -1] = 0
    greedy = model.decode(xs, 1, 4)
    np.testing.assert_array_equal(model.decode(xs, 1, 4, beam=1).ids, greedy.ids)
    wide = model.decode(xs, 1, 4, beam=3)
    assert wide.ids.shape == (3, 4)
    ts = np.concatenate([np.ones((3, 1), np.int64), wide.ids], axis=1)
    with tga.no_grad():
        scores, _ = model(xs, ts[:, :-1])
    z = scores.data - scores.data.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    own = np.take_along_axis(logp, wide.ids[..., None], -1)[..., 0].sum(1)
    np.testing.assert_allclose(wide.logprob, own, rtol=1e-9)
    assert np.all(wide.logprob >= greedy.logprob - 1e-12)
