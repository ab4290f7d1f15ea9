"""The experiment of docs/results.md (further RNN structures): the further RNN structures beside the book's models.

    OMP_NUM_THREADS=1 nice -n 5 python docs/rnn_results.py            # runs what is missing
    python docs/rnn_results.py --report                                # tables + pictures only

Tasks (data written by tinygrad_attn.data's generators, loaded with the book's split and
reversed inputs, as the book's chapter 8):
    dates     N_EXAMPLES date questions in every format -> YYYY-MM-DD    (seed 1)
    addition  N_EXAMPLES sums of two numbers up to 3 digits              (seed 2)
    sort      N_EXAMPLES strings of SORT_LEN random digits -> the same digits sorted
              (the harder task: each output needs the whole input and what was already
              written, a count; seed 3)
Every model is trained with the same settings (SETTINGS below) on the same batches (a fixed
shuffle seed); after each epoch the exact-match accuracy on the held-out 10% is measured
(greedy decoding), with the epoch's wall and CPU seconds. Results go to
docs/results_rnn/runs.json (one entry per task and model; a run already there is not redone),
the pictures to docs/img/rnn_*.png. Every number in docs/results.md (further RNN structures) comes from here.
"""
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

import tinygrad_attn_models as models
from tinygrad_attn import plots
from tinygrad_attn.data import Examples, generate, load_dataset, write_examples
from tinygrad_attn.optim import Adam, clip_grad_norm_

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "results_rnn" / "runs.json"
IMG = HERE / "img"
N_EXAMPLES = 4000            # the book: 50 000 (the machine is shared: 2 cores, 7 sessions)
SORT_LEN = 12
# the book's settings except: hidden 64 (not 256) and Adam lr 0.01 (not 0.001), so that the
# 28 steps of an epoch on a tenth of the data move as far as the smoke tests' steps do
SETTINGS = {"wordvec": 16, "hidden": 64, "batch_size": 128, "lr": 1e-2, "max_grad": 5.0,
            "epochs": 4, "seed": 0, "reverse": True}
MODELS = {"seq2seq": models.Seq2seq, "peeky": models.PeekySeq2seq,
          "attention": models.AttentionSeq2seq, "bilstm": models.BiLSTMSeq2seq,
          "attention-feed": models.AttentionFeedSeq2seq, "deep": models.DeepSeq2seq,
          "gnmt": models.GNMTSeq2seq}           # deep: 2 layers, gnmt: 3 (their defaults)
TASKS = ["dates", "addition", "sort"]


def sort_examples(n, seed):
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 10, (n, SORT_LEN))
    qs = ["".join(map(str, row)) for row in digits]
    return Examples(qs, ["".join(sorted(q)) for q in qs], SORT_LEN, SORT_LEN + 1, "sort")


def dataset(task, tmp):
    ex = sort_examples(N_EXAMPLES, 3) if task == "sort" else \
        generate(task, N_EXAMPLES, {"dates": 1, "addition": 2}[task])
    return load_dataset(write_examples(pathlib.Path(tmp) / f"{task}.txt", ex),
                        reverse=SETTINGS["reverse"])


def accuracy(model, ds):
    out = model.generate(ds.x_test, ds.start_id, ds.t_test.shape[1] - 1)
    return float((out == ds.t_test[:, 1:]).all(axis=1).mean())


def train(kind, ds):
    s = SETTINGS
    model = MODELS[kind](len(ds.vocab), s["wordvec"], s["hidden"], seed=s["seed"])
    opt = Adam(model.parameters(), lr=s["lr"])
    rng = np.random.default_rng(s["seed"])
    n = len(ds.x_train)
    epochs = []
    for epoch in range(1, s["epochs"] + 1):
        w0, c0 = time.perf_counter(), time.process_time()
        order = rng.permutation(n)
        for i in range(n // s["batch_size"]):
            idx = order[i * s["batch_size"]:(i + 1) * s["batch_size"]]
            model.zero_grad()
            loss = model.loss(ds.x_train[idx], ds.t_train[idx])
            loss.backward()
            clip_grad_norm_(model.parameters(), s["max_grad"])
            opt.step()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        acc = accuracy(model, ds)
        epochs.append({"epoch": epoch, "accuracy": acc, "loss": float(loss.item()),
                       "train_wall_s": wall, "train_cpu_s": cpu})
        print(f"{pathlib.Path(ds.path).name:14s} {kind:15s} epoch {epoch}  acc {100 * acc:6.2f}%  "
              f"loss {loss.item():.4f}  {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    return model, {"parameters": int(sum(p.data.size for p in model.parameters())),
                   "config": model.config(), "steps_per_epoch": n // s["batch_size"],
                   "n_train": n, "n_test": len(ds.x_test), "epochs": epochs}


def load_runs():
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def save_runs(runs):
    OUT.parent.mkdir(exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(runs, indent=1))
    os.replace(tmp, OUT)


def heatmap(model, ds, path, k=3):
    """The bilstm model's own decode of k test questions (inputs shown unreversed)."""
    d = model.decode(ds.x_test[:k], ds.start_id, ds.t_test.shape[1] - 1)
    panels = []
    for row in range(k):
        ids = ds.x_test[row][::-1]                       # shown in reading order
        ins = [ds.vocab.id_to_char[i] for i in ids]
        outs = [ds.vocab.id_to_char[i] for i in d.ids[row]]
        panels.append((ins, outs, d.attention[row][:, ::-1]))
    plots.attention_heatmaps(path, panels, title="bilstm: attention of its own decode")


def report(runs):
    lines = []
    for task in TASKS:
        got = {k: runs[f"{task}/{k}"] for k in MODELS if f"{task}/{k}" in runs}
        if not got:
            continue
        r0 = next(iter(got.values()))
        E = max(len(r["epochs"]) for r in got.values())
        lines.append(f"\n**{task}** ({r0['n_train']} training, {r0['n_test']} test examples, "
                     f"{r0['steps_per_epoch']} steps per epoch)\n")
        lines.append("| model | parameters | " + " | ".join(f"ep {e + 1}" for e in range(E))
                     + " | s / epoch (wall) | CPU s / epoch |")
        lines.append("|---|---:|" + "---:|" * E + "---:|---:|")
        for kind, r in got.items():
            acc = [f"{100 * e['accuracy']:.1f}" for e in r["epochs"]]
            wall = np.mean([e["train_wall_s"] for e in r["epochs"]])
            cpu = np.mean([e["train_cpu_s"] for e in r["epochs"]])
            lines.append(f"| {kind} | {r['parameters']:,} | " + " | ".join(acc)
                         + f" | {wall:.1f} | {cpu:.1f} |")
        plots.accuracy_curves(IMG / f"rnn_curves_{task}.png",
                              [(k, [e["epoch"] for e in r["epochs"]],
                                [e["accuracy"] for e in r["epochs"]]) for k, r in got.items()],
                              title=f"{task}: test accuracy (exact match)")
    print("\n".join(lines))


def main(argv):
    runs = load_runs()
    if "--report" not in argv:
        only = [a for a in argv if not a.startswith("--")]
        with tempfile.TemporaryDirectory() as tmp:
            for task in TASKS:
                ds = dataset(task, tmp)
                for kind in MODELS:
                    if only and kind not in only:
                        continue
                    key = f"{task}/{kind}"
                    if key in runs and runs[key].get("settings") == SETTINGS:
                        continue
                    model, result = train(kind, ds)
                    runs[key] = {**result, "settings": SETTINGS}
                    save_runs(runs)
                    if task == "dates" and kind == "bilstm":
                        heatmap(model, ds, IMG / "rnn_bilstm_heatmap.png")
    report(runs)


if __name__ == "__main__":
    main(sys.argv[1:])
