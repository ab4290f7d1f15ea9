"""The `tinygrad-attn` command.

    tinygrad-attn demo                       a forward-only expression, its gradients, a gradcheck
    tinygrad-attn graph --out graph.svg      draw a loss graph (a model's, or a built-in example)
    tinygrad-attn copy train|eval            the NTM copy task (ntm, or the lstm baseline)

Models are found as plug-ins (the `tinygrad_attn.models` entry-point group, which the
`models` package of this project fills), so the framework itself never imports them.
"""
from __future__ import annotations

import argparse
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
        loss = model.loss(xs, ts)
        params = dict(model.named_parameters())
    t0 = time.perf_counter()
    try:
        path = viz.render(loss, args.out, params=params, max_depth=args.max_depth,
                          rankdir=args.rankdir)
    except viz.GraphvizNotFoundError as e:
        print(f"tinygrad-attn graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({(time.perf_counter() - t0) * 1e3:.0f} ms)")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tinygrad-attn",
        description="tinygrad_attn: exact autograd over NumPy for attention seq2seq models.")
    from tinygrad_attn import __version__
    parser.add_argument("--version", action="version", version=f"tinygrad-attn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="a forward-only attention expression, its gradients and "
                       "a gradcheck (first and second order)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("graph", help="draw a model's loss graph on a tiny batch")
    p.add_argument("--model", default="attention",
                   help="seq2seq, peeky, attention (default) or example (a small expression)")
    p.add_argument("--out", default="graph.svg",
                   help="output file; .svg, .png or .pdf by its suffix (default graph.svg)")
    p.add_argument("--max-depth", type=int, default=None,
                   help="fold module clusters deeper than this into one box")
    p.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"],
                   help="graph direction (default TB: top to bottom)")
    p.set_defaults(func=cmd_graph)

    from tinygrad_attn import copy_cli   # the NTM copy task: `copy train|eval`
    copy_cli.add_parser(sub)
    return parser


def main(argv=None):
    from tinygrad_attn import memory
    memory.configure_from_environment()   # recycle freed arrays between steps (memory.py)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
