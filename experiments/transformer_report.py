"""Tables and a cross-attention heatmap from experiments/transformer_vs_rnn.py's output.

    PYTHONPATH=$PWD python experiments/transformer_report.py --results experiments/out/dates_b32_results.json

Prints a markdown table per task (parameters, accuracy and training seconds per epoch) and
draws, for one held-out date question, the cross-attention of one head of the Transformer's
last decoder layer in its own greedy decode (experiments/out/<task>_heatmap.png), and
beside it the head average (what `Decoded.attention` holds).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_attn_models as models  # noqa: E402
from tinygrad_attn import checkpoint  # noqa: E402
from tinygrad_attn.data import load_dataset  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--head", type=int, default=0)
    ap.add_argument("--row", type=int, default=0)
    args = ap.parse_args(argv)
    path = pathlib.Path(args.results)
    res = json.loads(path.read_text())
    print(f"task {res['task']}: {res['train']} training examples, batch {res.get('batch_size', 128)}, "
          f"accuracy on {res['eval']} held-out questions")
    print("| model | parameters | epoch | accuracy | train seconds |")
    print("|---|---|---|---|---|")
    for name, r in res["models"].items():
        for e in r["epochs"]:
            print(f"| {name} | {r['parameters']} | {e['epoch']} | {100 * e['accuracy']:.1f}% | "
                  f"{e['seconds']:.1f} |")
    tag = path.name.replace("_results.json", "")
    ckpt_path = path.parent / f"{tag}_transformer" / "last.npz"
    if not ckpt_path.exists():
        return 0
    ckpt = checkpoint.read(ckpt_path)
    model = models.Transformer(**ckpt.config)
    model.load_state_dict(ckpt.params)
    data = load_dataset(path.parent / f"{res['task']}_{res['n']}.txt",
                        reverse=res["task"] == "addition")
    x, t = data.x_test[args.row:args.row + 1], data.t_test[args.row:args.row + 1]
    dec = model.decode(x, data.start_id, t.shape[1] - 1)
    cross = dec.extras["cross_attention"][0, :, -1]            # (Td, heads, Te), last layer
    q = data.vocab.decode(x[0])
    a = data.vocab.decode(dec.ids[0])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, img, title in [(axes[0], cross[:, args.head], f"last layer, head {args.head}"),
                           (axes[1], dec.attention[0], "last layer, mean of the heads")]:
        ax.imshow(img, cmap="gray", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(q)), list(q), fontsize=7)
        ax.set_yticks(range(len(a)), list(a), fontsize=8)
        ax.set_xlabel("input (question" + (", reversed as fed)" if res["task"] == "addition"
                                           else ")"))
        ax.set_title(title)
    axes[0].set_ylabel("output (greedy decode)")
    fig.suptitle(f"Transformer cross-attention, {res['task']} task, epoch {ckpt.meta['epoch']}")
    fig.tight_layout()
    out = path.parent / f"{tag}_heatmap.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}: question {q!r} -> {a!r} (answer {data.vocab.decode(t[0, 1:])!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
