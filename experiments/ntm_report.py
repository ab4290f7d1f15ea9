"""Evaluate and draw the copy-task runs of experiments/ntm_train.sh (re-runnable).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python experiments/ntm_report.py --n 64

Reads the runs experiments/out/ntm and lstm (run folders, or the earlier single files
ntm.npz and lstm.npz; and, for the curve only, if present, ntm_learned_w0 and
ntm_earlier_learned_memory: the runs with earlier recipes).
Writes to --out: copy_results.json (generalisation table: mean bits wrong per sequence over
--n fresh sequences per length, lengths 1-20, 30, 50, 80, and the runs' steps, wall and CPU
seconds), copy_curve.png (bits wrong per sequence against training steps, with sequences
seen on the top axis: faint, each logged mean of 10 batches; bold, the mean of the last 100
batches; the runs draw the same lengths and bits: one seed), and ntm_weightings_<L>.png
for each --picture-lengths L (one sequence: inputs, outputs, write and read weightings over
time, the memory rows the heads used: compare with Figure 6 of Graves et al. 2014).
"""
from __future__ import annotations

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_attn as tga  # noqa: E402
from tinygrad_attn.data.copy_task import bits_wrong, copy_batch  # noqa: E402
from tinygrad_attn.files import write_json  # noqa: E402
from tinygrad_attn.tasks.copy import evaluate, parse_lengths  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from copy_runs import info, load  # noqa: E402

LABELS = {"ntm": "NTM (memory 1e-6, heads start on row 0)",
          "lstm": "LSTM baseline (256 units)",
          "ntm_learned_w0": "NTM, memory 1e-6, learned w_0 (stopped)",
          "ntm_earlier_learned_memory": "NTM, learned memory, w_0 = 0 (earlier)"}
EARLIER = ("ntm_learned_w0", "ntm_earlier_learned_memory")


def smooth(y, k=10):
    return np.convolve(y, np.ones(k) / k, mode="valid")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="experiments/out")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--lengths", default="1-20,30,50,80")
    ap.add_argument("--picture-lengths", default="20,50")
    args = ap.parse_args(argv)
    def path(name):                       # a run folder, or the earlier single file
        folder = os.path.join(args.out, name)
        return folder if os.path.isdir(folder) else folder + ".npz"

    runs = {name: load(path(name)) for name in ("ntm", "lstm")
            if os.path.exists(path(name))}
    curves = {name: meta for name, (_, meta) in runs.items()}
    for name in EARLIER:                   # earlier recipes: only their curves are drawn
        if os.path.exists(path(name)):
            curves[name] = info(path(name))
    lengths = parse_lengths(args.lengths)
    table = {}
    for name, (model, meta) in runs.items():
        last = meta["curve"][-1]
        table[name] = {"step": meta["step"], "batch_size": meta.get("batch_size", 16),
                       "seconds": last["seconds"], "cpu_seconds": last.get("cpu_seconds"),
                       "parameters": int(sum(p.size for p in model.parameters())),
                       "bits_wrong": {str(k): v for k, v in
                                      evaluate(model, lengths, n=args.n).items()}}
        print(name, table[name], flush=True)
    write_json(os.path.join(args.out, "copy_results.json"), {"n": args.n, "runs": table})

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, meta), color in zip(curves.items(), ["C0", "C1", "C2", "0.55"]):
        steps = np.array([r["step"] for r in meta["curve"]])
        wrong = np.array([r["bits_wrong"] for r in meta["curve"]])
        ax.plot(steps, wrong, color=color, lw=0.5, alpha=0.3)
        if len(wrong) >= 10:                           # 10 logged points = 100 batches
            ax.plot(steps[9:], smooth(wrong), color=color, lw=1.8, label=LABELS[name])
    batch = next(iter(curves.values())).get("batch_size", 16)
    ax.set_xlabel(f"training step (batches of {batch}, lengths 1-20)")
    top = ax.secondary_xaxis("top", functions=(lambda s: s * batch, lambda q: q / batch))
    top.set_xlabel("sequences seen")
    ax.set_ylabel("bits wrong per sequence")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(title="bold: mean of the last 100 batches")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "copy_curve.png"), dpi=110)
    plt.close(fig)

    if "ntm" in runs:
        model, meta = runs["ntm"]
        for L in parse_lengths(args.picture_lengths):
            picture(model, meta, L, os.path.join(args.out, f"ntm_weightings_{L}.png"))
    return 0


def picture(model, meta, L, filename, name="NTM"):
    xs, ts, mask = copy_batch(np.random.default_rng(7), 1, L)
    with tga.no_grad():
        logits, maps = model(xs)
    wrong = int(bits_wrong(logits.data, ts, mask)[0])
    out = 1 / (1 + np.exp(-logits.data[0]))
    write, read = maps["write"].data[0].T, maps["read"].data[0].T       # (R, T)
    used = np.flatnonzero((np.maximum(write, read) > 0.05).any(axis=1))
    lo, hi = (max(used.min() - 3, 0), min(used.max() + 4, len(write))) if used.size else \
        (0, len(write))
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    panels = [(xs[0].T, "inputs (8 bits + delimiter)", None),
              (out.T, f"outputs (sigmoid): {wrong} bits wrong", None),
              (write[lo:hi], "write weightings", lo), (read[lo:hi], "read weightings", lo)]
    for a, (img, title, first) in zip(axes.ravel(), panels):
        extent = None if first is None else (-0.5, img.shape[1] - 0.5, first + img.shape[0]
                                              - 0.5, first - 0.5)
        a.imshow(img, aspect="auto", cmap="gray_r", interpolation="nearest", extent=extent,
                 vmin=0)
        a.set_title(title)
        a.set_xlabel("time step")
    axes[1, 0].set_ylabel(f"memory row ({lo}-{hi - 1} of {len(write)})")
    axes[1, 1].set_ylabel(f"memory row ({lo}-{hi - 1} of {len(write)})")
    fig.suptitle(f"{name} after {meta['step']} steps, one length-{L} sequence")
    fig.tight_layout()
    fig.savefig(filename, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
