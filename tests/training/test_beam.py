"""Beam search over the model protocol: beam 1 is greedy, the batch size does not matter,
an exhaustive beam finds the most probable sequence, the heatmap follows the winner."""
import itertools

import numpy as np
import pytest

import tinygrad_attn_models as models
from tinygrad_attn import decoding, no_grad

KINDS = [models.Seq2seq, models.PeekySeq2seq, models.AttentionSeq2seq]


def sharp_model(Model, V=7, seed=1):
    """Random weights scaled up so the distributions are peaked and beams differ."""
    model = Model(V, 6, 12, seed=seed)
    for p in model.parameters():
        p.data *= 3
    return model


def sequence_logprob(model, xs, start, seqs):
    """log p(seqs | xs), teacher-forced through forward (one batch of every row)."""
    ts = np.concatenate([np.full((len(seqs), 1), start), seqs], axis=1)
    with no_grad():
        scores, _ = model(xs, ts[:, :-1])
    s = scores.data.astype(np.float64)
    lp = s - s.max(-1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    return np.take_along_axis(lp, seqs[..., None], -1)[..., 0].sum(1)


@pytest.mark.parametrize("Model", KINDS)
def test_beam_1_gives_exactly_greedys_tokens(Model):
    model = sharp_model(Model)
    xs = np.random.default_rng(0).integers(0, 7, size=(40, 6))
    g = decoding.greedy(model, xs, 1, 5)
    b = decoding.beam_search(model, xs, 1, 5, beam=1)
    np.testing.assert_array_equal(b.ids, g.ids)
    np.testing.assert_array_equal(b.logprob, g.logprob)
    if g.attention is not None:
        np.testing.assert_array_equal(b.attention, g.attention)


@pytest.mark.parametrize("Model", KINDS)
@pytest.mark.parametrize("beam", [2, 4])
def test_beam_does_not_depend_on_batch_size(Model, beam):
    model = sharp_model(Model)
    xs = np.random.default_rng(1).integers(0, 7, size=(11, 6))
    whole = decoding.beam_search(model, xs, 1, 5, beam=beam)
    for bs in (1, 4):
        part = decoding.beam_search(model, xs, 1, 5, beam=beam, batch_size=bs)
        np.testing.assert_array_equal(part.ids, whole.ids)
        # BLAS sums round differently for another number of rows: the floats agree to float32
        np.testing.assert_allclose(part.logprob, whole.logprob, rtol=1e-5)


@pytest.mark.parametrize("Model", KINDS)
def test_an_exhaustive_beam_finds_the_most_probable_sequence(Model):
    """With beam >= V**(length-1) nothing is pruned: beam search returns the argmax over all
    V**length sequences (scored teacher-forced), so at least as probable as greedy's."""
    V, L = 5, 3
    model = sharp_model(Model, V=V, seed=2)
    xs = np.random.default_rng(3).integers(0, V, size=(6, 4))
    beam = decoding.beam_search(model, xs, 1, L, beam=V ** (L - 1))
    greedy = decoding.greedy(model, xs, 1, L)
    every = np.array(list(itertools.product(range(V), repeat=L)))
    for n in range(len(xs)):
        lp = sequence_logprob(model, np.repeat(xs[n:n + 1], len(every), 0), 1, every)
        np.testing.assert_array_equal(beam.ids[n], every[np.argmax(lp)])
        np.testing.assert_allclose(beam.logprob[n], lp.max(), rtol=1e-5)
        assert beam.logprob[n] >= greedy.logprob[n] - 1e-5 * abs(greedy.logprob[n])
    # the model's own scoring agrees with what the search reports
    np.testing.assert_allclose(sequence_logprob(model, xs, 1, beam.ids), beam.logprob,
                               rtol=1e-5)
    assert (beam.logprob > greedy.logprob + 1e-3).any(), "the search never beat greedy here"


def test_the_attention_of_the_winning_path():
    """The map returned is the one the winner's own steps produced (rerun greedily along it:
    teacher-forced on the winner's tokens, step by step, the same weights come out)."""
    model = sharp_model(models.AttentionSeq2seq)
    xs = np.random.default_rng(4).integers(0, 7, size=(9, 6))
    b = decoding.beam_search(model, xs, 1, 5, beam=3)
    ts_in = np.concatenate([np.ones((9, 1), int), b.ids[:, :-1]], axis=1)
    with no_grad():
        _, extras = model(xs, ts_in)
    np.testing.assert_allclose(b.attention, extras["attention"].data, rtol=1e-5, atol=1e-7)
    assert b.attention.shape == (9, 5, 6)


def test_decode_beam_on_the_model_and_bad_arguments():
    model = sharp_model(models.AttentionSeq2seq)
    xs = np.random.default_rng(5).integers(0, 7, size=(4, 6))
    out = model.decode(xs, 1, 5, beam=3)
    np.testing.assert_array_equal(out.ids, decoding.beam_search(model, xs, 1, 5, beam=3).ids)
    np.testing.assert_array_equal(model.generate(xs, 1, 5, beam=3), out.ids)
    assert model.decode(xs, 1, 0, beam=3).ids.shape == (4, 0)
    for bad, msg in [({"beam": 0}, "beam must be an integer of at least 1"),
                     ({"beam": 2.5}, "beam must be"), ({"batch_size": 0}, "batch_size"),
                     ({"length_norm": -1}, "length_norm")]:
        kw = {"beam": 2, **bad}
        with pytest.raises(ValueError, match=msg):
            decoding.beam_search(model, xs, 1, 5, **kw)
    with pytest.raises(TypeError, match="cannot re-index a str"):
        decoding.take_rows(("a",), np.arange(2))


def test_end_token_and_length_normalisation():
    """With an end token, ended hypotheses stay ended (padding with it at no cost); length
    normalisation (alpha > 0) can only favour longer answers over the raw ranking."""
    model = sharp_model(models.AttentionSeq2seq, V=7, seed=6)
    xs = np.random.default_rng(7).integers(0, 7, size=(30, 6))
    raw = decoding.beam_search(model, xs, 1, 6, beam=4, end_id=0)
    for row in raw.ids:
        ends = np.flatnonzero(row == 0)
        if len(ends):
            assert (row[ends[0]:] == 0).all(), row
    norm = decoding.beam_search(model, xs, 1, 6, beam=4, end_id=0, length_norm=1.0)

    def length(row):
        ends = np.flatnonzero(row == 0)
        return ends[0] + 1 if len(ends) else len(row)

    assert any(length(r) < 6 for r in raw.ids), "no hypothesis ended: the test tests nothing"
    assert all(length(n) >= length(r) for n, r in zip(norm.ids, raw.ids))
    assert any(length(n) > length(r) for n, r in zip(norm.ids, raw.ids))
    assert (raw.logprob >= norm.logprob).all()
