"""`make_dot`: the tape as a Graphviz diagram, in named steps as DeZero's utils.py draws.

    walk   every Variable and Function reachable from the outputs (iteratively)
    place  the cluster each one sits in (its scope; a leaf: with all of its consumers)
    fold   scopes deeper than `max_depth` become one box each
    roll   repeated identical sub-graphs (time steps) are drawn once, as a cluster "× n"
    edges  Variable -> Function per input, Function -> Variable per output, mapped onto
           boxes and rolled copies (repeats of a rolled edge drawn once)
    emit   node statements in execution order, nested in their clusters, then the edges

Each step reads and extends one `_Drawing`; none of them lays anything out.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..tape import Variable
from . import roll as rolling
from .diagram import Diagram
from .style import (BACKWARD_FILL, CLUSTER_BORDER, CLUSTER_FILLS, EDGE_COLOR, FONT,
                    RECURRENT_COLOR, ROLL_BORDER, ROLL_FILL, RULE_COLOR, STYLES, attrs,
                    fmt_shape, fmt_value, h, is_parameter, op_attributes, q, summary)

__all__ = ["make_dot"]

_RANKDIRS = ("TB", "LR", "BT", "RL")


class _Roll(str):
    """A rolled block's place in a scope path (`encoder.lstm.roll0`), labelled `× n`."""

    def __new__(cls, k, copies, period):
        self = super().__new__(cls, f"roll{k}")
        self.copies, self.period = copies, period
        return self


class _Backward(str):
    """The cluster holding the drawn backward pass (filled rose; a user's own scope named
    "backward" is not)."""


BACKWARD = _Backward("backward")


class _Drawing:
    """What the steps share: the graph, where each node goes, and what is drawn."""

    def __init__(self, outs, names, options):
        self.outs, self.names, self.opt = outs, names, options
        self.output_ids = {id(v) for v in outs}
        self.grad_of = {}        # id(gradient Variable) -> label "d loss / d x"
        self.scope_override = {}  # id(backward Function) -> drawn scope
        self.rule_of = {}        # id(backward Function) -> forward Function
        self.blocks = []
        self.caption = []


# --- the diagram --------------------------------------------------------------------------
def make_dot(outputs, params=None, *, show_shapes=True, show_dtypes=False, group=True,
             max_depth=None, rankdir="TB", roll=True, backward=False, show_values=False):
    """The graph that computed `outputs` as a `Diagram` (a `graphviz.Digraph`; nothing is
    laid out until you render or display it).

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
    roll         draw repeated identical sub-graphs (an LSTM's time steps) once, as an
                 orange cluster "× n" with its recurrent edges; False draws every copy.
    backward     also run the backward pass (recorded, ``create_graph=True``; no `.grad`
                 is touched) and draw each rule's ops in a "backward" cluster, linked to
                 their forward op by a dashed edge, gradients labelled ``d loss / d x``.
                 The outputs must be scalars. A graph that is itself a gradient works
                 the same (second order).
    show_values  a value summary on every Variable, and its `.grad` summary when backward
                 has run; a caption says whether it has.

    ``dot.source`` is the DOT text; ``dot.render(...)``/``dot.pipe(...)``, or `render`,
    lay it out. In Jupyter the diagram displays itself.
    """
    outs = _as_outputs(outputs)
    names = _param_names(params)
    if rankdir not in _RANKDIRS:
        raise ValueError(f"make_dot: rankdir must be one of {', '.join(_RANKDIRS)}, "
                         f"got {rankdir!r}")
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int)
                                  or max_depth < 0):
        raise ValueError(f"make_dot: max_depth must be None or an int >= 0, got {max_depth!r}")
    d = _Drawing(outs, names, dict(show_shapes=show_shapes, show_dtypes=show_dtypes,
                                   group=group, max_depth=max_depth, rankdir=rankdir,
                                   show_values=show_values))
    roots = list(outs)
    if backward:
        roots += _backward(d)
    _walk(d, roots)
    _place(d)
    _fold(d)
    if roll:
        _roll(d)
    _edges(d)
    return _emit(d)


# --- backward: record the pass, say where its ops go and what its gradients are -----------
def _backward(d):
    from .backward import record   # runs reverse mode: only diagrams that ask for it

    rec = record(d.outs)
    loss = d.outs[0].name or "loss" if len(d.outs) == 1 else "outputs"
    for f in rec.functions:
        fwd = rec.rule_of[id(f)]
        d.rule_of[id(f)] = fwd
        d.scope_override[id(f)] = (BACKWARD,) + tuple(fwd.scope)
    consumed = {id(x) for f in rec.functions for x in f.inputs}
    grads = []
    for x, g in rec.grads.values():
        if id(g) in d.grad_of or g is x or id(x) in d.output_ids:
            continue        # d loss / d loss = 1 says nothing
        if g.creator is None and id(g) not in consumed:
            continue        # a constant no recorded op reads: it would float alone
        d.grad_of[id(g)] = f"d {loss} / d {_var_name(x, d.names)}"
        grads.append(g)
    return grads


def _var_name(x, names):
    name = names.get(id(x)) or x.name
    if name:
        return name
    return x.creator.name if x.creator is not None else fmt_shape(x.shape)


# --- walk ---------------------------------------------------------------------------------
def _walk(d, roots):
    """Every Variable and Function reachable from `roots`, without recursion."""
    d.variables, d.var_index = [], {}
    d.functions, seen = [], set()
    stack = list(reversed(roots))
    while stack:
        v = stack.pop()
        if id(v) in d.var_index:
            continue
        d.var_index[id(v)] = len(d.variables)
        d.variables.append(v)
        f = v.creator
        if f is not None and id(f) not in seen:
            seen.add(id(f))
            d.functions.append(f)
            stack.extend(reversed(f.inputs))
    d.fpos = {id(f): fi for fi, f in enumerate(d.functions)}


# --- place --------------------------------------------------------------------------------
def _place(d):
    """A Function sits in its scope; a Variable with its creator; a leaf in the innermost
    scope that holds all of its consumers (the top level when they share none)."""
    d.fscopes = [d.scope_override.get(id(f), tuple(f.scope)) for f in d.functions]
    _place_variables(d)


def _place_variables(d):
    place = [None] * len(d.variables)
    for i, v in enumerate(d.variables):
        if v.creator is not None:
            place[i] = d.fscopes[d.fpos[id(v.creator)]]
    later = getattr(d, "later_copies", {})
    for fi, (f, s) in enumerate(zip(d.functions, d.fscopes)):
        for x in f.inputs:
            i = d.var_index[id(x)]
            if d.variables[i].creator is None:
                if id(f) in later.get("first", ()) and id(x) not in later["read"]:
                    # read by the drawn copy only (h0, the first x_t): outside the block
                    s = tuple(s[:next(k for k, p in enumerate(s) if isinstance(p, _Roll))])
                place[i] = s if place[i] is None else _common_prefix(place[i], s)
    d.place = [() if p is None else p for p in place]


def _common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


# --- fold ---------------------------------------------------------------------------------
def _fold(d):
    """Anything placed deeper than max_depth belongs to the box of its scope's first
    max_depth + 1 names; a Variable crossing a box's border stays visible next to it."""
    max_depth = d.opt["max_depth"]

    def box_of(scope):
        if max_depth is None or len(scope) <= max_depth:
            return None
        return scope[:max_depth + 1]

    d.fbox = [box_of(s) for s in d.fscopes]
    d.vbox = [box_of(p) for p in d.place]
    visible = [b is None for b in d.vbox]
    for i, v in enumerate(d.variables):
        if not visible[i] and id(v) in d.output_ids:
            visible[i] = True
    for f, b in zip(d.functions, d.fbox):
        for x in f.inputs:
            i = d.var_index[id(x)]
            if not visible[i] and d.vbox[i] != b:
                visible[i] = True
    d.visible = visible

    d.modules = {}  # box scope -> dict(id, ops, params, ins, outs)

    def module(b):
        m = d.modules.get(b)
        if m is None:
            m = d.modules[b] = {"id": f"m{len(d.modules)}", "ops": 0, "params": 0, "ins": [],
                                "outs": [], "seen_in": set(), "seen_out": set()}
        return m

    d.fnode = []
    for fi, b in enumerate(d.fbox):
        if b is None:
            d.fnode.append(f"f{fi}")
        else:
            m = module(b)
            m["ops"] += 1
            d.fnode.append(m["id"])
    d.vnode = []
    for i, v in enumerate(d.variables):
        if visible[i]:
            d.vnode.append(f"v{i}")
        else:
            m = module(d.vbox[i])
            if v.creator is None and (id(v) in d.names or is_parameter(v)):
                m["params"] += 1
            d.vnode.append(m["id"])
    d.mod_by_id = {m["id"]: m for m in d.modules.values()}
    d.hidden_f = set()   # functions drawn by another node (a rolled copy's)
    d.hidden_v = set()


# --- roll ---------------------------------------------------------------------------------
def _roll(d):
    """Find the repeated blocks among the unfolded functions (roll.py), draw the first
    copy of each inside a cluster "× n", and point every other copy's nodes at it."""
    unfolded = {id(f) for f, b in zip(d.functions, d.fbox) if b is None}
    order = rolling.program_order(
        d.outs + [d.variables[i] for i in range(len(d.variables))
                  if id(d.variables[i]) in d.grad_of],
        keep=lambda f: id(f) in unfolded and id(f) in d.fpos)
    blocks = rolling.find_blocks(order, lambda f: d.fscopes[d.fpos[id(f)]], op_attributes,
                                 lambda v: id(v) in d.names or is_parameter(v))
    d.block_of = {}      # id(Function) -> (block number, copy number)
    for k, block in enumerate(blocks):
        mark = _Roll(k, len(block.copies), block.period)
        depth = len(block.scope)
        first = block.copies[0]
        for c, copy in enumerate(block.copies):
            for j, f in enumerate(copy):
                fi = d.fpos[id(f)]
                d.block_of[id(f)] = (k, c)
                if c == 0:
                    s = d.fscopes[fi]
                    d.fscopes[fi] = s[:depth] + (mark,) + s[depth:]
                    continue
                rep = d.fpos[id(first[j])]
                d.fnode[fi] = d.fnode[rep]
                d.hidden_f.add(fi)
                for o, ref in enumerate(f.outputs):
                    y = ref()
                    i = None if y is None else d.var_index.get(id(y))
                    if i is None:
                        continue
                    ry = first[j].outputs[o]()
                    ri = None if ry is None else d.var_index.get(id(ry))
                    if ri is not None and id(y) not in d.output_ids:
                        d.vnode[i] = d.vnode[ri]
                        d.hidden_v.add(i)
        for xs in block.per_copy:   # the step's own input: one node for all copies
            r = d.var_index[id(xs[0])]
            for x in xs[1:]:
                i = d.var_index[id(x)]
                if id(x) not in d.output_ids and d.visible[i]:
                    d.vnode[i] = d.vnode[r]
                    d.hidden_v.add(i)
        d.blocks.append((block, mark))
    if blocks:
        first = {id(f) for block in blocks for f in block.copies[0]}
        read = {id(x) for block in blocks for copy in block.copies[1:] for f in copy
                for x in f.inputs}
        d.later_copies = {"first": first, "read": read}
        _place_variables(d)


# --- edges --------------------------------------------------------------------------------
def _edges(d):
    """Variable -> Function for each input (repeated inputs, as in x * x, repeat), Function
    -> Variable for each output. Edges touching a folded box are drawn once; edges of a
    rolled block once, labelled "× n" when n different Variables flow along them (a step's
    input slices, its outputs stacked), orange when a copy feeds the next (recurrent)."""
    d.edge_lines = []
    seen_edges = set()
    rolled = {}          # (a, b) -> [position, variables seen, recurrent, crosses the border]
    block_of = getattr(d, "block_of", {})

    def edge(a, b, i, fi):
        if a == b:
            return
        if a[0] == "m" or b[0] == "m":
            if (a, b) in seen_edges:
                return
            seen_edges.add((a, b))
            if b[0] == "m":
                m = d.mod_by_id[b]
                if i not in m["seen_in"] and d.visible[i]:
                    m["seen_in"].add(i)
                    m["ins"].append(i)
            if a[0] == "m":
                m = d.mod_by_id[a]
                if i not in m["seen_out"] and d.visible[i]:
                    m["seen_out"].add(i)
                    m["outs"].append(i)
        v = d.variables[i]
        fb = block_of.get(id(d.functions[fi]))
        vb = block_of.get(id(v.creator)) if v.creator is not None else None
        if fb is None and vb is None and i not in d.hidden_v and not _per_copy_rep(d, i):
            d.edge_lines.append(f"\t{a} -> {b}\n")
            return
        entry = rolled.get((a, b))
        if entry is None:
            entry = rolled[(a, b)] = [len(d.edge_lines), set(), False, False]
            d.edge_lines.append(None)        # filled in below
        entry[1].add(id(v))
        if fb is not None and vb is not None and fb[0] == vb[0] and fb[1] == vb[1] + 1:
            entry[2] = True
        if (fb is None) != (vb is None) or (fb is not None and vb is not None
                                            and fb[0] != vb[0]):
            entry[3] = True

    for fi, f in enumerate(d.functions):
        for x in f.inputs:
            i = d.var_index[id(x)]
            if d.vbox[i] is not None and d.vbox[i] == d.fbox[fi]:
                continue  # used inside its own box (e.g. the last LSTM state, also stacked)
            edge(d.vnode[i], d.fnode[fi], i, fi)
    for i, v in enumerate(d.variables):
        if v.creator is not None:
            fi = d.fpos[id(v.creator)]
            edge(d.fnode[fi], d.vnode[i], i, fi)
    for (a, b), (at, vars_, recurrent, crosses) in rolled.items():
        extra = []
        if recurrent:
            extra = [f"color={q(RECURRENT_COLOR)}", 'penwidth="2"', 'constraint="false"',
                     f"fontcolor={q(RECURRENT_COLOR)}", 'fontsize="9"',
                     'label="next step"']
        elif crosses and len(vars_) > 1:
            extra = ['fontsize="9"', f"fontcolor={q(ROLL_BORDER)}",
                     f'label="×{len(vars_)}"']
        d.edge_lines[at] = f"\t{a} -> {b}" + (f" [{' '.join(extra)}]" if extra else "") + "\n"
    d.edge_lines = [e for e in d.edge_lines if e is not None]
    # a forward op's rule: dashed edges to the ops it ran in the backward pass
    seen_rule = set()
    for fi, f in enumerate(d.functions):
        fwd = d.rule_of.get(id(f))
        if fwd is None or id(fwd) not in d.fpos:
            continue
        a, b = d.fnode[d.fpos[id(fwd)]], d.fnode[fi]
        if a != b and (a, b) not in seen_rule:
            seen_rule.add((a, b))
            d.edge_lines.append(f'\t{a} -> {b} [style="dashed" color="{RULE_COLOR}" '
                                'arrowhead="none" constraint="false" penwidth="0.8"]\n')


def _per_copy_rep(d, i):
    return any(d.var_index.get(id(xs[0])) == i for block, _ in d.blocks
               for xs in block.per_copy)


# --- emit ---------------------------------------------------------------------------------
def _emit(d):
    """Node statements in the order the work was done (by generation; a leaf just before
    its first consumer), each filed under its cluster: the DOT reads in execution order
    and dot starts its layout from that order. Then the edges."""
    opt = d.opt
    functions, variables, var_index = d.functions, d.variables, d.var_index
    fkey = [2 * f.generation + 1 for f in functions]
    vkey = [2 * v.generation if v.creator is not None else None for v in variables]
    for fi, f in enumerate(functions):
        for x in f.inputs:
            i = var_index[id(x)]
            if variables[i].creator is None and (vkey[i] is None or fkey[fi] - 1 < vkey[i]):
                vkey[i] = fkey[fi] - 1
    mkey = {}
    for fi, b in enumerate(d.fbox):
        if b is not None and (b not in mkey or fkey[fi] < mkey[b]):
            mkey[b] = fkey[fi]

    entries = []  # (order, scope, DOT line)
    for fi, f in enumerate(functions):
        if d.fbox[fi] is None and fi not in d.hidden_f:
            entries.append((fkey[fi], d.fscopes[fi], f"\t{d.fnode[fi]} {_function_node(f)}\n"))
    per_copy = {var_index[id(xs[0])]: len(xs) for block, _ in d.blocks
                for xs in block.per_copy}
    for i, v in enumerate(variables):
        if d.visible[i] and i not in d.hidden_v:
            scope = d.place[i] if d.vbox[i] is None else d.vbox[i][:-1]
            node = _variable_node(v, d, scope if opt["group"] else (), per_copy.get(i))
            entries.append((vkey[i] or 0, scope, f"\tv{i} {node}\n"))
    for b, m in d.modules.items():
        node = _module_node(b, m, variables, opt["show_shapes"], opt["show_dtypes"])
        entries.append((mkey.get(b, 0), b[:-1], f"\t{m['id']} {node}\n"))
    entries.sort(key=lambda e: e[0])  # stable: discovery order breaks ties

    members = {(): []}
    finished = {}  # scope -> when its last op was done: clusters are laid out in that order
    for key, scope, line in entries:
        if not opt["group"]:
            scope = tuple(s for s in scope if isinstance(s, _Roll))
        lst = members.get(scope)
        if lst is None:
            lst = members[scope] = []
        lst.append(line)
        for k in range(1, len(scope) + 1):
            finished[scope[:k]] = key

    graph_attr = dict(rankdir=opt["rankdir"], fontname=FONT, fontsize="11", bgcolor="white",
                      nodesep="0.22", ranksep="0.32", pad="0.2", style="rounded")
    if opt["show_values"]:
        ran = any(v.grad is not None for v in variables)
        d.caption.append("backward has run: each Variable shows its value and, below, its "
                         "gradient (.grad)" if ran else
                         "backward has not run: values only (no .grad yet)")
    g = Diagram(
        name="tape", graph_attr=graph_attr,
        node_attr=dict(fontname=FONT, penwidth="1.2"),
        edge_attr=dict(color=EDGE_COLOR, arrowsize="0.6", penwidth="1.1", fontname=FONT))
    for text in d.caption:
        g.add_caption(text)
    g.body.extend(_nest(members, finished))
    g.body.extend(d.edge_lines)
    g.outputs, g.names = list(d.outs), d.names
    g.node_of = {}
    for fi, f in enumerate(functions):
        g.node_of[id(f)] = d.fnode[fi]
    for i, v in enumerate(variables):
        g.node_of[id(v)] = d.vnode[i]
    g.copy_of = {}
    for block, mark in d.blocks:
        for c, copy in enumerate(block.copies):
            for f in copy:
                g.copy_of[id(f)] = (c + 1, len(block.copies))
    g.rolled = [(tuple(block.scope), len(block.copies), block.period) for block, _ in d.blocks]
    g.depth = max([len([s for s in sc if not isinstance(s, _Roll)]) for sc in d.fscopes],
                  default=0)
    g.counts = {"nodes": sum(len(v) for v in members.values()), "edges": len(d.edge_lines)}
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
        path = ".".join(scope)
        last = scope[-1]
        lines.append(f"\tsubgraph {q('cluster_' + path)} {{\n")
        if isinstance(last, _Roll):
            tip = (f"{last.copies} identical copies of these {last.period} ops (same ops, "
                   "scope and shapes), drawn once")
            lines.append(
                f"\t\tlabel=<<B>× {last.copies}</B>> tooltip={q(tip)} "
                f'style="rounded,filled,bold" fillcolor="{ROLL_FILL}" color="{ROLL_BORDER}" '
                f'fontcolor="{ROLL_BORDER}" fontsize="13" labeljust="r" penwidth="1.5"\n')
        else:
            depth = len(scope)
            fill = BACKWARD_FILL if isinstance(last, _Backward) else \
                CLUSTER_FILLS[min(depth, len(CLUSTER_FILLS)) - 1]
            lines.append(f"\t\tlabel=<<B>{h(last)}</B>> tooltip={q(path)} "
                         f'style="rounded,filled" fillcolor="{fill}" color="{CLUSTER_BORDER}" '
                         f'fontcolor="#334155" fontsize="11" labeljust="l" penwidth="1"\n')
        lines.extend(members.get(scope, ()))
        stack.append(("close", scope))
        stack.extend(("open", c) for c in reversed(children[scope]))
    return lines


# --- nodes --------------------------------------------------------------------------------
def _variable_kind(v, d):
    if id(v) in d.output_ids:
        return "output"
    if id(v) in d.grad_of:
        return "grad"
    if v.creator is not None:
        return "var"
    if id(v) in d.names or is_parameter(v):
        return "param"
    if not v.requires_grad and v.name is None:
        return "const"
    return "input"


def _variable_node(v, d, scope, copies=None):
    opt = d.opt
    show_shapes, show_dtypes = opt["show_shapes"], opt["show_dtypes"]
    kind = _variable_kind(v, d)
    name = d.grad_of.get(id(v)) or d.names.get(id(v)) or v.name
    full = name
    if not name and kind == "output":
        name = "output"
    plain = tuple(s for s in scope if not isinstance(s, _Roll))
    if name and plain:  # inside cluster decoder.lstm, "decoder.lstm.Wx" reads as "Wx"
        prefix = ".".join(plain) + "."
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    shape = fmt_shape(v.shape)
    dtype = v.dtype.name
    small = "#64748B"
    values = []
    if opt["show_values"]:
        values.append(h("= " + summary(v.data)))
        if v.grad is not None:
            values.append(f'<FONT COLOR="{STYLES["grad"]["color"]}">'
                          f'{h("grad " + summary(v.grad.data))}</FONT>')
    if kind == "const":
        text = fmt_value(v.data.item()) if v.data.size == 1 else shape
        if show_dtypes:
            text += " " + dtype
        label = f"<{h(text)}>"
    else:
        detail = []
        if show_shapes:
            detail.append(shape)
        if show_dtypes:
            detail.append(dtype)
        if copies:
            detail.append(f"×{copies}")
        rows = [f'<FONT POINT-SIZE="9" COLOR="{small}">{h(" ".join(detail))}</FONT>'] \
            if detail else []
        rows += [f'<FONT POINT-SIZE="8" COLOR="{small}">{r}</FONT>' for r in values]
        if name:
            label = "<" + "<BR/>".join([f"<B>{h(name)}</B>"] + rows) + ">"
        elif rows and not values:
            label = f"<{h(' '.join(detail))}>"
        elif rows:
            label = "<" + "<BR/>".join(rows) + ">"
        else:
            label = None
    tip = f"{kind}: " + (f"{full} " if full else "") + f"{shape} {dtype}"
    if kind == "const" and 1 < v.data.size <= 12:
        tip += " = " + np.array2string(v.data, precision=4, separator=", ").replace("\n", "")
    if label is None:  # nothing to say: a small dot-like ellipse keeps the edge readable
        return attrs(STYLES[kind], (("label", '""'), ("width", "0.2"), ("height", "0.12"),
                                    ("tooltip", tip)))
    return attrs(STYLES[kind], (("label", label), ("tooltip", tip)))


def _function_node(f):
    found = op_attributes(f)
    label = f"<<B>{h(f.name)}</B>"
    if found:
        label += f'<BR/><FONT POINT-SIZE="9" COLOR="#475569">{h(", ".join(found))}</FONT>'
    label += ">"
    tip = f.name + (f"({', '.join(found)})" if found else "")
    if f.scope:
        tip += "  in " + ".".join(f.scope)
    return attrs(STYLES["op"], (("label", label), ("tooltip", tip)))


def _shape_list(variables, idx, show_dtypes):
    """Shapes of the Variables at `idx`, repeats counted: '(2, 8) ×4, (2, 5, 8)'."""
    counts = {}
    for i in idx:
        v = variables[i]
        key = fmt_shape(v.shape) + (" " + v.dtype.name if show_dtypes else "")
        counts[key] = counts.get(key, 0) + 1
    parts = [k if n == 1 else f"{k} ×{n}" for k, n in counts.items()]
    if len(parts) > 4:
        parts = parts[:3] + [f"… {len(parts) - 3} more"]
    return ", ".join(parts)


def _module_node(box, m, variables, show_shapes, show_dtypes):
    path = ".".join(box)
    rows = [f"<B>{h(path)}</B>"]
    small = '<FONT POINT-SIZE="9" COLOR="#4C1D95">{}</FONT>'
    if show_shapes:
        if m["ins"]:
            rows.append(small.format("in  " + h(_shape_list(variables, m["ins"], show_dtypes))))
        if m["outs"]:
            rows.append(small.format("out " + h(_shape_list(variables, m["outs"],
                                                               show_dtypes))))
    count = f"{m['ops']} op" + ("s" if m["ops"] != 1 else "")
    if m["params"]:
        count += f" · {m['params']} param" + ("s" if m["params"] != 1 else "")
    rows.append(f'<FONT POINT-SIZE="8" COLOR="#6D28D9"><I>{h(count)}</I></FONT>')
    label = "<" + "<BR/>".join(rows) + ">"
    return attrs(STYLES["module"], (("label", label), ("tooltip", f"{path} (folded)")))


# --- arguments ----------------------------------------------------------------------------
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
