"""Graph diagrams of the tape, drawn with Graphviz.

    from tinygrad_attn.viz import make_dot, render
    dot = make_dot(loss, dict(model.named_parameters()), max_depth=1)  # a graphviz.Digraph
    render(loss, "loss.svg", params=dict(model.named_parameters()))   # .svg / .png / .pdf

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
  inside a cluster of that name; nested scopes nest (``cluster_decoder.attention`` sits in
  ``cluster_decoder``). A Variable sits in the cluster of its creator; a leaf in the
  innermost cluster holding all of its consumers.
* ``max_depth=k`` folds every cluster more than k levels deep into one box showing its
  module path, the shapes that flow in and out, and how many ops and parameters it hides.

Traversal is iterative and linear in the size of the graph, so graphs with tens of
thousands of nodes are fine (laying them out with ``dot`` is another matter: fold them).
Backward graphs recorded with ``create_graph=True`` are ordinary graphs and draw the same.
"""
from __future__ import annotations

import html
import pathlib
import shutil
import warnings
from collections.abc import Mapping

import numpy as np

from .tape import Variable, describe

__all__ = ["make_dot", "render", "GraphvizNotFoundError", "LargeGraphWarning"]

FONT = "Helvetica"

# One palette (slate ops, amber parameters, blue inputs, green outputs, violet modules).
# Every kind differs from the others in fill *and* border, so they stay apart in grey too.
STYLES = {
    "op": dict(shape="box", style="rounded,filled", fillcolor="#E2E8F0", color="#64748B",
               fontcolor="#0F172A", fontsize="11", margin="0.14,0.05", height="0.3"),
    "var": dict(shape="ellipse", style="filled", fillcolor="#FFFFFF", color="#CBD5E1",
                fontcolor="#64748B", fontsize="9", margin="0.04,0.02", height="0.24"),
    "input": dict(shape="ellipse", style="filled", fillcolor="#DBEAFE", color="#2563EB",
                  fontcolor="#1E3A8A", fontsize="10", margin="0.06,0.03", height="0.3"),
    "param": dict(shape="ellipse", style="filled,bold", fillcolor="#FEF3C7", color="#D97706",
                  fontcolor="#78350F", fontsize="10", margin="0.06,0.03", height="0.3"),
    "const": dict(shape="ellipse", style="filled,dashed", fillcolor="#F4F4F5", color="#A1A1AA",
                  fontcolor="#71717A", fontsize="8", margin="0.02,0.01", width="0.2",
                  height="0.16"),
    "output": dict(shape="ellipse", style="filled,bold", fillcolor="#D1FAE5", color="#059669",
                   fontcolor="#064E3B", fontsize="10", margin="0.06,0.03", height="0.3",
                   penwidth="2"),
    "module": dict(shape="box", style="rounded,filled,bold", fillcolor="#EDE9FE",
                   color="#7C3AED", fontcolor="#2E1065", fontsize="11", margin="0.16,0.08",
                   penwidth="1.5"),
}
# Cluster fills darken a little with depth so nesting reads without heavy borders.
CLUSTER_FILLS = ("#F8FAFC", "#F1F5F9", "#E8EEF5", "#E2E8F0")
CLUSTER_BORDER = "#94A3B8"
EDGE_COLOR = "#7C8799"

_RANKDIRS = ("TB", "LR", "BT", "RL")
_FORMATS = ("svg", "png", "pdf")
_SOURCE_FORMATS = ("dot", "gv")
_MAX_ATTR = 36  # attribute values longer than this are shortened in labels


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


# --- small helpers ------------------------------------------------------------------------
def _graphviz():
    try:
        import graphviz
    except ImportError:  # pragma: no cover - graphviz is a declared dependency
        raise ImportError("tinygrad_attn.viz needs the `graphviz` Python package: "
                          "pip install graphviz (and the Graphviz `dot` program to render)"
                          ) from None
    return graphviz


def _q(value):
    """A DOT double-quoted string."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _h(text):
    """Text made safe inside an HTML-like label."""
    return html.escape(str(text), quote=False).replace("\n", " ")


def _attrs(style, extra=()):
    parts = [f"{k}={_q(v)}" for k, v in style.items()]
    parts += [f"{k}={v if k == 'label' else _q(v)}" for k, v in extra]
    return "[" + " ".join(parts) + "]"


def _fmt_shape(shape):
    return "scalar" if len(shape) == 0 else "(" + ", ".join(str(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _fmt_value(v):
    if isinstance(v, float) or isinstance(v, np.floating):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return ("[" if isinstance(v, list) else "(") + ", ".join(map(str, v[:5])) + ", …" + \
            ("]" if isinstance(v, list) else ")")
    s = describe(v)
    return s if len(s) <= _MAX_ATTR else s[:_MAX_ATTR - 1] + "…"


def _op_attributes(f):
    """`k=v` strings for an op's attributes, leaving out unset ones (None / False)."""
    try:
        attrs = f.attributes()
    except Exception:  # a diagram must never fail because one op describes itself badly
        return []
    return [f"{k}={_fmt_value(v)}" for k, v in attrs.items()
            if v is not None and v is not False]


def _is_parameter(v):
    return type(v).__name__ == "Parameter" or bool(getattr(v, "is_parameter", False))


def _common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


def _as_outputs(outputs):
    if isinstance(outputs, Variable):
        return [outputs]
    if isinstance(outputs, (list, tuple)):
        outs = list(outputs)
        for i, v in enumerate(outs):
            if not isinstance(v, Variable):
                raise TypeError(f"make_dot: outputs[{i}] is a {type(v).__name__}, "
                                "not a Variable")
        if not outs:
            raise ValueError("make_dot: outputs is empty; pass a Variable or a list of them")
        return outs
    raise TypeError(f"make_dot: outputs must be a Variable or a list of Variables, got "
                    f"{type(outputs).__name__}")


def _param_names(params):
    """{id(Variable): name} from a dict name -> Variable or an iterable of (name, Variable)."""
    if params is None:
        return {}
    try:
        items = list(params.items()) if isinstance(params, Mapping) else \
            [(name, v) for name, v in params]
    except (TypeError, ValueError):
        raise TypeError("make_dot: params must be a dict name -> Variable (for instance "
                        "dict(model.named_parameters())) or an iterable of (name, Variable) "
                        "pairs") from None
    names = {}
    for name, v in items:
        if not isinstance(v, Variable):
            raise TypeError(f"make_dot: params[{name!r}] is a {type(v).__name__}, "
                            "not a Variable")
        names.setdefault(id(v), str(name))
    return names


def _walk(outputs):
    """Every Variable and Function reachable from `outputs`, without recursion.

    Returns (variables, var_index, functions); var_index maps id(Variable) -> position.
    """
    variables, var_index = [], {}
    functions, seen_functions = [], set()
    stack = list(reversed(outputs))
    while stack:
        v = stack.pop()
        if id(v) in var_index:
            continue
        var_index[id(v)] = len(variables)
        variables.append(v)
        f = v.creator
        if f is not None and id(f) not in seen_functions:
            seen_functions.add(id(f))
            functions.append(f)
            stack.extend(reversed(f.inputs))
    return variables, var_index, functions


# --- the diagram --------------------------------------------------------------------------
def make_dot(outputs, params=None, *, show_shapes=True, show_dtypes=False, group=True,
             max_depth=None, rankdir="TB"):
    """The graph that computed `outputs` as a `graphviz.Digraph` (nothing is rendered).

    outputs      a Variable or a list of Variables; drawn green.
    params       optional dict name -> Variable (``dict(model.named_parameters())``) or an
                 iterable of (name, Variable) pairs: these leaves are drawn as parameters and
                 labelled with their names.
    show_shapes  put shapes on Variables (and on folded modules' inputs and outputs).
    show_dtypes  add each Variable's dtype.
    group        draw name scopes as nested clusters.
    max_depth    fold scopes nested deeper than this into one box each (0: every top-level
                 scope is a box; None: no folding).
    rankdir      "TB" (top to bottom), "LR", "BT" or "RL".

    ``dot.source`` is the DOT text; ``dot.render(...)``/``dot.pipe(...)``, or `render`
    below, lay it out. In Jupyter the Digraph displays itself.
    """
    graphviz = _graphviz()
    outs = _as_outputs(outputs)
    names = _param_names(params)
    if rankdir not in _RANKDIRS:
        raise ValueError(f"make_dot: rankdir must be one of {', '.join(_RANKDIRS)}, "
                         f"got {rankdir!r}")
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int)
                                  or max_depth < 0):
        raise ValueError(f"make_dot: max_depth must be None or an int >= 0, got {max_depth!r}")

    variables, var_index, functions = _walk(outs)
    output_ids = {id(v) for v in outs}

    # Where each Variable lives: its creator's scope; a leaf in the innermost scope that
    # holds all of its consumers (the top level when they share none).
    place = [None] * len(variables)
    for i, v in enumerate(variables):
        if v.creator is not None:
            place[i] = tuple(v.creator.scope)
    fscopes = [tuple(f.scope) for f in functions]
    for f, s in zip(functions, fscopes):
        for x in f.inputs:
            i = var_index[id(x)]
            if variables[i].creator is None:
                place[i] = s if place[i] is None else _common_prefix(place[i], s)
    place = [() if p is None else p for p in place]

    # Folding: anything placed deeper than max_depth belongs to the box of its scope's first
    # max_depth + 1 names.
    def box_of(scope):
        if max_depth is None or len(scope) <= max_depth:
            return None
        return scope[:max_depth + 1]

    fbox = [box_of(s) for s in fscopes]
    vbox = [box_of(p) for p in place]
    # A Variable inside a box stays visible (next to the box) when it crosses the box's
    # border: it is an output, or some consumer lives outside that box.
    visible = [b is None for b in vbox]
    for i, v in enumerate(variables):
        if not visible[i] and id(v) in output_ids:
            visible[i] = True
    for f, b in zip(functions, fbox):
        for x in f.inputs:
            i = var_index[id(x)]
            if not visible[i] and vbox[i] != b:
                visible[i] = True

    modules = {}  # box scope -> dict(id, ops, params, ins, outs)

    def module(b):
        m = modules.get(b)
        if m is None:
            m = modules[b] = {"id": f"m{len(modules)}", "ops": 0, "params": 0, "ins": [],
                              "outs": [], "seen_in": set(), "seen_out": set()}
        return m

    fnode = []
    for fi, b in enumerate(fbox):
        if b is None:
            fnode.append(f"f{fi}")
        else:
            m = module(b)
            m["ops"] += 1
            fnode.append(m["id"])
    vnode = []
    for i, v in enumerate(variables):
        if visible[i]:
            vnode.append(f"v{i}")
        else:
            m = module(vbox[i])
            if v.creator is None and (id(v) in names or _is_parameter(v)):
                m["params"] += 1
            vnode.append(m["id"])
    mod_by_id = {m["id"]: m for m in modules.values()}

    # Edges: Variable -> Function for each input (repeated inputs, as in x * x, repeat),
    # Function -> Variable for each output; edges touching a folded box are drawn once.
    edges = []
    seen_edges = set()

    def edge(a, b, i):
        if a == b:
            return
        if a[0] == "m" or b[0] == "m":
            if (a, b) in seen_edges:
                return
            seen_edges.add((a, b))
            if b[0] == "m":
                m = mod_by_id[b]
                if i not in m["seen_in"] and visible[i]:
                    m["seen_in"].add(i)
                    m["ins"].append(i)
            if a[0] == "m":
                m = mod_by_id[a]
                if i not in m["seen_out"] and visible[i]:
                    m["seen_out"].add(i)
                    m["outs"].append(i)
        edges.append(f"\t{a} -> {b}\n")

    for fi, f in enumerate(functions):
        for x in f.inputs:
            i = var_index[id(x)]
            if vbox[i] is not None and vbox[i] == fbox[fi]:
                continue  # used inside its own box (e.g. the last LSTM state, also stacked)
            edge(vnode[i], fnode[fi], i)
    fpos = {id(f): fi for fi, f in enumerate(functions)}
    for i, v in enumerate(variables):
        if v.creator is not None:
            edge(fnode[fpos[id(v.creator)]], vnode[i], i)

    # Node statements in the order the work was done (by generation; a leaf just before
    # its first consumer), each filed under its cluster: the DOT reads in execution order
    # and dot starts its layout from that order.
    fkey = [2 * f.generation + 1 for f in functions]
    vkey = [2 * v.generation if v.creator is not None else None for v in variables]
    for fi, f in enumerate(functions):
        for x in f.inputs:
            i = var_index[id(x)]
            if variables[i].creator is None and (vkey[i] is None or fkey[fi] - 1 < vkey[i]):
                vkey[i] = fkey[fi] - 1
    mkey = {}
    for fi, b in enumerate(fbox):
        if b is not None and (b not in mkey or fkey[fi] < mkey[b]):
            mkey[b] = fkey[fi]

    entries = []  # (order, scope, DOT line)
    for fi, f in enumerate(functions):
        if fbox[fi] is None:
            entries.append((fkey[fi], fscopes[fi], f"\t{fnode[fi]} {_function_node(f)}\n"))
    for i, v in enumerate(variables):
        if visible[i]:
            scope = place[i] if vbox[i] is None else vbox[i][:-1]
            node = _variable_node(v, output_ids, names, scope if group else (), show_shapes,
                                  show_dtypes)
            entries.append((vkey[i] or 0, scope, f"\tv{i} {node}\n"))
    for b, m in modules.items():
        node = _module_node(b, m, variables, show_shapes, show_dtypes)
        entries.append((mkey.get(b, 0), b[:-1], f"\t{m['id']} {node}\n"))
    entries.sort(key=lambda e: e[0])  # stable: discovery order breaks ties

    members = {(): []}
    finished = {}  # scope -> when its last op was done: clusters are laid out in that order
    for key, scope, line in entries:
        scope = scope if group else ()
        lst = members.get(scope)
        if lst is None:
            lst = members[scope] = []
        lst.append(line)
        for k in range(1, len(scope) + 1):
            finished[scope[:k]] = key

    g = graphviz.Digraph(
        name="tape",
        graph_attr=dict(rankdir=rankdir, fontname=FONT, fontsize="11", bgcolor="white",
                        nodesep="0.22", ranksep="0.32", pad="0.2",
                        style="rounded"),
        node_attr=dict(fontname=FONT, penwidth="1.2"),
        edge_attr=dict(color=EDGE_COLOR, arrowsize="0.6", penwidth="1.1"))
    g.body.extend(_nest(members, finished))
    g.body.extend(edges)
    return g


def _nest(members, finished):
    """DOT lines with `members` (scope -> node lines) wrapped in nested clusters, siblings
    in the order they `finished`; iterative."""
    children = {(): []}
    for scope in members:
        for k in range(1, len(scope) + 1):
            prefix = scope[:k]
            if prefix not in children:
                children[prefix] = []
                children[prefix[:-1]].append(prefix)
    for kids in children.values():
        kids.sort(key=lambda c: finished.get(c, 0))
    lines = list(members[()])
    stack = [("open", c) for c in reversed(children[()])]
    while stack:
        what, scope = stack.pop()
        if what == "close":
            lines.append("\t}\n")
            continue
        depth = len(scope)
        fill = CLUSTER_FILLS[min(depth, len(CLUSTER_FILLS)) - 1]
        path = ".".join(scope)
        lines.append(f"\tsubgraph {_q('cluster_' + path)} {{\n")
        lines.append(f"\t\tlabel=<<B>{_h(scope[-1])}</B>> tooltip={_q(path)} "
                     f'style="rounded,filled" fillcolor="{fill}" color="{CLUSTER_BORDER}" '
                     f'fontcolor="#334155" fontsize="11" labeljust="l" penwidth="1"\n')
        lines.extend(members.get(scope, ()))
        stack.append(("close", scope))
        stack.extend(("open", c) for c in reversed(children[scope]))
    return lines


def _variable_kind(v, output_ids, names):
    if id(v) in output_ids:
        return "output"
    if v.creator is not None:
        return "var"
    if id(v) in names or _is_parameter(v):
        return "param"
    if not v.requires_grad and v.name is None:
        return "const"
    return "input"


def _variable_node(v, output_ids, names, scope, show_shapes, show_dtypes):
    kind = _variable_kind(v, output_ids, names)
    name = names.get(id(v)) or v.name
    full = name
    if not name and kind == "output":
        name = "output"
    if name and scope:  # inside cluster decoder.lstm, "decoder.lstm.Wx" reads as "Wx"
        prefix = ".".join(scope) + "."
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    shape = _fmt_shape(v.shape)
    dtype = v.dtype.name
    if kind == "const":
        text = _fmt_value(v.data.item()) if v.data.size == 1 else shape
        if show_dtypes:
            text += " " + dtype
        label = f"<{_h(text)}>"
    else:
        detail = []
        if show_shapes:
            detail.append(shape)
        if show_dtypes:
            detail.append(dtype)
        small = "#64748B"
        if name:
            label = f"<<B>{_h(name)}</B>" + (
                f'<BR/><FONT POINT-SIZE="9" COLOR="{small}">{_h(" ".join(detail))}</FONT>'
                if detail else "") + ">"
        else:
            label = f"<{_h(' '.join(detail))}>" if detail else None
    tip = f"{kind}: " + (f"{full} " if full else "") + f"{shape} {dtype}"
    if kind == "const" and 1 < v.data.size <= 12:
        tip += " = " + np.array2string(v.data, precision=4, separator=", ").replace("\n", "")
    if label is None:  # nothing to say: a small dot-like ellipse keeps the edge readable
        return _attrs(STYLES[kind], (("label", '""'), ("width", "0.2"), ("height", "0.12"),
                                     ("tooltip", tip)))
    return _attrs(STYLES[kind], (("label", label), ("tooltip", tip)))


def _function_node(f):
    attrs = _op_attributes(f)
    label = f"<<B>{_h(f.name)}</B>"
    if attrs:
        label += f'<BR/><FONT POINT-SIZE="9" COLOR="#475569">{_h(", ".join(attrs))}</FONT>'
    label += ">"
    tip = f.name + (f"({', '.join(attrs)})" if attrs else "")
    if f.scope:
        tip += "  in " + ".".join(f.scope)
    return _attrs(STYLES["op"], (("label", label), ("tooltip", tip)))


def _shape_list(variables, idx, show_dtypes):
    """Shapes of the Variables at `idx`, repeats counted: '(2, 8) ×4, (2, 5, 8)'."""
    counts = {}
    for i in idx:
        v = variables[i]
        key = _fmt_shape(v.shape) + (" " + v.dtype.name if show_dtypes else "")
        counts[key] = counts.get(key, 0) + 1
    parts = [k if n == 1 else f"{k} ×{n}" for k, n in counts.items()]
    if len(parts) > 4:
        parts = parts[:3] + [f"… {len(parts) - 3} more"]
    return ", ".join(parts)


def _module_node(box, m, variables, show_shapes, show_dtypes):
    path = ".".join(box)
    rows = [f"<B>{_h(path)}</B>"]
    small = '<FONT POINT-SIZE="9" COLOR="#4C1D95">{}</FONT>'
    if show_shapes:
        if m["ins"]:
            rows.append(small.format("in  " + _h(_shape_list(variables, m["ins"], show_dtypes))))
        if m["outs"]:
            rows.append(small.format("out " + _h(_shape_list(variables, m["outs"],
                                                                show_dtypes))))
    count = f"{m['ops']} op" + ("s" if m["ops"] != 1 else "")
    if m["params"]:
        count += f" · {m['params']} param" + ("s" if m["params"] != 1 else "")
    rows.append(f'<FONT POINT-SIZE="8" COLOR="#6D28D9"><I>{_h(count)}</I></FONT>')
    label = "<" + "<BR/>".join(rows) + ">"
    return _attrs(STYLES["module"], (("label", label), ("tooltip", f"{path} (folded)")))


# --- rendering ----------------------------------------------------------------------------
def render(outputs, path, format=None, **make_dot_kwargs):  # noqa: A002 - graphviz's name
    """Draw `outputs` (see `make_dot`) to `path`; the format comes from the suffix
    (.svg, .png, .pdf; .dot/.gv write the DOT source) or from `format`. Returns the path.

    Without the Graphviz `dot` program, writes the DOT source next to `path` (same name,
    suffix .dot) and raises `GraphvizNotFoundError` saying how to install Graphviz.
    """
    graphviz = _graphviz()
    path = pathlib.Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in _FORMATS + _SOURCE_FORMATS:
        where = f"format={format!r}" if format else \
            (f"suffix {path.suffix!r}" if path.suffix else "a path without a suffix")
        raise ValueError(f"render: cannot draw to {where}; use a .svg, .png or .pdf path "
                         "(or .dot/.gv for the DOT source), or pass format='svg'/'png'/'pdf'")
    dot = make_dot(outputs, **make_dot_kwargs)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in _SOURCE_FORMATS:
        path.write_text(dot.source, encoding="utf-8")
        return path
    if shutil.which("dot") is None:
        raise _missing_dot(dot, path)
    if fmt == "png":  # bitmaps at twice the default 72 dpi, sharp on today's screens
        dot.graph_attr.setdefault("dpi", "144")
    edges = dot.source.count(" -> ")
    if edges > SLOW_LAYOUT_EDGES:
        warnings.warn(
            f"render: this graph has {edges} edges; Graphviz may take minutes to lay it out "
            "(a whole seq2seq at the book's sizes takes over 5). Fold modules with "
            "max_depth=1 (or 0), or draw a smaller batch.", LargeGraphWarning, stacklevel=2)
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise _missing_dot(dot, path) from None
    path.write_bytes(data)
    return path


SLOW_LAYOUT_EDGES = 800  # beyond this dot's layout of clustered graphs gets slow


class LargeGraphWarning(UserWarning):
    """render() was asked to lay out a graph large enough to keep Graphviz busy for long."""


def _missing_dot(dot, path):
    source = path.with_suffix(".dot")
    source.write_text(dot.source, encoding="utf-8")
    return GraphvizNotFoundError(source)
