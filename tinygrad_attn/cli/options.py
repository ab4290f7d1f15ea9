"""The command line's one vocabulary: every option is defined here once (its flags, how its
value is checked, its help) and every command that takes it takes it the same way.

    --out FILE     a file a command writes          --dir DIR    a run's (or the demo's) folder
    -n/--examples  how many examples                --seed N     a generator's seed
    --hidden N     a model's hidden (controller)    --max-grad X the gradient clip threshold
    --beam K       the beam width of decoding       CHECKPOINT   positional, a .npz or a run folder

Values are checked as they are parsed, so a bad one is refused before any work with one line
naming the option (`argument --lr: must be a finite number > 0, got 'nan'`).
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib

__all__ = ["add", "SPECS", "cpus", "PICTURES", "writable", "checkpoint_path", "load_checkpoint"]

PICTURES = (".png", ".svg", ".pdf")          # what matplotlib writes for our pictures


def cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --- value checks ---------------------------------------------------------------------------
def _whole(text, low, high=None, what="a whole number"):
    try:
        value = int(text, 10)
    except (TypeError, ValueError):
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise argparse.ArgumentTypeError(f"must be {what} {bound}, got {text!r}")
    return value


def count(text):
    return _whole(text, 1)


def count0(text):
    return _whole(text, 0)


def seed(text):
    return _whole(text, 0, 2**32 - 1, "a seed, a whole number")


def threads(text):
    return _whole(text, 1, cpus(), f"a thread count ({cpus()} CPUs here),")


def _real(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive(text):
    value = _real(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def nonnegative(text):
    value = _real(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def fraction(text):
    value = _real(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def real(text):
    return _real(text)


def out_file(*suffixes):
    """A file to write: not a folder; with `suffixes`, one of them (checked before work)."""
    def check(text):
        path = pathlib.Path(text)
        if not text or path.is_dir() or text.endswith(("/", os.sep)):
            raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
        if suffixes and path.suffix.lower() not in suffixes:
            got = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
            raise argparse.ArgumentTypeError(f"{text!r} has {got}; it must end in "
                                             f"{', '.join(suffixes)}")
        return path
    check.__name__ = "file"
    return check


def writable(path):
    """Before the work: UsageError unless the output file `path` can be written."""
    from tinygrad_attn.files import WriteError, check_writable
    from .errors import UsageError
    try:
        check_writable(path)
    except WriteError as e:
        raise UsageError(str(e)) from None


def checkpoint_path(text):
    """The CHECKPOINT positional: a .npz, or a run folder (its best.npz, else its last.npz);
    UsageError if there is none."""
    from tinygrad_attn.runs import find_checkpoint
    from .errors import UsageError
    path = find_checkpoint(text)
    if not path.exists():
        raise UsageError(f"{path}: no such checkpoint")
    return path


def load_checkpoint(text):
    """(model, checkpoint) of the CHECKPOINT positional."""
    from tinygrad_attn.checkpoint import load_model
    return load_model(checkpoint_path(text))


def lengths(text):
    from ..tasks.copy import parse_lengths
    try:
        parse_lengths(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


# --- the vocabulary -------------------------------------------------------------------------
# name -> (flags, argparse keywords). A command adds an option by its name, and may change its
# default and help (`add(p, "seed", default=1234, help=...)`); the name is the dest.
SPECS = {
    # process
    "threads": (["--threads"], dict(type=threads, metavar="N", help=(
        "threads for large products and the LSTM's recurrence (BLAS runs one thread, with "
        "--threads 1 too; "
        "default: TGA_NUM_THREADS, else OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else every "
        "CPU this process may use; on --resume: the run's own; see docs/performance.md)"))),
    "debug": (["--debug"], dict(action="store_true",
                                help="on an error, show the Python traceback too")),
    # files and folders
    "out": (["--out"], dict(metavar="FILE", help="the file to write")),
    "dir": (["--dir"], dict(metavar="DIR", help="the run folder")),
    "data": (["--data"], dict(metavar="FILE", help="a data file (tinygrad-attn data ...)")),
    "json": (["--json"], dict(metavar="FILE", type=out_file(".json"),
                              help="also write the result to this JSON file")),
    # sizes and counts
    "examples": (["-n", "--examples"], dict(type=count, metavar="N",
                                            help="how many examples")),
    "seed": (["--seed"], dict(type=seed, metavar="N", help="random seed")),
    "epochs": (["--epochs"], dict(type=count, metavar="N", help=(
        "epochs in all, those before a --resume included (default: the task's: qa 10, "
        "copy 40; on --resume: the run's)"))),
    "batch_size": (["--batch-size"], dict(type=count, metavar="N", help=(
        "examples per step (default: qa 128, the book's; copy 16)"))),
    # the model
    "task": (["--task"], dict(metavar="TASK", help=(
        "qa (default: questions and answers of a --data file, exact match) or copy (the "
        "NTM copy task, bits wrong)"))),
    "model": (["--model"], dict(metavar="MODEL", help=(
        "a registered model (default: attention for qa, ntm for copy; the list: "
        "tinygrad-attn train --help)"))),
    "wordvec": (["--wordvec"], dict(type=count, metavar="N",
                                    help="embedding size of a seq2seq model (default 16)")),
    "hidden": (["--hidden"], dict(type=count, metavar="N", help=(
        "hidden size: the LSTM's of a seq2seq model (default 256), the NTM's controller "
        "(100), the lstm_copy baseline's (256)"))),
    "layers": (["--layers"], dict(type=count, metavar="N",
                                  help="layers of the deep, gnmt and transformer models")),
    "memory_size": (["--memory-size"], dict(type=count, metavar="R",
                                            help="NTM memory rows (default 128)")),
    "memory_width": (["--memory-width"], dict(type=count, metavar="M",
                                              help="NTM row width (default 20)")),
    "memory_init": (["--memory-init"], dict(choices=["constant", "learned"], help=(
        "NTM initial memory: every cell 1e-6, not learned (default), or a learned matrix"))),
    "weights_init": (["--weights-init"], dict(choices=["onehot", "learned"], help=(
        "NTM heads' initial weightings: all on row 0, fixed (default), or learned"))),
    "controller": (["--controller"], dict(choices=["lstm", "feedforward"],
                                          help="NTM controller (default lstm)")),
    # training
    "optimizer": (["--optimizer"], dict(choices=["adam", "rmsprop"], help=(
        "adam (the book's; default for qa) or rmsprop (PyTorch's, with --momentum and "
        "--alpha: the NTM paper's; default for copy)"))),
    "lr": (["--lr"], dict(type=positive, metavar="X", help=(
        "learning rate (default 1e-3 for adam, 1e-4 for rmsprop)"))),
    "momentum": (["--momentum"], dict(type=fraction, metavar="X",
                                      help="rmsprop momentum (default 0.9)")),
    "alpha": (["--alpha"], dict(type=fraction, metavar="X",
                                help="rmsprop smoothing of the squared gradients (0.95)")),
    "max_grad": (["--max-grad"], dict(type=positive, metavar="X", help=(
        "clip the gradients at this threshold (default: qa 5.0, copy 10)"))),
    "clip_mode": (["--clip-mode"], dict(choices=["norm", "value"], help=(
        "norm: scale all gradients to a global norm <= --max-grad (the book's; default "
        "for qa); value: clip each entry to [-max-grad, max-grad] (default for copy)"))),
    "stop_at": (["--stop-at"], dict(type=real, metavar="X", help=(
        "stop after the first epoch reaching this: qa, a test accuracy in (0, 1] such as "
        "0.995; copy, bits wrong per sequence"))),
    "time_limit": (["--time-limit"], dict(type=positive, metavar="SECONDS", help=(
        "stop (resumably, as Ctrl-C does) after this much wall time"))),
    "quiet": (["--quiet"], dict(action="store_true", help="no progress bar or epoch lines")),
    # the tasks' own
    "reverse": (["--reverse"], dict(action=argparse.BooleanOptionalAction, default=None,
                                    help="qa: reverse the input sequences, as the book "
                                         "(default: reverse)")),
    "beam": (["--beam"], dict(type=count, metavar="K",
                              help="beam width of decoding (default 1: greedy)")),
    "epoch_steps": (["--epoch-steps"], dict(type=count, metavar="N", help=(
        "copy: batches per epoch (default 100; one history row, line and checkpoint each)"))),
    "min_length": (["--min-length"], dict(type=count, metavar="L",
                                          help="copy: shortest sequence (default 1)")),
    "max_length": (["--max-length"], dict(type=count, metavar="L",
                                          help="copy: longest sequence (default 20)")),
    "curriculum": (["--curriculum"], dict(type=count, metavar="START", help=(
        "copy: draw lengths up to START at first and raise it by one after each epoch below "
        "--curriculum-threshold bits wrong (default: no curriculum)"))),
    "curriculum_threshold": (["--curriculum-threshold"], dict(type=nonnegative, metavar="X",
                                                              help="copy: (default 1.0)")),
    "lengths": (["--lengths"], dict(type=lengths, metavar="LIST", help=(
        "copy: the lengths to score, e.g. 1-20,30,50,80 (the default)"))),
}


def add(parser, *names, **overrides):
    """Add the options `names` from the vocabulary; `overrides` apply to a single name."""
    if overrides and len(names) != 1:
        raise ValueError("add: overrides go with one option")
    for name in names:
        flags, kwargs = SPECS[name]
        kwargs = {**kwargs, **overrides}
        kwargs.setdefault("dest", name)
        parser.add_argument(*flags, **kwargs)
