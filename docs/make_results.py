"""Tables for docs/results.md from training runs (their history.json and last.npz).

    python docs/make_results.py RUN_DIR [RUN_DIR ...]        # markdown on stdout

Per run: the model kind, its parameter count, the test accuracy after each epoch, the
seconds (wall clock and this process's CPU time) per epoch, and the first epoch reaching
99% and 99.9% with the training time summed up to it. Nothing is typed by hand: every
number in the tables of docs/results.md comes out of this script.
"""
import json
import pathlib
import sys

import numpy as np

from tinygrad_attn import checkpoint


def load(run):
    run = pathlib.Path(run)
    hist = json.loads((run / "history.json").read_text())
    ckpt = checkpoint.read(run / "last.npz")
    n_params = sum(int(np.prod(a.shape)) for a in ckpt.params.values())
    return run, hist, ckpt, n_params


def first_reaching(epochs, level):
    for k, e in enumerate(epochs):
        if e.get("accuracy", 0) >= level:
            return e["epoch"], sum(x["seconds"] for x in epochs[:k + 1]), \
                sum(x["cpu_seconds"] for x in epochs[:k + 1])
    return None


def main(runs):
    loaded = [load(r) for r in runs]
    n = max(len(h["epochs"]) for _, h, _, _ in loaded)
    print("| run | model | parameters | " + " | ".join(f"ep {i + 1}" for i in range(n)) + " |")
    print("|---|---|---:|" + "---:|" * n)
    for run, hist, ckpt, n_params in loaded:
        acc = [f"{100 * e['accuracy']:.2f}" for e in hist["epochs"]]
        acc += [""] * (n - len(acc))
        print(f"| {run.name} | {ckpt.kind} | {n_params:,} | " + " | ".join(acc) + " |")
    print()
    print("| run | epochs run | steps | s / epoch (wall) | CPU s / epoch | eval s / epoch | "
          "first epoch >= 99% (train s wall / CPU) | first epoch >= 99.9% (train s wall / CPU) |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for run, hist, ckpt, n_params in loaded:
        ep = hist["epochs"]
        wall = np.mean([e["seconds"] for e in ep])
        cpu = np.mean([e["cpu_seconds"] for e in ep])
        ev = np.mean([e["eval_seconds"] for e in ep])
        cells = []
        for level in (0.99, 0.999):
            r = first_reaching(ep, level)
            cells.append("not reached" if r is None else f"{r[0]} ({r[1]:.0f} / {r[2]:.0f})")
        print(f"| {run.name} | {len(ep)} | {ep[-1]['step']} | {wall:.0f} | {cpu:.0f} | "
              f"{ev:.1f} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main(sys.argv[1:])
