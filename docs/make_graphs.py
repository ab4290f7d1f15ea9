"""Render the pictures of docs/graphs.md into docs/img/.

    python docs/make_graphs.py              # writes docs/img/*.svg, the replay page and
                                            # its two screenshots (headless Chromium)
    python docs/make_graphs.py --png /tmp   # also PNG copies there, to look at them
    python docs/make_graphs.py --times      # measure make_dot and layout at the book's sizes
    python docs/make_graphs.py --budget     # layout_cost against Graphviz's time, per diagram

Needs the Graphviz `dot` program (apt-get install graphviz / brew install graphviz), and
Chromium for the screenshots (skipped with a note without it).
Re-running gives the same files for the same Graphviz version.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a source checkout works without installing

import tinygrad_attn as tga  # noqa: E402
import tinygrad_attn.functions as F  # noqa: E402
from tinygrad_attn import viz  # noqa: E402
from tinygrad_attn.cli import example_expression  # noqa: E402
from tinygrad_attn.nn import Parameter  # noqa: E402

IMG = Path(__file__).resolve().parent / "img"


def expression():
    """(1) loss = sum(tanh(x @ W + b) ** 2): broadcasting, a constant, parameters."""
    loss = example_expression()
    return loss, {}


def attention():
    """(2) dot-product attention over encoder steps, as the book's two halves."""
    rng = np.random.default_rng(0)
    N, Te, Td, H = 2, 5, 3, 4
    hs_enc = tga.Variable(rng.standard_normal((N, Te, H)).astype(np.float32), name="hs_enc")
    hs_dec = tga.Variable(rng.standard_normal((N, Td, H)).astype(np.float32), name="hs_dec")
    with tga.name_scope("attention"):
        with tga.name_scope("attention_weight"):
            scores = hs_dec @ F.swapaxes(hs_enc, 1, 2)        # (N, Td, Te)
            scores.name = "scores"
            a = F.softmax(scores, axis=2)                     # over encoder steps
            a.name = "a"
        with tga.name_scope("weight_sum"):
            c = a @ hs_enc                                    # (N, Td, H)
            c.name = "context"
    return [c, a], {}


def second_order():
    """(3) y = sum(tanh(x)), its gradient recorded with create_graph=True, and the gradient
    of that: backward passes are graphs too, so they can be drawn (and differentiated)."""
    x = tga.Variable(np.linspace(-1.0, 1.0, 3), name="x")
    with tga.name_scope("forward"):
        y = F.sum(F.tanh(x))
        y.name = "y"
    with tga.name_scope("backward"):
        gx, = tga.grad(y, [x], create_graph=True)
        gx.name = "dy/dx"
    with tga.name_scope("backward of backward"):
        ggx, = tga.grad(F.sum(gx), [x], create_graph=True)
        ggx.name = "d2y/dx2"
    return [y, gx, ggx], {}


def _seq2seq_loss(step_by_step_lstm=True):
    """AttentionSeq2seq's loss on a tiny batch (the sizes `tinygrad-attn graph` uses)."""
    V, Te, Td, N = 13, 7, 5, 2
    rng = np.random.default_rng(0)
    xs = rng.integers(0, V, size=(N, Te))
    ts = rng.integers(0, V, size=(N, Td + 1))
    try:
        import tinygrad_attn_models as models
        model = models.AttentionSeq2seq(V, wordvec_size=4, hidden_size=8, seed=0)
    except ImportError:
        print("make_graphs: `tinygrad_attn_models` is not importable; drawing a stand-in "
              "seq2seq", file=sys.stderr)
        return _standin_loss(xs, ts, V, 4, 8)
    from tinygrad_attn.ops.recurrent import step_by_step
    with step_by_step() if step_by_step_lstm else contextlib.nullcontext():
        return model.loss(xs, ts), dict(model.named_parameters())


def seq2seq():
    """(4) AttentionSeq2seq folded one level below encoder / decoder."""
    loss, params = _seq2seq_loss()
    loss.name = "loss"
    return loss, params


def seq2seq_top():
    """(5) the same model folded to its two halves."""
    return seq2seq()


def seq2seq_modules():
    """(6) the module-call overview: one box per module call, as training records it
    (each LSTM one fused op over its steps)."""
    loss, params = _seq2seq_loss(step_by_step_lstm=False)
    loss.name = "loss"
    return loss, params


# --- a stand-in for models.AttentionSeq2seq, scoped as its modules would be ---------------
class _Param(tga.Variable):
    is_parameter = True


def _standin_loss(xs, ts, V, D, H):
    rng = np.random.default_rng(0)
    params = {}

    def param(path, *shape, scale=1.0):
        p = _Param((rng.standard_normal(shape) * scale).astype(np.float32), name=path)
        params[path] = p
        return p

    def embed(scope, ids):
        with tga.name_scope(scope):
            W = param(f"{'.'.join(tga.current_scope())}.W", V, D, scale=0.01)
            return F.embedding(W, ids)

    def lstm(scope, xs, h):
        with tga.name_scope(scope):
            path = ".".join(tga.current_scope())
            Wx = param(f"{path}.Wx", D, 4 * H, scale=D ** -0.5)
            Wh = param(f"{path}.Wh", H, 4 * H, scale=H ** -0.5)
            b = param(f"{path}.b", 4 * H, scale=0.0)
            c = None
            hs = []
            for t in range(xs.shape[1]):
                A = xs[:, t] @ Wx + b
                if h is not None:
                    A = A + h @ Wh
                f, g, i, o = F.split(A, 4, axis=1)
                f, g, i, o = F.sigmoid(f), F.tanh(g), F.sigmoid(i), F.sigmoid(o)
                c = g * i if c is None else f * c + g * i
                h = o * F.tanh(c)
                hs.append(h)
            return F.stack(hs, axis=1), h

    with tga.name_scope("encoder"):
        hs_enc, h = lstm("lstm", embed("embed", xs), None)
    with tga.name_scope("decoder"):
        hs_dec, _ = lstm("lstm", embed("embed", ts[:, :-1]), h)
        with tga.name_scope("attention"):
            a = F.softmax(hs_dec @ F.swapaxes(hs_enc, 1, 2), axis=2)
            ctx = a @ hs_enc
        out = F.concat([ctx, hs_dec], axis=2)
        with tga.name_scope("affine"):
            scores = out @ param("decoder.affine.W", 2 * H, V, scale=(2 * H) ** -0.5) + \
                param("decoder.affine.b", V, scale=0.0)
    return F.softmax_cross_entropy(scores, ts[:, 1:], axis=-1), params


BOOK = dict(N=128, Te=29, Td=10, V=59, D=16, H=256)   # the book's date-format experiment


def book_loss():
    """AttentionSeq2seq's loss at the book's sizes (batch 128, Te 29, Td 10, H 256)."""
    import tinygrad_attn_models as models
    b = BOOK
    model = models.AttentionSeq2seq(b["V"], wordvec_size=b["D"], hidden_size=b["H"], seed=0)
    rng = np.random.default_rng(0)
    from tinygrad_attn.ops.recurrent import step_by_step
    with step_by_step():      # the pictures show the LSTM cell op by op
        loss = model.loss(rng.integers(0, b["V"], (b["N"], b["Te"])),
                          rng.integers(0, b["V"], (b["N"], b["Td"] + 1)))
    loss.name = "loss"
    return loss, dict(model.named_parameters())


def seq2seq_rolled():
    """(7) the whole model at the book's sizes, every op, time steps rolled."""
    return book_loss()


def seq2seq_backward():
    """(8) the whole model at the book's sizes with its backward pass (compact)."""
    return book_loss()


def gru_loop(T=6):
    """(9) a GRU written by hand as a Python loop over xs[:, t], no modules, no scopes."""
    rng = np.random.default_rng(0)
    N, D, H = 2, 3, 4
    xs = tga.Variable(rng.standard_normal((N, T, D)), name="xs")
    Wz, Wr, Wh = (Parameter(rng.standard_normal((D + H, H)) / 2, name=n)
                  for n in ("Wz", "Wr", "Wh"))
    h = tga.Variable(np.zeros((N, H)), name="h0")
    for t in range(T):
        x_t = xs[:, t]
        hx = F.concat([h, x_t], axis=1)
        z, r = F.sigmoid(hx @ Wz), F.sigmoid(hx @ Wr)
        h = (1 - z) * h + z * F.tanh(F.concat([r * h, x_t], axis=1) @ Wh)
    loss = F.sum(h)
    loss.name = "loss"
    return loss, {}


def attention_loss():
    """The attention layer with a loss on its context: small enough to read its backward."""
    rng = np.random.default_rng(0)
    N, Te, Td, H = 2, 5, 3, 4
    hs_enc = tga.Variable(rng.standard_normal((N, Te, H)), name="hs_enc")
    hs_dec = tga.Variable(rng.standard_normal((N, Td, H)), name="hs_dec")
    with tga.name_scope("attention"):
        a = F.softmax(hs_dec @ F.swapaxes(hs_enc, 1, 2), axis=2)
        a.name = "a"
        c = a @ hs_enc
        c.name = "context"
    loss = F.sum(F.tanh(c))
    loss.name = "loss"
    return loss, {}


# name -> (builder, make_dot options)
PICTURES = {
    "expression": (expression, {}),
    "attention": (attention, {"show_dtypes": True}),
    "second_order": (second_order, {}),
    "seq2seq": (seq2seq, {"max_depth": 1}),
    "seq2seq_top": (seq2seq_top, {"max_depth": 0}),
    "seq2seq_modules": (seq2seq_modules, {"view": "modules"}),
    "seq2seq_rolled": (seq2seq_rolled, {}),
    "gru_rolled": (gru_loop, {}),
    "attention_backward": (attention_loss, {"backward": True}),
    "attention_backward_expanded": (attention_loss, {"backward": "expanded"}),
    "attention_saved": (attention_loss, {"backward": True, "show_saved": True}),
    "seq2seq_backward": (seq2seq_backward, {"backward": True}),
}
REPLAY_STEPS = (2, 5)      # the screenshots of the replay page


def replay_page(out, png_steps=REPLAY_STEPS):
    """The replay page of the attention layer's backward pass, and screenshots of it at
    two steps taken with headless Chromium (skipped, with a note, without Chromium)."""
    loss, _ = attention_loss()
    page = viz.replay(loss, out / "attention_replay.html", title="attention: backward pass")
    print(f"wrote {_rel(page.path)} ({page.steps} steps)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("make_graphs: chromium not found; no replay screenshots", file=sys.stderr)
        return
    for k in png_steps:
        png = out / f"replay_step{k}.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--window-size=1100,640", f"--screenshot={png}",
                        f"{page.path.as_uri()}#step={k}"], check=True, capture_output=True,
                       timeout=120)
        print(f"wrote {_rel(png)}")


def _rel(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def times(layout_timeout=600.0):
    """make_dot, layout_cost and Graphviz's layout at the book's sizes: forward rolled and
    unrolled, the compact backward rolled, the module view; and the replay page of the
    whole model. A layout is given `layout_timeout` seconds."""
    loss, params = book_loss()
    print(f"AttentionSeq2seq loss at the book's sizes {BOOK}")
    cases = [("rolled", dict(roll=True)), ("unrolled", dict(roll=False)),
             ("rolled, backward=True", dict(backward=True)),
             ("view='modules'", dict(view="modules"))]
    for what, options in cases:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            dot = viz.make_dot(loss, params, **options)
            best = min(best, time.perf_counter() - t)
        print(f"  {what}: {dot.counts['nodes']} nodes, {dot.counts['edges']} edges, "
              f"layout_cost {viz.layout_cost(dot)}; make_dot {best * 1e3:.0f} ms (best of 3)",
              flush=True)
        t = time.perf_counter()
        try:
            subprocess.run(["dot", "-Tsvg", "-o", os.devnull], input=dot.source.encode(),
                           check=True, timeout=layout_timeout)
            print(f"  {what}: Graphviz layout {time.perf_counter() - t:.2f} s", flush=True)
        except subprocess.TimeoutExpired:
            print(f"  {what}: Graphviz layout not finished after {layout_timeout:.0f} s",
                  flush=True)
        if what == "unrolled":
            t = time.perf_counter()
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                with tempfile.TemporaryDirectory() as tmp:
                    viz.render(loss, Path(tmp) / "g.svg", params=params, roll=False)
            print(f"  {what}: render (folded to fit the budget) "
                  f"{time.perf_counter() - t:.2f} s", flush=True)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        page = viz.replay(loss, Path(tmp) / "r.html", params)
        size = page.path.stat().st_size
    print(f"  replay page: {page.steps} steps, {size / 1e6:.2f} MB, made in "
          f"{time.perf_counter() - t:.1f} s", flush=True)


def budget(timeout=60.0):
    """layout_cost and Graphviz's layout time (dot -Tsvg, stopped after `timeout` s) for the
    diagrams users draw: the book's three models on a tiny batch and the attention model at
    the book's sizes, an NTM, hand-written RNNs and a GRU; forward, compact and expanded
    backward, rolled or not, folded or not. Prints one line per diagram, sorted by cost."""
    from tinygrad_attn.ops.recurrent import step_by_step
    import tinygrad_attn_models as models
    rng = np.random.default_rng(0)

    def seq(kind, N, Te, Td, V, D, H):
        model = getattr(models, kind)(V, D, H, seed=0)
        with step_by_step():
            loss = model.loss(rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1)))
        return loss, dict(model.named_parameters())

    def ntm(T):
        model = models.NTM(9, 8, 20, 16, 8, seed=0)
        bits = (rng.random((2, T, 9)) > 0.5).astype(np.float32)
        with step_by_step():
            return model.loss(bits, bits[:, :, :8], np.ones(T, bool)), \
                dict(model.named_parameters())

    def rnn(T, H=8):
        Wx = Parameter(rng.standard_normal((4, H)), name="Wx")
        Wh = Parameter(rng.standard_normal((H, H)), name="Wh")
        xs = tga.Variable(rng.standard_normal((2, T, 4)), name="xs")
        h = tga.Variable(np.zeros((2, H)), name="h0")
        for t in range(T):
            with tga.name_scope("rnn"):
                h = F.tanh(xs[:, t] @ Wx + h @ Wh)
        return F.sum(h), {}

    cases = {"seq2seq": lambda: seq("Seq2seq", 2, 7, 5, 13, 4, 8),
             "peeky": lambda: seq("PeekySeq2seq", 2, 7, 5, 13, 4, 8),
             "attention": lambda: seq("AttentionSeq2seq", 2, 7, 5, 13, 4, 8),
             "attention (book)": lambda: seq("AttentionSeq2seq", 128, 29, 10, 59, 16, 256),
             "NTM, 8 steps": lambda: ntm(8), "RNN, 20 steps": lambda: rnn(20),
             "RNN, 30 steps": lambda: rnn(30), "GRU, 6 steps": lambda: gru_loop(6),
             "GRU, 12 steps": lambda: gru_loop(12)}
    rows = []
    for name, build in cases.items():
        loss, params = build()
        for roll in (True, False):
            for backward in (False, True, "expanded"):
                for depth in (None, 1, 0):
                    dot = viz.make_dot(loss, params or None, roll=roll, backward=backward,
                                       max_depth=depth)
                    cost = viz.layout_cost(dot)
                    if cost > 50000:
                        continue
                    t = time.perf_counter()
                    try:
                        subprocess.run(["dot", "-Tsvg", "-o", os.devnull],
                                       input=dot.source.encode(), check=True, timeout=timeout)
                        took = f"{time.perf_counter() - t:.2f}"
                    except subprocess.TimeoutExpired:
                        took = f">{timeout:g}"
                    what = (f"{name}, {'rolled' if roll else 'unrolled'}, backward={backward}, "
                            f"max_depth={depth}")
                    rows.append((cost, took, what))
                    print(f"{cost:7d} {took:>6} s  {what}", flush=True)
    print("\nsorted by layout_cost:")
    for cost, took, what in sorted(rows):
        print(f"{cost:7d} {took:>6} s  {what}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMG, help="where the SVGs go (docs/img)")
    parser.add_argument("--png", type=Path, default=None, help="also write PNG copies here")
    parser.add_argument("--times", action="store_true",
                        help="only measure make_dot and layout times at the book's sizes")
    parser.add_argument("--layout-timeout", type=float, default=600.0,
                        help="seconds given to the unrolled layout with --times (600)")
    parser.add_argument("--budget", action="store_true",
                        help="only measure layout_cost against Graphviz's layout time")
    parser.add_argument("names", nargs="*", help=f"pictures to draw (default all: "
                        f"{', '.join(PICTURES)}, replay)")
    args = parser.parse_args(argv)
    if args.times:
        times(args.layout_timeout)
        return 0
    if args.budget:
        budget()
        return 0
    for name in args.names or list(PICTURES) + ["replay"]:
        if name == "replay":
            replay_page(args.out)
            continue
        build, options = PICTURES[name]
        outputs, params = build()
        path = viz.render(outputs, args.out / f"{name}.svg", params=params or None, **options)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        if args.png is not None:
            png = viz.render(outputs, args.png / f"{name}.png", params=params or None,
                             **options)
            print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
