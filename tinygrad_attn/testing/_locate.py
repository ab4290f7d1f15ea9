"""`locate`: which op's rule is wrong, not just that a gradient is.

Every recorded Function is checked on its own: a fresh copy of the op is applied to leaf
copies of the very values the graph gave it, its autograd gradient (its own rule, nothing
else) is compared with finite differences of that op alone, along random output
projections. The first op in forward order whose rule disagrees is the finding.
"""
from __future__ import annotations

import pathlib
import time

import numpy as np

from .. import Variable, grad as _grad, set_grad_enabled
from . import _core
from ._core import fmt_index, fmt_shape

__all__ = ["locate", "Report"]


def _scope_name(scope):
    return ".".join(scope)


def _fmt_attr(v):
    if isinstance(v, np.ndarray):
        return f"array{fmt_shape(v.shape)}"
    if isinstance(v, float):
        return f"{v:.4g}"
    s = repr(v) if isinstance(v, str) else str(v)
    return s if len(s) <= 40 else s[:39] + "…"


def _describe_op(f):
    try:
        attrs = f.attributes()
    except Exception:
        attrs = {}
    inner = ", ".join(f"{k}={_fmt_attr(v)}" for k, v in attrs.items())
    return f"{f.name}({inner})", attrs


class Report:
    """What `locate` found: the first op, in forward order, whose rule disagrees.

    Fields: ``op`` (name), ``attributes`` (dict), ``scope`` (tuple of names) and
    ``scope_name`` ("decoder.attention", "" at top level), ``position`` (1-based, in forward
    order) of ``n_ops``, ``input`` (which input of the op), ``input_shape``, ``dtype``,
    ``entry`` (the worst entry, a tuple, or None when found along a random direction),
    ``autograd`` and ``numerical`` (both values there), ``tolerance``, ``n_bad`` of
    ``n_checked`` entries, ``order`` (1: the rule; 2: the rule differentiated again),
    ``others`` (further disagreeing ops as (name, scope_name) pairs), ``kinks`` (notes of
    accepted kinks), ``seconds``; ``function`` is the recorded Function itself and
    ``outputs`` the graph's outputs (the report keeps the graph alive, for `render`).
    """

    def __init__(self, function, outputs, position, n_ops, mismatch, order, others, kinks,
                 seconds, op_inputs, tolerances, error=None):
        self.function = function
        self.outputs = outputs
        self.op, self.attributes = function.name, None
        self.signature, self.attributes = _describe_op(function)
        self.scope = tuple(function.scope)
        self.scope_name = _scope_name(self.scope)
        self.position, self.n_ops = position, n_ops
        self.order = order
        self.others = others
        self.kinks = kinks
        self.seconds = seconds
        self.error = error
        self.op_inputs = op_inputs          # the arrays the graph gave the op
        self.tolerances = tolerances        # eps, atol, rtol used for this op
        m = mismatch
        self.mismatch = m
        self.input = None if m is None else m.input
        self.input_shape = None if m is None or m.shape is None else m.shape
        self.dtype = None if m is None else m.dtype
        self.entry = None if m is None else m.index
        self.autograd = None if m is None else m.autograd
        self.numerical = None if m is None else m.numerical
        self.tolerance = None if m is None else m.tolerance
        self.n_bad = None if m is None else m.n_bad
        self.n_checked = None if m is None else m.size

    def __str__(self):
        where = f"in {self.scope_name}" if self.scope else "at top level (no name scope)"
        rule = "backward rule" if self.order == 1 else \
            "backward rule, differentiated again (second order),"
        head = (f"locate: op {self.position} of {self.n_ops} in forward order, "
                f"{self.signature} {where}, has a {rule} that disagrees with finite "
                "differences of that op alone at the values the graph gave it")
        m = self.mismatch
        if self.error is not None:
            body = f": running it raised {self.error}"
        elif m.kind != "values":
            body = f": for input {m.input}, the {m.text}"
        else:
            x = self.op_inputs[m.input]
            shape = f"{fmt_shape(np.shape(x))} {np.asarray(x).dtype}"
            spot = (f"worst entry {fmt_index(m.index)}" if m.index is not None
                    else "along a random direction")
            count = (f"; {m.n_bad} of {m.size} entries checked differ" if m.index is not None
                     else "")
            body = (f": for input {m.input} ({shape}), {spot}: autograd {m.autograd:.6g} vs "
                    f"numerical {m.numerical:.6g} (|diff| {abs(m.autograd - m.numerical):.3g}"
                    f" > tolerance {m.tolerance:.3g} = atol {m.atol:g} + rtol {m.rtol:g} * "
                    f"|numerical|{count})")
        tail = " Every op before it agrees."
        if self.others:
            counts = {}
            for name, scope in self.others:
                key = f"{name} in {scope}" if scope else f"{name} at top level"
                counts[key] = counts.get(key, 0) + 1
            listed = ", ".join(k if n == 1 else f"{k} ×{n}" for k, n in counts.items())
            tail += f" {len(self.others)} later op(s) disagree too: {listed}."
        if self.kinks:
            tail += f" {len(self.kinks)} kink(s) accepted on the way."
        tail += f" {self.n_ops} op{'s' if self.n_ops != 1 else ''} checked in " \
            f"{self.seconds:.2f} s."
        return head + body + "." + tail

    def __repr__(self):
        return f"<Report {self.op} in {self.scope_name or '(top level)'}, input {self.input}>"

    # --- the diagram ----------------------------------------------------------------------
    def dot(self, **make_dot_kwargs):
        """The graph (`viz.make_dot`) with the op highlighted: a graphviz.Digraph."""
        return highlighted_dot(self.outputs, self.function, self._caption(), **make_dot_kwargs)

    def _caption(self):
        m = self.mismatch
        if m is None or m.kind != "values":
            return f"{self.signature}: its rule disagrees with finite differences"
        spot = f"entry {fmt_index(m.index)}" if m.index is not None else "a random direction"
        return (f"{self.signature} in {self.scope_name or 'top level'}: input {m.input}, "
                f"{spot}: autograd {m.autograd:.4g} vs numerical {m.numerical:.4g}")

    def render(self, path, **make_dot_kwargs):
        """Draw the graph to `path` (.svg/.png/.pdf, or .dot/.gv for the source) with the
        op highlighted in red, as `viz.render` draws (a PNG at most `viz.MAX_PIXELS` a
        side); returns the path. Without Graphviz's `dot` program, writes the .dot source
        next to it and raises `viz.GraphvizNotFoundError`; any Graphviz failure is one
        `viz.GraphvizError` naming where the source was kept."""
        return render_dot(self.dot(**make_dot_kwargs), path)


# --- highlighting: viz.make_dot's output, post-processed -----------------------------------
_HIGHLIGHT = ' fillcolor="#FECACA" color="#DC2626" fontcolor="#7F1D1D" penwidth="3"'
_MARK = '<BR/><FONT POINT-SIZE="9" COLOR="#B91C1C">✗ rule</FONT>'


def highlighted_dot(outputs, function, caption, **make_dot_kwargs):
    """viz.make_dot(outputs) with `function`'s node drawn red and marked "✗ rule", and a
    caption. The diagram says which node drew which op (`node_of`); an op inside a folded
    module (max_depth) is drawn by the module's box, which is highlighted instead."""
    from .. import viz

    dot = viz.make_dot(outputs, **make_dot_kwargs)
    node = getattr(dot, "node_of", {}).get(id(function))
    body = list(dot.body)
    if node is not None:
        head = f"\t{node} ["
        for k, line in enumerate(body):
            if line.startswith(head):
                end = line.rfind("> tooltip=")
                if end > 0:
                    line = line[:end] + _MARK + line[end:]
                body[k] = _restyle(line)
                break
    dot.body[:] = body
    from ..viz.style import h      # escaped as every label of the diagram (any scope name)
    dot.body.append(f'\tlabel=<<FONT COLOR="#B91C1C">{h(caption)}</FONT>> '
                    'labelloc="b" fontsize="12"\n')
    return dot


def _restyle(line):
    end = line.rstrip().rfind("]")
    return line[:end] + _HIGHLIGHT + line[end:]


def render_dot(dot, path):
    """`dot` drawn to `path` as `viz.render` draws (`viz.render_diagram`): a PNG within
    viz.MAX_PIXELS a side, any Graphviz failure one `viz.GraphvizError`."""
    from .. import viz
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return viz.render_diagram(dot, path)


# --- checking one op ----------------------------------------------------------------------
def _op_tolerances(f, eps, atol, rtol):
    dtypes = [x.dtype for x in f.inputs if x.dtype.kind == "f"]
    for ref in f.outputs:
        y = ref()
        if y is not None and y.dtype.kind == "f":
            dtypes.append(y.dtype)
    e, a, r, _ = _core.resolve_tolerances(dtypes, eps, atol, rtol, "locate")
    return e, a, r


def check_function(f, *, eps=None, atol=None, rtol=None, seed=0, max_entries=128, order=1):
    """Check one recorded Function's rule at its recorded inputs.

    Returns (Mismatch or None, kinks, error text or None, tolerances).
    """
    ins = list(f.inputs)
    e, a, r = _op_tolerances(f, eps, atol, rtol)
    rg = [x.requires_grad for x in ins]

    make = _core.fresh_factory(f)

    def op(*xs):
        return make()(*xs)

    fn = op
    record = False
    if order == 2:
        fn, record = _first_order(op, ins, seed), True
    try:
        res = _core.compare(fn, [x.data for x in ins], eps=e, atol=a, rtol=r, n_projections=1,
                            seed=seed, where=f"locate({f.name})", requires_grad=rg,
                            max_entries=max_entries, record_numerics=record)
    except Exception as exc:  # a rule that crashes on its own inputs is a finding too
        return None, [], f"{type(exc).__name__}: {exc}", (e, a, r)
    return res.mismatch, res.kinks, None, (e, a, r)


def _first_order(op, ins, seed):
    """x -> grad(sum(u * op(x)), x) with a fixed random u, recorded (create_graph)."""
    rng = np.random.default_rng([seed, 2])
    probe = None

    def first(*xs):
        nonlocal probe
        ys = op(*xs)
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        fl = [y for y in ys if y.dtype.kind == "f"]
        if probe is None:
            probe = [rng.standard_normal(y.shape) for y in fl]
        wrt = [x for x in xs if isinstance(x, Variable) and x.dtype.kind == "f"]
        seeds = [Variable(u.astype(y.dtype), requires_grad=False) for u, y in zip(probe, fl)]
        with set_grad_enabled(True):
            gs = _grad(fl, wrt, grad_outputs=seeds, create_graph=True, allow_unused=True)
        return tuple(Variable(np.zeros(x.shape, x.dtype), requires_grad=False) if g is None
                     else g for g, x in zip(gs, wrt))

    return first


def locate_outputs(outs, call_order=None, *, eps=None, atol=None, rtol=None, seed=0,
                   max_entries=128, order=1, first_only=False, _t0=None):
    """`locate` on a graph already built (outputs `outs`)."""
    t0 = time.perf_counter() if _t0 is None else _t0
    funcs = _core.walk_functions(outs)
    if call_order:
        pos = {}
        for k, f in enumerate(call_order):
            pos.setdefault(id(f), k)
        topo = {id(f): k for k, f in enumerate(funcs)}
        funcs.sort(key=lambda f: (id(f) in pos, pos.get(id(f), topo[id(f)])))
    n = len(funcs)
    first = None
    others = []
    kinks = []
    for k, f in enumerate(funcs):
        if not any(x.requires_grad for x in f.inputs):
            continue
        m, notes, err, tols = check_function(f, eps=eps, atol=atol, rtol=rtol, seed=seed,
                                              max_entries=max_entries, order=1)
        if m is None and err is None and order == 2:
            m, notes2, err, tols = check_function(f, eps=eps, atol=atol, rtol=rtol, seed=seed,
                                                   max_entries=max_entries, order=2)
            found_order = 2
            notes = notes + notes2
        else:
            found_order = 1
        kinks += [f"{f.name} ({_scope_name(f.scope) or 'top level'}) {t}" for t in notes]
        if m is None and err is None:
            continue
        if first is None:
            first = (k, f, m, err, found_order, tols)
            if first_only:
                break
        else:
            others.append((f.name, _scope_name(f.scope)))
    if first is None:
        return None
    k, f, m, err, found_order, tols = first
    return Report(f, list(outs), k + 1, n, m, found_order, others, kinks,
                  time.perf_counter() - t0, [x.data for x in f.inputs], tols, error=err)


def locate(f, *inputs, eps=None, atol=None, rtol=None, seed=0, max_entries=128, order=1,
           first_only=False):
    """Run `f` once, then check every recorded op's rule on its own; a `Report` or None.

    f          a callable taking `inputs` (floating arrays become fresh leaf Variables in
               their own dtype; Variables and other values are passed as they are), or the
               outputs of a graph already built (a Variable or a list of them). A model's
               loss works as is: ``locate(lambda: model.loss(xs, ts))``.
    eps, atol, rtol
               default per op from the narrowest float among its inputs and outputs, so a
               float32 graph is checked in float32 terms (see `default_tolerances`).
    max_entries  entries of each op input checked one by one (a random sample beyond, plus
               one random direction through all of them).
    order      2 also checks each rule differentiated again (what gradgradcheck needs).
    first_only stop at the first disagreeing op (faster on big graphs; no ``others``).

    Each op is rebuilt fresh (``type(op)(**op.attributes())``, or a copy), applied to leaf
    copies of the values the graph gave it, and its gradient along a random output
    projection compared with central differences of that op alone, in float64. The report
    names the first op in forward order (the order the ops ran) that disagrees.
    """
    t0 = time.perf_counter()
    if isinstance(f, Variable) or (isinstance(f, (list, tuple)) and f and
                                   all(isinstance(v, Variable) for v in f)):
        if inputs:
            raise TypeError("locate: pass either a callable and its inputs, or outputs alone")
        outs = [f] if isinstance(f, Variable) else list(f)
        return locate_outputs(outs, None, eps=eps, atol=atol, rtol=rtol, seed=seed,
                              max_entries=max_entries, order=order, first_only=first_only,
                              _t0=t0)
    if not callable(f):
        raise TypeError(f"locate: f must be callable (or a Variable), got {type(f).__name__}")
    xs = [x if isinstance(x, Variable) or not _core.is_floating(x) else
          Variable(np.array(_core.array_of(x))) for x in inputs]
    with set_grad_enabled(True), _core.recording_order() as seen:
        out = f(*xs)
    outs, _ = _core.as_outputs(out, "locate")
    return locate_outputs(outs, seen, eps=eps, atol=atol, rtol=rtol, seed=seed,
                          max_entries=max_entries, order=order, first_only=first_only, _t0=t0)


