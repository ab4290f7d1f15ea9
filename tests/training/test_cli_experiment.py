"""The experiment's commands on small data: data, train (a run folder holds one run;
--resume, --overwrite), eval, translate (--heatmap, stdin, options anywhere), plot, demo;
--help on every command."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_attn import checkpoint, cli

COMMANDS = ["demo", "data", "train", "eval", "translate", "plot", "graph"]
ROOT = str(__import__("pathlib").Path(__import__("tinygrad_attn").__file__).parents[1])
SMALL = ["--hidden", "16", "--wordvec", "8", "--batch-size", "60", "--lr", "0.01"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A data file and a tiny attention model trained on it for 2 epochs (module-wide)."""
    d = tmp_path_factory.mktemp("cli")
    data = d / "dates.txt"
    assert cli.main(["data", "dates", "-n", "400", "--seed", "3", "--out", str(data)]) == 0
    out = d / "run"
    assert cli.main(["train", "--data", str(data), "--epochs", "2", *SMALL, "--dir", str(out),
                     "--quiet"]) == 0
    return d, data, out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: tinygrad-attn {command}" in text and "--threads N" in text
    assert "%%" not in text


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


def test_train_writes_checkpoints_and_history(run):
    d, data, out = run
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "history.csv",
                                                    "history.json", "last.npz", "loss.csv"]
    hist = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in hist["epochs"]] == [1, 2]
    assert len(hist["loss"]) == 2 * (360 // 60)
    assert hist["task"] == "qa" and hist["options"]["hidden"] == 16
    ckpt = checkpoint.read(out / "last.npz")
    assert ckpt.kind == "attention" and ckpt.meta["trainer"]["progress"]["epoch"] == 2
    assert set(ckpt.slots) == {"optimizer", "batches"}
    task = ckpt.meta["task"]
    assert task["name"] == "qa" and task["question_width"] == 29 and task["reverse"]
    assert task["answer_width"] == 11 and task["data_name"] == "dates.txt"
    assert "".join(task["vocab"]["chars"]).startswith(data.read_text()[0])
    run_ = ckpt.meta["run"]
    assert run_["options"]["lr"] == 0.01 and run_["epochs"] == 2 and run_["threads"] >= 1


def test_resume_from_the_command_line_is_bit_exact(run, tmp_path, capsys):
    d, data, out = run
    args = ["--data", str(data), *SMALL, "--quiet"]
    assert cli.main(["train", *args, "--epochs", "3", "--dir", str(tmp_path / "a")]) == 0
    assert cli.main(["train", *args, "--epochs", "2", "--dir", str(tmp_path / "b")]) == 0
    # options after the command, in any order; the data file and settings are the run's
    assert cli.main(["train", "--resume", "--epochs", "3", "--quiet", "--dir",
                     str(tmp_path / "b")]) == 0
    assert "resumed from step 12" in capsys.readouterr().out
    a = checkpoint.read(tmp_path / "a" / "last.npz")
    b = checkpoint.read(tmp_path / "b" / "last.npz")
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    ha, hb = (c.meta["trainer"]["callbacks"]["history"] for c in (a, b))
    assert ha["loss"] == hb["loss"]
    assert [e["accuracy"] for e in ha["epochs"]] == [e["accuracy"] for e in hb["epochs"]]
    assert cli.main(["train", "--resume", "--dir", str(tmp_path / "b")]) == 0
    assert "nothing to do: it is at epoch 3 of --epochs 3" in capsys.readouterr().out


def test_resume_refuses_every_option_that_differs(run, tmp_path, capsys):
    d, data, out = run
    for option, value, there in [("--hidden", "32", "16"), ("--lr", "0.5", "0.01"),
                                 ("--batch-size", "30", "60"), ("--seed", "1", "0"),
                                 ("--model", "peeky", "'attention'"),
                                 ("--max-grad", "1", "5.0")]:
        assert cli.main(["train", "--resume", "--dir", str(out), option, value]) == 2
        err = capsys.readouterr().err
        assert f"{option} " in err and f"(the run has {there})" in err, err
    assert cli.main(["train", "--resume", "--dir", str(out), "--epochs", "1"]) == 2
    assert "--epochs 1: " in capsys.readouterr().err
    assert cli.main(["train", "--resume", "--dir", str(tmp_path)]) == 2
    assert "nothing to resume in" in capsys.readouterr().err


def test_a_resume_keeps_the_runs_thread_count_or_says_it_differs(run, tmp_path):
    """The checkpoint records the thread count: a resume without --threads uses it, one
    with another count says that the last bits can differ. (Subprocesses: the count is
    process-wide.)"""
    import os
    from tinygrad_attn.cli.options import cpus
    d, data, out = run
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.pop("TGA_NUM_THREADS", None)
    folder = tmp_path / "r"

    def train(*args):
        return subprocess.run([sys.executable, "-m", "tinygrad_attn", "train", "--quiet",
                               "--dir", str(folder), *args], env=env, capture_output=True,
                              text=True, timeout=120)

    assert train("--data", str(data), *SMALL, "--epochs", "1", "--threads", "1").returncode == 0
    resumed = train("--resume", "--epochs", "2")
    assert resumed.returncode == 0 and "warning" not in resumed.stderr, resumed.stderr
    assert checkpoint.read(folder / "last.npz").meta["run"]["threads"] == 1
    if cpus() >= 2:
        other = train("--resume", "--epochs", "3", "--threads", "2")
        assert other.returncode == 0
        assert (f"warning: {folder / 'last.npz'} was trained with 1 threads and this resume "
                "runs 2: the result can differ in its last bits") in other.stderr


def test_a_folder_holds_one_run(run, tmp_path, capsys):
    d, data, out = run
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert cli.main(["train", "--data", str(data), *SMALL, "--dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} holds a run already (last.npz (attention, epoch 2)" in err
    assert "--resume" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, data_ in before.items():
        (copy / name).write_bytes(data_)
    assert cli.main(["train", "--data", str(data), *SMALL, "--epochs", "1", "--quiet",
                     "--dir", str(copy), "--overwrite"]) == 0
    hist = json.loads((copy / "history.json").read_text())
    assert [e["epoch"] for e in hist["epochs"]] == [1]


def test_train_and_eval_show_the_checkers_warnings(tmp_path, capsys):
    data = tmp_path / "d.txt"
    assert cli.main(["data", "dates", "-n", "120", "--out", str(data)]) == 0
    lines = data.read_text().splitlines()
    q = lines[0].split("_")[0]
    lines[5] = q + "_" + "1" * (len(lines[0]) - len(q) - 1)     # one question, two answers
    data.write_text("\n".join(lines) + "\n")
    assert cli.main(["train", "--data", str(data), *SMALL[:4], "--batch-size", "20",
                     "--epochs", "1", "--quiet", "--dir", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert f"tinygrad-attn train: warning: {data}: line 6: the same question is on line 1" in err
    assert cli.main(["eval", str(tmp_path / "r")]) == 0
    assert "tinygrad-attn eval: warning:" in capsys.readouterr().err


def test_eval_shows_accuracy_and_wrong_answers(run, tmp_path, capsys):
    d, data, out = run
    assert cli.main(["eval", str(out / "last.npz"), "--data", str(data), "--show", "2"]) == 0
    text = capsys.readouterr().out
    assert "on the test split of" in text and "/40, greedy)" in text
    if "accuracy 100.00%" not in text:
        assert "wrong answers (question | right | model)" in text
        assert len([ln for ln in text.splitlines() if ln.startswith("  ")]) == 2
    table = tmp_path / "eval.json"
    assert cli.main(["eval", "--all", str(out), "--beam", "2", "--json", str(table)]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'best.npz'} on the all rows of" in printed and "/400, beam 2)" in printed
    result = json.loads(table.read_text())
    assert result["total"] == 400 and result["beam"] == 2 and 0 <= result["accuracy"] <= 1


def test_translate_arguments_stdin_and_heatmap(run, tmp_path, capsys, monkeypatch):
    d, data, out = run
    png = tmp_path / "heat.png"
    # options anywhere among the positionals; --threads after the command
    assert cli.main(["translate", str(out / "last.npz"), "sept. 27, 1994", "--heatmap",
                     str(png), "8/23/08", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sept. 27, 1994  ->  ") and len(lines[0].split("  ->  ")[1]) == 10
    assert lines[1].startswith("8/23/08         ->  ")
    assert lines[2] == f"wrote {png}" and png.read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["translate", str(out), "--beam", "3", "8/23/08"]) == 0
    assert capsys.readouterr().out.startswith("8/23/08  ->  ")
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
    assert err.startswith("tinygrad-attn translate: ") and err.count("\n") == 1
    assert __import__("re").search(message, err), err


def test_plot_draws_the_metric_asked_for(run, tmp_path, capsys, monkeypatch):
    d, data, out = run
    png = tmp_path / "curves.png"
    assert cli.main(["plot", str(out), str(out / "history.json"), "--out", str(png),
                     "--labels", "a", "b", "--book"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    from tinygrad_attn import plots
    drawn = {}
    real = plots.curves

    def spy(path, runs, *, metric, book):
        drawn.update(metric=metric, runs=runs)
        return real(path, runs, metric=metric, book=book)

    monkeypatch.setattr(plots, "curves", spy)
    assert cli.main(["plot", str(out), "--metric", "loss", "--out", str(tmp_path / "l.svg")]) == 0
    hist = json.loads((out / "history.json").read_text())
    assert drawn["metric"] == "loss"
    assert drawn["runs"][0][2] == [e["loss"] for e in hist["epochs"]]
    assert (tmp_path / "l.svg").read_text().lstrip().startswith("<?xml")
    assert cli.main(["plot", str(tmp_path / "nothing.json"), "--out", str(png)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_demo_runs_end_to_end_in_a_subprocess(tmp_path):
    """The README's main command, shrunk (-n 300, one epoch): it generates, trains, reports
    the accuracy, translates, draws, and says where everything is. (One epoch on 270
    examples cannot reach 99%: the exit status says so.) A second demo replaces the first."""
    import tinygrad_attn
    root = str(__import__("pathlib").Path(tinygrad_attn.__file__).parents[1])
    env = {**__import__("os").environ, "PYTHONPATH": root}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "tinygrad_attn", "demo", "-n", "300",
                               "--epochs", "1", "--dir", str(tmp_path / "demo"), "--quiet"],
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 1, proc.stderr
    text = proc.stdout
    assert "wrote 300 dates examples" in text and "test accuracy after 1 epochs" in text
    assert "september 27, 1994" in text and "->" in text
    for name in ("attention_heatmap.png", "accuracy.png"):
        assert str(tmp_path / "demo" / name) in text
        assert (tmp_path / "demo" / name).read_bytes()[:4] == b"\x89PNG"
