"""A diagnostic run: the NTM with a feed-forward controller instead of the LSTM.

Why: with the LSTM controller (`nn.NTM`'s default) our Adam runs at batch 16 never
learned to copy through the memory: the controller's own state kept the first few vectors
and the heads counted time (docs/results.md). With a feed-forward controller,
h_t = tanh([x_t, r_{t-1}] W + b), the memory is the only place a sequence can be kept, and
the same heads, memory, initial state and optimiser learn the task. Graves et al. (2014)
report both controllers.

Train (everything but the controller is the `ntm` model's):

    python -m tinygrad_attn train --task copy --model ntm --controller feedforward \
        --epochs 2000 --epoch-steps 50 --time-limit 1500 --seed 0 --dir experiments/out/ntm_ff

(The run quoted in docs/results.md was made before `nn.NTM` had the option, with a plugin
model of the same forward whose Linear was drawn from its own generator, seed 7: the same
model, other initial weights. `load` below reads its checkpoints too.)

Report (generalisation table as JSON, the curve beside other runs' checkpoints, and the
read / write weightings for one sequence of each --picture-lengths):

    PYTHONPATH=$PWD:$PWD/experiments OMP_NUM_THREADS=1 python experiments/ntm_ff.py \
        experiments/out/ntm_ff_step2400.npz --curve-of experiments/out/ntm_ff \
        --compare experiments/out/ntm --labels "NTM, LSTM controller" \
        --out experiments/out/report
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def load(path):
    """(model, meta) of a feed-forward-controller run: a run folder of `train --task copy
    --controller feedforward`, an earlier `copy train --controller feedforward` file, or the
    earlier plugin's (parameters ntm.ff.W / ntm.ff.b, no "controller" in its config), read
    into the same model."""
    from tinygrad_attn import checkpoint
    from tinygrad_attn.plugins import model_class
    from copy_runs import load as load_run
    if os.path.isfile(path):
        state, meta = checkpoint.load(path)
        if any(k.startswith("ntm.ff.") for k in state):          # the earlier plugin's
            state = {k.replace("ntm.ff.", "ntm.controller."): v for k, v in state.items()}
            model = model_class("ntm")(**{**meta["config"], "controller": "feedforward"})
            model.load_state_dict(state)
            return model, meta
    return load_run(path)


def main(argv=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinygrad_attn.files import write_json
    from tinygrad_attn.tasks.copy import evaluate, parse_lengths
    from copy_runs import info
    from ntm_report import picture, smooth

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--curve-of", default=None, help="the feed-forward run's curve from this "
                    "checkpoint (default: the evaluated one; e.g. the run's last checkpoint "
                    "when an earlier one is evaluated)")
    ap.add_argument("--compare", nargs="*", default=[], help="other runs' checkpoints "
                    "(curves only)")
    ap.add_argument("--labels", nargs="*", default=[], help="one label per --compare run")
    ap.add_argument("--out", default="experiments/out/report")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--lengths", default="1-20,30,50,80")
    ap.add_argument("--picture-lengths", default="20,50")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    model, meta = load(args.checkpoint)
    table = evaluate(model, parse_lengths(args.lengths), n=args.n)
    curve = meta["curve"]
    write_json(os.path.join(args.out, "ntm_ff_results.json"),
               {"step": meta["step"], "bits_wrong": {str(k): v for k, v in table.items()},
                "wall_seconds": curve[-1]["seconds"],
                "cpu_seconds": curve[-1].get("cpu_seconds")})
    for L, v in table.items():
        print(f"length {L:3d}: {v:7.2f} of {8 * L} bits wrong")
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ff_curve = curve if args.curve_of is None else info(args.curve_of)["curve"]
    runs = [("NTM, feed-forward controller", ff_curve)]
    for i, path in enumerate(args.compare):
        m = info(path)
        label = args.labels[i] if i < len(args.labels) else os.path.basename(path)
        runs.append((label, m["curve"]))
    for label, c in runs:
        steps = [row["step"] for row in c]
        wrong = [row["bits_wrong"] for row in c]
        line, = ax.plot(steps, wrong, alpha=0.25, lw=0.8)
        ax.plot(steps[9:], smooth(np.array(wrong)), color=line.get_color(), lw=2,
                label=label)
    ax.set_xlabel("training step (batches of 16, lengths 1-20); faint: each logged mean, "
                  "bold: mean of 10 logged points")
    ax.set_ylabel("bits wrong per sequence")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "ntm_ff_curve.png"), dpi=110)
    plt.close(fig)
    for L in parse_lengths(args.picture_lengths):
        picture(model, meta, L, os.path.join(args.out, f"ntm_ff_weightings_{L}.png"),
                "NTM with a feed-forward controller")
    return 0


if __name__ == "__main__":
    sys.exit(main())
