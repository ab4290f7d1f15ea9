"""The decoding speed path (no tape, fused LSTM with weights prepared once and step buffers
reused) equals a decode that records every op on the tape, token for token."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn_models as models
from tinygrad_attn import Variable, no_grad
from tinygrad_attn.ops import lstm_kernels, recurrent

KINDS = {"seq2seq": models.Seq2seq, "peeky": models.PeekySeq2seq,
         "attention": models.AttentionSeq2seq}


def taped_greedy(model, xs, start_id, length):
    """Greedy decoding with recording on: every step is a graph on the tape (the fused
    LSTM keeps its workspace), scores read from the recorded Variables."""
    memory = model.encode(xs)
    ids = np.full((len(xs), 1), start_id, dtype=np.int64)
    state, out, scores_seen = None, [], []
    for _ in range(length):
        scores, state, _ = model.decode_step(ids, memory, state)
        assert scores.creator is not None          # it really was recorded
        ids = scores.data[:, -1].argmax(axis=-1)[:, None]
        out.append(ids[:, 0])
        scores_seen.append(scores.data[:, -1])
    return np.stack(out, axis=1), scores_seen


@pytest.mark.parametrize("kind", list(KINDS))
@given(N=st.integers(1, 5), Te=st.integers(1, 5), length=st.integers(1, 4),
       V=st.integers(2, 7), H=st.integers(1, 5), batch_size=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_fast_decode_equals_taped_decode(kind, N, Te, length, V, H, batch_size, seed):
    rng = np.random.default_rng(seed)
    model = KINDS[kind](V, 3, H, seed=seed)
    for p in model.parameters():                 # larger weights: varied tokens
        p.data *= 1.5
    xs = rng.integers(0, V, (N, Te))
    start = int(rng.integers(0, V))
    taped, _ = taped_greedy(model, xs, start, length)
    fast = model.decode(xs, start, length, batch_size=batch_size).ids
    np.testing.assert_array_equal(fast, taped)


def test_decode_scores_are_bitwise_the_taped_ones():
    """Same arithmetic in the same order: the fast path's scores are the taped ones."""
    rng = np.random.default_rng(0)
    model = models.AttentionSeq2seq(11, 4, 6, seed=3)
    xs = rng.integers(0, 11, (7, 5))
    taped_ids, taped_scores = taped_greedy(model, xs, 1, 4)
    with no_grad(), lstm_kernels.frozen_weights():
        memory = model.encode(xs)
        ids, state = np.full((7, 1), 1, dtype=np.int64), None
        for k in range(4):
            scores, state, _ = model.decode_step(ids, memory, state)
            assert scores.creator is None
            np.testing.assert_array_equal(scores.data[:, -1], taped_scores[k])
            ids = taped_ids[:, k:k + 1]


def test_frozen_weights_prepares_each_weight_once_and_reuses_buffers():
    rng = np.random.default_rng(1)
    Wx, Wh, b = (Variable(rng.standard_normal(s).astype(np.float32))
                 for s in ((3, 8), (2, 8), (8,)))
    xs = Variable(rng.standard_normal((4, 1, 3)).astype(np.float32))
    with no_grad(), lstm_kernels.frozen_weights():
        first = lstm_kernels.prepare_weights(Wx.data, Wh.data, b.data)
        assert lstm_kernels.prepare_weights(Wx.data, Wh.data, b.data) is first
        buf = lstm_kernels._scratch("a", (4, 8), np.float32)
        assert lstm_kernels._scratch("a", (4, 8), np.float32) is buf
        assert lstm_kernels._scratch("b", (4, 8), np.float32) is not buf
        h1 = recurrent.lstm(xs, Wx, Wh, b)[1]
        h2 = recurrent.lstm(xs, Wx, Wh, b, h1)[1]
    assert lstm_kernels.prepare_weights(Wx.data, Wh.data, b.data) is not first  # outside: fresh
    assert not np.shares_memory(h1.data, h2.data)  # outputs are never scratch
    np.testing.assert_array_equal(h2.data, recurrent.lstm(xs, Wx, Wh, b, h1)[1].data)
