"""Evaluate and draw the copy-task runs of experiments/ntm_train.sh (re-runnable).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python experiments/ntm_report.py

Writes experiments/out/copy_results.json (generalisation table: mean bits wrong per
sequence over --n fresh sequences per length, lengths 1-20, 30, 50, 80), copy_curve.png
(bits wrong per sequence against training steps, NTM and LSTM: faint, each logged mean
of 10 batches; bold, the mean of the last 100 batches. Both runs draw the same lengths and
bits: one seed), ntm_weightings.png (one
length-20 sequence: inputs, outputs, write and read weightings over time: compare with
Figure 6 of Graves et al. 2014).
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
from tinygrad_attn.files import write_json  # noqa: E402
from tinygrad_attn.copy_cli import evaluate, load_model, parse_lengths  # noqa: E402
from tinygrad_attn.data.copy_task import copy_batch  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="experiments/out")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--lengths", default="1-20,30,50,80")
    args = ap.parse_args(argv)
    runs = {name: load_model(os.path.join(args.out, f"{name}.npz"))
            for name in ("ntm", "lstm") if os.path.exists(os.path.join(args.out, f"{name}.npz"))}
    lengths = parse_lengths(args.lengths)
    table = {}
    for name, (model, meta) in runs.items():
        table[name] = {"step": meta["step"], "seconds": meta["curve"][-1]["seconds"],
                       "parameters": int(sum(p.size for p in model.parameters())),
                       "bits_wrong": {str(k): v for k, v in
                                      evaluate(model, lengths, n=args.n).items()}}
        print(name, table[name], flush=True)
    write_json(os.path.join(args.out, "copy_results.json"), {"n": args.n, "runs": table})

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (name, (_, meta)), color in zip(runs.items(), ["C0", "C1"]):
        steps = np.array([r["step"] for r in meta["curve"]])
        wrong = np.array([r["bits_wrong"] for r in meta["curve"]])
        ax.plot(steps, wrong, color=color, lw=0.6, alpha=0.35)
        k = 10                                         # 10 logged points = 100 batches
        if len(wrong) >= k:
            smooth = np.convolve(wrong, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], smooth, color=color, lw=2,
                    label=f"{name} (mean of the last 100 batches)")
    ax.set_xlabel("training step (batches of 16, lengths 1-20)")
    ax.set_ylabel("bits wrong per sequence")
    ax.set_title("Copy task: learning curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "copy_curve.png"), dpi=110)

    if "ntm" in runs:
        model = runs["ntm"][0]
        xs, ts, mask = copy_batch(np.random.default_rng(7), 1, 20)
        with tga.no_grad():
            logits, maps = model(xs)
        out = 1 / (1 + np.exp(-logits.data[0]))
        fig, axes = plt.subplots(2, 2, figsize=(9, 6))
        panels = [(xs[0].T, "inputs (8 bits + delimiter)"), (out.T, "outputs (sigmoid)"),
                  (maps["write"].data[0].T, "write weightings"),
                  (maps["read"].data[0].T, "read weightings")]
        for a, (img, title) in zip(axes.ravel(), panels):
            a.imshow(img, aspect="auto", cmap="gray_r", interpolation="nearest")
            a.set_title(title)
            a.set_xlabel("time step")
        axes[1, 0].set_ylabel("memory row")
        axes[1, 1].set_ylabel("memory row")
        fig.suptitle(f"NTM after {runs['ntm'][1]['step']} steps, one length-20 sequence")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "ntm_weightings.png"), dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
