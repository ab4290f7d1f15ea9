"""Bad input and faults through the command line, one row each, every one in a subprocess:
no traceback, the exit status (2 bad input, 1 a failure during the work), one line on
stderr that names what is wrong, and nothing that was there before has changed (no new
file either: not a run folder, not a temporary file).

The rows run against one "house" of files: data files good and bad, a trained qa run, a
copy-task run, checkpoints broken in the ways a hand or a disk breaks them."""
import contextlib
import hashlib
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tinygrad_attn
from tinygrad_attn import checkpoint, runs

ROOT = str(pathlib.Path(tinygrad_attn.__file__).parents[1])
SMALL = "--hidden 16 --wordvec 8 --batch-size 30 --lr 0.01"


def _edited(src, dst, change):
    state, meta = checkpoint.load(src)
    change(meta)
    np.savez(dst, __meta__=np.array(json.dumps(meta)), **state)


@pytest.fixture(scope="module")
def house(tmp_path_factory):
    d = tmp_path_factory.mktemp("house")
    from tinygrad_attn.data import make_file
    make_file("dates", 200, 1, d / "data.txt")
    make_file("addition", 60, 1, d / "addition.txt")
    lines = (d / "data.txt").read_text().splitlines()
    (d / "small.txt").write_text("\n".join(lines[:9]) + "\n")        # an empty test split
    (d / "tiny.txt").write_text("\n".join(lines[:30]) + "\n")        # 27 training rows
    (d / "bad.txt").write_text("\n".join(lines[:3] + ["no separator"] + lines[4:20]) + "\n")
    (d / "emptyq.txt").write_text("_12\n_34\n" * 10)                 # every question empty
    (d / "afile").write_text("a file, not a folder\n")
    (d / "folder").mkdir()
    (d / "empty_run").mkdir()
    (d / "broken.npz").write_bytes(b"not a checkpoint")
    runs.train(d / "run", data=str(d / "data.txt"), epochs=2, hidden=16, wordvec=8,
               batch_size=30, lr=0.01, quiet=True, threads=1)
    runs.train(d / "copyrun", task="copy", model="lstm_copy", hidden=3, batch_size=2,
               epoch_steps=2, epochs=1, max_length=3, quiet=True, threads=1)
    last = d / "run" / "last.npz"
    (d / "edited").mkdir()
    _edited(last, d / "edited" / "unknown_kind.npz", lambda m: m.update(kind="lstm9000"))
    _edited(last, d / "edited" / "bad_config.npz",
            lambda m: m["config"].update(hidden_size="abc"))
    _edited(last, d / "edited" / "no_task.npz", lambda m: m.pop("task"))
    _edited(last, d / "edited" / "bad_vocab.npz", lambda m: m["task"].update(vocab=7))
    (d / "edited" / "progress").mkdir()
    _edited(last, d / "edited" / "progress" / "last.npz",
            lambda m: m["trainer"]["progress"].update(step="x"))
    (d / "edited" / "noresume").mkdir()
    _edited(last, d / "edited" / "noresume" / "last.npz", lambda m: m.pop("run"))
    return d


def snapshot(root):
    out = {}
    for p in sorted(pathlib.Path(root).rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel + "/"] = None
        else:
            out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
    return out


def fsize_limit(nbytes):
    """A disk that is full after `nbytes` bytes per file (RLIMIT_FSIZE; Python ignores
    SIGXFSZ, so writes beyond it fail with EFBIG)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


@contextlib.contextmanager
def lock_held(folder):
    import fcntl
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    os.write(fd, b"12345")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)
        os.unlink(folder / ".lock")


# id, arguments ({d} is the house), exit status, what the line must say (a regex), extras
# (env: variables; fault: a function run in the child before the command; stdin; lock: hold
# this folder's lock meanwhile)
CASES = [
    # options: every size, rate, seed and count is checked as it is parsed
    ("batch size 0", "train --data {d}/data.txt --batch-size 0", 2,
     r"argument --batch-size: must be a whole number >= 1, got '0'"),
    ("batch size negative", "train --data {d}/data.txt --batch-size -3", 2,
     r"argument --batch-size: .*'-3'"),
    ("hidden 0", "train --data {d}/data.txt --hidden 0", 2, r"argument --hidden: .*'0'"),
    ("hidden -1", "train --data {d}/data.txt --hidden -1", 2, r"argument --hidden: .*'-1'"),
    ("wordvec 0", "train --data {d}/data.txt --wordvec 0", 2, r"argument --wordvec: .*'0'"),
    ("lr nan", "train --data {d}/data.txt --lr nan", 2,
     r"argument --lr: must be a finite number, got 'nan'"),
    ("lr inf", "train --data {d}/data.txt --lr inf", 2, r"argument --lr: .*finite.*'inf'"),
    ("lr -1", "train --data {d}/data.txt --lr -1", 2, r"argument --lr: .*> 0, got '-1'"),
    ("lr 0", "train --data {d}/data.txt --lr 0", 2, r"argument --lr: .*> 0, got '0'"),
    ("lr abc", "train --data {d}/data.txt --lr abc", 2, r"argument --lr: must be a number"),
    ("max-grad -1", "train --data {d}/data.txt --max-grad -1", 2,
     r"argument --max-grad: .*> 0, got '-1'"),
    ("max-grad nan", "train --data {d}/data.txt --max-grad nan", 2,
     r"argument --max-grad: .*finite.*'nan'"),
    ("seed -1", "train --data {d}/data.txt --seed -1", 2,
     r"argument --seed: must be a seed, a whole number from 0 to 4294967295, got '-1'"),
    ("seed too large", "train --data {d}/data.txt --seed 4294967296", 2, r"argument --seed"),
    ("epochs 0", "train --data {d}/data.txt --epochs 0", 2, r"argument --epochs: .*'0'"),
    ("beam 0", "train --data {d}/data.txt --beam 0", 2, r"argument --beam: .*'0'"),
    ("momentum 1.5", "train --task copy --momentum 1.5", 2,
     r"argument --momentum: must be a number in \[0, 1\), got '1.5'"),
    ("threads 0", "train --data {d}/data.txt --threads 0", 2, r"argument --threads: .*'0'"),
    ("threads beyond the CPUs", "--threads 999 train --data {d}/data.txt", 2,
     r"argument --threads: must be a thread count \(\d+ CPUs here\)"),
    ("optimizer sgd", "train --data {d}/data.txt --optimizer sgd", 2,
     r"argument --optimizer: invalid choice: 'sgd'"),
    ("clip-mode sign", "train --data {d}/data.txt --clip-mode sign", 2,
     r"argument --clip-mode: invalid choice"),
    ("time limit 0", "train --data {d}/data.txt --time-limit 0", 2,
     r"argument --time-limit: .*> 0"),
    ("stop-at as a percentage", f"train --data {{d}}/data.txt {SMALL} --dir {{d}}/new "
     "--stop-at 99.5", 2, r"--stop-at 99.5: the test accuracy is a share in \(0, 1\]"),
    ("stop-at abc", "train --data {d}/data.txt --stop-at abc", 2,
     r"argument --stop-at: must be a number"),
    ("unknown option", "train --data {d}/data.txt --hiden 16", 2,
     r"unrecognized arguments: --hiden 16"),
    ("unknown command", "trian --data {d}/data.txt", 2,
     r"unknown command 'trian' \(did you mean 'train'\?\)"),
    ("no command", "--threads 1", 2, r"choose a command: demo, data, train"),
    ("the copy command that was", "copy train --out {d}/ntm.npz", 2,
     r"the copy task trains and evaluates like every task: `tinygrad-attn train --task copy"),
    # what does not fit together
    ("unknown task", "train --task nope --dir {d}/new", 2,
     r"unknown task 'nope'; installed tasks: copy, qa"),
    ("unknown model", "train --data {d}/data.txt --model nope --dir {d}/new", 2,
     r"unknown model 'nope'; installed models: .*attention"),
    ("a copy model on the qa task", f"train --data {{d}}/data.txt {SMALL} --model ntm "
     "--dir {d}/new", 2, r"the 'ntm' model does not fit the 'qa' task"),
    ("a qa model on the copy task", "train --task copy --model attention --dir {d}/new", 2,
     r"the 'attention' model does not fit the 'copy' task"),
    ("a qa option on the copy task", "train --task copy --data {d}/data.txt --dir {d}/new",
     2, r"--data: not an option of the 'copy' task"),
    ("an rmsprop option with adam", f"train --data {{d}}/data.txt {SMALL} --momentum 0.5 "
     "--dir {d}/new", 2, r"--momentum: only --optimizer rmsprop takes it"),
    ("an NTM option on a seq2seq model", f"train --data {{d}}/data.txt {SMALL} "
     "--memory-size 5 --dir {d}/new", 2,
     r"--memory-size: the 'attention' model takes no memory_size"),
    ("--out for the run folder", "train --data {d}/data.txt --out {d}/new", 2,
     r"the run folder is --dir"),
    ("no data file", "train --dir {d}/new", 2, r"the qa task trains on a data file: give "
     r"--data FILE"),
    ("curriculum beyond the lengths", "train --task copy --curriculum 30 --dir {d}/new", 2,
     r"--curriculum 30: the first longest length must be within"),
    ("an epoch of no steps", "train --task copy --epoch-steps 0 --dir {d}/new", 2,
     r"argument --epoch-steps: must be a whole number >= 1, got '0'"),
    ("min length above max", "train --task copy --min-length 5 --max-length 3 "
     "--dir {d}/new", 2, r"--min-length 5 and --max-length 3"),
    # the data, checked before any work
    ("missing data file", "train --data {d}/missing.txt --dir {d}/new", 2,
     r"missing.txt: no such data file"),
    ("data file is a folder", "train --data {d}/folder --dir {d}/new", 2,
     r"folder: is a folder, not a data file"),
    ("malformed data file", "train --data {d}/bad.txt --dir {d}/new", 2,
     r"bad.txt: cannot load it, 1 problem\(s\): line 4: no '_' between question and answer"),
    ("an empty test split", "train --data {d}/small.txt --dir {d}/new", 2,
     r"small.txt: 9 examples, so its test split .* is empty; training needs at least 10"),
    ("fewer rows than a batch", "train --data {d}/tiny.txt --batch-size 60 --dir {d}/new", 2,
     r"tiny.txt: 27 training examples, fewer than one batch of 60 \(--batch-size\)"),
    ("every question empty", "train --data {d}/emptyq.txt --dir {d}/new", 2,
     r"emptyq.txt: every question is empty"),
    ("eval on an empty test split", "eval {d}/run --data {d}/small.txt", 2,
     r"small.txt: its test split is empty .*--all scores every row"),
    ("eval on other answers", "eval {d}/run --data {d}/addition.txt", 2,
     r"addition.txt: answers are 4 characters wide, the model writes 10"),
    ("check a missing file", "data --check {d}/missing.txt", 2,
     r"cannot read .*missing.txt: No such file"),
    ("data --out a folder", "data dates -n 5 --out {d}/folder", 2,
     r"argument --out: '.*folder' is a folder; give a file name"),
    ("data -n 0", "data dates -n 0 --out {d}/new.txt", 2, r"argument -n/--examples: .*'0'"),
    ("data: a bad date", "data dates -n 5 --start 2020-13-01 --out {d}/new.txt", 2,
     r"2020-13-01"),
    ("data: check and generate", "data dates --check {d}/data.txt", 2,
     r"--check FILE checks a file; it takes no KIND"),
    ("data: no --out", "data dates -n 5", 2, r"give a kind \(dates or addition\) and --out"),
    ("data: --out under a file", "data dates -n 5 --out {d}/afile/x.txt", 2,
     r"cannot write .*afile/x.txt: .*afile is a file, not a folder"),
    # a run folder holds one run
    ("a new run into a run", f"train --data {{d}}/data.txt {SMALL} --dir {{d}}/run", 2,
     r"run holds a run already \(last.npz \(attention, epoch 2\), best.npz .*: continue it "
     r"with --resume, or replace it with --overwrite"),
    ("nothing to resume", "train --resume --dir {d}/empty_run", 2,
     r"nothing to resume in .*empty_run: it has no last.npz"),
    ("resume with another lr", "train --resume --dir {d}/run --lr 0.5", 2,
     r"--resume: .*last.npz was trained with other settings.*--lr 0.5 \(the run has 0.01\)"),
    ("resume with another model", "train --resume --dir {d}/run --model peeky", 2,
     r"--model 'peeky' \(the run has 'attention'\)"),
    ("resume to fewer epochs", "train --resume --dir {d}/run --epochs 1", 2,
     r"--epochs 1: .*last.npz is at epoch 2 already; give a larger --epochs"),
    ("resume on other data", "train --resume --dir {d}/run --data {d}/tiny.txt", 2,
     r"tiny.txt is not the data .*last.npz was trained on"),
    ("resume and overwrite", "train --resume --overwrite --dir {d}/run", 2,
     r"--resume continues the run in the folder and --overwrite replaces it"),
    ("a run folder that is a file", "train --data {d}/data.txt --dir {d}/afile", 2,
     r"afile: cannot be the run folder: it is a file, not a folder"),
    ("a run folder under a file", "train --data {d}/data.txt --dir {d}/afile/run", 2,
     r"afile/run: cannot be the run folder: .*afile is a file, not a folder"),
    ("a second training in a folder", "train --resume --dir {d}/run --epochs 3", 2,
     r"run: another training runs in this folder \(process 12345\)", {"lock": "run"}),
    ("resume from a hand-edited progress", "train --resume --dir {d}/edited/progress", 2,
     r"progress/last.npz: cannot resume from it: progress step is 'x', not a count"),
    ("resume from a checkpoint without its run", "train --resume --dir {d}/edited/noresume",
     2, r"noresume/last.npz: written by an earlier tinygrad_attn"),
    # checkpoints
    ("eval garbage", "eval {d}/broken.npz", 2, r"broken.npz: not a readable checkpoint"),
    ("eval a missing checkpoint", "eval {d}/missing.npz", 2,
     r"missing.npz: no such checkpoint"),
    ("translate garbage", "translate {d}/broken.npz 1/2/03", 2,
     r"broken.npz: not a readable checkpoint"),
    ("eval an unknown kind", "eval {d}/edited/unknown_kind.npz", 2,
     r"unknown_kind.npz: unknown model 'lstm9000'"),
    ("eval a hand-edited config", "eval {d}/edited/bad_config.npz", 2,
     r"bad_config.npz: does not fit a 'attention' model built from its config"),
    ("translate without task metadata", "translate {d}/edited/no_task.npz 1/2/03", 2,
     r"no_task.npz: holds no task metadata"),
    ("translate a broken vocabulary", "translate {d}/edited/bad_vocab.npz 1/2/03", 2,
     r"bad_vocab.npz: its task metadata is broken"),
    ("eval a folder without checkpoints", "eval {d}/empty_run", 2,
     r"empty_run: a folder without a checkpoint"),
    ("translate with a copy model", "translate {d}/copyrun abc", 2,
     r"copyrun/best.npz: holds a model of the 'copy' task, not of the qa task|"
     r"copyrun/last.npz: holds a model of the 'copy' task"),
    ("a qa option on a copy checkpoint", "eval {d}/copyrun --data {d}/data.txt", 2,
     r"--data: not for .*copyrun/.*, a model of the 'copy' task"),
    ("a copy option on a qa checkpoint", "eval {d}/run --lengths 1-3", 2,
     r"--lengths: not for .*run/best.npz, a model of the 'qa' task"),
    ("bad lengths", "eval {d}/copyrun --lengths abc", 2,
     r"argument --lengths: 'abc' in 'abc' is not a length"),
    ("an unseen character", "translate {d}/run €5", 2,
     r"character '€' \(U\+20AC\) at column 1 is not in the vocabulary"),
    ("no inputs", "translate {d}/run", 2, r"no inputs: give them as arguments", {"stdin": ""}),
    ("a heatmap without a suffix", "translate {d}/run 1/2/03 --heatmap {d}/h", 2,
     r"argument --heatmap: '.*/h' has no suffix; it must end in .png, .svg, .pdf"),
    ("a heatmap as jpg", "translate {d}/run 1/2/03 --heatmap {d}/h.jpg", 2,
     r"argument --heatmap: .*suffix '.jpg'"),
    ("a heatmap under a file", "translate {d}/run 1/2/03 --heatmap {d}/afile/h.png", 2,
     r"cannot write .*afile/h.png"),
    ("eval --json under a file", "eval {d}/run --json {d}/afile/e.json", 2,
     r"cannot write .*afile/e.json"),
    ("plot as jpg", "plot {d}/run --out {d}/p.jpg", 2, r"argument --out: .*suffix '.jpg'"),
    ("plot an unknown metric", "plot {d}/run --metric nope --out {d}/p.png", 2,
     r"history.json: has no 'nope' per epoch \(it has: .*accuracy"),
    ("plot a missing history", "plot {d}/missing.json --out {d}/p.png", 2,
     r"missing.json: no such file"),
    ("plot runs of two tasks", "plot {d}/run {d}/copyrun --out {d}/p.png", 2,
     r"these runs score different metrics \(accuracy, bits_wrong\)"),
    ("graph as jpg", "graph --out {d}/g.jpg", 2, r"argument --out: .*suffix '.jpg'"),
    ("graph an unknown model", "graph --model nope --out {d}/g.dot", 2,
     r"unknown model 'nope'"),
    ("demo with no epochs", "demo --epochs 0 --dir {d}/new", 2, r"argument --epochs: .*'0'"),
    ("demo --out", "demo --out {d}/new", 2, r"the demo's folder is --dir"),
    # the environment
    ("a bad malloc pad", "train --data {d}/data.txt --dir {d}/new", 2,
     r"environment: TGA_MALLOC_TOP_PAD must be a number of bytes .*'abc'",
     {"env": {"TGA_MALLOC_TOP_PAD": "abc"}}),
    ("a bad thread count", "train --data {d}/data.txt --dir {d}/new", 2,
     r"environment: TGA_NUM_THREADS must be a positive whole number of threads, got 'abc'",
     {"env": {"TGA_NUM_THREADS": "abc"}}),
    ("too many threads", "train --data {d}/data.txt --dir {d}/new", 2,
     r"environment: TGA_NUM_THREADS=999 must be from 1 to the \d+ CPUs",
     {"env": {"TGA_NUM_THREADS": "999"}}),
    # failures during the work: exit 1, the user's file named, the earlier state kept
    ("the disk fills on resume", "train --resume --dir {d}/run --epochs 3 --quiet", 1,
     r"cannot write .*run/(best|last).npz: File too large", {"fault": fsize_limit(30000)}),
    ("the disk fills under data", "data dates -n 3000 --out {d}/new.txt", 1,
     r"new.txt: File too large", {"fault": fsize_limit(20000)}),
    ("a loss that overflows", f"train --data {{d}}/data.txt {SMALL} --lr 1e38 --dir "
     "{d}/new --quiet", 1, r"the loss is (nan|inf) at step \d+ \(epoch 1\); training "
     "stopped before that step changed anything"),
]


def run_cli(argv, env=None, fault=None, stdin=None):
    base = {**os.environ, "PYTHONPATH": ROOT, "TGA_NUM_THREADS": "1"}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "tinygrad_attn", *argv], env=base,
                          capture_output=True, text=True, timeout=120, preexec_fn=fault,
                          input=stdin if stdin is not None else "")


def run_case(case, house, where):
    """Run one row in its own copy of the house (hard links: nothing of ours writes in
    place), snapshotted before and after."""
    name, args, status, message, *extra = case
    extra = extra[0] if extra else {}
    shutil.copytree(house, where, copy_function=os.link)
    argv = [a.replace("{d}", str(where)) for a in args.split()]
    before = snapshot(where)
    held = lock_held(where / extra["lock"]) if "lock" in extra else contextlib.nullcontext()
    with held:
        run = run_cli(argv, extra.get("env"), extra.get("fault"), extra.get("stdin"))
    return run, before, snapshot(where)


@pytest.fixture(scope="module")
def results(house, tmp_path_factory):
    """Every row's (run, snapshot before, snapshot after); rows run two or three at a time
    (each is mostly a process starting), each in a house of its own."""
    rows = tmp_path_factory.mktemp("rows")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {c[0]: pool.submit(run_case, c, house, rows / f"row{i}")
                   for i, c in enumerate(CASES)}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_line_the_exit_status_and_nothing_changed(case, results):
    name, args, status, message, *extra = case
    run, before, after = results[name]
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == status, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("tinygrad-attn"), lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert after == before


def test_the_table_is_as_large_as_promised():
    assert len(CASES) >= 60
    assert {c[2] for c in CASES} == {1, 2}


def test_debug_shows_the_traceback(house):
    run = run_cli(["eval", str(house / "broken.npz"), "--debug"])
    assert run.returncode != 0 and "Traceback" in run.stderr and "CheckpointError" in run.stderr
