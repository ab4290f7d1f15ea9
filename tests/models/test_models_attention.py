"""The attention model: batched attention, its weights for plotting, and a smoke test that it
learns a toy task (reversing digit strings) to 100% held-out accuracy in 300 steps (speed is
measured in benchmarks/, never asserted in a test)."""

import numpy as np
import pytest

import tinygrad_attn_models as models
from tinygrad_attn.optim import Adam, clip_grad_norm_


def graph_ops(loss):
    ops, stack, seen = [], [loss.creator], set()
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        ops.append(f)
        stack.extend(x.creator for x in f.inputs)
    return ops


@pytest.mark.parametrize("Td", [1, 4, 9])
def test_attention_runs_once_for_all_decoder_steps(Td):
    """No loop over decoder steps: one score matmul and one softmax whatever Td is."""
    rng = np.random.default_rng(0)
    V = 7
    model = models.AttentionSeq2seq(V, 3, 4, seed=0)
    loss = model.loss(rng.integers(0, V, (2, 5)), rng.integers(0, V, (2, Td + 1)))
    attention_ops = [f.name for f in graph_ops(loss) if f.scope == ("decoder", "attention")]
    assert attention_ops.count("softmax") == 1
    assert attention_ops.count("matmul") == 2           # scores, then context


def test_attention_weights_of_forward_and_generate():
    rng = np.random.default_rng(1)
    V, N, Te = 9, 3, 6
    model = models.AttentionSeq2seq(V, 4, 5, seed=1)
    xs, ts = rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, 5))
    _, extras = model(xs, ts[:, :-1])                 # returned by forward, never stashed
    a = extras["attention"].data
    assert isinstance(a, np.ndarray) and a.shape == (N, 4, Te) and a.dtype == np.float32
    np.testing.assert_allclose(a.sum(axis=-1), 1, rtol=1e-5)
    a = model.decode(xs, 0, 8).attention
    assert a.shape == (N, 8, Te)
    np.testing.assert_allclose(a.sum(axis=-1), 1, rtol=1e-5)
    assert model.decode(xs, 0, 0).attention.shape == (N, 0, Te)
    assert not any("weights" in name for name in vars(model))


def reverse_task(rng, length, n_test):
    """Digit strings and their reversal; the held-out strings never appear in training."""
    START = 10
    pool = rng.permutation(10 ** length)
    digits = (pool[:, None] // 10 ** np.arange(length)[::-1]) % 10

    def pairs(rows):
        xs = digits[rows]
        return xs, np.concatenate([np.full((len(rows), 1), START), xs[:, ::-1]], axis=1)

    return START, pairs(np.arange(n_test)), lambda k: pairs(
        rng.integers(n_test, len(pool), k))


def test_smoke_attention_learns_to_reverse_digit_strings():
    rng = np.random.default_rng(0)
    L = 5
    start, (x_test, t_test), train_batch = reverse_task(rng, L, 500)
    model = models.AttentionSeq2seq(11, 16, 32, seed=0)
    opt = Adam(model.parameters(), lr=0.01)

    def accuracy():
        return (model.generate(x_test, start, L) == t_test[:, 1:]).all(axis=1).mean()

    assert accuracy() < 0.05                              # untrained: it can fail
    for _ in range(300):
        xs, ts = train_batch(64)
        model.zero_grad()
        loss = model.loss(xs, ts)
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    assert accuracy() == 1.0, f"held-out accuracy {accuracy():.3f} after 300 steps"
    assert loss.item() < 0.05
    # the learned alignment is the anti-diagonal: output step k looks at input L-1-k
    focus = model.decode(x_test[:50], start, L).attention.mean(axis=0).argmax(axis=-1)
    np.testing.assert_array_equal(focus, np.arange(L)[::-1])


@pytest.mark.parametrize("Model", [models.Seq2seq, models.PeekySeq2seq, models.AttentionSeq2seq,
                                   models.BiLSTMSeq2seq, models.AttentionFeedSeq2seq,
                                   models.DeepSeq2seq, models.GNMTSeq2seq])
def test_generate_in_row_blocks_gives_the_same_tokens_and_weights(Model):
    rng = np.random.default_rng(5)
    model = Model(9, 4, 6, seed=3)
    xs = rng.integers(0, 9, size=(7, 5))
    whole = model.decode(xs, 1, 4, batch_size=256)
    weights = whole.attention
    blocks = model.decode(xs, 1, 4, batch_size=3)            # blocks of 3, 3 and 1 rows
    np.testing.assert_array_equal(blocks.ids, whole.ids)
    np.testing.assert_array_equal(blocks.logprob, whole.logprob)
    if weights is not None:
        assert blocks.attention.shape == (7, 4, 5)
        np.testing.assert_array_equal(blocks.attention, weights)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        model.generate(xs, 1, 4, batch_size=0)
