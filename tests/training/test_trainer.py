"""The training loop: the book's steps, callbacks in order, a stop at any step boundary
(Ctrl-C too) and a bit-exact continuation from `state_dict`, mid-epoch included."""
import io
import os
import signal
import sys
import time

import numpy as np
import pytest

import tinygrad_attn_models as models
from tinygrad_attn.batches import ShuffledRows
from tinygrad_attn.callbacks import Evaluation, History, Progress, StopAt, TimeLimit
from tinygrad_attn.optim import Adam
from tinygrad_attn.tasks.qa import exact_match
from tinygrad_attn.training import Callback, Interrupted, NonFiniteLoss, Trainer

from .conftest import toy_task

KINDS = [models.Seq2seq, models.PeekySeq2seq, models.AttentionSeq2seq]


def make(Model=models.AttentionSeq2seq, seed=0, batch_size=32, callbacks=(), **kw):
    x, t = toy_task()
    model = Model(9, 8, 16, seed=seed)
    history = History()
    evaluation = Evaluation(exact_match(x[256:], t[256:], 1))
    trainer = Trainer(model, ShuffledRows((x[:256], t[:256]), batch_size, seed),
                      optimizer=Adam(model.parameters(), lr=0.01),
                      callbacks=[evaluation, history, *callbacks], **kw)
    return trainer, history


def params(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same(a, b):
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def restored(state, Model=models.AttentionSeq2seq, **kw):
    """A new trainer (other initial weights: nothing survives but `state`) restored."""
    trainer, history = make(Model, seed=5, **kw)
    for p in trainer.model.parameters():
        p.data[...] = 0
    trainer.load_state_dict(state)
    trainer.model.load_state_dict(state["params"])
    return trainer, history


def snapshot(trainer):
    return {**trainer.state_dict(), "params": params(trainer.model)}


@pytest.mark.parametrize("Model", KINDS)
@pytest.mark.parametrize("stop_after", [16, 21])        # at an epoch boundary, and mid-epoch
def test_a_restored_trainer_continues_bit_for_bit(Model, stop_after):
    whole, whole_history = make(Model)
    whole.fit(4)

    class StopAfter(Callback):
        def on_step_end(self, trainer, loss, metrics):
            if trainer.step == stop_after:
                trainer.request_stop("test")

    first, _ = make(Model, callbacks=[StopAfter()])
    assert first.fit(4) == "test" and first.step == stop_after
    again, history = restored(snapshot(first), Model)
    assert again.fit(4) == "done"
    assert_same(params(whole.model), params(again.model))
    assert whole_history.loss == history.loss and len(history.loss) == 4 * 8
    assert [e["accuracy"] for e in whole_history.epochs] == \
        [e["accuracy"] for e in history.epochs]
    assert [e["loss"] for e in whole_history.epochs] == [e["loss"] for e in history.epochs]
    assert whole.optimizer.t == again.optimizer.t == 32


def test_a_restore_that_skips_a_piece_of_state_is_not_exact():
    """The control: restoring everything but the stream's state changes the result."""
    whole, _ = make()
    whole.fit(3)
    first, _ = make()
    first.fit(2)
    state = snapshot(first)
    state["slots"] = dict(state["slots"], batches=make()[0].batches.state_dict())
    again, _ = restored(state)
    again.fit(3)
    assert any((params(whole.model)[k] != params(again.model)[k]).any()
               for k in params(whole.model))


def test_the_shuffle_is_the_books_permutation_on_our_own_generator():
    """Batches follow np.random.permutation of a RandomState(seed); NumPy's global state is
    neither used nor touched; the remainder of an epoch is skipped, as in the book."""
    x, t = toy_task(n=70)
    seen = []

    class Spy(models.Seq2seq):
        def loss(self, xs, ts):
            seen.append(xs.copy())
            return super().loss(xs, ts)

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    Trainer(Spy(9, 4, 8, seed=0), ShuffledRows((x, t), 16, seed=7)).fit(2)
    assert (np.random.get_state()[1] == before).all()
    rs = np.random.RandomState(7)
    expect = [x[idx[i * 16:(i + 1) * 16]] for idx in (rs.permutation(70), rs.permutation(70))
              for i in range(4)]
    assert len(seen) == 8
    for a, b in zip(seen, expect):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("position", [0, 1, 3])
def test_the_stream_resumes_at_any_batch(position):
    x, t = toy_task(n=70)
    a, b = ShuffledRows((x, t), 16, seed=3), ShuffledRows((x, t), 16, seed=99)
    for _ in range(4 + position):          # a whole epoch, then `position` batches
        a.next()
    b.load_state_dict(a.state_dict())
    for _ in range(9):
        for u, v in zip(a.next(), b.next()):
            np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="saved for batch_size 16, this stream has 8"):
        ShuffledRows((x, t), 8).load_state_dict(a.state_dict())


def test_callbacks_run_in_order_and_shape_the_row(tmp_path):
    calls = []

    class Record(Callback):
        def __init__(self, name):
            self.name = name

        def on_epoch_end(self, trainer, row):
            calls.append((self.name, sorted(row)))

    trainer, history = make(callbacks=[Record("after")])
    trainer.callbacks.insert(0, Record("before"))
    trainer.fit(1)
    assert [c[0] for c in calls] == ["before", "after"]
    assert "accuracy" not in calls[0][1] and "accuracy" in calls[1][1]
    row = history.epochs[0]
    assert set(row) == {"epoch", "step", "loss", "seconds", "cpu_seconds", "eval_seconds",
                        "accuracy"}
    assert row["epoch"] == 1 and row["step"] == 8 and row["loss"] == np.mean(history.loss)


def test_stop_at_and_the_reason():
    scores = iter([0.25, 0.5, 0.75, 1.0])
    x, t = toy_task(n=64)
    model = models.Seq2seq(9, 4, 8, seed=0)
    history = History()
    trainer = Trainer(model, ShuffledRows((x, t), 16),
                      callbacks=[Evaluation(lambda m: {"score": next(scores)}), history,
                                 StopAt("score", 0.75)])
    assert trainer.fit(10) == "score reached 0.75"
    assert trainer.epoch == 3 and history.metric("score") == [0.25, 0.5, 0.75]
    lower = StopAt("bits", 2.0, higher_is_better=False)
    assert lower.reached({"bits": 1.5}) and not lower.reached({"bits": 2.5})


def test_a_time_limit_stops_at_a_step_boundary():
    class Slow(models.Seq2seq):
        def loss(self, xs, ts):
            time.sleep(0.02)
            return super().loss(xs, ts)

    x, t = toy_task(n=64)
    trainer = Trainer(Slow(9, 4, 8, seed=0), ShuffledRows((x, t), 16),
                      callbacks=[TimeLimit(0.05)])
    assert trainer.fit(10).startswith("time limit")
    assert 1 <= trainer.step < 40


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_loss_that_is_not_finite_stops_before_its_step_changes_anything(bad):
    trainer, history = make()
    real = trainer.loss_fn

    def poisoned(model, batch):
        loss, metrics = real(model, batch)
        return (loss * bad if trainer.step == 10 else loss), metrics

    trainer.loss_fn = poisoned
    before = {}

    class Keep(Callback):
        def on_step_end(self, trainer, loss, metrics):
            if trainer.step == 10:
                before.update(params(trainer.model), t=trainer.optimizer.t)

    trainer.callbacks.append(Keep())
    with pytest.raises(NonFiniteLoss, match=f"the loss is {bad} at step 11 \\(epoch 2\\)"):
        trainer.fit(3)
    t = before.pop("t")
    assert trainer.step == 10 and trainer.optimizer.t == t and len(history.loss) == 10
    assert_same(before, params(trainer.model))


def test_ctrl_c_stops_at_the_next_step_boundary_and_a_second_one_at_once():
    """SIGINT is delivered mid-step (inside the loss): the step completes, the callbacks'
    on_stop see that step, fit raises Interrupted; the handler is put back afterwards."""
    stops = []

    class Ask(Callback):
        def on_stop(self, trainer, reason):
            stops.append((reason, trainer.step))

    trainer, _ = make(callbacks=[Ask()])
    real = trainer.loss_fn

    def interrupting(model, batch):
        if trainer.step == 11:
            os.kill(os.getpid(), signal.SIGINT)
        return real(model, batch)

    trainer.loss_fn = interrupting
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as e:
        trainer.fit(4)
    assert (e.value.step, e.value.epoch, e.value.epoch_step) == (12, 1, 4)
    assert stops == [("interrupted", 12)] and trainer.optimizer.t == 12
    assert signal.getsignal(signal.SIGINT) is handler

    def twice(model, batch):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        return real(model, batch)

    trainer.loss_fn = twice
    with pytest.raises(KeyboardInterrupt) as e:
        trainer.fit(4)
    assert not isinstance(e.value, Interrupted) and stops[-1] == ("failed", 12)


def test_bad_arguments():
    x, t = toy_task(n=20)
    m = models.Seq2seq(9, 4, 8, seed=0)
    with pytest.raises(ValueError, match="arrays of \\[20, 19\\] rows"):
        ShuffledRows((x, t[:19]), 4)
    with pytest.raises(ValueError, match="20 rows, fewer than one batch of 128"):
        ShuffledRows((x, t), 128)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        ShuffledRows((x, t), 0)
    for bad in (-1.0, 0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_grad must be a finite number > 0"):
            Trainer(m, ShuffledRows((x, t), 4), max_grad=bad)
    with pytest.raises(ValueError, match="clip_mode must be one of"):
        Trainer(m, ShuffledRows((x, t), 4), clip_mode="sign")
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        Trainer(m, ShuffledRows((x, t), 4)).fit(0)


def test_a_scheduler_is_stepped_and_saved_as_one_more_slot():
    class Halve:
        def __init__(self, opt):
            self.opt, self.n = opt, 0

        def step(self):
            self.n += 1
            if self.n % 4 == 0:
                self.opt.lr /= 2

        def state_dict(self):
            return {"hyper": {"n": self.n}, "arrays": {}}

        def load_state_dict(self, state):
            self.n = state["hyper"]["n"]

    trainer, _ = make()
    trainer.scheduler = Halve(trainer.optimizer)
    trainer.fit(1)
    assert trainer.scheduler.n == 8 and trainer.optimizer.lr == 0.01 / 4
    assert trainer.state_dict()["slots"]["scheduler"] == {"hyper": {"n": 8}, "arrays": {}}


def test_progress_lines_and_quiet(capsys):
    x, t = toy_task(n=64)
    Trainer(models.Seq2seq(9, 4, 8, seed=0), ShuffledRows((x, t), 16),
            callbacks=[Evaluation(exact_match(x, t, 1)), Progress()]).fit(2)
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].startswith("training seq2seq (") and "4 steps per epoch" in lines[0]
    assert [line.split(" (step")[0] for line in lines[1:]] == ["epoch 1/2", "epoch 2/2"]
    assert "accuracy" in lines[1] and "steps/s" in lines[1]
    assert "it/s" not in out.err and "step/s" not in out.err     # no bar: not a terminal
    Trainer(models.Seq2seq(9, 4, 8, seed=0), ShuffledRows((x, t), 16),
            callbacks=[Progress(quiet=True)]).fit(1)
    assert capsys.readouterr().out == ""


def test_on_a_terminal_the_bar_shows_loss_rate_and_eta(monkeypatch):
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
    Trainer(Slow(9, 4, 8, seed=0), ShuffledRows((x, t), 16),
            callbacks=[Progress(print_fn=lambda s: None)]).fit(1)
    bar = err.getvalue()
    assert "epoch 1/1" in bar and "4/4" in bar and "loss=" in bar
    assert "step/s" in bar or "s/step" in bar           # the rate (tqdm flips it when slow)
    assert "<" in bar                                     # elapsed<remaining: the ETA


def test_fit_trains_in_training_mode_and_evaluates_in_eval_mode():
    """A model left in eval mode trains in training mode; the evaluation decodes in eval
    mode and gives training mode back (dropout and batch norm obey the mode)."""
    seen = []

    class Spy(Callback):
        def on_step_end(self, trainer, loss, metrics):
            seen.append(("step", trainer.model.training))

    trainer, _ = make(callbacks=[Spy()])
    trainer.model.eval()
    model, decoding = trainer.model, []
    decode, step = model.decode, model.decode_step

    def spying_decode(*a, **kw):        # what the evaluation calls
        decoding.append(True)
        try:
            return decode(*a, **kw)
        finally:
            decoding.pop()

    def spying_decode_step(*a, **kw):   # the decoder's step (the loss runs it too)
        if decoding:
            seen.append(("decode", model.training))
        return step(*a, **kw)

    model.decode, model.decode_step = spying_decode, spying_decode_step
    trainer.fit(1)
    assert ("step", True) in seen and ("step", False) not in seen
    assert ("decode", False) in seen and ("decode", True) not in seen
    assert all(m.training for _, m in trainer.model.named_modules())
