"""Emit: a `Picture` as DOT text: node statements in execution order, nested in their
clusters, then the edges. Every label is escaped here, so no name a user gives (a scope
``"<b>"``, a Variable ``'a"b'``) can break the DOT or an HTML-like label."""
from __future__ import annotations

import numpy as np

from ..tape import Function as _Function
from ..tape import Variable as _Variable
from .model import Backward, EdgeKind, NodeKind, Roll, Scope
from .saved import fmt_bytes, total
from .style import (BACKWARD_FILL, CLUSTER_BORDER, CLUSTER_FILLS, FONT, RECURRENT_COLOR,
                    ROLL_BORDER, ROLL_FILL, RULE_COLOR, STYLES, attr_labels, attrs, fmt_shape,
                    fmt_value, h, q, summary)

__all__ = ["emit"]

_SMALL = "#64748B"


def emit(pic):
    """(graph attributes, captions, body lines) of the picture."""
    opt = pic.options
    order = _order(pic)
    members = {(): []}
    finished = {}
    for key, n in sorted(((order[n.id], n) for n in pic.nodes), key=lambda t: t[0]):
        place = n.place if opt["group"] else tuple(
            p for p in n.place if isinstance(p, (Roll, Backward)))
        line = f"\t{n.key} {_node(n, pic)}\n"
        members.setdefault(place, []).append(line)
        for k in range(1, len(place) + 1):
            finished[place[:k]] = key
    body = _nest(members, finished)
    for e in pic.edges:
        a, b = pic.nodes[e.tail].key, pic.nodes[e.head].key
        if e.kind is EdgeKind.GRAD:
            # laid out as the forward edge it mirrors, drawn pointing back: each rule sits
            # level with its op, the backward pass beside the forward one, read upwards
            a, b = b, a
        body.append(f"\t{a} -> {b}{_edge(e)}\n")
    captions = list(pic.captions)
    if opt["show_values"]:
        ran = any(isinstance(m, _Variable) and m.grad is not None
                  for n in pic.nodes if n.kind is NodeKind.VALUE for m in n.members)
        captions.append("backward has run: each Variable shows its value and, below, its "
                        "gradient (.grad)" if ran else
                        "backward has not run: values only (no .grad yet)")
    if opt["show_saved"]:
        captions.append(_saved_caption(pic))
    graph_attr = dict(rankdir=opt["rankdir"], fontname=FONT, fontsize="11", bgcolor="white",
                      nodesep="0.22", ranksep="0.32", pad="0.2", style="rounded")
    return graph_attr, captions, body


# --- order: the order the work was done ------------------------------------------------------
def _order(pic):
    """A sort key per node: forward by generation (a leaf just before its first reader),
    then the backward pass in the order reverse mode ran it."""
    key = {}
    first_reader = {}
    for e in pic.edges:
        if e.kind is EdgeKind.DATA:
            first_reader.setdefault(e.tail, []).append(e.head)
    for n in pic.nodes:
        if n.kind in (NodeKind.OP, NodeKind.BOX) and n.role != "rule":
            gens = [f.generation for f in n.members if isinstance(f, _Function)]
            key[n.id] = (0, 2 * min(gens) + 1, n.id) if gens else (0, 0, n.id)
    for n in pic.nodes:
        if n.kind is NodeKind.VALUE:
            x = n.members[0]
            if x.creator is not None:
                key[n.id] = (0, 2 * x.generation, n.id)
            else:
                readers = [key[r][1] for r in first_reader.get(n.id, ()) if r in key]
                key[n.id] = (0, min(readers) - 1 if readers else 0, n.id)
    for n in pic.nodes:
        if n.id not in key:
            key[n.id] = (1, 0, n.id)           # the compact backward: in the order it ran
    return key


# --- clusters -------------------------------------------------------------------------------
def _nest(members, finished):
    """DOT lines with `members` (place -> node lines) wrapped in nested clusters, siblings in
    the order they `finished`; iterative."""
    children = {(): []}
    for place in members:
        for k in range(1, len(place) + 1):
            prefix = place[:k]
            if prefix not in children:
                children[prefix] = []
                children.setdefault(prefix[:-1], []).append(prefix)
    for kids in children.values():     # (the backward pass last: drawn to the right)
        kids.sort(key=lambda c: (isinstance(c[-1], Backward), finished.get(c, (9, 0, 0))))
    lines = list(members.get((), ()))
    stack = [("open", c) for c in reversed(children[()])]
    number = 0
    while stack:
        what, place = stack.pop()
        if what == "close":
            lines.append("\t}\n")
            continue
        lines.append(f"\tsubgraph cluster_{number} {{\n")
        number += 1
        lines.append("\t\t" + _cluster_attrs(place) + "\n")
        lines.extend(members.get(place, ()))
        stack.append(("close", place))
        stack.extend(("open", c) for c in reversed(children[place]))
    return lines


def _cluster_attrs(place):
    last = place[-1]
    names = [p.name for p in place if isinstance(p, Scope)]
    path = ".".join(names)
    if isinstance(last, Roll):
        tip = (f"{last.copies} copies of these {last.period} ops (same ops, scope, shapes and "
               "wiring), drawn once" + (f" in {path}" if path else ""))
        return (f"label=<<B>× {last.copies}</B>> tooltip={q(tip)} "
                f'style="rounded,filled,bold" fillcolor="{ROLL_FILL}" color="{ROLL_BORDER}" '
                f'fontcolor="{ROLL_BORDER}" fontsize="13" labeljust="r" labelloc="t" '
                'penwidth="1.5"')
    if isinstance(last, Backward):
        return (f'label=<<B>backward</B>> tooltip="the backward pass" style="rounded,filled" '
                f'fillcolor="{BACKWARD_FILL}" color="#FDA4AF" fontcolor="#881337" '
                f'fontsize="12" labeljust="l" labelloc="t" penwidth="1"')
    depth = sum(1 for p in place if isinstance(p, Scope))
    fill = BACKWARD_FILL if any(isinstance(p, Backward) for p in place) else \
        CLUSTER_FILLS[min(depth, len(CLUSTER_FILLS)) - 1]
    return (f"label=<<B>{h(last.name)}</B>> tooltip={q(path)} "
            f'style="rounded,filled" fillcolor="{fill}" color="{CLUSTER_BORDER}" '
            f'fontcolor="#334155" fontsize="11" labeljust="l" labelloc="t" penwidth="1"')


# --- nodes ----------------------------------------------------------------------------------
def _node(n, pic):
    if n.kind is NodeKind.VALUE:
        return _value(n, pic)
    if n.kind is NodeKind.OP:
        return _op(n, pic)
    if n.kind is NodeKind.RULE:
        return _rule(n, pic)
    if n.kind is NodeKind.GRAD:
        return _grad_sink(n, pic)
    return _box(n, pic)


def _names(pic):
    return pic.options.get("names", {})


def _strip_scope(name, place):
    plain = [p.name for p in place if isinstance(p, Scope)]
    if name and plain:  # inside cluster decoder.lstm, "decoder.lstm.Wx" reads as "Wx"
        prefix = ".".join(plain) + "."
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return name


def _value(n, pic):
    opt = pic.options
    v = n.members[0]
    role = n.role
    names = _names(pic)
    name = names.get(id(v)) or v.name
    if role == "grad":
        name = pic.options.get("grad_names", {}).get(id(v))
    full = name
    if not name and role == "output":
        name = "output"
    name = _strip_scope(name, n.place)
    shape, dtype = fmt_shape(v.shape), v.dtype.name
    values = []
    if opt["show_values"]:
        values.append(h("= " + summary(v.data)))
        if v.grad is not None:
            values.append(f'<FONT COLOR="{STYLES["grad"]["color"]}">'
                          f'{h("grad " + summary(v.grad.data))}</FONT>')
    copies = n.copies if n.info.get("per_copy") else None
    if role == "const" and copies is None:
        text = fmt_value(v.data.item()) if v.data.size == 1 else shape
        if opt["show_dtypes"]:
            text += " " + dtype
        label = f"<{h(text)}>"
    else:
        detail = []
        if role == "const" and v.data.size == 1:
            detail.append(fmt_value(v.data.item()))
        elif opt["show_shapes"]:
            detail.append(shape)
        if opt["show_dtypes"]:
            detail.append(dtype)
        if copies:
            detail.append(f"×{copies}")
        rows = [f'<FONT POINT-SIZE="9" COLOR="{_SMALL}">{h(" ".join(detail))}</FONT>'] \
            if detail else []
        rows += [f'<FONT POINT-SIZE="8" COLOR="{_SMALL}">{r}</FONT>' for r in values]
        if name:
            label = "<" + "<BR/>".join([f"<B>{h(name)}</B>"] + rows) + ">"
        elif rows and not values:
            label = f"<{h(' '.join(detail))}>"
        elif rows:
            label = "<" + "<BR/>".join(rows) + ">"
        else:
            label = None
    tip = f"{role}: " + (f"{full} " if full else "") + f"{shape} {dtype}"
    if copies:
        tip += f", one per copy (×{copies})"
    if role == "const" and 1 < v.data.size <= 12:
        tip += " = " + np.array2string(v.data, precision=4, separator=", ").replace("\n", "")
    style = STYLES["grad" if role == "grad" else role]
    if label is None:  # nothing to say: a small dot-like ellipse keeps the edge readable
        return attrs(style, (("label", '""'), ("width", "0.2"), ("height", "0.12"),
                             ("tooltip", tip)))
    return attrs(style, (("label", label), ("tooltip", tip)))


def _saved_rows(functions, pic, rule=False):
    """What the op's Function keeps for its rule: on the compact backward's node when it
    is drawn, else on the op."""
    saved = pic.options.get("saved", {})
    if not pic.options["show_saved"] or (pic.options["backward"] == "compact" and not rule):
        return []
    items = saved.get(id(functions[0]), [])
    rows = []
    copies = len(functions)
    for s in items[:6]:
        shape = fmt_shape(s.shape) if s.shape is not None else f"{len(s.arrays)} arrays"
        size = fmt_bytes(s.nbytes) + (f" ×{copies}" if copies > 1 else "")
        rows.append(f'<FONT POINT-SIZE="8" COLOR="#9A3412">{h(s.name)} {h(shape)} '
                    f'{h(size)}{" (leaf)" if s.leaf else ""}</FONT>')
    if len(items) > 6:
        rows.append(f'<FONT POINT-SIZE="8" COLOR="#9A3412">… {len(items) - 6} more</FONT>')
    return rows


def _op(n, pic):
    functions = n.members
    f = functions[0]
    found = attr_labels(functions)
    label = f"<<B>{h(f.name)}</B>"
    if found:
        label += f'<BR/><FONT POINT-SIZE="9" COLOR="#475569">{h(", ".join(found))}</FONT>'
    for r in _saved_rows(functions, pic):
        label += "<BR/>" + r
    label += ">"
    tip = f.name + (f"({', '.join(found)})" if found else "")
    scope = ".".join(p.name for p in n.place if isinstance(p, Scope))
    if scope:
        tip += "  in " + scope
    if n.copies > 1:
        tip += f"  (one of {n.copies} copies)"
    return attrs(STYLES["op"], (("label", label), ("tooltip", tip)))


def _rule(n, pic):
    functions = n.info["rules"]
    f = functions[0]
    label = f"<<B>{h(f.name)}</B>"
    for r in _saved_rows(functions, pic, rule=True):
        label += "<BR/>" + r
    label += ">"
    scope = ".".join(p.name for p in n.place if isinstance(p, Scope))
    tip = f"backward rule of {f.name}" + (f" in {scope}" if scope else "")
    if n.copies > 1:
        tip += f" (one of {n.copies} copies)"
    return attrs(STYLES["rule"], (("label", label), ("tooltip", tip)))


def _grad_sink(n, pic):
    x = n.info["leaf"]
    names = _names(pic)
    loss = pic.options.get("loss", "loss")
    name = names.get(id(x)) or x.name
    short = _strip_scope(name, [p for p in n.place if isinstance(p, Scope)])
    text = f"d {loss} / d {short}" if name else f"d {loss} / d {fmt_shape(x.shape)} leaf"
    rows = [f"<B>{h(text)}</B>"]
    detail = []
    if pic.options["show_shapes"]:
        detail.append(fmt_shape(x.shape))
    if pic.options["show_dtypes"]:
        detail.append(x.dtype.name)
    if n.copies > 1:
        detail.append(f"×{n.copies}")
    if detail:
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{_SMALL}">{h(" ".join(detail))}</FONT>')
    if pic.options["show_values"] and n.copies == 1 and n.info.get("values"):
        rows.append(f'<FONT POINT-SIZE="8" COLOR="{_SMALL}">'
                    f'{h("= " + summary(n.info["values"][0]))}</FONT>')
    tip = f"the gradient of {name or 'a leaf'} {fmt_shape(x.shape)}" + \
        (f", one per copy (×{n.copies})" if n.copies > 1 else "")
    return attrs(STYLES["grad"], (("label", "<" + "<BR/>".join(rows) + ">"),
                                  ("tooltip", tip)))


def _shape_list(values, show_dtypes):
    """Shapes of `values`, repeats counted: '(2, 8) ×4, (2, 5, 8)'."""
    counts = {}
    for v in values:
        key = fmt_shape(v.shape) + (" " + v.dtype.name if show_dtypes else "")
        counts[key] = counts.get(key, 0) + 1
    parts = [k if c == 1 else f"{k} ×{c}" for k, c in counts.items()]
    if len(parts) > 4:
        parts = parts[:3] + [f"… {len(parts) - 3} more"]
    return ", ".join(parts)


def _box(n, pic):
    opt = pic.options
    rule = n.role == "rule"
    boxes = n.info.get("boxes") or []
    box = boxes[0] if boxes else None
    path = ".".join(box.path) if box is not None else "?"
    head = f"{path} (backward)" if rule else path
    if box is not None and box.parts > 1:
        head += f" · part {box.part} of {box.parts}"
    rows = [f"<B>{h(head)}</B>"]
    small = '<FONT POINT-SIZE="9" COLOR="#4C1D95">{}</FONT>'
    if opt["show_shapes"] and not rule:
        if n.info.get("ins"):
            rows.append(small.format("in  " + h(_shape_list(n.info["ins"], opt["show_dtypes"]))))
        if n.info.get("outs"):
            rows.append(small.format("out " + h(_shape_list(n.info["outs"],
                                                              opt["show_dtypes"]))))
    if rule:
        ops = len(n.info["rules"]) // max(1, n.copies)
        count = f"{ops} rule" + ("s" if ops != 1 else "")
        grads = sum(1 for m in n.members if type(m).__name__ == "Grad")
        if grads:
            count += f" · {grads} leaf gradient" + ("s" if grads != 1 else "")
    else:
        ops = len(box.ops) if box is not None else 0
        params = sum(1 for v in n.info.get("hidden", ()) if v.creator is None and (
            id(v) in _names(pic) or type(v).__name__ == "Parameter"
            or getattr(v, "is_parameter", False)))
        count = f"{ops} op" + ("s" if ops != 1 else "")
        if params:
            count += f" · {params} param" + ("s" if params != 1 else "")
        steps = n.info.get("steps")
        if steps:
            count = f"{steps} steps · " + count
    if n.copies > 1:
        count += f" · {n.copies} calls"
    rows.append(f'<FONT POINT-SIZE="8" COLOR="#6D28D9"><I>{h(count)}</I></FONT>')
    for r in _saved_rows(n.info["rules"], pic, rule=True) if rule else []:
        rows.append(r)
    label = "<" + "<BR/>".join(rows) + ">"
    tip = f"{path} ({'backward, ' if rule else ''}folded)"
    return attrs(STYLES["rule_box" if rule else "module"], (("label", label),
                                                            ("tooltip", tip)))


def _saved_caption(pic):
    saved = pic.options.get("saved", {})
    items = [s for ss in saved.values() for s in ss]
    everything, inter = total(items)
    return (f"saved for the backward pass: {len(items)} tensors, {fmt_bytes(everything)} "
            f"({fmt_bytes(inter)} of it intermediates that live only as long as the graph)")


# --- edges ----------------------------------------------------------------------------------
def _edge(e):
    extra = []
    if e.kind is EdgeKind.LINK:
        return (f' [style="dashed" color="{RULE_COLOR}" arrowhead="none" constraint="false" '
                'penwidth="0.8"]')
    if e.kind in (EdgeKind.GRAD, EdgeKind.SEED):
        extra.append(f'color="{STYLES["grad"]["color"]}"')
    if e.kind is EdgeKind.GRAD:
        # two ranks, as the forward's op -> Variable -> op: each rule level with its op
        extra += ['dir="back"', 'minlen="2"']
    if e.kind is EdgeKind.SEED:       # across, from the loss to the rule beside it
        extra += ['style="bold"', 'label="1"', 'fontsize="9"', 'constraint="false"',
                  f'fontcolor="{STYLES["grad"]["color"]}"']
    if e.recurrent:
        extra += [f"color={q(RECURRENT_COLOR)}", 'penwidth="2"', 'constraint="false"',
                  f"fontcolor={q(RECURRENT_COLOR)}", 'fontsize="9"']
    if e.label and e.kind is not EdgeKind.SEED:
        extra += [f"label={q(e.label)}", 'fontsize="9"']
        if not e.recurrent:
            copies = "×" in e.label or e.label.endswith(("last", "first"))
            extra.append(f'fontcolor="{ROLL_BORDER if copies else "#475569"}"')
    return f" [{' '.join(extra)}]" if extra else ""

