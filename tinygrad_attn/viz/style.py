"""How the diagrams look, and the small text helpers every viz module shares.

One palette (slate ops, amber parameters, blue inputs, green outputs, violet modules, rose
gradients, orange recurrent edges). Every kind differs from the others in fill *and*
border, so they stay apart in grey too.
"""
from __future__ import annotations

import html

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
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def h(text):
    """Text made safe inside an HTML-like label."""
    return html.escape(str(text), quote=False).replace("\n", " ")


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
