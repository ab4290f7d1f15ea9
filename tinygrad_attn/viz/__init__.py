"""Graph diagrams of the tape, drawn with Graphviz, and the backward pass replayed.

    from tinygrad_attn.viz import make_dot, render, replay
    dot = make_dot(loss, dict(model.named_parameters()), max_depth=1)  # a Diagram (Digraph)
    render(loss, "loss.svg", params=dict(model.named_parameters()))   # .svg / .png / .pdf
    replay(loss, "backward.html")     # step through the backward pass in a browser

What is drawn:

* Variables are ellipses labelled with their name (if any) and shape (and dtype with
  `show_dtypes=True`). Leaves come in three kinds, each with its own look: parameters
  (amber; a leaf in `params`, of a class named ``Parameter`` or with a truthy
  ``is_parameter`` attribute), inputs (blue; any other named or differentiable leaf) and
  constants (small dashed grey; unnamed leaves that take no gradient, such as the ``2`` in
  ``x ** 2``). The outputs you asked for are green with a heavy border; intermediates are
  plain; gradients (``backward=True``) rose, labelled ``d loss / d x``.
* Functions are rounded boxes: the op in bold, its attributes (axis, keepdims, index, ...)
  underneath.
* Ops recorded inside ``with tga.name_scope("encoder"):`` (or a ``Module`` call) are drawn
  inside a cluster of that name; nested scopes nest (``cluster_decoder.attention`` sits in
  ``cluster_decoder``). A Variable sits in the cluster of its creator; a leaf in the
  innermost cluster holding all of its consumers.
* ``max_depth=k`` folds every cluster more than k levels deep into one box showing its
  module path, the shapes that flow in and out, and how many ops and parameters it hides.
* ``roll=True`` (the default) draws repeated identical sub-graphs (an LSTM's time steps)
  once, in an orange cluster "× n", with its recurrent edges (roll.py says how they are
  found).

Traversal is iterative and linear in the size of the graph, so graphs with tens of
thousands of nodes are fine; `render` keeps Graphviz's layout within a budget by folding.

Layout of the package: style (palette, text helpers), roll (finding repeats), dot
(`make_dot` in steps), diagram (`Diagram`), render (`render`, the layout budget), backward
(running the backward pass to draw it) and replay (the HTML step-through). They import the
tape, reverse mode (backward only) and each other.
"""
from .diagram import Diagram
from .dot import make_dot
from .render import (LAYOUT_BUDGET, MAX_PIXELS, GraphvizError, GraphvizNotFoundError,
                     LargeGraphWarning, layout_cost, render, within_budget)
from .replay import Replay, replay
from .style import STYLES

__all__ = ["make_dot", "render", "replay", "Diagram", "Replay", "within_budget", "layout_cost",
           "GraphvizNotFoundError", "GraphvizError", "LargeGraphWarning", "LAYOUT_BUDGET",
           "MAX_PIXELS", "STYLES"]
