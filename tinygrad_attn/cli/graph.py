"""`tinygrad-attn graph`: draw a model's loss graph on a tiny batch (or a small example
expression) with Graphviz, or write a page that replays its backward pass."""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings

import numpy as np

from . import options

GRAPH_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv")   # what viz.render writes


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


def run(args):
    return cmd_graph(args)


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
        from tinygrad_attn.tasks.qa import QATask
        if not QATask.fits(Model):
            print(f"tinygrad-attn graph: the {args.model!r} model is not a seq2seq model of "
                  "token ids (graph draws those, or --model example)", file=sys.stderr)
            return 2
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
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", viz.LargeGraphWarning)
            if args.replay:
                page = viz.replay(loss, args.replay, params, roll=args.roll,
                                  max_depth=args.max_depth, rankdir=args.rankdir)
                done = f"wrote {page.path} ({page.steps} steps, "
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
    except ValueError as e:       # an option the diagram cannot honour
        print(f"tinygrad-attn graph: {e}", file=sys.stderr)
        return 2
    for note in notes:            # folded to fit the layout budget, a PNG drawn smaller
        print(f"tinygrad-attn graph: note: {note.message}", file=sys.stderr)
    print(f"{done}{(time.perf_counter() - t0) * 1e3:.0f} ms)")
    return 0


def add_parser(sub):
    p = sub.add_parser("graph", help="draw a model's loss graph on a tiny batch",
                       description="Draw the loss graph of a registered seq2seq model on a "
                       "tiny batch (or of a small example expression) with Graphviz: one "
                       "cluster per module, repeated time steps rolled; or, with --replay, "
                       "a page that steps through its backward pass.")
    p.add_argument("--model", default="attention",
                   help="seq2seq, peeky, attention (default), another registered seq2seq "
                        "model, or example (a small expression)")
    options.add(p, "out", default="graph.svg", type=options.out_file(*GRAPH_SUFFIXES),
                help="output file; .svg, .png or .pdf by its suffix, .dot or .gv for the "
                     "DOT source (default graph.svg); a PNG is drawn at 144 dpi, or less to "
                     "stay under 16 000 px a side")
    p.add_argument("--max-depth", type=options.count0, default=None,
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
                   type=options.out_file(".html"),
                   help="write a page stepping through the backward pass instead "
                        "(self-contained HTML, opens offline)")
    return p
