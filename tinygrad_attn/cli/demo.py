"""`tinygrad-attn demo`: the book's experiment on built-in defaults (dates, the attention
model, accuracy, translations, pictures), or with --gradients the autograd demo."""
from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from . import options
from .errors import UsageError

# The demo's recipe (docs/results.md, "The demo's recipe", has the measurements behind it).
DEMO = {"dir": "tinygrad_attn_demo", "n": 20000, "epochs": 6, "stop_at": 0.995,
        "hidden": 128, "wordvec": 16, "lr": 0.005, "batch_size": 128}
DEMO_DATES = ["september 27, 1994", "Tue, Dec. 27, 1994", "8/23/08", "TUESDAY, SEPTEMBER 25, 1984",
              "27th aug. 2006", "2019.03.30", "5.7.2021", "Aug 8 '91"]


def run(args):
    if args.old_out is not None:
        raise UsageError(f"the demo's folder is --dir (--out names a file in every command): "
                         f"--dir {args.old_out}")
    if args.gradients:
        return gradients(args)
    return experiment(args)


def gradients(args):
    import tinygrad_attn as tga
    import tinygrad_attn.functions as F
    from tinygrad_attn.testing import gradcheck, gradgradcheck

    rng = np.random.default_rng(args.seed)
    N, Te, Td, H = 2, 5, 3, 4
    hs_enc = tga.Variable(rng.standard_normal((N, Te, H)), name="hs_enc")
    hs_dec = tga.Variable(rng.standard_normal((N, Td, H)), name="hs_dec")
    w = rng.standard_normal((N, Td, H))

    def attention_loss(hs_enc, hs_dec):
        # Written forward only, as the formulas read: scores, weights, context.
        scores = hs_dec @ F.swapaxes(hs_enc, -1, -2)     # (N, Td, Te)
        a = F.softmax(scores, axis=-1)                   # over encoder steps
        context = a @ hs_enc                             # (N, Td, H)
        return (F.tanh(context) * w).sum()

    print("tinygrad_attn demo: dot-product attention, written forward only\n")
    print("  scores  = hs_dec @ hs_enc^T      a = softmax(scores)      c = a @ hs_enc")
    print("  loss    = sum(tanh(c) * w)\n")
    t0 = time.perf_counter()
    loss = attention_loss(hs_enc, hs_dec)
    loss.backward()
    dt = time.perf_counter() - t0
    print(f"loss = {loss.item():.6f}   (forward + backward in {dt * 1e3:.2f} ms)")
    print(f"d loss / d hs_enc: shape {hs_enc.grad.shape}, first row {_fmt(hs_enc.grad.data[0, 0])}")
    print(f"d loss / d hs_dec: shape {hs_dec.grad.shape}, first row {_fmt(hs_dec.grad.data[0, 0])}")
    # The book's hand-written backward (TimeAttention), on the same numbers.
    from tinygrad_attn.book.layers import TimeAttention
    book = TimeAttention()
    c = book.forward(hs_enc.data, hs_dec.data)
    d_enc, d_dec = book.backward(w * (1 - np.tanh(c) ** 2))
    diff = max(np.abs(d_enc - hs_enc.grad.data).max(), np.abs(d_dec - hs_dec.grad.data).max())
    print(f"\nthe book's hand-written backward (TimeAttention, step by step): "
          f"max |autograd - book| = {diff:.1e}")
    ok0 = diff <= 1e-12
    ok1 = gradcheck(attention_loss, hs_enc.data, hs_dec.data)
    print(f"gradcheck (autograd vs central differences, random projections): "
          f"{'passed' if ok1 else 'FAILED'}")
    ok2 = gradgradcheck(attention_loss, hs_enc.data, hs_dec.data)
    print(f"gradgradcheck (second order):                                   "
          f"{'passed' if ok2 else 'FAILED'}")
    return 0 if ok0 and ok1 and ok2 else 1


def _fmt(row):
    return "[" + ", ".join(f"{v:+.4f}" for v in row) + "]"


def _own_run(folder):
    """Whether `folder` holds no run, or one the demo wrote (which a new demo replaces)."""
    from tinygrad_attn import checkpoint
    from tinygrad_attn.runs import LAST, RunFolder
    f = RunFolder(folder)
    if not f.run_files():
        return True
    try:
        meta = checkpoint.load(f.file(LAST))[1]
    except (OSError, ValueError):
        return False
    return isinstance(meta.get("run"), dict) and meta["run"].get("origin") == "demo"


def experiment(args):
    from tinygrad_attn import plots, runs
    from tinygrad_attn.data import make_file
    from tinygrad_attn.tasks.qa import Translation, Translator
    from . import process
    from .translate import heatmap
    out = pathlib.Path(args.dir)
    run_dir = out / "attention"
    if not _own_run(run_dir):
        raise UsageError(f"{run_dir} holds a run the demo did not write; give the demo "
                         "another --dir")
    runs.RunFolder(out).check_writable()
    print(make_file("dates", args.examples, args.seed, out / "dates.txt"))
    print(f"training the attention model (wordvec {DEMO['wordvec']}, hidden {DEMO['hidden']}, "
          f"batch {DEMO['batch_size']}, Adam lr {DEMO['lr']}, clip 5.0, reversed input) until "
          f"{DEMO['stop_at']:.1%} test accuracy or {args.epochs} epochs")
    t0 = time.perf_counter()
    result = runs.train(run_dir, task="qa", model="attention", data=str(out / "dates.txt"),
                        epochs=args.epochs, batch_size=DEMO["batch_size"],
                        wordvec=DEMO["wordvec"], hidden=DEMO["hidden"], lr=DEMO["lr"],
                        seed=args.seed, quiet=args.quiet, stop_at=DEMO["stop_at"],
                        overwrite=True, origin="demo", threads=process.threads_in_effect())
    wall = time.perf_counter() - t0
    tr = result.trainer
    hist = result.history.epochs
    train_s = sum(e["seconds"] for e in hist)
    cpu_s = sum(e["cpu_seconds"] for e in hist)
    acc = hist[-1]["accuracy"]
    n_test = len(result.task.dataset.x_test)
    print(f"\ntest accuracy after {tr.epoch} epochs: {acc:.2%} of {n_test} held-out dates "
          f"(exact match; training {train_s:.0f} s, CPU {cpu_s:.0f} s; with evaluation "
          f"{wall:.0f} s)")
    translator = Translator.load(run_dir / "last.npz")
    res = translator.translate(DEMO_DATES)
    print()
    for q, a in zip(res.questions, res.answers):
        print(f"  {q:<28} ->  {a}")
    heat = heatmap(translator, Translation(res.questions[:4], res.answers[:4],
                                           _rows(res.decoded, 4)), out / "attention_heatmap.png")
    curve = plots.accuracy_curves(out / "accuracy.png",
                                  [(f"attention (this demo, {tr.steps_per_epoch} steps/epoch)",
                                    [e["epoch"] for e in hist],
                                    [e["accuracy"] for e in hist])], book=True)
    best = run_dir / ("best.npz" if result.best else "last.npz")
    print(f"\nattention heatmap: {heat}\naccuracy curve:    {curve}\n"
          f"checkpoint:        {best}  (try: python -m tinygrad_attn translate {run_dir} "
          f"\"1 april 2001\")")
    return 0 if acc >= 0.99 else 1


def _rows(decoded, n):
    from tinygrad_attn.decoding import Decoded
    return Decoded(ids=decoded.ids[:n], attention=decoded.attention[:n],
                   extras={k: v[:n] for k, v in decoded.extras.items()},
                   logprob=decoded.logprob[:n])


def add_parser(sub):
    p = sub.add_parser("demo", help="the book's experiment on built-in defaults: generate "
                       "dates, train the attention model, test accuracy, translations, a "
                       "heatmap and a curve (--gradients: the autograd demo)",
                       description="Generate a date file, train the attention model until "
                       f"{DEMO['stop_at']:.1%} test accuracy (at most {DEMO['epochs']} epochs), "
                       "translate dates of several formats, draw the attention heatmap and "
                       "the accuracy curve, all in --dir (the demo's own folder: a new demo "
                       "replaces what an earlier one wrote there). With --gradients: a "
                       "forward-only attention expression, its gradients against the book's "
                       "hand-written backward, and gradchecks of first and second order.")
    p.add_argument("--gradients", action="store_true",
                   help="the autograd demo instead of the training experiment")
    options.add(p, "seed", default=0, help="random seed (default 0)")
    options.add(p, "dir", default=DEMO["dir"], help="the folder for the data, the run and "
                f"the pictures (default {DEMO['dir']})")
    options.add(p, "examples", default=DEMO["n"],
                help=f"number of generated dates (default {DEMO['n']}; 10%% are the test set)")
    options.add(p, "epochs", default=DEMO["epochs"],
                help=f"at most this many epochs (default {DEMO['epochs']})")
    options.add(p, "quiet")
    p.add_argument("--out", dest="old_out", default=None, help=argparse.SUPPRESS)
    return p
