"""A run folder survives anything: `kill -9` and Ctrl-C at random instants, and a death at
every file write, always leave a folder that `eval` reads and `--resume` continues, and the
resumed run equals an uninterrupted one bit for bit (parameters, every step's loss, the
best epoch). Every run is a real `tinygrad-attn train` process.

How many instants: the hypothesis profile decides (ci: a few per task, deterministic; dev:
ten times as many, random)."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_attn
from tinygrad_attn import checkpoint, files, runs

ROOT = str(pathlib.Path(tinygrad_attn.__file__).parents[1])
ENV = {**os.environ, "PYTHONPATH": ROOT, "TGA_NUM_THREADS": "1"}

TASKS = {
    "qa": "--data {data} --hidden 16 --wordvec 8 --batch-size 10 --lr 0.01 --epochs 3",
    "copy": "--task copy --model lstm_copy --hidden 8 --batch-size 4 --epoch-steps 12 "
            "--epochs 4 --max-length 5 --curriculum 2 --curriculum-threshold 100",
}


def instants(request):
    """Kill instants per task: 5 in the ci profile, 50 in dev."""
    return 50 if getattr(request.config, "_tga_profile", None) == "dev" else 5


def command(task, folder, data):
    return [sys.executable, "-m", "tinygrad_attn", "train",
            *TASKS[task].format(data=data).split(), "--dir", str(folder)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tinygrad_attn.data import make_file
    path = tmp_path_factory.mktemp("data") / "dates.txt"
    make_file("dates", 200, 5, path)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data):
    """Each task's uninterrupted run: its final state, and how long its start and its
    training take (to aim the kills)."""
    out = {}
    for task in TASKS:
        folder = tmp_path_factory.mktemp(f"ref_{task}") / "run"
        t0 = time.perf_counter()
        proc = subprocess.Popen(command(task, folder, data), env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        proc.stdout.readline()                      # "training ..." : the loop has begun
        started = time.perf_counter()
        for line in proc.stdout:                    # ... and ends with the summary line
            if line.startswith("trained "):
                break
        trained = time.perf_counter() - started
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
        out[task] = dict(final(folder), start=started - t0, train=trained)
    return out


def final(folder):
    ckpt = checkpoint.read(folder / "last.npz")
    history = ckpt.meta["trainer"]["callbacks"]["history"]
    return {"params": ckpt.params, "loss": history["loss"],
            "best": ckpt.meta["trainer"]["callbacks"]["best"],
            "rows": [{k: v for k, v in r.items() if "seconds" not in k}
                     for r in history["epochs"]]}


def consistent(folder):
    """What a user may rely on after a kill at any instant: no run files, or a readable and
    resumable last.npz; `eval` finds a readable checkpoint; best.npz, where there is one, is
    a whole checkpoint of an epoch no later than last.npz's; history.json parses."""
    names = {p.name for p in folder.iterdir()} if folder.exists() else set()
    run_files = names & set(runs.RUN_FILES)
    if not run_files:
        return
    assert "last.npz" in run_files, names
    last = checkpoint.read(folder / "last.npz")
    progress = last.meta["trainer"]["progress"]
    model, ckpt = checkpoint.load_model(runs.find_checkpoint(folder))   # what eval reads
    if "best.npz" in run_files:
        best = checkpoint.read(folder / "best.npz").meta["trainer"]["progress"]
        assert best["step"] <= progress["step"] and best["epoch_step"] == 0
    if "history.json" in run_files:
        json.loads((folder / "history.json").read_text())
    # anything else is our lock file or a temporary file a kill left (removed on resume)
    assert all(n in runs.RUN_FILES or n == ".lock" or files.temporaries(folder)
               for n in names)


def resume_and_compare(task, folder, data, ref):
    last = folder / "last.npz"
    argv = ([sys.executable, "-m", "tinygrad_attn", "train", "--resume", "--dir", str(folder)]
            if last.exists() else command(task, folder, data))
    run = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert files.temporaries(folder) == [] and not (folder / ".lock").exists()
    got = final(folder)
    for k, a in ref["params"].items():
        np.testing.assert_array_equal(a, got["params"][k], err_msg=k)
    assert got["loss"] == ref["loss"] and got["rows"] == ref["rows"]
    assert got["best"] == ref["best"]
    if got["best"]:
        best = checkpoint.read(folder / "best.npz")
        assert best.meta["trainer"]["progress"]["step"] == got["best"]["step"]
    hist = json.loads((folder / "history.json").read_text())
    assert hist["loss"] == ref["loss"]


@pytest.mark.parametrize("task", list(TASKS))
def test_kill_and_ctrl_c_at_random_instants(task, request, tga_rng, tmp_path, data,
                                            reference):
    ref = reference[task]
    seen = {"interrupted": 0, "killed": 0, "mid-epoch": 0}
    for i in range(instants(request)):
        folder = tmp_path / f"run{i}"
        how = [signal.SIGINT, signal.SIGKILL][i % 2]
        proc = subprocess.Popen(command(task, folder, data), env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        if how == signal.SIGKILL and tga_rng.random() < 0.25:     # during the start too
            time.sleep(tga_rng.uniform(0, ref["start"]))
        else:                     # while it trains (a loaded machine only makes it slower)
            proc.stdout.readline()
            time.sleep(tga_rng.uniform(0, 0.9 * ref["train"]))
        proc.send_signal(how)
        out, err = proc.communicate(timeout=120)
        if how == signal.SIGINT:
            assert "Traceback" not in err, err
            # 0: done before the signal came; -SIGINT: it came while Python shut down
            # (handlers are gone by then: the shell's usual "interrupted", no output)
            assert proc.returncode in (0, 130, -signal.SIGINT), err
            assert files.temporaries(folder) == [] and not (folder / ".lock").exists()
            if proc.returncode == 130:
                seen["interrupted"] += 1
                lines = err.strip().splitlines()
                assert len(lines) == 1 and "--resume --dir" in lines[0], err
                if "of its steps" in lines[0]:
                    seen["mid-epoch"] += 1
                    p = checkpoint.read(folder / "last.npz").meta["trainer"]["progress"]
                    assert p["epoch_step"] > 0 and f"after step {p['step']} " in lines[0]
        else:
            seen["killed"] += proc.returncode == -signal.SIGKILL
        consistent(folder)
        resume_and_compare(task, folder, data, ref)
    print(task, seen)
    assert seen["killed"] >= 1


# --- a death at every file write ----------------------------------------------------------
DIE_AT = """
import os, sys
from tinygrad_attn import files
calls, (n, when) = [0], (int(sys.argv[1]), sys.argv[2])
real = os.replace
def replace(src, dst):             # every file the run writes ends in one os.replace
    calls[0] += 1
    if calls[0] == n and when == "before":
        os._exit(9)                # like kill -9: no cleanup, no flush
    real(src, dst)
    if calls[0] == n:
        os._exit(9)
files.os.replace = replace
from tinygrad_attn.cli import main
sys.exit(main(sys.argv[3:]))
"""


def writes(task):
    """os.replace calls of an uninterrupted run: per epoch last.npz, best.npz when it is the
    best, history.json, history.csv, loss.csv."""
    return {"qa": 13, "copy": 17}[task]


@pytest.mark.parametrize("task", list(TASKS))
def test_a_death_at_every_file_write_leaves_a_resumable_folder(task, request, tga_rng,
                                                               tmp_path, data, reference):
    points = [(n, when) for n in range(1, writes(task) + 1) for when in ("before", "after")]
    if instants(request) < 50:               # ci: a sample; dev: every one
        points = [points[i] for i in sorted(tga_rng.choice(len(points), 6, replace=False))]
    for n, when in points:
        folder = tmp_path / f"die{n}{when}"
        run = subprocess.run([sys.executable, "-c", DIE_AT, str(n), when,
                              *command(task, folder, data)[3:]],
                             env=ENV, capture_output=True, text=True, timeout=120)
        assert run.returncode == 9, (n, when, run.stderr)
        consistent(folder)
        resume_and_compare(task, folder, data, reference[task])


CTRL_C_AT = """
import os, signal, sys
from tinygrad_attn import batches
from tinygrad_attn.tasks import copy
n, drawn = int(sys.argv[1]), [0]
def interrupting(next_):
    def wrapped(self):
        drawn[0] += 1
        if drawn[0] == n:          # a real SIGINT, in the middle of step n
            os.kill(os.getpid(), signal.SIGINT)
        return next_(self)
    return wrapped
batches.ShuffledRows.next = interrupting(batches.ShuffledRows.next)
copy.CopyBatches.next = interrupting(copy.CopyBatches.next)
from tinygrad_attn.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("task", list(TASKS))
def test_ctrl_c_in_the_middle_of_any_step(task, request, tga_rng, tmp_path, data,
                                          reference):
    """Ctrl-C during step n: the step completes, last.npz holds step n (mid-epoch), one
    line says how to resume, and the resume is bit-exact."""
    total = len(reference[task]["loss"])
    steps = range(1, total)
    if instants(request) < 50:
        steps = sorted(tga_rng.choice(steps, 3, replace=False))
    for n in steps:
        folder = tmp_path / f"int{n}"
        run = subprocess.run([sys.executable, "-c", CTRL_C_AT, str(n),
                              *command(task, folder, data)[3:]],
                             env=ENV, capture_output=True, text=True, timeout=120)
        assert run.returncode == 130 and "Traceback" not in run.stderr, run.stderr
        line, = run.stderr.strip().splitlines()
        assert f"interrupted (SIGINT) after step {n} " in line
        assert f"`tinygrad-attn train --resume --dir {folder}`" in line
        p = checkpoint.read(folder / "last.npz").meta["trainer"]["progress"]
        assert p["step"] == n
        consistent(folder)
        resume_and_compare(task, folder, data, reference[task])


def test_the_write_count_is_what_the_table_says(tmp_path, data):
    """The death test covers every write only if it knows how many there are."""
    for task in TASKS:
        run = subprocess.run([sys.executable, "-c", DIE_AT, "1000", "never",
                              *command(task, tmp_path / task, data)[3:]],
                             env=ENV, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
    counting = DIE_AT.replace("sys.exit(main(sys.argv[3:]))",
                              "code = main(sys.argv[3:]); print(calls[0]); sys.exit(code)")
    for task in TASKS:
        run = subprocess.run([sys.executable, "-c", counting, "1000", "never",
                              *command(task, tmp_path / f"{task}2", data)[3:]],
                             env=ENV, capture_output=True, text=True, timeout=120)
        assert int(run.stdout.strip().splitlines()[-1]) == writes(task), run.stdout
