"""`tinygrad-attn train`: train a registered model on a task in a run folder, or resume it."""
from __future__ import annotations

import argparse
import sys

from . import options, process
from .errors import UsageError

MODEL_OPTIONS = ("wordvec", "hidden", "layers", "memory_size", "memory_width", "memory_init",
                 "weights_init", "controller")
SETTINGS = ("batch_size", "optimizer", "lr", "momentum", "alpha", "max_grad", "clip_mode",
            "seed")
TASK_OPTIONS = ("data", "reverse", "beam", "epoch_steps", "min_length", "max_length",
                "curriculum", "curriculum_threshold")


def _default_dir(args):
    from tinygrad_attn.plugins import task_class
    model = args.model or task_class(args.task or "qa").default_model
    return f"runs/{model}"


def _warn(text):
    print(f"tinygrad-attn train: warning: {text}", file=sys.stderr)


def run(args):
    from tinygrad_attn import runs
    from tinygrad_attn.training import Interrupted
    if args.old_out is not None:
        raise UsageError("the run folder is --dir (--out names a file in every command): "
                         f"--dir {args.old_out}")
    folder = args.dir or _default_dir(args)
    if args.resume and not process.threads_chosen(args):
        saved = runs.recorded_threads(folder)
        if saved is not None and saved != process.threads_in_effect() and \
                saved <= options.cpus():
            process.use_threads(saved)      # the run's own count: bit-exact
    given = {k: getattr(args, k) for k in MODEL_OPTIONS + SETTINGS + TASK_OPTIONS}
    try:
        result = runs.train(folder, task=args.task, model=args.model, epochs=args.epochs,
                            resume=args.resume, overwrite=args.overwrite,
                            stop_at=args.stop_at, time_limit=args.time_limit,
                            quiet=args.quiet, warn=_warn,
                            threads=process.threads_in_effect(), **given)
    except Interrupted as e:
        where = (f"epoch {e.epoch + 1}, {e.epoch_step} of its steps" if e.epoch_step
                 else f"the end of epoch {e.epoch}")
        print(f"tinygrad-attn train: interrupted ({e.signal_name}) after step {e.step} "
              f"({where}); {folder}/last.npz holds that step: continue bit for bit with "
              f"`tinygrad-attn train --resume --dir {folder}`", file=sys.stderr)
        return 130
    print(summary(result))
    return 0


def summary(result):
    """The one line `train` ends with; it names only files that exist."""
    tr, folder = result.trainer, result.folder
    if result.reason.startswith("nothing to do"):
        return (f"{folder}: {result.reason}; give a larger --epochs (or another --stop-at) "
                "to train on")
    from tinygrad_attn.callbacks import format_metric
    at = f"epoch {tr.epoch}" + (f" + {tr.epoch_step} steps" if tr.epoch_step else "")
    head = f"trained {tr.model.kind} on the {result.task.name} task to {at} (step {tr.step})"
    if result.resumed_from:
        head += f", resumed from step {result.resumed_from}"
    best = result.best
    metric = result.task.metric
    parts = [head]
    if best:
        parts.append(f"best {format_metric(metric, best[metric])} at epoch {best['epoch']}: "
                     f"{folder.file('best.npz')}")
    parts.append(f"last: {folder.file('last.npz')}; history: {folder.file('history.json')}")
    line = "; ".join(parts)
    if result.reason not in ("done",):
        line += f" (stopped: {result.reason}"
        if tr.epoch_step or result.reason.startswith("time limit"):
            line += f"; continue with `tinygrad-attn train --resume --dir {folder}`"
        line += ")"
    return line


def add_parser(sub):
    from tinygrad_attn.plugins import model_plugins, task_plugins
    models = ", ".join(sorted(model_plugins())) or "none installed"
    tasks = ", ".join(sorted(task_plugins())) or "none installed"
    p = sub.add_parser(
        "train", help="train a model on a task (qa: a data file; copy: the NTM copy task)",
        description="Train a registered model on a task in a run folder (--dir, default "
        "runs/MODEL). After each epoch: the task's evaluation (qa: exact-match accuracy on "
        "the data file's held-out 10%; copy: bits wrong per sequence), DIR/last.npz, "
        "DIR/best.npz when the epoch is the best so far, DIR/history.json (.csv). A folder "
        "holds one run: a new run into a folder that holds one is refused (--resume "
        "continues it, --overwrite replaces it), and so is a second training in a folder in "
        "use. Ctrl-C stops at the current step and writes DIR/last.npz there; --resume "
        "continues bit for bit, with the options the run was started with (any that differ "
        f"are refused) and its thread count. Models: {models}. Tasks: {tasks}.",
        epilog="examples: tinygrad-attn train --data date.txt --dir runs/attention  |  "
        "tinygrad-attn train --resume --dir runs/attention --epochs 12  |  "
        "tinygrad-attn train --task copy --model ntm --dir runs/ntm")
    run_ = p.add_argument_group("the run")
    options.add(run_, "task")
    options.add(run_, "model")
    options.add(run_, "data", help="qa: the data file (tinygrad-attn data ...); on --resume "
                "the run's own unless given")
    options.add(run_, "dir", help="the run folder (default runs/MODEL)")
    run_.add_argument("--resume", action="store_true",
                      help="continue DIR/last.npz, bit for bit")
    run_.add_argument("--overwrite", action="store_true",
                      help="replace the run DIR holds (its checkpoints and history)")
    options.add(run_, "epochs")
    options.add(run_, "stop_at")
    options.add(run_, "time_limit")
    options.add(run_, "quiet")
    run_.add_argument("--out", dest="old_out", default=None, help=argparse.SUPPRESS)
    training = p.add_argument_group("training (default: the task's)")
    for name in SETTINGS:
        options.add(training, name)
    model = p.add_argument_group("the model (default: the model's own)")
    for name in MODEL_OPTIONS:
        options.add(model, name)
    task = p.add_argument_group("the task's own")
    for name in TASK_OPTIONS[1:]:
        if name == "beam":
            options.add(task, name, help="qa: beam width of the evaluation after each epoch "
                        "(default 1: greedy)")
        else:
            options.add(task, name)
    return p
