"""`tinygrad-attn eval`: score a checkpoint (or a run folder's best) with its task's measure."""
from __future__ import annotations

import sys

from . import options
from .errors import UsageError

EVAL_OPTIONS = ("data", "all", "beam", "show", "lengths", "examples", "seed")


def run(args):
    from tinygrad_attn.files import write_json
    from tinygrad_attn.plugins import task_class
    if args.json is not None:
        options.writable(args.json)
    model, ckpt = options.load_checkpoint(args.checkpoint)
    path = ckpt.path
    task = ckpt.meta.get("task")
    name = task.get("name", "qa") if isinstance(task, dict) else "qa"
    Task = task_class(name)
    given = {k: getattr(args, k) for k in EVAL_OPTIONS
             if getattr(args, k) not in (None, False)}
    foreign = [k for k in given if k not in Task.eval_options]
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise UsageError(f"{flags}: not for {path}, a model of the {name!r} task (its "
                         f"options: {', '.join('--' + k for k in sorted(Task.eval_options))})")
    report = Task.report(model, ckpt, **given)
    for w in report.warnings:
        print(f"tinygrad-attn eval: warning: {w}", file=sys.stderr)
    print("\n".join(report.lines))
    if args.json is not None:
        write_json(args.json, report.result)
        print(f"wrote {args.json}")
    return 0


def add_parser(sub):
    p = sub.add_parser("eval", help="score a checkpoint with its task's measure",
                       description="Score a checkpoint (a .npz written by train, or a run "
                       "folder: its best.npz, else its last.npz). qa: exact-match accuracy "
                       "on a data file's test split (the book's seeded split; default file: "
                       "the one it was trained on) or on every row (--all), with the first "
                       "wrong answers beside the right ones. copy: mean bits wrong per "
                       "sequence at each of --lengths, on fresh sequences.")
    p.add_argument("checkpoint", help="a .npz written by train, or a run folder")
    qa = p.add_argument_group("qa checkpoints")
    options.add(qa, "data", help="the data file (default: the one it was trained on)")
    qa.add_argument("--all", action="store_true", help="every row, not only the test split")
    options.add(qa, "beam")
    qa.add_argument("--show", type=options.count0, metavar="N",
                    help="wrong answers to show (default 5)")
    copy = p.add_argument_group("copy checkpoints")
    options.add(copy, "lengths")
    options.add(copy, "examples", help="sequences per length (default 64)")
    options.add(copy, "seed", help="seed of the sequences (default 1234)")
    options.add(p, "json")
    return p
