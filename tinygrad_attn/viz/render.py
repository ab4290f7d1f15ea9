"""`render`: lay a diagram out with Graphviz and write it, within a layout budget, as a
picture any image viewer opens.

What makes Graphviz's `dot` slow is not the number of nodes but the edges that span many
ranks: dot threads each through a chain of virtual nodes and then untangles all of them
(a shared weight read by 30 unrolled steps, or a dashed link from a forward op to its rule
at the bottom of the picture, spans dozens of ranks). `layout_cost` estimates those chains
before any layout: every edge's rank span, dashed and recurrent edges (which take no part in
ranking but are routed all the same) included, plus the nodes and edges. Measured on a
shared 2-core machine over 149 diagrams of the book's models, an NTM and hand-written RNNs
and GRUs (docs/make_graphs.py --budget): the 109 that cost at most 3 000 were all laid out
within 2.1 s; of the 40 above, 33 took over a second and 16 did not finish in a minute (the
cheapest layout over 2.1 s cost 4 501). `render` keeps under `budget` (3 000) by folding
module clusters to the deepest level that fits, says so in the caption and warns
(`LargeGraphWarning`). A layout that still runs past `timeout` seconds is stopped, folded one
level more and tried again.

A PNG is drawn at 144 dpi unless that makes a side longer than `MAX_PIXELS` (16 000, where
image viewers and ImageMagick's default policy start to refuse): then at the dpi that fits,
laid out once (``dot -Txdot``) and drawn from that layout (``neato -n2``), with a warning
saying which dpi. Graphviz's own errors come out as one `GraphvizError` naming the file
where the DOT source was kept. `render_diagram` draws a diagram already made (and changed)
the same way, without folding it.
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import warnings
from collections import defaultdict

from ..files import write_atomic
from .dot import make_dot
from .model import EdgeKind

__all__ = ["render", "render_diagram", "within_budget", "layout_cost", "GraphvizNotFoundError", "GraphvizError",
           "LargeGraphWarning", "LAYOUT_BUDGET", "MAX_PIXELS", "PNG_DPI"]

_FORMATS = ("svg", "png", "pdf")
_SOURCE_FORMATS = ("dot", "gv")
LAYOUT_BUDGET = 3000      # layout_cost above which render folds (see the module docstring)
LAYOUT_TIMEOUT = 120.0    # seconds one layout may take before it is stopped
MAX_PIXELS = 16000        # longest side of a PNG
PNG_DPI = 144             # twice the default 72 dpi: sharp on today's screens


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


class GraphvizError(RuntimeError):
    """Graphviz failed (or ran past its time) on a diagram; the DOT source was kept."""

    def __init__(self, message, source_path):
        self.source_path = pathlib.Path(source_path)
        super().__init__(f"{message}; the DOT source was written to {self.source_path}")


class LargeGraphWarning(UserWarning):
    """render() met a graph large enough to keep Graphviz busy for long, or a picture too
    large for image viewers: it folded it, or drew it smaller, and says how."""


# --- the budget -------------------------------------------------------------------------------
def layout_cost(dot):
    """An estimate of Graphviz's work on a `Diagram`: nodes + edges + the virtual nodes dot
    threads its long edges through (each edge's rank span, ranks estimated as the longest
    path from the sources with every source just above its first reader; dashed and
    recurrent edges counted though they do not rank)."""
    pic = dot.picture
    n = len(pic.nodes)
    out, ins = defaultdict(list), defaultdict(list)
    pairs = []
    for e in pic.edges:
        pairs.append((e.tail, e.head))
        if not e.recurrent and e.kind is not EdgeKind.LINK:
            out[e.tail].append(e.head)
            ins[e.head].append(e.tail)
    deg = [len(ins[v]) for v in range(n)]
    order = [v for v in range(n) if deg[v] == 0]
    k = 0
    while k < len(order):
        v = order[k]
        k += 1
        for w in out[v]:
            deg[w] -= 1
            if deg[w] == 0:
                order.append(w)
    rank = [0] * n
    for v in order:
        for w in out[v]:
            rank[w] = max(rank[w], rank[v] + 1)
    for v in range(n):
        if not ins[v] and out[v]:
            rank[v] = min(rank[w] for w in out[v]) - 1
    span = sum(max(0, abs(rank[b] - rank[a]) - 1) for a, b in pairs)
    return n + len(pairs) + span


def within_budget(outputs, budget=LAYOUT_BUDGET, stacklevel=3, **make_dot_kwargs):
    """`make_dot(outputs, **make_dot_kwargs)`, folded to the deepest `max_depth` whose
    `layout_cost` is within `budget` when it is over and no `max_depth` was asked for; the
    caption and a `LargeGraphWarning` say so."""
    dot = make_dot(outputs, **make_dot_kwargs)
    cost = layout_cost(dot)
    if budget is None or cost <= budget:
        return dot
    asked = make_dot_kwargs.get("max_depth")
    if asked is None:
        for depth in range(dot.depth - 1, -1, -1):
            folded = make_dot(outputs, **{**make_dot_kwargs, "max_depth": depth})
            if layout_cost(folded) <= budget or depth == 0:
                return _folded(folded, depth, cost, budget, stacklevel + 1)
    why = (f"you asked for max_depth={asked}: fold more (max_depth={asked - 1})"
           if asked else "there is no scope left to fold: keep roll=True")
    warnings.warn(
        f"render: laying this graph out costs about {cost} (over render's budget of "
        f"{budget}: Graphviz may take minutes) and {why}, draw less (one layer's output, "
        "a smaller batch or fewer steps), or pass budget=None to wait for it",
        LargeGraphWarning, stacklevel=stacklevel)
    return dot


def _folded(dot, depth, cost, budget, stacklevel, text=None):
    text = text or (f"folded to max_depth={depth}: drawn in full, laying this graph out "
                    f"would cost about {cost}, over render's budget of {budget}")
    dot.add_caption(text)
    warnings.warn(f"render: {text} (Graphviz could take minutes); pass max_depth= to choose "
                  "the folding, or budget=None to lay out everything", LargeGraphWarning,
                  stacklevel=stacklevel)
    return dot


# --- render -------------------------------------------------------------------------------
def render(outputs, path, format=None, *, budget=LAYOUT_BUDGET,  # noqa: A002
           timeout=LAYOUT_TIMEOUT, **make_dot_kwargs):
    """Draw `outputs` (see `make_dot`) to `path`; the format comes from the suffix
    (.svg, .png, .pdf; .dot/.gv write the DOT source) or from `format`. Returns the path.

    Over `budget` (see `layout_cost`; None: no limit) the graph is folded first (see
    `within_budget`); a layout that runs past `timeout` seconds (None: no limit) is stopped
    and folded one level more. A PNG whose side would pass 16 000 px is drawn at a lower
    dpi. Without the Graphviz `dot` program, writes the DOT source next to `path` (same
    name, suffix .dot) and raises `GraphvizNotFoundError` saying how to install Graphviz;
    any other Graphviz failure is one `GraphvizError`.
    """
    path = pathlib.Path(path)
    fmt = _format(path, format)
    if fmt in _SOURCE_FORMATS:
        dot = make_dot(outputs, **make_dot_kwargs)
        write_atomic(path, dot.source.encode("utf-8"))
        return path
    if shutil.which("dot") is None:
        raise _missing_dot(make_dot(outputs, **make_dot_kwargs).source, path)
    dot = within_budget(outputs, budget, **make_dot_kwargs)
    while True:
        try:
            data = _draw(dot, fmt, path, timeout)
            break
        except subprocess.TimeoutExpired:
            depth = dot.picture.options.get("max_depth")
            depth = dot.depth - 1 if depth is None else depth - 1
            if depth < 0 or make_dot_kwargs.get("max_depth") is not None:
                raise _failed(dot.source, path, f"render: Graphviz did not finish laying the "
                              f"graph out within {timeout:g} s; fold it (max_depth=1, 0), "
                              "keep roll=True, draw less, or pass timeout=None") from None
            dot = _folded(make_dot(outputs, **{**make_dot_kwargs, "max_depth": depth}),
                          depth, None, budget, 3,
                          f"folded to max_depth={depth}: Graphviz did not finish laying it "
                          f"out within {timeout:g} s")
    write_atomic(path, data)
    return path


def render_diagram(dot, path, format=None, *, timeout=LAYOUT_TIMEOUT):  # noqa: A002
    """Lay out a `Diagram` you already have (made by `make_dot` and changed: the testing
    kit's `locate` paints the wrong rule's node red) and write it to `path` as `render`
    does: the format from the suffix or `format`, a PNG within `MAX_PIXELS` a side (at a
    lower dpi, with a `LargeGraphWarning`), `GraphvizNotFoundError` (the DOT source written
    next to `path`) without Graphviz, one `GraphvizError` for any Graphviz failure or a
    layout past `timeout` seconds. Nothing is folded: the diagram is drawn as it is."""
    path = pathlib.Path(path)
    fmt = _format(path, format)
    if fmt in _SOURCE_FORMATS:
        write_atomic(path, dot.source.encode("utf-8"))
        return path
    if shutil.which("dot") is None:
        raise _missing_dot(dot.source, path)
    try:
        data = _draw(dot, fmt, path, timeout)
    except subprocess.TimeoutExpired:
        raise _failed(dot.source, path, f"render: Graphviz did not finish laying the graph "
                      f"out within {timeout:g} s; fold it (max_depth=1, 0), keep roll=True, "
                      "draw less, or pass timeout=None") from None
    write_atomic(path, data)
    return path


def _format(path, format):  # noqa: A002
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in _FORMATS + _SOURCE_FORMATS:
        where = f"format={format!r}" if format else \
            (f"suffix {path.suffix!r}" if path.suffix else "a path without a suffix")
        raise ValueError(f"render: cannot draw to {where}; use a .svg, .png or .pdf path "
                         "(or .dot/.gv for the DOT source), or pass format='svg'/'png'/'pdf'")
    return fmt


def _draw(dot, fmt, path, timeout):
    """The bytes of the picture (PNG: at the dpi that keeps it within MAX_PIXELS)."""
    if fmt != "png":
        return _run(["dot", f"-T{fmt}"], dot.source, path, timeout)
    laid = _run(["dot", "-Txdot"], dot.source, path, timeout).decode("utf-8", "replace")
    m = re.search(r'\bbb="([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)"', laid)
    width = height = 0.0
    if m:
        width, height = float(m[3]) - float(m[1]), float(m[4]) - float(m[2])
    side = max(width, height) / 72.0 + 0.5                 # inches, with the pad
    dpi = PNG_DPI
    if side * PNG_DPI > MAX_PIXELS:
        dpi = max(1, int(MAX_PIXELS / side))
    while True:      # drawn from the layout (no second layout): check, and shrink if over
        data = _run(["neato", "-n2", "-Tpng", f"-Gdpi={dpi}"], laid, path, timeout)
        w, h = _png_size(data)
        if max(w, h) <= MAX_PIXELS or dpi == 1:
            break
        dpi = max(1, min(dpi - 1, int(dpi * MAX_PIXELS / max(w, h))))
    if dpi < PNG_DPI:
        warnings.warn(
            f"render: at {PNG_DPI} dpi this picture would be about "
            f"{int(width / 72 * PNG_DPI)} x {int(height / 72 * PNG_DPI)} px, more than image "
            f"viewers open; drawn at {dpi} dpi ({w} x {h} px, at most {MAX_PIXELS} a side). "
            "Write .svg or .pdf for every detail, or fold with max_depth=",
            LargeGraphWarning, stacklevel=4)
    return data


def _png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _run(command, source, path, timeout):
    try:
        proc = subprocess.run(command, input=source.encode("utf-8"), capture_output=True,
                              timeout=timeout)
    except FileNotFoundError:
        raise _missing_dot(source, path) from None
    if proc.returncode != 0:
        lines = [t.strip() for t in proc.stderr.decode("utf-8", "replace").splitlines()
                 if t.strip()]
        said = "; ".join(lines[:3]) or f"exit status {proc.returncode}"
        raise _failed(source, path, f"render: Graphviz ({command[0]}) failed: {said}")
    return proc.stdout


def _source_path(path):
    return path.with_suffix(".dot") if path.suffix != ".dot" else path.with_suffix(".gv")


def _missing_dot(source, path):
    where = _source_path(path)
    write_atomic(where, source.encode("utf-8"))
    return GraphvizNotFoundError(where)


def _failed(source, path, message):
    where = _source_path(path)
    write_atomic(where, source.encode("utf-8"))
    return GraphvizError(message, where)
