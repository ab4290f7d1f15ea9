"""The copy task: its data (tinygrad_attn/data/copy_task.py), the task (tasks/copy.py) and
`tinygrad-attn train --task copy` / `eval` on a copy-task run."""
import json

import numpy as np
import pytest

from tinygrad_attn import checkpoint, cli, runs
from tinygrad_attn.data.copy_task import bits_wrong, copy_batch
from tinygrad_attn.tasks.copy import CopyBatches, CopyTask, parse_lengths

NTM_SMALL = ["--hidden", "4", "--memory-size", "6", "--memory-width", "3"]
LSTM_SMALL = dict(task="copy", model="lstm_copy", hidden=3, batch_size=2, max_length=4,
                  epoch_steps=2, quiet=True)


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
    assert parse_lengths("1-3,30, 50") == [1, 2, 3, 30, 50]
    for bad, message in [("0", "at least 1"), ("abc", "'abc' in 'abc' is not a length"),
                         ("5-2", "'5-2'"), ("", "names no length")]:
        with pytest.raises(ValueError, match=message):
            parse_lengths(bad)


def test_the_stream_is_the_earlier_copy_loops_and_resumes_anywhere():
    """Lengths and bits come from default_rng(seed + 1) as `copy train` drew them before
    (the runs quoted in docs/results.md stay reproducible); a restored stream goes on."""
    rng = np.random.default_rng(8)
    expect = []
    for _ in range(5):
        L = int(rng.integers(1, 4 + 1))
        expect.append(copy_batch(rng, 2, L))
    stream = CopyBatches(2, 7, min_length=1, max_length=4)
    got = [stream.next() for _ in range(2)]
    again = CopyBatches(2, 0, min_length=1, max_length=4)
    again.load_state_dict(stream.state_dict())
    got += [again.next() for _ in range(3)]
    for g, e in zip(got, expect):
        for a, b in zip(g, e):
            np.testing.assert_array_equal(a, b)


def test_cli_train_then_eval(tmp_path, capsys):
    run, table = tmp_path / "ntm", tmp_path / "eval.json"
    assert cli.main(["train", "--task", "copy", "--model", "ntm", *NTM_SMALL, "--epochs", "3",
                     "--epoch-steps", "2", "--batch-size", "2", "--dir", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 3/3 (step 6)" in printed and "bits_wrong" in printed
    assert "trained ntm on the copy task to epoch 3 (step 6)" in printed
    assert cli.main(["eval", str(run / "last.npz"), "--lengths", "1-2,4", "-n", "4",
                     "--json", str(table)]) == 0
    assert "length   4" in capsys.readouterr().out
    result = json.loads(table.read_text())
    assert result["step"] == 6 and set(result["bits_wrong"]) == {"1", "2", "4"}
    assert all(0 <= v <= 8 * int(k) for k, v in result["bits_wrong"].items())
    model, ckpt = checkpoint.load_model(run / "last.npz")
    assert ckpt.config["memory_size"] == 6 and ckpt.config["controller_size"] == 4
    hist = ckpt.meta["trainer"]["callbacks"]["history"]
    assert len(hist["epochs"]) == 3 and len(hist["step_metrics"]["bits_wrong"]) == 6
    assert [e["max_length"] for e in hist["epochs"]] == [20, 20, 20]


def test_the_defaults_are_the_papers_optimiser_and_the_options_reach_the_model(tmp_path):
    """RMSprop 1e-4 (alpha 0.95, momentum 0.9), clipping by value at 10, batch 16; the
    book's Adam with norm clipping, the feed-forward controller and the initial-state
    options are options."""
    small = dict(task="copy", model="ntm", hidden=4, memory_size=6, memory_width=3,
                 epochs=1, epoch_steps=1, quiet=True)
    runs.train(tmp_path / "a", **small)
    ckpt = checkpoint.read(tmp_path / "a" / "last.npz")
    o = ckpt.meta["run"]["options"]
    assert (o["optimizer"], o["lr"], o["momentum"], o["alpha"], o["clip_mode"],
            o["max_grad"], o["batch_size"]) == ("rmsprop", 1e-4, 0.9, 0.95, "value", 10.0, 16)
    assert ckpt.slots["optimizer"]["hyper"]["type"] == "RMSprop"
    runs.train(tmp_path / "b", **small, optimizer="adam", clip_mode="norm", batch_size=3,
               controller="feedforward", memory_init="learned", weights_init="learned")
    model, ckpt = checkpoint.load_model(tmp_path / "b" / "last.npz")
    o = ckpt.meta["run"]["options"]
    assert (o["optimizer"], o["lr"], o["clip_mode"], o["batch_size"]) == ("adam", 1e-3,
                                                                          "norm", 3)
    assert ckpt.config["controller"] == "feedforward" and model.ntm.controller_kind == \
        "feedforward"
    assert {"ntm.memory0", "ntm.weights0"} <= set(dict(model.named_parameters()))


@pytest.mark.parametrize("threshold, expected", [
    (1e9, [2, 3, 4, 4, 4]),   # every epoch is "good enough": one longer each time
    (0.0, [2, 2, 2, 2, 2]),   # never good enough: the curriculum stays at its start
])
def test_the_curriculum_raises_the_longest_length(tmp_path, threshold, expected):
    result = runs.train(tmp_path / "c", **{**LSTM_SMALL, "epoch_steps": 1}, epochs=5,
                        curriculum=2, curriculum_threshold=threshold)
    assert [row["max_length"] for row in result.history.epochs] == expected
    best = result.best
    assert (best is None) == (expected[-1] != 4)     # the best counts full lengths only


def test_the_best_checkpoint_has_the_fewest_bits_wrong(tmp_path):
    """best.npz is the epoch with the fewest bits wrong (the lower loss between equals):
    training that many epochs again gives the same weights; last.npz holds the last."""
    kw = dict(LSTM_SMALL, epoch_steps=1, seed=3, lr=0.05, optimizer="adam")
    result = runs.train(tmp_path / "r", **kw, epochs=8)
    rows = result.history.epochs
    best = min(rows, key=lambda r: (r["bits_wrong"], r["loss"]))["epoch"]
    assert best < 8, "the test needs a run whose last epoch is not its best"
    assert result.best["epoch"] == best
    assert checkpoint.read(tmp_path / "r" / "best.npz").meta["trainer"]["progress"][
        "epoch"] == best
    runs.train(tmp_path / "again", **kw, epochs=best)
    a = checkpoint.read(tmp_path / "r" / "best.npz").params
    b = checkpoint.read(tmp_path / "again" / "last.npz").params
    last = checkpoint.read(tmp_path / "r" / "last.npz").params
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any((a[k] != last[k]).any() for k in a)


def test_a_copy_run_resumes_bit_for_bit(tmp_path):
    whole = runs.train(tmp_path / "whole", **LSTM_SMALL, epochs=4, curriculum=2,
                       curriculum_threshold=1e9)
    runs.train(tmp_path / "split", **LSTM_SMALL, epochs=2, curriculum=2,
               curriculum_threshold=1e9)
    again = runs.train(tmp_path / "split", resume=True, epochs=4, quiet=True)
    assert again.resumed_from == 4
    assert whole.history.loss == again.history.loss
    assert [r["max_length"] for r in again.history.epochs] == [2, 3, 4, 4]
    a = checkpoint.read(tmp_path / "whole" / "last.npz").params
    b = checkpoint.read(tmp_path / "split" / "last.npz").params
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_copy_task_options_are_checked():
    with pytest.raises(ValueError, match="--min-length 5 and --max-length 3"):
        CopyTask(min_length=5, max_length=3)
    with pytest.raises(ValueError, match="--curriculum 30: the first longest length"):
        CopyTask(curriculum=30)
