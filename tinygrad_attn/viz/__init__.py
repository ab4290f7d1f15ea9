"""Graph diagrams of the tape, drawn with Graphviz, and the backward pass replayed.

    from tinygrad_attn.viz import make_dot, render, replay
    dot = make_dot(loss, dict(model.named_parameters()), max_depth=1)  # a Diagram (Digraph)
    render(loss, "loss.svg", params=dict(model.named_parameters()))   # .svg / .png / .pdf
    render(loss, "backward.svg", backward=True)     # the backward pass beside the forward
    render(loss, "modules.png", view="modules")     # one box per module call
    replay(loss, "backward.html")     # step through the backward pass in a browser

What is drawn:

* Variables are ellipses labelled with their name (if any) and shape (and dtype with
  `show_dtypes=True`). Leaves come in three kinds, each with its own look: parameters
  (amber; a leaf in `params`, of a class named ``Parameter`` or with a truthy
  ``is_parameter`` attribute), inputs (blue; any other named or differentiable leaf) and
  constants (small dashed grey; unnamed leaves that take no gradient, such as the ``2`` in
  ``x ** 2``). The outputs you asked for are green with a heavy border; intermediates are
  plain.
* Functions are rounded boxes: the op in bold, its attributes (axis, keepdims, index, ...)
  underneath.
* Ops recorded inside ``with tga.name_scope("encoder"):`` (or a ``Module`` call) are drawn
  inside a cluster of that name; nested scopes nest. A Variable sits in the cluster of its
  creator; a leaf in the innermost cluster holding all of its consumers.
* ``max_depth=k`` folds every scope more than k levels deep into one box per call,
  showing its path, the shapes that flow in and out, its steps, ops and parameters;
  ``view="modules"`` draws one such box per module call, the tensors between them as
  edges.
* ``roll=True`` (the default) draws repeated identical sub-graphs (an LSTM's time steps, a
  loop you wrote over ``xs[:, t]``) once, in an orange cluster "× n", with its recurrent
  edges (roll.py says how they are found).
* ``backward=True`` draws what reverse mode runs, one rose node per rule, beside the
  forward pass; each leaf's gradient once, labelled ``d loss / d x``;
  ``backward="expanded"`` every op the rules record. ``show_saved`` lists what each rule
  keeps alive.

A diagram is built as a typed model (model.py: nodes and edges standing for the tape's
Functions, Variables, rules and gradients) in steps: walk (walk.py), place, fold (fold.py),
roll (roll.py), assemble (dot.py), emit (emit.py: the DOT). Traversal is iterative and
linear in the size of the graph; `render` keeps Graphviz's layout within a budget
(render.py) by folding.

Layout of the package: model (the typed records), walk, fold, roll, dot (`make_dot`, the
steps), emit, style (palette, text helpers), saved (what a Function keeps alive), diagram
(`Diagram`), render (`render`, the budget), backward (running the backward pass to draw
it) and replay (the HTML step-through). They import the tape, reverse mode (backward only)
and each other.
"""
from .diagram import Diagram
from .dot import make_dot
from .render import (LAYOUT_BUDGET, MAX_PIXELS, GraphvizError, GraphvizNotFoundError,
                     LargeGraphWarning, layout_cost, render, render_diagram, within_budget)
from .replay import Replay, replay
from .style import STYLES

__all__ = ["make_dot", "render", "render_diagram", "replay", "Diagram", "Replay", "within_budget", "layout_cost",
           "GraphvizNotFoundError", "GraphvizError", "LargeGraphWarning", "LAYOUT_BUDGET",
           "MAX_PIXELS", "STYLES"]
