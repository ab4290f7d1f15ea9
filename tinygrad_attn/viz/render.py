"""`render`: lay a diagram out with Graphviz and write it, within a layout budget.

Graphviz's `dot` lays out a clustered graph in time that grows much faster than its size:
a whole unrolled seq2seq at the book's sizes (about 1 400 edges) did not finish in 5
minutes. So `render` never hands it more than `budget` edges: above that it folds module
clusters (the deepest level that fits) and says so in the picture's caption and in a
`LargeGraphWarning`. Rolling (`roll=True`, the default) usually keeps a model far below.
"""
from __future__ import annotations

import pathlib
import shutil
import warnings

import graphviz

from ..files import write_atomic
from .dot import make_dot

__all__ = ["render", "GraphvizNotFoundError", "LargeGraphWarning", "SLOW_LAYOUT_EDGES"]

_FORMATS = ("svg", "png", "pdf")
_SOURCE_FORMATS = ("dot", "gv")
SLOW_LAYOUT_EDGES = 800  # beyond this dot's layout of clustered graphs gets slow


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz `dot` program is not installed; the DOT source was written instead."""

    def __init__(self, source_path):
        self.source_path = pathlib.Path(source_path)
        super().__init__(
            "Graphviz's `dot` program was not found, so the graph could not be laid out.\n"
            "Install Graphviz and make sure `dot` is on your PATH:\n"
            "    Debian/Ubuntu:  sudo apt-get install graphviz\n"
            "    macOS:          brew install graphviz\n"
            "    conda:          conda install -c conda-forge graphviz\n"
            "    Windows:        winget install graphviz (or https://graphviz.org/download/)\n"
            f"The DOT source was written to {self.source_path}; once Graphviz is installed, "
            f"render it with: dot -Tsvg {self.source_path} -o graph.svg")


class LargeGraphWarning(UserWarning):
    """render() was asked to lay out a graph large enough to keep Graphviz busy for long
    (it folded the graph, or could not and says what to do)."""


def within_budget(outputs, budget=SLOW_LAYOUT_EDGES, stacklevel=3, **make_dot_kwargs):
    """`make_dot(outputs, **make_dot_kwargs)`, folded to the deepest `max_depth` that keeps
    it within `budget` edges when it is larger and no `max_depth` was asked for; the
    caption and a `LargeGraphWarning` say so."""
    dot = make_dot(outputs, **make_dot_kwargs)
    edges = dot.counts["edges"]
    if budget is None or edges <= budget:
        return dot
    if make_dot_kwargs.get("max_depth") is None:
        for depth in range(dot.depth - 1, -1, -1):
            folded = make_dot(outputs, **{**make_dot_kwargs, "max_depth": depth})
            if folded.counts["edges"] <= budget or depth == 0:
                text = (f"folded to max_depth={depth}: drawn in full this graph has {edges} "
                        f"edges, over render's layout budget of {budget}")
                folded.add_caption(text)
                warnings.warn(f"render: {text} (Graphviz could take minutes); pass "
                              "max_depth= to choose the folding, or budget=None to lay out "
                              "everything", LargeGraphWarning, stacklevel=stacklevel)
                return folded
    warnings.warn(
        f"render: this graph has {edges} edges; Graphviz may take minutes to lay it out "
        "(a whole seq2seq at the book's sizes unrolled takes over 5). Fold modules with "
        "max_depth=1 (or 0), keep roll=True, or draw a smaller batch.", LargeGraphWarning,
        stacklevel=stacklevel)
    return dot


def render(outputs, path, format=None, *, budget=SLOW_LAYOUT_EDGES,  # noqa: A002
           **make_dot_kwargs):
    """Draw `outputs` (see `make_dot`) to `path`; the format comes from the suffix
    (.svg, .png, .pdf; .dot/.gv write the DOT source) or from `format`. Returns the path.

    Above `budget` edges (None: no limit) the graph is folded first (see `within_budget`).
    Without the Graphviz `dot` program, writes the DOT source next to `path` (same name,
    suffix .dot) and raises `GraphvizNotFoundError` saying how to install Graphviz.
    """
    path = pathlib.Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in _FORMATS + _SOURCE_FORMATS:
        where = f"format={format!r}" if format else \
            (f"suffix {path.suffix!r}" if path.suffix else "a path without a suffix")
        raise ValueError(f"render: cannot draw to {where}; use a .svg, .png or .pdf path "
                         "(or .dot/.gv for the DOT source), or pass format='svg'/'png'/'pdf'")
    if fmt in _SOURCE_FORMATS:
        dot = make_dot(outputs, **make_dot_kwargs)
        write_atomic(path, dot.source.encode("utf-8"))
        return path
    if shutil.which("dot") is None:
        raise _missing_dot(make_dot(outputs, **make_dot_kwargs), path)
    dot = within_budget(outputs, budget, **make_dot_kwargs)
    if fmt == "png":  # bitmaps at twice the default 72 dpi, sharp on today's screens
        dot.graph_attr.setdefault("dpi", "144")
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise _missing_dot(dot, path) from None
    write_atomic(path, data)
    return path


def _missing_dot(dot, path):
    source = path.with_suffix(".dot")
    write_atomic(source, dot.source.encode("utf-8"))
    return GraphvizNotFoundError(source)
