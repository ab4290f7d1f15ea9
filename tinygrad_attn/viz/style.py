"""How the diagrams look, and the small text helpers every viz module shares.

One palette (slate ops, amber parameters, blue inputs, green outputs, violet modules, rose
gradients, orange recurrent edges). Every kind differs from the others in fill *and*
border, so they stay apart in grey too.
"""
from __future__ import annotations

import html
import unicodedata

import numpy as np

from ..tape import describe

FONT = "Helvetica"

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
    # a gradient drawn by make_dot(..., backward=True): d loss / d <name>
    "grad": dict(shape="ellipse", style="filled", fillcolor="#FFE4E6", color="#E11D48",
                 fontcolor="#881337", fontsize="10", margin="0.06,0.03", height="0.3"),
    # the compact backward: one forward op's rule, as reverse mode runs it
    "rule": dict(shape="box", style="rounded,filled", fillcolor="#FFE4E6", color="#E11D48",
                 fontcolor="#881337", fontsize="11", margin="0.14,0.05", height="0.3"),
    # a folded box of the backward pass
    "rule_box": dict(shape="box", style="rounded,filled,bold", fillcolor="#FFE4E6",
                     color="#BE123C", fontcolor="#881337", fontsize="11", margin="0.16,0.08",
                     penwidth="1.5"),
}
# Cluster fills darken a little with depth so nesting reads without heavy borders.
CLUSTER_FILLS = ("#F8FAFC", "#F1F5F9", "#E8EEF5", "#E2E8F0")
CLUSTER_BORDER = "#94A3B8"
EDGE_COLOR = "#7C8799"
ROLL_FILL, ROLL_BORDER = "#FFF7ED", "#EA580C"        # a rolled (repeated) block
RECURRENT_COLOR = "#EA580C"                          # copy t feeds copy t+1
RULE_COLOR = "#E11D4888"                               # forward op -> its rule's ops
BACKWARD_FILL = "#FFF1F2"                            # the backward cluster

MAX_ATTR = 36  # attribute values longer than this are shortened in labels


def q(value):
    """A DOT double-quoted string."""
    return '"' + _printable(str(value)).replace("\\", "\\\\").replace('"', '\\"') + '"'


def h(text):
    """Text made safe inside an HTML-like label."""
    return html.escape(_printable(str(text)), quote=False)


def _printable(text):
    """`text` with line breaks and tabs as spaces and other control characters written out
    (``\\x01``): Graphviz rejects them in a label, or a label that starts with a tab."""
    if text.isprintable():
        return text
    return "".join(_visible(c) for c in text)


def _visible(c):
    if c in "\t\n\r\x0b\x0c":
        return " "
    kind = unicodedata.category(c)
    if kind == "Cc":
        return f"\\x{ord(c):02x}"
    if kind == "Cs":                # a lone surrogate: no UTF-8 to write it in
        return "\ufffd"
    return c


def attrs(style, extra=()):
    parts = [f"{k}={q(v)}" for k, v in style.items()]
    parts += [f"{k}={v if k == 'label' else q(v)}" for k, v in extra]
    return "[" + " ".join(parts) + "]"


def fmt_shape(shape):
    return "scalar" if len(shape) == 0 else "(" + ", ".join(str(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def fmt_value(v):
    if isinstance(v, float) or isinstance(v, np.floating):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return ("[" if isinstance(v, list) else "(") + ", ".join(map(str, v[:5])) + ", …" + \
            ("]" if isinstance(v, list) else ")")
    s = describe(v)
    return s if len(s) <= MAX_ATTR else s[:MAX_ATTR - 1] + "…"


def op_attributes(f):
    """`k=v` strings for an op's attributes, leaving out unset ones (None / False)."""
    try:
        found = f.attributes()
    except Exception:  # a diagram must never fail because one op describes itself badly
        return []
    return [f"{k}={fmt_value(v)}" for k, v in found.items()
            if v is not None and v is not False]


def attr_steps(f):
    """(code, steps) of an op's attributes for rolling: `code` is them with every integer
    left out, `steps` those integers in order (``xs[:, t]``'s index differs only by t)."""
    steps = []
    try:
        found = f.attributes()
    except Exception:  # a diagram must never fail because one op describes itself badly
        return ("?",), ()
    code = tuple((k, _flatten(v, steps)) for k, v in found.items())
    return code, tuple(steps)


def _flatten(v, steps):
    if v is None or isinstance(v, (bool, np.bool_)):
        return v
    if isinstance(v, (int, np.integer)):
        steps.append(int(v))
        return "#"
    if isinstance(v, (float, np.floating)):
        return ("f", float(v)) if v == v else ("f", "nan")
    if isinstance(v, slice):
        return ("slice", _flatten(v.start, steps), _flatten(v.stop, steps),
                _flatten(v.step, steps))
    if isinstance(v, (tuple, list)):
        return (type(v).__name__,) + tuple(_flatten(a, steps) for a in v)
    if isinstance(v, np.ndarray):
        return ("array", v.shape, v.dtype.str)    # per-step data, like a per-step input
    if isinstance(v, np.dtype):
        return ("dtype", v.str)
    if isinstance(v, str):
        return ("str", v)
    return ("other", type(v).__name__)


def attr_labels(functions):
    """`k=v` strings for the attributes of one op, or of its rolled copies (in copy
    order): an integer that steps from copy to copy reads ``first…last``."""
    try:
        found = [f.attributes() for f in functions]
    except Exception:
        return []
    out = []
    for k, v in found[0].items():
        if v is None or v is False:
            continue
        values = [a.get(k) for a in found]
        out.append(f"{k}={_across(values)}")
    return out


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and a.dtype == b.dtype
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b


def _across(values):
    v0 = values[0]
    if all(_same(v, v0) for v in values[1:]):
        return fmt_value(v0)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return f"{values[0]}…{values[-1]}"
    if all(isinstance(v, slice) for v in values):
        parts = [[v.start for v in values], [v.stop for v in values]]
        text = ":".join("" if p[0] is None else _across(p) for p in parts)
        if v0.step is not None:
            text += ":" + _across([v.step for v in values])
        return text
    if all(isinstance(v, tuple) and len(v) == len(v0) for v in values):
        inner = ", ".join(_across([v[i] for v in values]) for i in range(len(v0)))
        index = any(isinstance(p, (slice, np.ndarray)) or p is None or p is Ellipsis
                    for p in v0)
        return f"[{inner}]" if index else f"({inner})"
    return fmt_value(v0) + " …"


def is_parameter(v):
    return type(v).__name__ == "Parameter" or bool(getattr(v, "is_parameter", False))


def summary(array, n=3):
    """A one-line value summary for teaching: the values themselves when there are few,
    else mean, norm and the first few (what a reader can check by hand)."""
    a = np.asarray(array)
    if a.size == 0:
        return "empty"
    if a.dtype.kind not in "fc":
        flat = a.reshape(-1)
        return "[" + ", ".join(map(str, flat[:n])) + (", …]" if flat.size > n else "]")
    flat = a.reshape(-1).astype(np.float64)
    if flat.size == 1:
        return f"{flat[0]:.4g}"
    first = ", ".join(f"{v:.3g}" for v in flat[:n]) + (", …" if flat.size > n else "")
    return f"[{first}] mean {flat.mean():.3g} ‖·‖ {np.linalg.norm(flat):.3g}"
