"""Proofs for the further RNN structures (the book, ch. 8, sections 8.4 and 8.5.1): bilstm,
attention-feed, deep, gnmt.

Each row of `KINDS` is one model. For each (float64, tiny sizes, random O(1) weights):
* `gradcheck` of the loss against every parameter (central differences along random output
  projections, never an all-ones seed);
* `decode` equals a step-by-step reference: re-running the decoder teacher-forced on the
  generated prefix (from state None) gives, as its last step's argmax, the next generated
  token, the same attention row and the same log-probability, so carrying the state step
  by step is the same computation as the whole-sequence forward;
* reductions to the book's attention model: `deep` with one layer is `attention`, and
  `attention-feed` whose fed-back rows of Wx are zero is `attention`;
* `config()` rebuilds the model; a toy task (reversing digit strings) is learnt to 100%
  held-out accuracy in a few hundred steps (smoke).
The layers themselves (BiLSTM, StackedLSTM) are proved in tests/test_nn_rnn.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn_models as models
from tinygrad_attn.optim import Adam, clip_grad_norm_
from tinygrad_attn.testing import gradcheck

from test_models_attention import reverse_task

# kind -> (class, extra constructor keywords used in the proofs)
KINDS = {
    "bilstm": (models.BiLSTMSeq2seq, {}),
    "attention-feed": (models.AttentionFeedSeq2seq, {}),
    "deep": (models.DeepSeq2seq, {"num_layers": 3}),
    "gnmt": (models.GNMTSeq2seq, {"num_layers": 3}),
}
seeds = st.integers(0, 2**32 - 1)


def build(kind, V, D, H, rng, scale=0.7, dtype=np.float64):
    Model, extra = KINDS[kind]
    model = Model(V, D, H, dtype=dtype, **extra)
    model.load_state_dict({n: (rng.standard_normal(p.shape) * scale).astype(dtype)
                           for n, p in model.named_parameters()})
    return model


def loss_of_parameters(model, xs, ts):
    """``f(*params) -> model.loss(xs, ts)`` computed with the given Variables in place of the
    model's parameters (for `gradcheck`, which differentiates with respect to f's inputs)."""
    slots = [(m, name) for _, m in model.named_modules() for name in m._parameters]

    def f(*params):
        saved = [getattr(m, name) for m, name in slots]
        for (m, name), p in zip(slots, params):
            object.__setattr__(m, name, p)
        try:
            return model.loss(xs, ts)
        finally:
            for (m, name), p in zip(slots, saved):
                object.__setattr__(m, name, p)

    return f, [getattr(m, name).data for m, name in slots]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("N, Te, Td, V, D, H, seed", [(2, 3, 2, 4, 1, 2, 0),
                                                     (1, 1, 1, 3, 1, 1, 1)])
def test_gradcheck_loss_against_every_parameter(kind, N, Te, Td, V, D, H, seed):
    rng = np.random.default_rng(seed)
    model = build(kind, V, D, H, rng)
    xs, ts = rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1))
    f, params = loss_of_parameters(model, xs, ts)
    assert len(params) == len(model.parameters())
    assert gradcheck(f, *params, seed=seed)
    # and backward() fills every parameter's .grad with that same gradient (float64)
    model.loss(xs, ts).backward()
    assert all(p.grad is None or p.grad.dtype == np.float64 for p in model.parameters())


@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=10)
@given(N=st.integers(1, 3), Te=st.integers(1, 5), length=st.integers(1, 5),
       V=st.integers(2, 6), D=st.integers(1, 3), H=st.integers(1, 4), seed=seeds)
def test_decode_equals_teacher_forced_reference(kind, N, Te, length, V, D, H, seed):
    rng = np.random.default_rng(seed)
    model = build(kind, V, D, H, rng, scale=1.5)           # larger weights: varied tokens
    xs = rng.integers(0, V, (N, Te))
    start = int(rng.integers(0, V))
    decoded = model.decode(xs, start, length)
    assert decoded.ids.shape == (N, length) and decoded.ids.dtype == np.int64
    assert decoded.attention.shape == (N, length, Te)
    np.testing.assert_array_equal(model.generate(xs, start, length), decoded.ids)
    prefix = np.concatenate([np.full((N, 1), start), decoded.ids], axis=1)
    logprob = np.zeros(N)
    for k in range(length):
        scores, extras = model(xs, prefix[:, :k + 1])      # whole forward, from state None
        s = scores.data[:, -1]
        np.testing.assert_array_equal(s.argmax(axis=-1), decoded.ids[:, k])
        np.testing.assert_allclose(extras["attention"].data[:, -1], decoded.attention[:, k],
                                   rtol=1e-10, atol=1e-12)
        z = s - s.max(axis=-1, keepdims=True)
        logz = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        logprob += logz[np.arange(N), decoded.ids[:, k]]
    np.testing.assert_allclose(decoded.logprob, logprob, rtol=1e-10, atol=1e-12)


def _same_weights_as_attention(model, attention):
    """Copy `attention`'s weights into `model` (whose parameters come in the same order)."""
    names = [n for n, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, attention.book_params())))


@given(N=st.integers(1, 3), Te=st.integers(1, 4), Td=st.integers(1, 4), seed=seeds)
@settings(max_examples=15)
def test_deep_with_one_layer_is_the_attention_model(N, Te, Td, seed):
    rng = np.random.default_rng(seed)
    V, D, H = 6, 3, 4
    ref = models.AttentionSeq2seq(V, D, H, dtype=np.float64)
    ref.load_book_params([rng.standard_normal(p.shape) for p in ref.parameters()])
    deep = models.DeepSeq2seq(V, D, H, num_layers=1, dtype=np.float64)
    _same_weights_as_attention(deep, ref)
    xs, ts = rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1))
    assert deep.loss(xs, ts).item() == ref.loss(xs, ts).item()
    np.testing.assert_array_equal(deep.generate(xs, 0, Td), ref.generate(xs, 0, Td))


@given(N=st.integers(1, 3), Te=st.integers(1, 4), Td=st.integers(1, 4), seed=seeds)
@settings(max_examples=15)
def test_attention_feed_with_zero_feed_weights_is_the_attention_model(N, Te, Td, seed):
    rng = np.random.default_rng(seed)
    V, D, H = 6, 3, 4
    ref = models.AttentionSeq2seq(V, D, H, dtype=np.float64)
    ref.load_book_params([rng.standard_normal(p.shape) for p in ref.parameters()])
    feed = models.AttentionFeedSeq2seq(V, D, H, dtype=np.float64)
    state = dict(zip([n for n, _ in feed.named_parameters()], ref.book_params()))
    state["decoder.lstm.Wx"] = np.concatenate([ref.decoder.lstm.Wx.data, np.zeros((H, 4 * H))])
    feed.load_state_dict(state)
    xs, ts = rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1))
    np.testing.assert_allclose(feed.loss(xs, ts).item(), ref.loss(xs, ts).item(), rtol=1e-12)
    np.testing.assert_array_equal(feed.generate(xs, 0, Td), ref.generate(xs, 0, Td))
    # with nonzero feed weights the context does change the result (the wiring is live)
    state["decoder.lstm.Wx"] = rng.standard_normal((D + H, 4 * H))
    feed.load_state_dict(state)
    assert feed.loss(xs, ts).item() != ref.loss(xs, ts).item()


@pytest.mark.parametrize("kind", list(KINDS))
def test_config_rebuilds_the_model(kind):
    Model, extra = KINDS[kind]
    model = Model(7, 3, 4, seed=0, **extra)
    again = Model(**model.config())
    assert [(n, p.shape, p.dtype) for n, p in again.named_parameters()] == \
        [(n, p.shape, p.dtype) for n, p in model.named_parameters()]
    assert model.kind == kind and model.config()["hidden_size"] == 4
    seeded = Model(7, 3, 4, seed=0, **extra)
    for a, b in zip(model.parameters(), seeded.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_bad_layer_counts_are_refused():
    with pytest.raises(ValueError, match="num_layers must be an integer >= 2"):
        models.GNMTSeq2seq(7, 3, 4, num_layers=1)
    with pytest.raises(ValueError, match="StackedLSTM: num_layers must be a positive"):
        models.DeepSeq2seq(7, 3, 4, num_layers=0)


# kind -> constructor keywords for the smoke test (hidden size 32, Adam lr 0.01, batch 64)
SMOKE = {"bilstm": {}, "attention-feed": {}, "deep": {"num_layers": 2},
         "gnmt": {"num_layers": 2}}


@pytest.mark.parametrize("kind", list(SMOKE))
def test_smoke_learns_to_reverse_digit_strings(kind):
    """Reversing 4-digit strings: 100% on 500 held-out strings within 400 steps (checked
    every 25 steps; each model needed at most 175 when this was written)."""
    rng = np.random.default_rng(0)
    L, max_steps = 4, 400
    start, (x_test, t_test), train_batch = reverse_task(rng, L, 500)
    model = KINDS[kind][0](11, 16, 32, seed=0, **SMOKE[kind])
    opt = Adam(model.parameters(), lr=0.01)

    def accuracy():
        return (model.generate(x_test, start, L) == t_test[:, 1:]).all(axis=1).mean()

    assert accuracy() < 0.05                              # untrained: it can fail
    for step in range(1, max_steps + 1):
        xs, ts = train_batch(64)
        model.zero_grad()
        loss = model.loss(xs, ts)
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step % 25 == 0 and accuracy() == 1.0:
            break
    assert accuracy() == 1.0, f"held-out accuracy {accuracy():.3f} after {step} steps"
    # the learned alignment is the anti-diagonal: output step k looks at input L-1-k
    focus = model.decode(x_test[:50], start, L).attention.mean(axis=0).argmax(axis=-1)
    np.testing.assert_array_equal(focus, np.arange(L)[::-1])
