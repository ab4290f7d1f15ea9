"""`replay`: the backward pass, step by step, in one self-contained HTML file.

The forward graph is drawn once (SVG, inline); each step of the backward pass (one
function's rule, in the order reverse mode runs them, `autodiff.backward_steps`) is a
record: which function ran, where, the gradients it received and the ones it sent (shape,
norm, the first few values). A few lines of JavaScript step through the records with
previous / next buttons, a slider and the arrow keys (Home / End too), highlight the
function that runs and fill in every Variable whose gradient has arrived. ``#step=N`` in
the address opens step N (and follows along), so a step can be linked or screenshotted.
Nothing is fetched from the network.
"""
from __future__ import annotations

import html
import json
import math
import pathlib
import shutil

import numpy as np

from ..files import write_atomic
from .backward import run_steps
from .render import LAYOUT_BUDGET, LAYOUT_TIMEOUT, _missing_dot, _run, within_budget

__all__ = ["replay", "Replay"]

VALUES = 4  # gradient values shown per tensor


class Replay:
    """A replay page: `html` (the text), `path` (where it was written, or None), `steps`
    (how many backward steps it shows). In Jupyter it displays inline (an iframe)."""

    def __init__(self, text, steps, path=None):
        self.html, self.steps, self.path = text, steps, path

    def save(self, path):
        path = pathlib.Path(path)
        write_atomic(path, self.html.encode("utf-8"))
        self.path = path
        return path

    def _repr_html_(self):
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                'style="width:100%;height:640px;border:1px solid #CBD5E1"></iframe>')


def replay(outputs, path=None, params=None, *, roll=True, max_depth=None, rankdir="TB",
           title="backward pass", budget=LAYOUT_BUDGET, timeout=LAYOUT_TIMEOUT):
    """Run the (first-order) backward pass of the scalar `outputs` and write a page that
    steps through it to `path` (if given). Returns a `Replay`. Needs Graphviz's `dot` to
    lay the graph out (render's errors and layout budget apply). No `.grad` is touched.

    params, roll, max_depth and rankdir are `make_dot`'s (a rolled op stands for all its
    copies: the panel says which copy runs).
    """
    dot = within_budget(outputs, budget, params=params, roll=roll, max_depth=max_depth,
                        rankdir=rankdir)
    outs = list(dot.outputs)
    names = dot.names
    where = pathlib.Path(path) if path is not None else pathlib.Path("replay.html")
    if shutil.which("dot") is None:
        raise _missing_dot(dot.source, where)
    svg = _inline_svg(_run(["dot", "-Tsvg"], dot.source, where, timeout).decode("utf-8"))
    steps = [{
        "title": "start: the seed",
        "op": "seed", "node": None, "where": "",
        "received": [],
        "sent": [_tensor(f"d {_name(y, names)} / d {_name(y, names)}", np.ones_like(y.data))
                 for y in outs],
        "arrive": [dot.node_of[id(y)] for y in outs],
    }]
    loss = _name(outs[0], names) if len(outs) == 1 else "outputs"
    for step, received, sent in run_steps(outs):
        f = step.function
        node = dot.node_of.get(id(f))
        copy = dot.copy_of.get(id(f))
        where = ".".join(f.scope)
        if copy:
            where += (" · " if where else "") + f"copy {copy[0]} of {copy[1]} (rolled)"
        outputs_ = [ref() for ref in f.outputs]
        steps.append({
            "title": f"backward of {f.name}",
            "op": f.name, "node": node, "where": where,
            "received": [_tensor(f"d {loss} / d {_name(y, names) if y is not None else '?'}",
                                 g) for y, g in zip(outputs_, received) if g is not None],
            "sent": [_tensor(f"d {loss} / d {_name(x, names)}", g)
                     for x, g in zip(f.inputs, sent) if g is not None],
            "arrive": sorted({dot.node_of[id(x)] for x, g in zip(f.inputs, sent)
                              if g is not None and id(x) in dot.node_of}),
        })
    text = _page(title, svg, steps)
    result = Replay(text, len(steps))
    if path is not None:
        result.save(path)
    return result


def _name(v, names):
    name = names.get(id(v)) or v.name
    if name:
        return name
    return f"{v.creator.name} {_shape(v.shape)}" if v.creator is not None else _shape(v.shape)


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _tensor(name, g):
    """What the page shows of a gradient: shape, norm, the first few values. Read at once
    (the pass may later accumulate into the array in place)."""
    a = np.asarray(g)
    flat = a.reshape(-1)
    with np.errstate(all="ignore"):
        norm = float(np.sqrt(np.vdot(flat, flat).real)) if flat.size else 0.0
    return {"name": name, "shape": list(a.shape), "norm": _number(norm),
            "values": [_number(v) for v in flat[:VALUES]], "size": int(flat.size)}


def _number(v):
    """A float for JSON; an infinite or NaN one as the text "inf", "-inf" or "nan" (JSON
    has no such numbers: the page would not load)."""
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if v != v else ("inf" if v > 0 else "-inf")


def _inline_svg(svg):
    """Graphviz's SVG without its XML prolog and doctype, to sit inside HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _page(title, svg, steps):
    data = json.dumps(steps, separators=(",", ":"), allow_nan=False)
    data = data.replace("</", "<\\/")     # never close the script element early
    return _TEMPLATE.replace("__TITLE__", html.escape(title)).replace(
        "__SVG__", svg).replace("__DATA__", data)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<style>
body { margin: 0; font: 14px/1.4 Helvetica, Arial, sans-serif; color: #0F172A;
       display: flex; flex-direction: column; height: 100vh; }
header { display: flex; align-items: center; gap: 10px; padding: 8px 12px;
         background: #F1F5F9; border-bottom: 1px solid #CBD5E1; }
header button { font-size: 14px; padding: 3px 12px; }
header input[type=range] { flex: 1; }
#counter { font-variant-numeric: tabular-nums; min-width: 8em; }
main { display: flex; flex: 1; min-height: 0; }
#graph { flex: 3; overflow: auto; padding: 8px; }
#graph svg { max-width: none; }
#panel { flex: 2; overflow: auto; padding: 8px 14px; border-left: 1px solid #CBD5E1;
         background: #FFFFFF; max-width: 34em; }
#panel h2 { font-size: 17px; margin: 4px 0; }
#panel .where { color: #475569; margin-bottom: 8px; }
#panel h3 { font-size: 13px; margin: 10px 0 4px; color: #334155; text-transform: uppercase;
            letter-spacing: .04em; }
.tensor { border: 1px solid #FECDD3; background: #FFF1F2; border-radius: 6px;
          padding: 4px 8px; margin: 4px 0; font-size: 13px; }
.tensor b { color: #881337; }
.tensor code { font-size: 12px; color: #334155; }
.hint { color: #64748B; font-size: 12px; margin-top: 14px; }
/* nodes: a gradient has arrived / the function running now */
g.node.tga-grad ellipse, g.node.tga-grad polygon { fill: #FECDD3 !important;
  stroke: #E11D48 !important; }
g.node.tga-done polygon, g.node.tga-done path { fill: #FCE7F3 !important; }
g.node.tga-current polygon, g.node.tga-current path, g.node.tga-current ellipse {
  fill: #DC2626 !important; stroke: #7F1D1D !important; stroke-width: 4px !important; }
g.node.tga-current text { fill: #FFFFFF !important; }
</style></head>
<body>
<header>
  <button id="prev" title="previous step (left arrow)">&#9664; prev</button>
  <button id="next" title="next step (right arrow)">next &#9654;</button>
  <input id="slider" type="range" min="0" value="0" aria-label="step">
  <span id="counter"></span>
</header>
<main>
  <div id="graph">__SVG__</div>
  <div id="panel"><h2 id="title"></h2><div class="where" id="where"></div>
    <div id="received"></div><div id="sent"></div>
    <div class="hint">&#8592; / &#8594; step, Home / End jump; red: the function whose rule
    runs; pink: Variables whose gradient has arrived. Address #step=N opens step N.</div>
  </div>
</main>
<script id="steps" type="application/json">__DATA__</script>
<script>
(function () {
  "use strict";
  var steps = JSON.parse(document.getElementById("steps").textContent);
  var nodes = {};
  document.querySelectorAll("#graph g.node").forEach(function (g) {
    var t = g.querySelector("title");
    if (t) nodes[t.textContent] = g;
  });
  var slider = document.getElementById("slider");
  slider.max = steps.length - 1;
  var current = -1;

  function fmt(x) {
    if (typeof x === "string") return x;          // "inf", "-inf", "nan"
    if (!isFinite(x)) return String(x);
    var a = Math.abs(x);
    return (a !== 0 && (a < 1e-3 || a >= 1e4)) ? x.toExponential(3) : x.toFixed(4);
  }
  function tensors(list, heading) {
    if (!list.length) return "";
    return "<h3>" + heading + "</h3>" + list.map(function (t) {
      var vals = t.values.map(fmt).join(", ") + (t.size > t.values.length ? ", \\u2026" : "");
      return '<div class="tensor"><b>' + esc(t.name) + "</b><br>shape (" + t.shape.join(", ") +
        (t.shape.length === 1 ? "," : "") + ") &middot; norm " + fmt(t.norm) +
        "<br><code>[" + vals + "]</code></div>";
    }).join("");
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function show(k) {
    k = Math.max(0, Math.min(steps.length - 1, k | 0));
    if (k === current) return;
    current = k;
    Object.keys(nodes).forEach(function (id) {
      nodes[id].classList.remove("tga-current", "tga-grad", "tga-done");
    });
    for (var i = 0; i <= k; i++) {
      steps[i].arrive.forEach(function (id) { if (nodes[id]) nodes[id].classList.add("tga-grad"); });
      if (i < k && steps[i].node && nodes[steps[i].node]) nodes[steps[i].node].classList.add("tga-done");
    }
    var s = steps[k];
    var cur = s.node ? nodes[s.node] : (s.arrive.length ? nodes[s.arrive[0]] : null);
    if (cur) {
      cur.classList.add("tga-current");
      var box = cur.getBoundingClientRect(), view = document.getElementById("graph");
      var vb = view.getBoundingClientRect();
      if (box.top < vb.top || box.bottom > vb.bottom || box.left < vb.left || box.right > vb.right) {
        cur.scrollIntoView({block: "center", inline: "center"});
      }
    }
    document.getElementById("title").textContent = s.title;
    document.getElementById("where").textContent = s.where ? "in " + s.where : "";
    document.getElementById("received").innerHTML = tensors(s.received, "gradients received");
    document.getElementById("sent").innerHTML = tensors(s.sent, "gradients sent to the inputs");
    document.getElementById("counter").textContent = "step " + k + " / " + (steps.length - 1);
    document.body.setAttribute("data-step", k);
    document.body.setAttribute("data-node", s.node || "");
    slider.value = k;
    if (location.hash !== "#step=" + k) history.replaceState(null, "", "#step=" + k);
  }
  function fromHash() {
    var m = /step=(\\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) : 0;
  }
  document.getElementById("prev").onclick = function () { show(current - 1); };
  document.getElementById("next").onclick = function () { show(current + 1); };
  slider.oninput = function () { show(parseInt(slider.value, 10)); };
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight" || e.key === "ArrowDown") { show(current + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { show(current - 1); e.preventDefault(); }
    else if (e.key === "Home") { show(0); e.preventDefault(); }
    else if (e.key === "End") { show(steps.length - 1); e.preventDefault(); }
  });
  window.addEventListener("hashchange", function () { show(fromHash()); });
  show(fromHash());
})();
</script>
</body></html>
"""
