"""The `tinygrad-attn` command (also `python -m tinygrad_attn`); `--help` on every command.

    tinygrad-attn demo                       the book's experiment in a minute or two: dates,
                                             training, test accuracy, translations, pictures
    tinygrad-attn demo --gradients           a forward-only expression, its gradients, gradchecks
    tinygrad-attn data dates -n 50000 --out date.txt       generate a data file (or addition)
    tinygrad-attn data --check date.txt                    every problem with its line number
    tinygrad-attn train --model attention --data date.txt --out runs/attention [--resume]
    tinygrad-attn eval runs/attention/best.npz --data date.txt [--all] [--beam 3]
    tinygrad-attn translate runs/attention/best.npz "sept. 27, 1994" [--heatmap a.png]
    tinygrad-attn plot runs/*/history.json --out curves.png [--book]
    tinygrad-attn graph --out graph.svg      draw a loss graph (a model's, or a built-in example)
    tinygrad-attn graph --replay out.html    step through its backward pass in a browser
    tinygrad-attn copy train|eval            the NTM copy task (ntm, or the lstm baseline)

This module only parses and prints: the work is in `experiment` (train/eval/translate),
`data` (files), `training` (the loop), `plots` (pictures).

Models are found as plug-ins (the `tinygrad_attn.models` entry-point group, which the
`models` package of this project fills), so the framework itself never imports them.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np


def _model_plugins():
    """name -> entry point of every installed model (e.g. seq2seq, peeky, attention)."""
    from tinygrad_attn.plugins import model_plugins
    return model_plugins()


def example_expression(seed=0):
    """``loss = sum(tanh(x @ W + b) ** 2)`` with x (4, 3), W (3, 2), b (2,): a tiny graph
    with broadcasting (b is added to every row), a constant (the 2) and a reduction."""
    import tinygrad_attn as tga
    import tinygrad_attn.functions as F
    from tinygrad_attn.nn import Parameter

    rng = np.random.default_rng(seed)
    x = tga.Variable(rng.standard_normal((4, 3)), name="x")
    W = Parameter(rng.standard_normal((3, 2)) / np.sqrt(3), name="W")
    b = Parameter(np.zeros(2), name="b")
    loss = F.sum(F.tanh(x @ W + b) ** 2)
    loss.name = "loss"
    return loss


def cmd_demo(args):
    if args.gradients:
        return cmd_gradients(args)
    return cmd_experiment_demo(args)


def cmd_gradients(args):
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


def cmd_graph(args):
    from tinygrad_attn import viz

    params = None
    if args.model == "example":
        loss = example_expression()
    else:
        plugins = _model_plugins()
        if args.model not in plugins:
            known = ", ".join(sorted(plugins) + ["example"])
            print(f"tinygrad-attn graph: unknown model {args.model!r}; known: {known}",
                  file=sys.stderr)
            return 2
        Model = plugins[args.model].load()
        V, Te, Td, N = 13, 7, 5, 2
        model = Model(V, wordvec_size=4, hidden_size=8, seed=0)
        rng = np.random.default_rng(0)
        xs = rng.integers(0, V, size=(N, Te))
        ts = rng.integers(0, V, size=(N, Td + 1))
        # the diagrams explain the LSTM cell: record it op by op unless asked for the one
        # fused node training uses
        from tinygrad_attn.ops.recurrent import step_by_step
        with contextlib.nullcontext() if args.fused_lstm else step_by_step():
            loss = model.loss(xs, ts)
        params = dict(model.named_parameters())
    t0 = time.perf_counter()
    import warnings
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", viz.LargeGraphWarning)
            if args.replay:
                page = viz.replay(loss, args.replay, params, roll=args.roll,
                                  max_depth=args.max_depth, rankdir=args.rankdir)
                done = f"wrote {page.path} ({page.steps} steps"
            else:
                if args.show_values:
                    loss.backward()       # so that the values come with their gradients
                path = viz.render(loss, args.out, params=params, max_depth=args.max_depth,
                                  rankdir=args.rankdir, roll=args.roll,
                                  backward=args.backward or False,
                                  show_values=args.show_values, show_saved=args.show_saved,
                                  view=args.view)
                done = f"wrote {path} ("
    except (viz.GraphvizNotFoundError, viz.GraphvizError) as e:
        print(f"tinygrad-attn graph: {e}", file=sys.stderr)
        return 1
    except ValueError as e:       # an option the diagram cannot honour, an unknown suffix
        print(f"tinygrad-attn graph: {e}", file=sys.stderr)
        return 2
    for note in notes:            # folded to fit the layout budget, a PNG drawn smaller
        print(f"tinygrad-attn graph: note: {note.message}", file=sys.stderr)
    ms = (time.perf_counter() - t0) * 1e3
    print(f"{done}{', ' if done.endswith('steps') else ''}{ms:.0f} ms)")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tinygrad-attn",
        description="tinygrad_attn: exact autograd over NumPy for attention seq2seq models.")
    from tinygrad_attn import __version__
    parser.add_argument("--version", action="version", version=f"tinygrad-attn {__version__}")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for large products and the LSTM's recurrence (BLAS "
                        "runs one meanwhile; default: TGA_NUM_THREADS, else "
                        "OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else every CPU this "
                        "process may use; see docs/performance.md)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="the book's experiment on built-in defaults: generate "
                       "dates, train the attention model, test accuracy, translations, a "
                       "heatmap and a curve (--gradients: the autograd demo)",
                       description="Generate a date file, train the attention model until "
                       f"{DEMO['stop_at']:.1%} test accuracy (at most {DEMO['epochs']} epochs), "
                       "translate dates of several formats, draw the attention heatmap and "
                       "the accuracy curve. With --gradients: a forward-only attention "
                       "expression, its gradients against the book's hand-written backward, "
                       "and gradchecks of first and second order.")
    p.add_argument("--gradients", action="store_true",
                   help="the autograd demo instead of the training experiment")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=DEMO["out"],
                   help=f"folder for the data, checkpoints and pictures (default {DEMO['out']})")
    p.add_argument("-n", type=int, default=DEMO["n"],
                   help=f"number of generated dates (default {DEMO['n']}; 10%% are the test set)")
    p.add_argument("--epochs", type=int, default=DEMO["epochs"],
                   help=f"at most this many epochs (default {DEMO['epochs']})")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.set_defaults(func=cmd_demo)

    add_experiment_commands(sub)

    p = sub.add_parser("graph", help="draw a model's loss graph on a tiny batch")
    p.add_argument("--model", default="attention",
                   help="seq2seq, peeky, attention (default) or example (a small expression)")
    p.add_argument("--out", default="graph.svg",
                   help="output file; .svg, .png or .pdf by its suffix (default graph.svg); "
                        "a PNG is drawn at 144 dpi, or less to stay under 16 000 px a side")
    p.add_argument("--max-depth", type=int, default=None,
                   help="fold module clusters deeper than this into one box")
    p.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"],
                   help="graph direction (default TB: top to bottom)")
    p.add_argument("--roll", action=argparse.BooleanOptionalAction, default=True,
                   help="draw repeated time steps once, as a cluster 'x n' (default: on)")
    p.add_argument("--backward", nargs="?", const="compact", default=None,
                   choices=["compact", "expanded"],
                   help="also draw the backward pass: one node per rule reverse mode runs, "
                        "gradients as edges with their shapes, each leaf's gradient once "
                        "(compact, the default); 'expanded': every rule's primitive ops")
    p.add_argument("--show-values", action="store_true",
                   help="value and gradient summaries on every Variable (runs backward)")
    p.add_argument("--show-saved", action="store_true",
                   help="what each op keeps alive for the backward pass, and the total")
    p.add_argument("--view", default="ops", choices=["ops", "modules"],
                   help="ops (every op, the default) or modules: one box per module call "
                        "with its input and output shapes")
    p.add_argument("--fused-lstm", action="store_true",
                   help="draw each LSTM as the one node training records (default: the "
                        "cell op by op, step by step)")
    p.add_argument("--replay", metavar="OUT.html", default=None,
                   help="write a page stepping through the backward pass instead "
                        "(self-contained HTML, opens offline)")
    p.set_defaults(func=cmd_graph)

    from tinygrad_attn import copy_cli   # the NTM copy task: `copy train|eval`
    copy_cli.add_parser(sub)
    return parser


# --- the experiment's commands: data, train, eval, translate, plot, demo -----------------------
# The demo's recipe (docs/results.md, "The demo's recipe", has the measurements behind it).
DEMO = {"out": "tinygrad_attn_demo", "n": 20000, "epochs": 6, "stop_at": 0.995,
        "hidden": 128, "wordvec": 16, "lr": 0.005, "batch_size": 128}
DEMO_DATES = ["september 27, 1994", "Tue, Dec. 27, 1994", "8/23/08", "TUESDAY, SEPTEMBER 25, 1984",
              "27th aug. 2006", "2019.03.30", "5.7.2021", "Aug 8 '91"]


def _fail(command, message, code=2):
    print(f"tinygrad-attn {command}: {message}", file=sys.stderr)
    return code


def _errors():
    """The errors a user's input can cause (printed as one message, never a traceback)."""
    from tinygrad_attn.checkpoint import CheckpointError
    from tinygrad_attn.data import DataFileError, EncodeError
    from tinygrad_attn.experiment import ExperimentError
    from tinygrad_attn.plugins import UnknownModelError
    return (CheckpointError, DataFileError, EncodeError, ExperimentError, UnknownModelError,
            FileNotFoundError, IsADirectoryError)


def cmd_data(args):
    from tinygrad_attn.data import check_file, make_file
    if args.check:
        if args.kind or args.out:
            return _fail("data", "--check FILE checks a file; it takes no kind or --out")
        try:
            report = check_file(args.check)
        except (FileNotFoundError, IsADirectoryError) as e:
            return _fail("data", f"cannot read {args.check}: {e.strerror}")
        print(report)
        return 0 if report.ok else 1
    if not args.kind or not args.out:
        return _fail("data", "give a kind (dates or addition) and --out FILE, or --check FILE")
    options = {}
    if args.kind == "dates":
        options.update({k: v for k, v in (("start", args.start), ("end", args.end)) if v})
    elif args.digits:
        options["digits"] = args.digits
    try:
        print(make_file(args.kind, args.n, args.seed, args.out, **options))
    except ValueError as e:
        return _fail("data", str(e))
    return 0


def cmd_train(args):
    from tinygrad_attn import experiment
    out = args.out or f"runs/{args.model or 'attention'}"
    try:
        result = experiment.train_file(
            args.data, out, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
            wordvec=args.wordvec, hidden=args.hidden, lr=args.lr, max_grad=args.max_grad,
            seed=args.seed, reverse=args.reverse, beam=args.beam, resume=args.resume,
            quiet=args.quiet, stop_at=args.stop_at)
    except _errors() as e:
        return _fail("train", str(e))
    tr = result.trainer
    if not args.quiet:
        print(f"data: {result.dataset}")
    best = tr.best or {}
    acc = best.get("accuracy")
    where = f"{out}/best.npz (epoch {best.get('epoch')})" if best else f"{out}/last.npz"
    print(f"trained {tr.model.kind} to epoch {tr.epoch}"
          + (f" (resumed after epoch {result.resumed_from})" if result.resumed_from else "")
          + (f": best test accuracy {acc:.2%}" if acc is not None else "")
          + f"; checkpoint {where}, history {out}/history.json")
    return 0


def cmd_eval(args):
    from tinygrad_attn import experiment
    try:
        tr = experiment.Translator.load(args.checkpoint)
        res = experiment.evaluate_file(tr, args.data, all_rows=args.all, beam=args.beam,
                                       show=args.show)
    except _errors() as e:
        return _fail("eval", str(e))
    print(f"{args.checkpoint} on the {res.split} of {args.data}: accuracy {res.accuracy:.2%} "
          f"({res.correct}/{res.total}, {'greedy' if args.beam == 1 else f'beam {args.beam}'})")
    if res.wrong:
        width = max(len(q) for q, _, _ in res.wrong)
        print(f"first {len(res.wrong)} wrong answers (question | right | model):")
        for q, e, g in res.wrong:
            print(f"  {q:<{width}} | {e} | {g}")
    return 0


def cmd_translate(args):
    from tinygrad_attn import experiment
    texts = args.inputs or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    if not texts:
        return _fail("translate", "no inputs: give them as arguments or one per line on stdin")
    try:
        tr = experiment.Translator.load(args.checkpoint)
        out = tr.translate(texts, beam=args.beam)
    except _errors() as e:
        return _fail("translate", str(e))
    width = max(len(t) for t in texts)
    for q, a in zip(out.questions, out.answers):
        print(f"{q:<{width}}  ->  {a}")
    if args.heatmap:
        if out.decoded.attention is None:
            return _fail("translate", f"--heatmap: the {tr.model.kind!r} model returns no "
                         "attention weights (try an attention model)")
        path = _heatmap(tr, out, args.heatmap)
        print(f"wrote {path}")
    return 0


def _heatmap(tr, out, path):
    from tinygrad_attn import plots
    panels = []
    for i, (q, a) in enumerate(zip(out.questions, out.answers)):
        ins = list(q) + ["pad"]
        outs = list(tr.vocab.decode(out.decoded.ids[i]))
        panels.append((ins, outs, tr.reading_order(out.decoded.attention[i], q)))
    return plots.attention_heatmaps(path, panels)


def cmd_plot(args):
    import json
    import pathlib

    from tinygrad_attn import plots
    runs = []
    labels = args.labels or []
    for i, name in enumerate(args.histories):
        path = pathlib.Path(name)
        if path.is_dir():
            path = path / "history.json"
        try:
            data = json.loads(path.read_text())
            acc = [e[args.metric] for e in data["epochs"]]
            epochs = [e["epoch"] for e in data["epochs"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            return _fail("plot", f"{path}: not a history with {args.metric!r} per epoch ({e})")
        label = labels[i] if i < len(labels) else f"{data.get('kind', '?')} ({path.parent.name})"
        runs.append((label, epochs, acc))
    out = plots.accuracy_curves(args.out, runs, book=args.book)
    print(f"wrote {out}")
    return 0


def cmd_experiment_demo(args):
    import pathlib
    import time

    from tinygrad_attn import experiment, plots
    from tinygrad_attn.data import make_file
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "dates.txt"
    print(make_file("dates", args.n, args.seed, data))
    print(f"training the attention model (wordvec {DEMO['wordvec']}, hidden {DEMO['hidden']}, "
          f"batch {DEMO['batch_size']}, Adam lr {DEMO['lr']}, clip 5.0, reversed input) until "
          f"{DEMO['stop_at']:.1%} test accuracy or {args.epochs} epochs")
    t0 = time.perf_counter()
    result = experiment.train_file(
        data, out / "attention", model="attention", epochs=args.epochs,
        batch_size=DEMO["batch_size"], wordvec=DEMO["wordvec"], hidden=DEMO["hidden"],
        lr=DEMO["lr"], seed=args.seed, quiet=args.quiet, stop_at=DEMO["stop_at"])
    wall = time.perf_counter() - t0
    tr = result.trainer
    hist = tr.history.epochs
    train_s = sum(e["seconds"] for e in hist)
    cpu_s = sum(e["cpu_seconds"] for e in hist)
    acc = hist[-1]["accuracy"]
    n_test = len(result.dataset.x_test)
    print(f"\ntest accuracy after {tr.epoch} epochs: {acc:.2%} of {n_test} held-out dates "
          f"(exact match; training {train_s:.0f} s, CPU {cpu_s:.0f} s; with evaluation "
          f"{wall:.0f} s)")
    translator = experiment.Translator.load(out / "attention" / "last.npz")
    res = translator.translate(DEMO_DATES)
    print()
    for q, a in zip(res.questions, res.answers):
        print(f"  {q:<28} ->  {a}")
    heat = _heatmap(translator, experiment.Translation(res.questions[:4], res.answers[:4],
                    _rows(res.decoded, 4)), out / "attention_heatmap.png")
    curve = plots.accuracy_curves(out / "accuracy.png",
                                  [(f"attention (this demo, {tr.steps_per_epoch} steps/epoch)",
                                    [e["epoch"] for e in hist],
                                    [e["accuracy"] for e in hist])], book=True)
    print(f"\nattention heatmap: {heat}\naccuracy curve:    {curve}\n"
          f"checkpoint:        {out / 'attention' / 'best.npz'}  (try: python -m tinygrad_attn "
          f"translate {out / 'attention' / 'best.npz'} \"1 april 2001\")")
    return 0 if acc >= 0.99 else 1


def _rows(decoded, n):
    from tinygrad_attn.decoding import Decoded
    return Decoded(ids=decoded.ids[:n], attention=decoded.attention[:n],
                   extras={k: v[:n] for k, v in decoded.extras.items()},
                   logprob=decoded.logprob[:n])


def add_experiment_commands(sub):
    from tinygrad_attn.plugins import model_plugins
    kinds = sorted(model_plugins()) or ["attention"]

    p = sub.add_parser("data", help="generate a data file (dates, addition) or check one",
                       description="Generate examples in the book's file format (question "
                       "padded to a fixed width, '_', answer), written atomically, or check a "
                       "file: counts, widths, vocabulary, duplicates and every problem with "
                       "its line number (exit status 1 if there is one).")
    p.add_argument("kind", nargs="?", choices=["dates", "addition"], help="what to generate")
    p.add_argument("-n", type=int, default=50000, help="number of examples (default 50000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="the file to write")
    p.add_argument("--start", help="dates: first date, YYYY-MM-DD (default 1970-01-01)")
    p.add_argument("--end", help="dates: last date, YYYY-MM-DD (default 2030-12-31)")
    p.add_argument("--digits", type=int, help="addition: digits per operand (default 3)")
    p.add_argument("--check", metavar="FILE", help="check FILE instead of generating")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train a model on a data file (checkpoints, history)",
                       description="Train on the book's 90%% split of a data file; after each "
                       "epoch the exact-match accuracy on the held-out 10%%, a checkpoint "
                       "(OUT/last.npz, OUT/best.npz) and the history (OUT/history.json, "
                       ".csv). --resume continues OUT/last.npz bit for bit, with the "
                       "settings it was trained with (options that differ are refused).")
    p.add_argument("--model", choices=kinds, default=None,
                   help="the model plug-in (default attention)")
    p.add_argument("--data", required=True, help="a data file (tinygrad-attn data ...)")
    p.add_argument("--epochs", type=int, default=10,
                   help="epochs in all, those before a --resume included (default 10)")
    p.add_argument("--batch-size", type=int, default=None, help="default 128")
    p.add_argument("--wordvec", type=int, default=None, help="embedding size (default 16)")
    p.add_argument("--hidden", type=int, default=None, help="LSTM hidden size (default 256)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam's learning rate (default 0.001)")
    p.add_argument("--max-grad", type=float, default=None,
                   help="clip gradients to this global norm (default 5.0)")
    p.add_argument("--seed", type=int, default=None,
                   help="seeds the initial weights and the shuffle (default 0)")
    p.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=None,
                   help="reverse the input sequences, as the book (default: reverse)")
    p.add_argument("--beam", type=int, default=1,
                   help="beam width of the per-epoch evaluation (default 1: greedy)")
    p.add_argument("--stop-at", type=float, default=None,
                   help="stop after the first epoch reaching this test accuracy (0..1)")
    p.add_argument("--out", help="output folder (default runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue OUT/last.npz")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="a checkpoint's accuracy on a data file",
                       description="Exact-match accuracy of a checkpoint on a data file's test "
                       "split (the book's seeded split) or on every row (--all), with the "
                       "first wrong answers beside the right ones.")
    p.add_argument("checkpoint", help="a .npz written by train")
    p.add_argument("--data", required=True, help="a data file")
    p.add_argument("--all", action="store_true", help="every row, not only the test split")
    p.add_argument("--beam", type=int, default=1, help="beam width (default 1: greedy)")
    p.add_argument("--show", type=int, default=5, help="wrong answers to show (default 5)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("translate", help="answer questions with a checkpoint (and draw "
                       "where it looked)",
                       description="Answer each input (arguments, or stdin one per line) with "
                       "the model's own decoding; inputs are padded (and reversed) as the "
                       "training data was. --heatmap draws, per input, the attention of that "
                       "decoding: output characters against input characters in reading "
                       "order, the last column being the weight on the padding.")
    p.add_argument("checkpoint", help="a .npz written by train")
    p.add_argument("inputs", nargs="*", help="questions (default: read stdin)")
    p.add_argument("--beam", type=int, default=1, help="beam width (default 1: greedy)")
    p.add_argument("--heatmap", metavar="PNG", help="draw the attention to this file")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("plot", help="accuracy curves of several runs in one PNG",
                       description="Draw the per-epoch test accuracy of several runs (their "
                       "history.json, or their folders) in one picture, as the book's "
                       "Figure 8-26.")
    p.add_argument("histories", nargs="+", help="history.json files or run folders")
    p.add_argument("--out", default="accuracy.png", help="the PNG (default accuracy.png)")
    p.add_argument("--labels", nargs="*", help="one label per history (default: model kind "
                   "and folder)")
    p.add_argument("--metric", default="accuracy", help="the metric to draw (default accuracy)")
    p.add_argument("--book", action="store_true",
                   help="add the book's measured curve (0 / 51.7 / 99.9 %% after epochs 1-3)")
    p.set_defaults(func=cmd_plot)


def main(argv=None):
    from tinygrad_attn import memory, threads
    memory.configure_from_environment()   # recycle freed arrays between steps (memory.py)
    args = build_parser().parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"tinygrad-attn: --threads must be at least 1, got {args.threads}")
        threads.set_num_threads(args.threads)
    else:
        threads.configure_from_environment()   # one pool of threads, BLAS's (threads.py)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
