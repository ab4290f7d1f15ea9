"""The experiment's commands on small data: data, train (and --resume), eval, translate
(--heatmap, stdin, bad inputs), plot, demo; --help on every command."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_attn import checkpoint, cli

COMMANDS = ["demo", "data", "train", "eval", "translate", "plot", "graph"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A data file and a tiny attention model trained on it for 2 epochs (module-wide)."""
    d = tmp_path_factory.mktemp("cli")
    data = d / "dates.txt"
    assert cli.main(["data", "dates", "-n", "400", "--seed", "3", "--out", str(data)]) == 0
    out = d / "run"
    assert cli.main(["train", "--data", str(data), "--epochs", "2", "--hidden", "16",
                     "--wordvec", "8", "--batch-size", "60", "--lr", "0.01", "--out", str(out),
                     "--quiet"]) == 0
    return d, data, out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: tinygrad-attn {command}" in capsys.readouterr().out


def test_data_generates_and_checks(tmp_path, capsys):
    out = tmp_path / "add.txt"
    assert cli.main(["data", "addition", "-n", "50", "--seed", "1", "--out", str(out)]) == 0
    assert "wrote 50 addition examples (seed 1)" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 50
    assert cli.main(["data", "--check", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    lines = out.read_text().splitlines()
    bad.write_text("\n".join(lines[:3] + ["no separator here"] + lines[4:6] + [""]
                             + lines[6:]) + "\n")
    assert cli.main(["data", "--check", str(bad)]) == 1
    text = capsys.readouterr().out
    assert "line 4" in text and "line 7" in text
    assert cli.main(["data", "--check", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert cli.main(["data", "dates"]) == 2
    assert "--out FILE" in capsys.readouterr().err


def test_train_writes_checkpoints_and_history(run, capsys):
    d, data, out = run
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "history.csv",
                                                    "history.json", "last.npz", "loss.csv"]
    hist = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in hist["epochs"]] == [1, 2]
    assert len(hist["loss"]) == 2 * (360 // 60)
    ckpt = checkpoint.read(out / "last.npz")
    assert ckpt.kind == "attention" and ckpt.meta["epoch"] == 2
    task = ckpt.meta["task"]
    assert task["question_width"] == 29 and task["answer_width"] == 11 and task["reverse"]
    assert "".join(task["vocab"]["chars"]).startswith(data.read_text()[0])


def test_resume_from_the_command_line_is_bit_exact(run, tmp_path):
    d, data, out = run
    args = ["--data", str(data), "--hidden", "16", "--wordvec", "8", "--batch-size", "60",
            "--lr", "0.01", "--quiet"]
    assert cli.main(["train", *args, "--epochs", "3", "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["train", *args, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    assert cli.main(["train", "--data", str(data), "--epochs", "3", "--resume", "--quiet",
                     "--out", str(tmp_path / "b")]) == 0
    a = checkpoint.read(tmp_path / "a" / "last.npz")
    b = checkpoint.read(tmp_path / "b" / "last.npz")
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert a.meta["history"]["loss"] == b.meta["history"]["loss"]


def test_resume_refuses_other_settings_and_a_missing_run(run, tmp_path, capsys):
    d, data, out = run
    assert cli.main(["train", "--data", str(data), "--resume", "--out", str(out),
                     "--hidden", "32"]) == 2
    assert "hidden: 32 asked, 16 in the checkpoint" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(data), "--resume", "--out", str(tmp_path)]) == 2
    assert "there is no" in capsys.readouterr().err


def test_eval_shows_accuracy_and_wrong_answers(run, capsys):
    d, data, out = run
    assert cli.main(["eval", str(out / "last.npz"), "--data", str(data), "--show", "2"]) == 0
    text = capsys.readouterr().out
    assert "on the test split of" in text and "(" in text and "/40, greedy)" in text
    if "accuracy 100.00%" not in text:
        assert "wrong answers (question | right | model)" in text
        assert len([ln for ln in text.splitlines() if ln.startswith("  ")]) == 2
    assert cli.main(["eval", str(out / "last.npz"), "--data", str(data), "--all",
                     "--beam", "2"]) == 0
    assert "/400, beam 2)" in capsys.readouterr().out


def test_translate_arguments_stdin_and_heatmap(run, tmp_path, capsys, monkeypatch):
    d, data, out = run
    png = tmp_path / "heat.png"
    assert cli.main(["translate", str(out / "last.npz"), "sept. 27, 1994", "8/23/08",
                     "--heatmap", str(png)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sept. 27, 1994  ->  ") and len(lines[0].split("  ->  ")[1]) == 10
    assert lines[1].startswith("8/23/08         ->  ")
    assert lines[2] == f"wrote {png}" and png.read_bytes()[:4] == b"\x89PNG"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("1/2/03\n\nMAY 5, 2001\n"))
    assert cli.main(["translate", str(out / "last.npz"), "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize("text, message", [
    ("sept. 27, 1994 ~", "character '~' \\(U\\+007E\\) at column 16 is not in the vocabulary"),
    ("€5", "character '€' \\(U\\+20AC\\) at column 1"),
    ("x" * 30, "30 characters long, longer than the model's question width 29"),
])
def test_translate_names_unseen_characters_and_too_long_inputs(run, text, message, capsys):
    d, data, out = run
    assert cli.main(["translate", str(out / "last.npz"), text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-attn translate: ")
    assert __import__("re").search(message, err), err


def test_translate_and_eval_refuse_bad_checkpoints(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    assert cli.main(["translate", str(bad), "1/2/03"]) == 2
    assert "bad.npz: not a readable checkpoint" in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path / "none.npz"), "--data", str(bad)]) == 2
    assert "none.npz" in capsys.readouterr().err


def test_plot_draws_several_histories(run, tmp_path, capsys):
    d, data, out = run
    png = tmp_path / "curves.png"
    assert cli.main(["plot", str(out), str(out / "history.json"), "--out", str(png),
                     "--labels", "a", "b", "--book"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["plot", str(tmp_path / "nothing.json"), "--out", str(png)]) == 2
    assert "not a history" in capsys.readouterr().err


def test_the_demo_runs_end_to_end_in_a_subprocess(tmp_path):
    """The README's main command, shrunk (-n 300, one epoch): it generates, trains, reports
    the accuracy, translates, draws, and says where everything is. (One epoch on 270
    examples cannot reach 99%: the exit status says so.)"""
    import tinygrad_attn
    root = str(__import__("pathlib").Path(tinygrad_attn.__file__).parents[1])
    env = {**__import__("os").environ, "PYTHONPATH": root}
    proc = subprocess.run([sys.executable, "-m", "tinygrad_attn", "demo", "-n", "300",
                           "--epochs", "1", "--out", str(tmp_path / "demo"), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout
    assert "wrote 300 dates examples" in text and "test accuracy after 1 epochs" in text
    assert "september 27, 1994" in text and "->" in text
    for name in ("attention_heatmap.png", "accuracy.png"):
        assert str(tmp_path / "demo" / name) in text
        assert (tmp_path / "demo" / name).read_bytes()[:4] == b"\x89PNG"
