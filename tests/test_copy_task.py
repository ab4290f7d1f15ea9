"""The copy task's data (tinygrad_attn/data/copy_task.py) and `tinygrad-attn copy`."""
import json

import numpy as np
import pytest

from tinygrad_attn import cli, copy_cli
from tinygrad_attn.data.copy_task import bits_wrong, copy_batch


def test_copy_batch_layout():
    x, t, mask = copy_batch(np.random.default_rng(0), 3, 4)
    assert x.shape == (3, 9, 9) and t.shape == (3, 9, 8) and mask.shape == (9,)
    assert x.dtype == t.dtype == np.float32
    np.testing.assert_array_equal(t[:, 5:], x[:, :4, :8])           # the copy, after the flag
    np.testing.assert_array_equal(x[:, :, 8], np.tile([0, 0, 0, 0, 1, 0, 0, 0, 0], (3, 1)))
    assert not x[:, 5:].any() and not t[:, :5].any()                # silent input, no target
    np.testing.assert_array_equal(mask, [0, 0, 0, 0, 0, 1, 1, 1, 1])
    assert set(np.unique(x[:, :4, :8])) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="copy_batch: length must be at least 1"):
        copy_batch(np.random.default_rng(0), 3, 0)


def test_bits_wrong_counts_thresholded_bits_in_the_masked_steps():
    _, t, mask = copy_batch(np.random.default_rng(1), 2, 3)
    logits = np.where(t > 0.5, 5.0, -5.0)
    assert list(bits_wrong(logits, t, mask)) == [0, 0]
    logits[0, 4, :3] *= -1          # 3 bits flipped in an output step
    logits[1, 1, :] *= -1           # a step outside the mask does not count
    assert list(bits_wrong(logits, t, mask)) == [3, 0]


def test_parse_lengths():
    assert copy_cli.parse_lengths("1-3,30, 50") == [1, 2, 3, 30, 50]
    with pytest.raises(ValueError, match="copy: lengths must be positive"):
        copy_cli.parse_lengths("0")


def test_cli_copy_train_then_eval(tmp_path, capsys):
    ckpt, table = tmp_path / "ntm.npz", tmp_path / "eval.json"
    assert cli.main(["copy", "train", "--model", "tinygrad_attn_models:NTM", "--steps", "3",
                     "--batch-size", "2", "--hidden-size", "4", "--memory-size", "6",
                     "--memory-width", "3", "--log-every", "1", "--out", str(ckpt)]) == 0
    assert cli.main(["copy", "eval", "--checkpoint", str(ckpt), "--lengths", "1-2,4",
                     "--n", "4", "--json", str(table)]) == 0
    printed = capsys.readouterr().out
    assert "step      3" in printed and "length   4" in printed
    result = json.loads(table.read_text())
    assert result["step"] == 3 and set(result["bits_wrong"]) == {"1", "2", "4"}
    assert all(0 <= v <= 8 * int(k) for k, v in result["bits_wrong"].items())
    model, meta = copy_cli.load_model(ckpt)
    assert meta["config"]["memory_size"] == 6 and len(meta["curve"]) == 3


@pytest.mark.parametrize("threshold, expected", [
    (1e9, [2, 3, 4, 4, 4]),   # every logged point is "good enough": one longer each time
    (0.0, [2, 2, 2, 2, 2]),   # never good enough: the curriculum stays at its start
])
def test_curriculum_raises_the_longest_length(threshold, expected):
    _, curve = copy_cli.train("tinygrad_attn_models:LSTMCopy", steps=5, batch_size=2,
                              max_length=4, curriculum=2, curriculum_threshold=threshold,
                              log_every=1, print_fn=lambda *a: None, hidden_size=3)
    assert [row["max_length"] for row in curve] == expected
    assert all(row["cpu_seconds"] >= 0 for row in curve)


def test_cli_copy_train_initial_state_options_reach_the_model(tmp_path):
    ckpt = tmp_path / "ntm.npz"
    assert cli.main(["copy", "train", "--model", "tinygrad_attn_models:NTM", "--steps", "1",
                     "--batch-size", "2", "--hidden-size", "4", "--memory-size", "6",
                     "--memory-width", "3", "--memory-init", "learned",
                     "--weights-init", "learned", "--out", str(ckpt)]) == 0
    model, meta = copy_cli.load_model(ckpt)
    assert meta["config"]["memory_init"] == meta["config"]["weights_init"] == "learned"
    assert {"ntm.memory0", "ntm.weights0"} <= set(dict(model.named_parameters()))


def test_cli_copy_train_optimiser_clipping_and_controller_options(tmp_path):
    """The defaults are the paper's optimiser and clipping (RMSprop 1e-4, clipping by
    value) at batch 16; the book's Adam with norm clipping and the feed-forward controller
    are options."""
    ckpt = tmp_path / "ntm.npz"
    small = ["--hidden-size", "4", "--memory-size", "6", "--memory-width", "3"]
    assert cli.main(["copy", "train", "--model", "tinygrad_attn_models:NTM", "--steps", "2",
                     *small, "--out", str(ckpt)]) == 0
    model, meta = copy_cli.load_model(ckpt)
    assert (meta["optimizer"], meta["clip_mode"], meta["lr"], meta["batch_size"]) == (
        "rmsprop", "value", 1e-4, 16)
    assert meta["config"]["controller"] == "lstm"
    assert cli.main(["copy", "train", "--model", "tinygrad_attn_models:NTM", "--steps", "2",
                     *small, "--optimizer", "adam", "--clip-mode", "norm", "--batch-size", "3",
                     "--controller", "feedforward", "--out", str(ckpt)]) == 0
    model, meta = copy_cli.load_model(ckpt)
    assert (meta["optimizer"], meta["clip_mode"], meta["lr"], meta["batch_size"]) == (
        "adam", "norm", 1e-3, 3)
    assert meta["config"]["controller"] == "feedforward"
    assert model.ntm.controller_kind == "feedforward"
    with pytest.raises(ValueError, match="copy train: optimizer must be one of"):
        copy_cli.train("tinygrad_attn_models:LSTMCopy", steps=1, optimizer="sgd",
                       hidden_size=3)


def _weights(path):
    from tinygrad_attn import checkpoint
    return checkpoint.load(path)[0]


def test_train_keeps_the_best_weights_beside_the_last(tmp_path):
    """<out>.best.npz holds the weights of the logged point with the fewest bits wrong
    (the lower loss between equals; over the full range of lengths): training again for
    that many steps gives the same weights; the last checkpoint holds the last step's."""
    out = str(tmp_path / "lstm.npz")
    kwargs = dict(batch_size=2, max_length=3, log_every=1, seed=3, lr=0.05, hidden_size=3,
                  print_fn=lambda *a: None)
    _, curve = copy_cli.train("tinygrad_attn_models:LSTMCopy", steps=8, out=out, **kwargs)
    best_step = min(curve, key=lambda row: (row["bits_wrong"], row["loss"]))["step"]
    assert best_step < 8, "the test needs a run whose last point is not its best"
    from tinygrad_attn import checkpoint
    assert checkpoint.load(copy_cli.best_path(out))[1]["step"] == best_step
    again = str(tmp_path / "again.npz")
    copy_cli.train("tinygrad_attn_models:LSTMCopy", steps=best_step, out=again, **kwargs)
    best, redo, last = _weights(copy_cli.best_path(out)), _weights(again), _weights(out)
    for k in best:
        np.testing.assert_array_equal(best[k], redo[k])
    assert any((best[k] != last[k]).any() for k in best)
    assert copy_cli.best_path("a/ntm.npz") == "a/ntm.best.npz"


def test_train_stops_on_a_loss_that_is_not_finite(monkeypatch, tmp_path):
    real = copy_cli._step

    def nan_at_step_3(model, xs, targets, mask, calls=[0]):
        calls[0] += 1
        loss, logits = real(model, xs, targets, mask)
        return (loss * np.nan if calls[0] == 3 else loss), logits

    monkeypatch.setattr(copy_cli, "_step", nan_at_step_3)
    with pytest.raises(FloatingPointError, match="copy train: the loss is nan at step 3"):
        copy_cli.train("tinygrad_attn_models:LSTMCopy", steps=5, batch_size=2, hidden_size=3,
                       out=str(tmp_path / "x.npz"), print_fn=lambda *a: None)
