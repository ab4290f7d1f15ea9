"""Report copy-task runs of any recipe side by side (experiments/ntm_train.sh ntm_rmsprop).

docs/results.md ("The paper's optimiser: RMSprop") is these two commands, run from the
repository's root on the checkpoints of experiments/ntm_train.sh in experiments/out
(`ntm.npz` and `lstm.npz` are the earlier Adam runs):

    E=experiments/out; export PYTHONPATH=$PWD OMP_NUM_THREADS=1
    python experiments/ntm_recipe_report.py --lengths 1-20,30,50,80,100,120,140 \
        --evaluate "NTM b16 s0=$E/ntm_rmsprop_b16_s0.npz" (... s1, s2) \
        --evaluate "NTM b1 s0=$E/ntm_rmsprop_s0.npz" (... s1, s2) \
        --evaluate "LSTM RMSprop b1=$E/lstm_rmsprop.npz" --evaluate "LSTM Adam b16=$E/lstm.npz" \
        --pictures $E/ntm_rmsprop_b16_s0.npz --picture-lengths 20,100 --out $E/report
    python experiments/ntm_recipe_report.py \
        --curve "NTM, RMSprop, seed 0=$E/ntm_rmsprop_b16_s0.npz" \
        --curve "NTM, RMSprop, seed 0=$E/ntm_rmsprop_s0.npz" \
        --curve "LSTM 256, RMSprop=$E/lstm_rmsprop.npz" \
        --curve "NTM, Adam lr 1e-4 (ablation)=$E/ntm_adam_slow.npz" \
        --curve "NTM, Adam lr 1e-3 (earlier)=$E/ntm.npz" \
        --curve "LSTM 256, Adam lr 1e-3 (earlier)=$E/lstm.npz" --out $E/report

Writes to --out:
  recipe_curve.png     bits wrong per sequence against sequences seen (runs of different
                       batch sizes on one axis); faint: each logged point, bold: the mean
                       of the last 1 000 sequences
  recipe_curves.json   per curve: steps, sequences, seconds, the first logged point below
                       1 bit wrong per sequence and how many later points are not
  recipe_results.json  per evaluated checkpoint: its step, sequences seen, the
                       generalisation table (mean bits wrong per sequence over --n fresh
                       sequences per length; the same sequences for every checkpoint), and
                       the heads' behaviour at length 20 (`heads`, below)
  recipe_weightings_<L>.png   for --pictures, one sequence per --picture-lengths L
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
from tinygrad_attn.data.copy_task import copy_batch  # noqa: E402
from tinygrad_attn.files import write_json  # noqa: E402
from tinygrad_attn.tasks.copy import evaluate, parse_lengths  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from copy_runs import info, load as load_model  # noqa: E402
from ntm_report import picture  # noqa: E402


def labelled(text):
    label, sep, path = text.rpartition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {text!r}")
    return label, path


def heads(model, L, n=64, seed=99):
    """How the heads behave on n sequences of length L (the NTM only): the mean largest
    weight of each head (1 = all on one row) while the input arrives and while the output
    is produced, and the share of input steps at which the write head's strongest row moves
    by exactly one (mod R): Figure 6's write head scores 1."""
    xs, _, _ = copy_batch(np.random.default_rng(seed), n, L)
    with tga.no_grad():
        _, maps = model(xs)
    if "write" not in maps:
        return None
    write, read = maps["write"].data, maps["read"].data             # (n, T, R)
    R = write.shape[-1]
    inp, out = slice(0, L), slice(L + 1, 2 * L + 1)
    top = write[:, inp].argmax(-1)
    moves = np.abs((np.diff(top, axis=1) + 1) % R - 1) == 1 if L > 1 else np.ones((n, 0))
    return {"write_focus_input": float(write[:, inp].max(-1).mean()),
            "read_focus_output": float(read[:, out].max(-1).mean()),
            "write_moves_one_row": float(moves.mean()) if moves.size else None}


def curve_summary(rows, batch):
    """A run's curve in numbers: its length, the first logged point below 1 bit wrong per
    sequence, how many logged points after it are not, and the mean of the last 10."""
    wrong = [r["bits_wrong"] for r in rows]
    first = next((i for i, v in enumerate(wrong) if v < 1.0), None)
    return {"steps": rows[-1]["step"], "sequences": rows[-1]["step"] * batch,
            "seconds": rows[-1]["seconds"], "cpu_seconds": rows[-1].get("cpu_seconds"),
            "first_step_below_1_bit": None if first is None else rows[first]["step"],
            "points_after_it_at_1_bit_or_more": None if first is None else
            sum(v >= 1.0 for v in wrong[first:]),
            "points_after_it": None if first is None else len(wrong) - first,
            "mean_of_last_10_points": float(np.mean(wrong[-10:]))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curve", type=labelled, action="append", default=[],
                    metavar="LABEL=PATH", help="a run whose learning curve is drawn")
    ap.add_argument("--evaluate", type=labelled, action="append", default=[],
                    metavar="LABEL=PATH", help="a checkpoint to evaluate")
    ap.add_argument("--pictures", default=None, help="a checkpoint whose weightings to draw")
    ap.add_argument("--out", default="experiments/out/report")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--lengths", default="1-20,30,50,80")
    ap.add_argument("--picture-lengths", default="20,50")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    results = {}
    for label, path in args.evaluate:
        model, meta = load_model(path)
        batch = meta.get("batch_size", 16)
        results[label] = {"path": os.path.basename(path), "step": meta["step"],
                          "sequences": meta["step"] * batch, "batch_size": batch,
                          "optimizer": meta.get("optimizer", "adam"),
                          "controller": meta["config"].get("controller"),
                          "bits_wrong": {str(k): v for k, v in evaluate(
                              model, parse_lengths(args.lengths), n=args.n).items()},
                          "heads_at_20": heads(model, 20)}
        print(label, results[label], flush=True)
    if results:
        write_json(os.path.join(args.out, "recipe_results.json"),
                   {"n": args.n, "runs": results})

    if args.curve:
        fig, ax = plt.subplots(figsize=(8, 4.2))
        summaries = {}
        for label, path in args.curve:
            meta = info(path)
            batch = meta.get("batch_size", 16)
            rows = meta["curve"]
            seen = np.array([r["step"] for r in rows]) * batch
            wrong = np.array([r["bits_wrong"] for r in rows])
            summaries[label] = curve_summary(rows, batch)
            print(label, summaries[label], flush=True)
            line, = ax.plot(seen, wrong, lw=0.5, alpha=0.3)
            per_point = (seen[1] - seen[0]) if len(seen) > 1 else batch
            k = max(1, int(round(1000 / per_point)))              # 1 000 sequences
            if len(wrong) >= k:
                ax.plot(seen[k - 1:], np.convolve(wrong, np.ones(k) / k, mode="valid"),
                        color=line.get_color(), lw=1.8, label=f"{label} (batch {batch})")
        ax.set_xscale("log")        # batch-1 runs see tens of thousands, batch 16 300 000
        ax.set_xlabel("sequences seen (lengths 1-20; log scale)")
        ax.set_ylabel("bits wrong per sequence")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(title="bold: mean over the last 1 000 sequences", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "recipe_curve.png"), dpi=110)
        plt.close(fig)
        write_json(os.path.join(args.out, "recipe_curves.json"), summaries)

    if args.pictures:
        model, meta = load_model(args.pictures)
        for L in parse_lengths(args.picture_lengths):
            picture(model, meta, L, os.path.join(args.out, f"recipe_weightings_{L}.png"),
                    name="NTM (LSTM controller, RMSprop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
