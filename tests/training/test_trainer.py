"""The Trainer: the book's loop, history files, checkpoints, bit-exact resume."""
import csv
import json

import numpy as np
import pytest

import tinygrad_attn_models as models
from tinygrad_attn import checkpoint
from tinygrad_attn.checkpoint import CheckpointError
from tinygrad_attn.optim import Adam
from tinygrad_attn.training import Trainer, exact_match

from .conftest import toy_task

KINDS = [models.Seq2seq, models.PeekySeq2seq, models.AttentionSeq2seq]


def make_trainer(Model, out_dir=None, seed=0, **kw):
    x, t = toy_task()
    model = Model(9, 8, 16, seed=seed)
    return Trainer(model, x[:256], t[:256], evaluate=exact_match(x[256:], t[256:], 1),
                   batch_size=32, lr=0.01, seed=seed, out_dir=out_dir, quiet=True, **kw)


def params(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("Model", KINDS)
def test_resume_is_bit_exact(Model, tmp_path):
    """2 epochs, a new process-like start from last.npz, 2 more == 4 epochs in one run."""
    whole = make_trainer(Model, tmp_path / "whole")
    whole.fit(4)
    first = make_trainer(Model, tmp_path / "split")
    first.fit(2)
    fresh = make_trainer(Model, tmp_path / "split", seed=0)
    for p in fresh.model.parameters():          # nothing survives but the checkpoint
        p.data[...] = 0
    fresh.restore(tmp_path / "split" / "last.npz")
    fresh.fit(4)
    a, b = params(whole.model), params(fresh.model)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert whole.history.loss == fresh.history.loss
    assert len(fresh.history.loss) == 4 * 8 and fresh.step == 32 and fresh.epoch == 4
    assert [e["accuracy"] for e in whole.history.epochs] == \
        [e["accuracy"] for e in fresh.history.epochs]
    assert whole.optimizer.t == fresh.optimizer.t == 32


def test_a_resume_that_skipped_a_piece_of_state_is_not_exact(tmp_path):
    """The control: restoring without the generator's state changes the result."""
    whole = make_trainer(models.AttentionSeq2seq, tmp_path / "w")
    whole.fit(3)
    first = make_trainer(models.AttentionSeq2seq, tmp_path / "s")
    first.fit(2)
    fresh = make_trainer(models.AttentionSeq2seq, tmp_path / "s")
    fresh.restore(tmp_path / "s" / "last.npz")
    fresh.rng = np.random.RandomState(0)             # forget where the shuffle was
    fresh.fit(3)
    assert any((whole.model.state_dict()[k] != fresh.model.state_dict()[k]).any()
               for k in whole.model.state_dict())


def test_training_learns_and_writes_history_and_checkpoints(tmp_path):
    x, t = toy_task(n=512, Te=4, Td=3, V=6)
    evaluate = exact_match(x[448:], t[448:], 1)
    trainer = Trainer(models.AttentionSeq2seq(6, 8, 32, seed=0), x[:448], t[:448],
                      evaluate=evaluate, batch_size=32, lr=0.02, out_dir=tmp_path, quiet=True)
    history = trainer.fit(6)
    acc = history.metric("accuracy")
    assert acc[-1] > 0.8 and acc[0] < 0.2, acc
    assert history.loss[-1] < history.loss[0] / 3
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["best.npz", "history.csv", "history.json", "last.npz", "loss.csv"]
    data = json.loads((tmp_path / "history.json").read_text())
    assert data["loss"] == history.loss and len(data["epochs"]) == 6
    assert data["kind"] == "attention" and data["config"]["hidden_size"] == 32
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [float(r["accuracy"]) for r in rows] == acc
    assert all(float(r["seconds"]) > 0 for r in rows)
    losses = list(csv.DictReader((tmp_path / "loss.csv").open()))
    assert len(losses) == 6 * 14 and float(losses[-1]["loss"]) == history.loss[-1]
    # best.npz is the best epoch's model (the last one that improved)
    best_epoch = int(np.argmax(acc)) + 1
    best, ckpt = checkpoint.load_model(tmp_path / "best.npz")
    assert ckpt.meta["epoch"] == best_epoch == trainer.best["epoch"]
    assert evaluate(best)["accuracy"] == max(acc)


def test_the_shuffle_is_the_books_permutation_on_our_own_generator():
    """Batches follow np.random.permutation of a RandomState(seed); NumPy's global state is
    neither used nor touched."""
    x, t = toy_task(n=64)
    seen = []

    class Spy(models.Seq2seq):
        def loss(self, xs, ts):
            seen.append(xs.copy())
            return super().loss(xs, ts)

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    Trainer(Spy(9, 4, 8, seed=0), x, t, batch_size=16, seed=7, quiet=True).fit(2)
    assert (np.random.get_state()[1] == before).all()
    rs = np.random.RandomState(7)
    expect = [x[idx[i * 16:(i + 1) * 16]] for idx in (rs.permutation(64), rs.permutation(64))
              for i in range(4)]
    assert len(seen) == 8
    for a, b in zip(seen, expect):
        np.testing.assert_array_equal(a, b)


def test_a_pluggable_evaluation_and_stop_at(tmp_path):
    calls = []

    def evaluate(model):
        calls.append(model)
        return {"score": 0.25 * len(calls), "other": 1.0}

    x, t = toy_task(n=64)
    trainer = Trainer(models.Seq2seq(9, 4, 8, seed=0), x, t, evaluate=evaluate,
                      best_metric="score", batch_size=16, quiet=True, out_dir=tmp_path)
    history = trainer.fit(10, stop_at=0.75)
    assert trainer.epoch == 3 and history.metric("score") == [0.25, 0.5, 0.75]
    assert history.metric("other") == [1.0] * 3
    assert checkpoint.read(tmp_path / "best.npz").meta["best"] == {"epoch": 3, "score": 0.75}


def test_progress_and_summary_lines(capsys):
    x, t = toy_task(n=64)
    Trainer(models.Seq2seq(9, 4, 8, seed=0), x, t, evaluate=exact_match(x, t, 1),
            batch_size=16).fit(2)
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "accuracy" in lines[0] and "steps/s" in lines[0]
    assert "it/s" not in out.err and "step/s" not in out.err     # no bar: not a terminal
    Trainer(models.Seq2seq(9, 4, 8, seed=0), x, t, batch_size=16, quiet=True).fit(1)
    assert capsys.readouterr().out == ""


def test_restore_refuses_what_would_not_continue_the_run(tmp_path):
    make_trainer(models.AttentionSeq2seq, tmp_path).fit(1)
    last = tmp_path / "last.npz"
    with pytest.raises(CheckpointError, match="holds a 'attention' model .* not this 'peeky'"):
        make_trainer(models.PeekySeq2seq).restore(last)
    x, t = toy_task()
    other = Trainer(models.AttentionSeq2seq(9, 8, 16, seed=0), x[:256], t[:256],
                    batch_size=64, quiet=True)
    with pytest.raises(CheckpointError, match="batch_size 32 there, 64 here"):
        other.restore(last)
    model = models.AttentionSeq2seq(9, 8, 16, seed=0)
    checkpoint.save_training(tmp_path / "bare.npz", model)        # a model, no training state
    with pytest.raises(CheckpointError, match="cannot resume .*epoch.*optimizer.*rng"):
        make_trainer(models.AttentionSeq2seq).restore(tmp_path / "bare.npz")


def test_bad_arguments():
    x, t = toy_task(n=20)
    m = models.Seq2seq(9, 4, 8, seed=0)
    with pytest.raises(ValueError, match="20 inputs but 19 targets"):
        Trainer(m, x, t[:19])
    with pytest.raises(ValueError, match="fewer than one batch of 128"):
        Trainer(m, x, t)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Trainer(m, x, t, batch_size=0)


def test_adam_state_round_trips_and_is_checked():
    m = models.Seq2seq(9, 4, 8, seed=0)
    opt = Adam(m.parameters(), lr=0.01)
    x, t = toy_task(n=8)
    m.loss(x, t).backward()
    opt.step()
    state = opt.state_dict()
    assert state["hyper"] == {"type": "Adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "t": 1}
    assert sorted(state["arrays"]) == sorted(f"{s}.{k}" for s in "mv" for k in range(10))
    other = Adam(models.Seq2seq(9, 4, 8, seed=1).parameters())
    other.load_state_dict(state)
    assert other.t == 1 and other.lr == 0.01
    np.testing.assert_array_equal(other.m[3], opt.m[3])
    assert other.m[3] is not state["arrays"]["m.3"]
    bad = {"hyper": state["hyper"], "arrays": {**state["arrays"], "m.0": np.zeros(3)}}
    with pytest.raises(ValueError, match=r"m.0 is \(3,\) float64"):
        other.load_state_dict(bad)
    with pytest.raises(ValueError, match="state is of a SGD"):
        other.load_state_dict({"hyper": {"type": "SGD", "lr": 1.0}, "arrays": {}})


def test_on_a_terminal_the_bar_shows_loss_rate_and_eta(monkeypatch, capsys):
    import io
    import sys
    import time

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class Slow(models.Seq2seq):      # tqdm redraws at most every 0.1 s: make steps last
        def loss(self, xs, ts):
            time.sleep(0.15)
            return super().loss(xs, ts)

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    x, t = toy_task(n=64)
    Trainer(Slow(9, 4, 8, seed=0), x, t, batch_size=16).fit(1)
    bar = err.getvalue()
    assert "epoch 1/1" in bar and "4/4" in bar and "loss=" in bar
    assert "step/s" in bar or "s/step" in bar           # the rate (tqdm flips it when slow)
    assert "<" in bar                                     # elapsed<remaining: the ETA
    err.truncate(0)
    Trainer(models.Seq2seq(9, 4, 8, seed=0), x, t, batch_size=16, quiet=True).fit(1)
    assert err.getvalue().strip("\x00") == ""
