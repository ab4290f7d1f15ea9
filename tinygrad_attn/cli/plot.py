"""`tinygrad-attn plot`: a per-epoch metric of several runs in one picture."""
from __future__ import annotations

import json
import pathlib

from . import options
from .errors import UsageError


def _history(name):
    path = pathlib.Path(name)
    if path.is_dir():
        path = path / "history.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (give history.json files or run folders)") \
            from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UsageError(f"{path}: not a readable history ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("epochs"), list) or \
            not all(isinstance(e, dict) for e in data["epochs"]):
        raise UsageError(f"{path}: not a history (no list of epochs)")
    return path, data


def run(args):
    from tinygrad_attn import plots
    from tinygrad_attn.plugins import UnknownTaskError, task_class
    options.writable(args.out)
    loaded = [_history(name) for name in args.runs]
    metric = args.metric
    if metric is None:
        metrics = set()
        for path, data in loaded:
            try:
                metrics.add(task_class(data.get("task", "qa")).metric)
            except UnknownTaskError:
                metrics.add("loss")
        if len(metrics) != 1:
            raise UsageError(f"these runs score different metrics ({', '.join(sorted(metrics))}"
                             "); choose one with --metric")
        metric = metrics.pop()
    labels = args.labels or []
    if len(labels) > len(loaded):
        raise UsageError(f"--labels: {len(labels)} labels for {len(loaded)} runs")
    runs = []
    for i, (path, data) in enumerate(loaded):
        rows = [e for e in data["epochs"] if metric in e]
        if not rows:
            have = sorted({k for e in data["epochs"] for k in e} - {"epoch", "step"})
            raise UsageError(f"{path}: has no {metric!r} per epoch (it has: "
                             f"{', '.join(have) or 'no epochs yet'})")
        try:
            values = [float(e[metric]) for e in rows]
            epochs = [int(e["epoch"]) for e in rows]
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"{path}: its {metric!r} per epoch is not numbers ({e})") from None
        label = labels[i] if i < len(labels) else f"{data.get('kind', '?')} ({path.parent.name})"
        runs.append((label, epochs, values))
    if args.book and metric != "accuracy":
        raise UsageError(f"--book: the book's curve is an accuracy, not {metric!r}")
    print(f"wrote {plots.curves(args.out, runs, metric=metric, book=args.book)}")
    return 0


def add_parser(sub):
    p = sub.add_parser("plot", help="a per-epoch metric of several runs in one picture",
                       description="Draw a per-epoch metric (accuracy, loss, bits_wrong, ...) "
                       "of several runs (their history.json, or their folders) in one "
                       "picture; the test accuracy with --book beside the book's measured "
                       "curve, as its Figure 8-26.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="history.json files or run folders")
    options.add(p, "out", default="curves.png", type=options.out_file(*options.PICTURES),
                help="the picture: .png, .svg or .pdf (default curves.png)")
    p.add_argument("--labels", nargs="+", metavar="LABEL",
                   help="one label per run (default: model kind and folder)")
    p.add_argument("--metric", help="the metric to draw: accuracy, loss, bits_wrong, ... "
                   "(default: the runs' task's: accuracy for qa, bits_wrong for copy)")
    p.add_argument("--book", action="store_true",
                   help="add the book's measured curve (0 / 51.7 / 99.9 %% after epochs 1-3)")
    return p
