"""Random user-style programs for the diagram property tests, and a checker that holds a
diagram against the tape it was drawn from.

A program is built as hypothesis draws it: leaves (named inputs, unnamed ones, parameters,
constants), then statements: any F op (one row per op of ``F.__all__`` saying how to call
it on a (2, 3) value), fan-out and a Variable read many times, name scopes (nested,
repeated, and the awkward names "a.b", "backward", "roll0", "<b>&", a tab), module
calls, Python loops repeating a block with and without scopes over ``xs[:, t]``, over
``unstack``, over a fresh leaf per step or over a list of earlier values, integer and
boolean intermediates, gradients recorded with ``create_graph=True`` (second order), and
several outputs summed.

The checker (`check`) knows nothing of how viz builds a picture: it walks the tape itself
and asks the picture which node stands for what.
"""
from __future__ import annotations

import contextlib
import re

import numpy as np
from hypothesis import strategies as st

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import nn
from tinygrad_attn.autodiff import backward_steps
from tinygrad_attn.ops.recurrent import step_by_step
from tinygrad_attn.tape import Variable
from tinygrad_attn.viz.model import EdgeKind, Grad, NodeKind, Rule

N, H, T_LSTM = 2, 3, 2
SCOPE_NAMES = ["enc", "dec", "lstm", "backward", "roll0", "a.b", "<b>&", 'q"t', "\t", "x y",
               "cluster_0"]


class Net(nn.Module):
    """Modules to call: `lin` (one level) and `block.lin` (two levels)."""

    def __init__(self, rng):
        super().__init__()
        self.lin = nn.Linear(H, H, rng=rng, dtype=np.float64)
        self.block = Block(rng)


class Block(nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.lin = nn.Linear(H, H, rng=rng, dtype=np.float64)

    def forward(self, x):
        return F.tanh(self.lin(x))


class Ctx:
    """What rows may read besides their operands: shared leaves, data, modules."""

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.W = nn.Parameter(rng.standard_normal((H, H)) / 2, name="W")
        self.E = nn.Parameter(rng.standard_normal((5, H)), name="E")
        self.ids = np.array([1, 3])
        self.mask = np.array([[True, False, True], [False, False, True]])
        self.targets = np.array([0, 2])
        self.bits = (rng.random((N, H)) > 0.5).astype(np.float64)
        self.seq = tga.Variable(rng.standard_normal((N, T_LSTM, H)), name="seq")
        self.Wx = nn.Parameter(rng.standard_normal((H, 4 * H)) / 2, name="Wx")
        self.Wh = nn.Parameter(rng.standard_normal((H, 4 * H)) / 2, name="Wh")
        self.b = nn.Parameter(np.zeros(4 * H), name="b")
        self.drop = np.random.default_rng(seed + 1)
        self.net = Net(rng)
        self.params = dict(self.net.named_parameters())
        self.params.update(W=self.W, E=self.E, Wx=self.Wx, Wh=self.Wh, b=self.b)


def _lstm(h, o, k, c):
    cm = step_by_step() if k else contextlib.nullcontext()
    with cm:
        hs, hT, cT = F.lstm(c.seq, c.Wx, c.Wh, c.b, h, None)
    return hT + F.sum(hs, axis=1)


# name -> how to call it on a (2, 3) value h, another (2, 3) value o and a small int k,
# returning a (2, 3) value
ROWS = {
    "add": lambda h, o, k, c: h + o if k else h + 1.0,
    "sub": lambda h, o, k, c: 1.0 - h if k else h - o,
    "mul": lambda h, o, k, c: h * o if k else h * 0.5,
    "div": lambda h, o, k, c: h / 2.0 if k else o / (h * h + 1.0),
    "neg": lambda h, o, k, c: -h,
    "pow": lambda h, o, k, c: h ** 2 if k else F.pow(h * h + 1.0, F.tanh(o)),
    "exp": lambda h, o, k, c: F.exp(F.tanh(h)),
    "log": lambda h, o, k, c: F.log(h * h + 0.5) if k else F.log(h),
    "tanh": lambda h, o, k, c: F.tanh(h),
    "sigmoid": lambda h, o, k, c: F.sigmoid(h),
    "relu": lambda h, o, k, c: F.relu(h),
    "cast": lambda h, o, k, c: (h * F.cast(h, np.int64) if k == 1 else
                                h * F.cast(h, np.bool_) if k == 2 else
                                F.cast(F.cast(h, np.float32), np.float64)),
    "sum": lambda h, o, k, c: h + F.sum(h, axis=k % 2, keepdims=True),
    "mean": lambda h, o, k, c: h - F.mean(h, axis=1, keepdims=True),
    "max": lambda h, o, k, c: h - F.max(h, axis=k % 2, keepdims=True),
    "min": lambda h, o, k, c: h + F.min(h),
    "broadcast_to": lambda h, o, k, c: F.broadcast_to(F.sum(h, axis=0), (N, H)),
    "sum_to": lambda h, o, k, c: F.broadcast_to(F.sum_to(h, (1, H)), (N, H)),
    "reshape": lambda h, o, k, c: F.reshape(F.reshape(h, H, N), N, H),
    "transpose": lambda h, o, k, c: F.transpose(F.transpose(h)),
    "swapaxes": lambda h, o, k, c: F.swapaxes(F.swapaxes(h, 0, 1), 0, 1),
    "expand_dims": lambda h, o, k, c: F.squeeze(F.expand_dims(h, k % 2), k % 2),
    "squeeze": lambda h, o, k, c: F.squeeze(F.expand_dims(h, 0), 0),
    "concat": lambda h, o, k, c: F.split(F.concat([h, o], axis=1), 2, axis=1)[k % 2],
    "split": lambda h, o, k, c: F.split(F.concat([h, o], axis=1), [H], axis=1)[k % 2],
    "stack": lambda h, o, k, c: F.unstack(F.stack([h, o], axis=0), axis=0)[k % 2],
    "unstack": lambda h, o, k, c: F.sum(F.stack(F.unstack(h, axis=1), axis=1) * o, axis=1,
                                        keepdims=True) + h,
    "matmul": lambda h, o, k, c: h @ c.W,
    "getitem": lambda h, o, k, c: h[:, [2, 0, 1]] if k else h[::-1],
    "embedding": lambda h, o, k, c: h + F.embedding(c.E, c.ids),
    "where": lambda h, o, k, c: F.where(c.mask, h, o),
    "masked_fill": lambda h, o, k, c: F.masked_fill(h, c.mask, 0.0),
    "softmax": lambda h, o, k, c: F.softmax(h, axis=1),
    "log_softmax": lambda h, o, k, c: F.log_softmax(h, axis=-1),
    "softmax_cross_entropy": lambda h, o, k, c: h + F.softmax_cross_entropy(h, c.targets),
    "lstm": _lstm,
    "layer_norm": lambda h, o, k, c: F.layer_norm(h),
    "masked_softmax": lambda h, o, k, c: F.masked_softmax(h, c.mask),
    "softplus": lambda h, o, k, c: F.softplus(h),
    "gelu": lambda h, o, k, c: F.gelu(h),
    "cosine_similarity": lambda h, o, k, c: h * F.expand_dims(F.cosine_similarity(h, o), 1),
    "roll": lambda h, o, k, c: F.roll(h, 1 + k % 2, axis=1),
    "circular_convolution": lambda h, o, k, c: F.circular_convolution(h, F.softmax(o)),
    "dropout": lambda h, o, k, c: F.dropout(h, 0.5, c.drop, training=True),
    "binary_cross_entropy_with_logits":
        lambda h, o, k, c: h + F.binary_cross_entropy_with_logits(h, c.bits),
    "batch_norm": lambda h, o, k, c: F.batch_norm(h, None, None, o[0], None, training=True),
    "abs": lambda h, o, k, c: F.abs(h),
    "sqrt": lambda h, o, k, c: F.sqrt(h * h + 1.0),
    "square": lambda h, o, k, c: F.square(h),
    "reciprocal": lambda h, o, k, c: F.reciprocal(h * h + 1.0),
    "tan": lambda h, o, k, c: F.tan(F.tanh(h)),
    "clip": lambda h, o, k, c: F.clip(h, -0.5, 0.5),
    "maximum": lambda h, o, k, c: F.maximum(h, o) if k else F.maximum(h, 0.0),
    "minimum": lambda h, o, k, c: F.minimum(h, o),
    "leaky_relu": lambda h, o, k, c: F.leaky_relu(h, 0.1),
    "sign": lambda h, o, k, c: h * F.sign(o),
    "floor": lambda h, o, k, c: h + F.floor(o),
    "ceil": lambda h, o, k, c: h - F.ceil(h),
    "sin": lambda h, o, k, c: F.sin(h),
    "cos": lambda h, o, k, c: F.cos(h),
    "log1p": lambda h, o, k, c: F.log1p(h * h),
    "expm1": lambda h, o, k, c: F.expm1(F.tanh(h)),
    "cumsum": lambda h, o, k, c: F.cumsum(h, axis=k % 2),
    "prod": lambda h, o, k, c: h * F.prod(F.tanh(o), axis=0, keepdims=True),
    "var": lambda h, o, k, c: h + F.var(h, axis=1, keepdims=True),
    "std": lambda h, o, k, c: h - F.std(h, axis=0, keepdims=True),
    "logsumexp": lambda h, o, k, c: h - F.logsumexp(h, axis=1, keepdims=True),
    "mean_squared_error": lambda h, o, k, c: h + F.mean_squared_error(h, o),
    "flatten": lambda h, o, k, c: F.reshape(F.flatten(h), N, H),
    "moveaxis": lambda h, o, k, c: F.moveaxis(F.moveaxis(h, 0, 1), 0, 1),
    "repeat": lambda h, o, k, c: F.repeat(h, 2, axis=1)[:, ::2],
    "tile": lambda h, o, k, c: F.tile(h, (1, 2))[:, H:],
    "flip": lambda h, o, k, c: F.flip(h, axis=k % 2),
    "triu": lambda h, o, k, c: F.triu(h),
    "tril": lambda h, o, k, c: F.tril(h, -1) + o,
    "diagonal": lambda h, o, k, c: h * F.sum(F.diagonal(h)),
    "trace": lambda h, o, k, c: h + F.trace(h),
    "pad": lambda h, o, k, c: F.pad(h, ((0, 0), (1, 1)))[:, 1:-1],
    "einsum": lambda h, o, k, c: F.einsum("nh,hk->nk", h, c.W),
    "tensordot": lambda h, o, k, c: F.tensordot(h, c.W, axes=1),
    "outer": lambda h, o, k, c: h * F.sum(F.outer(h[0], o[1]), axis=0),
    "linear": lambda h, o, k, c: F.linear(h, c.W, o[0]),
}
# not F ops, but what users write too
EXTRA_ROWS = {
    "module": lambda h, o, k, c: c.net.lin(h) if k % 2 else c.net.block(h),
}


def missing_rows():
    """F ops that have no row yet (new ops): the programs leave them out."""
    return sorted(name for name in F.__all__ if name not in ROWS)


ALL_ROWS = {**{k: v for k, v in ROWS.items() if k in F.__all__}, **EXTRA_ROWS}
ROW_NAMES = sorted(ALL_ROWS)


class Program:
    """What a drawn program made: `outputs` (what to draw), `params`, `ctx`."""

    def __init__(self, outputs, params, ctx, scalar, text):
        self.outputs, self.params, self.ctx, self.scalar = outputs, params, ctx, scalar
        self.text = text

    def __repr__(self):
        return "Program:\n  " + "\n  ".join(self.text)


@st.composite
def programs(draw, max_statements=8):
    seed = draw(st.integers(0, 2 ** 16))
    ctx = Ctx(seed)
    rng = ctx.rng
    text = []
    pool = [tga.Variable(rng.standard_normal((N, H)), name="x"),
            tga.Variable(rng.standard_normal((N, H))),
            nn.Parameter(rng.standard_normal((N, H)), name="p"),
            tga.Variable(rng.standard_normal((N, H)), requires_grad=False)]

    def pick():
        return pool[draw(st.integers(0, len(pool) - 1))]

    def op_statement():
        name = draw(st.sampled_from(ROW_NAMES))
        k = draw(st.integers(0, 2))
        h, o = pick(), pick()
        text.append(f"{name}(k={k})")
        pool.append(ALL_ROWS[name](h, o, k, ctx))

    def loop_statement():
        T = draw(st.integers(3, 8))
        body = draw(st.lists(st.tuples(st.sampled_from(ROW_NAMES), st.sampled_from("xhs"),
                                       st.integers(0, 2)), min_size=1, max_size=4))
        source = draw(st.sampled_from(["getitem", "unstack", "leaf", "list", "shared"]))
        scoped = draw(st.sampled_from(["none", "each", "whole"]))
        name = draw(st.sampled_from(SCOPE_NAMES))
        h = pick() if draw(st.booleans()) else tga.Variable(np.zeros((N, H)), name="h0")
        shared = pick()
        xs = tga.Variable(rng.standard_normal((N, T, H)), name="xs")
        steps = F.unstack(xs, axis=1) if source == "unstack" else None
        earlier = [pick() for _ in range(T)]
        text.append(f"loop T={T} over {source}, scope {scoped} {name!r}: {body}")
        hs = []
        outer = tga.name_scope(name) if scoped == "whole" else contextlib.nullcontext()
        with outer:
            for t in range(T):
                x_t = {"getitem": lambda: xs[:, t], "unstack": lambda: steps[t],
                       "leaf": lambda: tga.Variable(rng.standard_normal((N, H)), name="x_t"),
                       "list": lambda: earlier[t], "shared": lambda: shared}[source]()
                inner = tga.name_scope(name) if scoped == "each" else contextlib.nullcontext()
                with inner:
                    for row, which, k in body:
                        o = {"x": x_t, "h": h, "s": shared}[which]
                        h = ALL_ROWS[row](h, o, k, ctx)
                hs.append(h)
        pool.append(h)
        if draw(st.booleans()):
            pool.append(F.sum(F.stack(hs, axis=1), axis=1))

    def scope_statement(depth):
        name = draw(st.sampled_from(SCOPE_NAMES))
        text.append(f"with name_scope({name!r}):")
        with tga.name_scope(name):
            for _ in range(draw(st.integers(1, 3))):
                statement(depth + 1)

    def grad_statement():
        v = pick()
        if not v.requires_grad:
            return
        text.append("grad(create_graph=True)")
        g, = tga.grad(F.sum(F.tanh(v) * v), [v], create_graph=True)
        pool.append(g)

    def statement(depth=0):
        kind = draw(st.sampled_from(["loop", "op", "op", "loop", "scope", "grad"]))
        if kind == "op":
            op_statement()
        elif kind == "loop":
            loop_statement()
        elif kind == "scope" and depth < 2:
            scope_statement(depth)
        elif kind == "grad":
            grad_statement()
        else:
            op_statement()

    with np.errstate(all="ignore"):
        for _ in range(draw(st.integers(2, max_statements))):
            statement()
        # the last value made, and maybe some others (several outputs summed)
        picked = [len(pool) - 1] + draw(st.lists(st.integers(0, len(pool) - 1), max_size=2))
        terms = [F.sum(pool[i]) for i in picked]
        loss = terms[0]
        for t in terms[1:]:
            loss = loss + t
        loss.name = draw(st.sampled_from([None, "loss"]))
        shape = draw(st.sampled_from(["loss", "loss", "loss+value", "scalars"]))
        if shape == "loss":
            outputs, scalar = loss, True
        elif shape == "scalars":
            outputs, scalar = terms, True
        else:
            outputs, scalar = [loss, pool[picked[0]]], pool[picked[0]].size == 1
    text.append(f"outputs: {shape}")
    params = ctx.params if draw(st.booleans()) else None
    return Program(outputs, params, ctx, scalar, text)


@st.composite
def option_sets(draw):
    """One set of make_dot options: roll on/off, max_depth None/0/1/2, backward off,
    compact or expanded, show_values, show_saved, group, the module view."""
    view = draw(st.sampled_from(["ops", "ops", "ops", "modules"]))
    return {
        "roll": draw(st.booleans()),
        "max_depth": draw(st.sampled_from([None, 0, 1, 2])),
        "backward": False if view == "modules" else draw(
            st.sampled_from([False, True, "expanded"])),
        "show_values": draw(st.booleans()),
        "show_saved": draw(st.booleans()),
        "group": draw(st.sampled_from([True, True, False])),
        "view": view,
    }


OPTION_SETS = option_sets()


# --- the checker --------------------------------------------------------------------------
class TapeWalk:
    """The tape as recorded, walked here without viz: ops, values, edges."""

    def __init__(self, roots):
        self.ops, self.values = {}, {}
        stack = list(roots)
        while stack:
            v = stack.pop()
            if id(v) in self.values:
                continue
            self.values[id(v)] = v
            f = v.creator
            if f is not None and id(f) not in self.ops:
                self.ops[id(f)] = f
                stack.extend(f.inputs)
        self.edges = []
        for f in self.ops.values():
            for i, x in enumerate(f.inputs):
                self.edges.append((x, f, i))
            for o, ref in enumerate(f.outputs):
                y = ref()
                if y is not None and id(y) in self.values:
                    self.edges.append((f, y, o))


def _outputs(program_outputs):
    outs = program_outputs if isinstance(program_outputs, (list, tuple)) else [program_outputs]
    seen = []
    for v in outs:
        if all(v is not w for w in seen):
            seen.append(v)
    return seen


def flat_attributes(f):
    """(the attributes with integers left out, the integers): a stepping index differs
    only in the integers."""
    ints = []

    def walk(v):
        if isinstance(v, (bool, np.bool_)) or v is None:
            return v
        if isinstance(v, (int, np.integer)):
            ints.append(int(v))
            return "#"
        if isinstance(v, slice):
            return ("slice", walk(v.start), walk(v.stop), walk(v.step))
        if isinstance(v, (tuple, list)):
            return tuple(walk(a) for a in v)
        if isinstance(v, np.ndarray):
            return ("array", v.shape, v.dtype.str)
        if isinstance(v, float):
            return ("float", v) if v == v else "nan"
        return ("other", type(v).__name__)
    return tuple((k, walk(v)) for k, v in f.attributes().items()), ints


_NODE_LINE = re.compile(r"^\t(n\d+) \[")
_EDGE_LINE = re.compile(r"^\t(n\d+) -> (n\d+)")


def check(dot, program_outputs, options):
    """Every invariant a drawing must keep (raises AssertionError naming the first broken)."""
    pic = dot.picture
    outs = _outputs(program_outputs)
    nodes = pic.nodes
    # the model is consistent: each tape thing stands in one node
    for n in nodes:
        for m in n.members:
            assert pic.node_of[id(m)] == n.id, ("member in two nodes", m)
    declared = [m[1] for line in dot.body if (m := _NODE_LINE.match(line))]
    assert sorted(declared) == sorted(n.key for n in nodes), "DOT nodes != picture nodes"
    assert len(set(declared)) == len(declared)
    for line in dot.body:
        if m := _EDGE_LINE.match(line):
            assert m[1] in declared and m[2] in declared, ("an edge to an undeclared node", line)
    # everything the outputs were computed from is drawn
    walk = TapeWalk(outs)
    for f in walk.ops.values():
        assert id(f) in pic.node_of, ("op not drawn", f)
    for v in walk.values.values():
        assert id(v) in pic.node_of, ("Variable not drawn", v)
    # each tape edge is on exactly one drawn edge whose ends stand for its ends (or inside
    # one box); each drawn data edge stands only for tape edges between its ends
    carried = {}
    for e in pic.edges:
        if e.kind is not EdgeKind.DATA:
            continue
        assert e.members, "an edge standing for nothing"
        for m in e.members:
            tail, head, slot = m
            assert pic.node_of[id(tail)] == e.tail and pic.node_of[id(head)] == e.head, \
                ("edge member between other nodes", m)
            key = (id(tail), id(head), slot)
            carried[key] = carried.get(key, 0) + 1
    loops = {(id(m[0]), id(m[1]), m[2]) for e in pic.edges if e.tail == e.head
             for m in e.members}
    for e in pic.edges:
        assert e.tail != e.head or e.recurrent, ("a loop that is not a recurrent edge", e)
    tape_edges = {}
    every_edge = list(walk.edges)
    if options.get("backward") == "expanded":
        drawn_ops = [m for n in nodes if n.kind in (NodeKind.OP, NodeKind.BOX)
                     for m in n.members if not isinstance(m, (Rule, Grad))]
        seen = {id(f) for f in walk.ops.values()}
        for f in drawn_ops:
            if id(f) in seen:
                continue
            seen.add(id(f))
            for i, x in enumerate(f.inputs):
                every_edge.append((x, f, i))
                assert id(x) in pic.node_of, ("backward op input not drawn", x)
            for o, ref in enumerate(f.outputs):
                y = ref()
                if y is not None and id(y) in pic.node_of:
                    every_edge.append((f, y, o))
    for tail, head, slot in every_edge:
        key = (id(tail), id(head), slot)
        tape_edges[key] = tape_edges.get(key, 0) + 1
        same = pic.node_of[id(tail)] == pic.node_of[id(head)]
        if isinstance(tail, Variable) and tail.creator is not None:
            # a Variable a box makes and reads again inside: the read is inside the box
            # (the Variable is drawn next to the box for the reads outside)
            maker = pic.nodes[pic.node_of[id(tail.creator)]]
            same = same or (maker.kind is NodeKind.BOX and maker.id == pic.node_of[id(head)]
                            and _box_copy(maker, tail.creator) == _box_copy(maker, head))
        if same and isinstance(head, Variable) is False and isinstance(tail, Variable):
            n = pic.nodes[pic.node_of[id(head)]]
            if n.kind is NodeKind.BOX and tail.creator is not None and \
                    pic.node_of.get(id(tail.creator)) == n.id:
                same = _box_copy(n, tail.creator) == _box_copy(n, head)
        got = carried.get(key, 0)
        if same and key in loops:
            same = False        # a rolled unit feeding its own next copy: a marked loop
        assert got == (0 if same else 1), ("tape edge drawn", got, "times", tail, head, slot)
    assert set(carried) <= set(tape_edges), "a drawn edge for no tape edge"
    unrolled = not options.get("roll", True)
    unfolded = options.get("max_depth") is None and options.get("view", "ops") == "ops"
    if unrolled and unfolded:
        _check_equals_tape(pic, walk, options)
    _check_rolled(pic)
    _check_acyclic(pic)
    if options.get("backward"):
        _check_backward(pic, outs, walk, options, dot.body)
    return pic


def _check_equals_tape(pic, walk, options):
    """Unrolled and unfolded: one node per Function and per Variable, one edge per tape
    edge."""
    forward_ops = [n for n in pic.nodes if n.kind is NodeKind.OP]
    values = [n for n in pic.nodes if n.kind is NodeKind.VALUE]
    assert not any(n.kind is NodeKind.BOX for n in pic.nodes)
    for n in forward_ops + values:
        assert len(n.members) == 1 and n.copies == 1, ("merged when unrolled", n)
    if options.get("backward") != "expanded":
        assert {id(n.members[0]) for n in forward_ops} == set(walk.ops)
        assert {id(n.members[0]) for n in values} == set(walk.values)
        data = [e for e in pic.edges if e.kind is EdgeKind.DATA]
        assert len(data) == len(walk.edges)
    for n in pic.nodes:
        if n.kind in (NodeKind.RULE, NodeKind.GRAD):
            assert n.copies == 1 and len(n.members) == 1, ("merged when unrolled", n)


def _copy_index(pic, v):
    """Which copy of its creator's rolled node made Variable v (None: not rolled)."""
    f = v.creator
    if f is None or id(f) not in pic.node_of:
        return None
    n = pic.nodes[pic.node_of[id(f)]]
    if n.copies < 2:
        return None
    if n.kind is NodeKind.BOX:
        return next(k for k, ops in enumerate(n.info["copy_members"]) if any(
            g is f for g in ops))
    return next(k for k, m in enumerate(n.members) if m is f)


def _box_copy(n, f):
    """Which copy of a rolled box node holds Function f (0 when not rolled)."""
    if n.copies < 2:
        return 0
    return next(k for k, ops in enumerate(n.info["copy_members"]) if any(g is f for g in ops))


def copies_label(ks, n):
    """What an edge carrying copies `ks` of n says about them."""
    if len(ks) == n:
        return f"×{n}"
    if len(ks) == 1:
        c = ks[0]
        return "first" if c == 0 else ("last" if c == n - 1 else f"copy {c + 1}")
    return f"×{len(ks)}"


def _check_rolled(pic):
    """Every rolled node is N real copies of the same op wired the same way; nothing is
    merged that is not the same value in the same place of a step."""
    recurrent = {(e.tail, e.head) for e in pic.edges if e.recurrent}
    by_member = {(id(m[0]), id(m[1]), m[2]): e for e in pic.edges for m in e.members}
    for n in pic.nodes:
        if n.kind is NodeKind.OP and len(n.members) > 1:
            fs = n.members
            assert len({f.name for f in fs}) == 1, ("different ops rolled", fs)
            flat = [flat_attributes(f) for f in fs]
            assert len({a for a, _ in flat}) == 1, ("different attributes rolled", fs)
            for ints in zip(*[i for _, i in flat]):
                d = ints[1] - ints[0]
                assert all(b - a == d for a, b in zip(ints, ints[1:])), \
                    ("an attribute that does not step evenly", ints)
            N = len(fs)
            for i in range(len(fs[0].inputs)):
                assert all(len(f.inputs) == len(fs[0].inputs) for f in fs)
                ins = [f.inputs[i] for f in fs]
                assert len({(x.shape, x.dtype) for x in ins}) == 1
                groups = {}
                for c, x in enumerate(ins):
                    e = by_member[(id(x), id(fs[c]), i)]
                    groups.setdefault(id(e), (e, []))[1].append(c)
                for e, ks in groups.values():
                    src = pic.nodes[e.tail]
                    if e.recurrent:                    # h, c: made by the previous copy
                        assert ks == list(range(1, N)), ("a recurrent edge into copies", ks)
                        assert all(_copy_index(pic, ins[c]) == c - 1 for c in ks), \
                            ("a recurrent edge that is not from the previous copy", n, i)
                        continue
                    if len(ks) < N:                    # some copies read elsewhere: say which
                        assert e.label is not None and \
                            e.label.endswith(copies_label(ks, N)), \
                            ("an edge into some copies that does not say which", e.label, ks)
                    made_here = [x.creator is not None and id(x.creator) in pic.node_of and
                                 pic.nodes[pic.node_of[id(x.creator)]].block == n.block and
                                 n.block is not None for x in (ins[c] for c in ks)]
                    if all(made_here):                 # made in the same copy
                        assert all(_copy_index(pic, ins[c]) == c for c in ks), \
                            ("reads another copy's value without a recurrent edge", n, i)
                    elif len({id(ins[c]) for c in ks}) > 1 and src.block == n.block:
                        # the step's own input, one per copy: copy c reads the c-th
                        assert all(src.members[c] is ins[c] for c in ks), \
                            ("per-copy input out of place", n, i)
        if n.kind is NodeKind.VALUE and len(n.members) > 1:
            xs = n.members
            assert len({(x.shape, x.dtype) for x in xs}) == 1, ("different values merged", xs)
            makers = [x.creator for x in xs]
            if all(m is None for m in makers):       # the step's input, one per copy
                assert len({x.name for x in xs}) == 1
                assert not any(type(x).__name__ == "Parameter" for x in xs)
                continue
            assert all(m is not None for m in makers), ("leaf merged with a result", xs)
            where = {pic.node_of[id(m)] for m in makers}
            if len({id(m) for m in makers}) == 1:    # one op's outputs (unstack)
                continue
            assert len(where) == 1, ("values of different ops merged", xs)
            op = pic.nodes[where.pop()]
            assert op.copies > 1
            outs = [next(o for o, r in enumerate(m.outputs) if r() is x)
                    for m, x in zip(makers, xs)]
            assert len(set(outs)) == 1, ("different outputs merged", xs)
            ks = [next(k for k, f in enumerate(op.members) if f is m) for m in makers]
            assert len(set(ks)) == len(ks), ("one copy's value twice", xs)


def _check_acyclic(pic):
    out = {}
    for e in pic.edges:
        if e.recurrent or e.kind is EdgeKind.LINK:
            continue
        out.setdefault(e.tail, []).append(e.head)
    state = {}
    for s in range(len(pic.nodes)):
        if state.get(s):
            continue
        stack = [(s, iter(out.get(s, ())))]
        state[s] = 1
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                state[v] = 2
                stack.pop()
                continue
            assert state.get(w) != 1, ("a cycle through", pic.nodes[w])
            if not state.get(w):
                state[w] = 1
                stack.append((w, iter(out.get(w, ()))))


def _check_backward(pic, outs, walk, options, body):
    """Every leaf that gets a gradient has exactly one labelled gradient node; the compact
    view has one node per rule reverse mode runs and one edge per gradient it sends."""
    seeds = [Variable(np.ones_like(y.data), requires_grad=False) for y in outs]
    grads, steps = {}, []
    for step in backward_steps(outs, seeds, create_graph=False, keep=None, grads=grads):
        steps.append((step.function, [i for i, g in enumerate(step.input_grads)
                                      if g is not None]))
    out_ids = {id(y) for y in outs}
    leaves = {id(x): x for x in grads if x.creator is None and id(x) not in out_ids}
    found = {}
    for n in pic.nodes:
        for m in n.members:
            if isinstance(m, Grad):
                found.setdefault(id(m.leaf), []).append(n)
    assert set(found) == set(leaves), ("leaf gradients drawn", len(found), "expected",
                                       len(leaves))
    for lid, ns in found.items():
        assert len(ns) == 1, ("a leaf's gradient drawn twice", leaves[lid])
        assert ns[0].kind in (NodeKind.GRAD, NodeKind.BOX)
    for n in pic.nodes:
        if n.kind is NodeKind.GRAD:
            line = next(t for t in body if t.startswith(f"\t{n.key} "))
            assert "<B>d " in line, ("an unlabelled gradient", line)
    if options.get("backward") in (True, "compact"):
        rule_node = {id(m.function): n.id for n in pic.nodes for m in n.members
                     if isinstance(m, Rule)}
        assert set(rule_node) == {id(f) for f, _ in steps}, "rules drawn != rules run"
        grad_node = {id(m.leaf): n.id for n in pic.nodes for m in n.members
                     if isinstance(m, Grad)}
        carried = {}
        grad_loops = {(id(m.tail.function), m.slot) for e in pic.edges
                      if e.kind is EdgeKind.GRAD and e.tail == e.head for m in e.members}
        for e in pic.edges:
            if e.kind is EdgeKind.GRAD:
                for m in e.members:
                    assert pic.node_of[id(m.tail)] == e.tail
                    assert pic.node_of[id(m.head)] == e.head
                    key = (id(m.tail.function), m.slot)
                    carried[key] = carried.get(key, 0) + 1
        for f, sent in steps:
            for i in sent:
                x = f.inputs[i]
                if x.creator is None:
                    if id(x) in out_ids:
                        continue
                    b = grad_node[id(x)]
                else:
                    b = rule_node[id(x.creator)]
                a = rule_node[id(f)]
                got = carried.get((id(f), i), 0)
                looped = (id(f), i) in grad_loops      # a mirrored step to its previous copy
                assert got == (0 if a == b and not looped else 1), ("gradient edge", f, i, got)
    if options.get("backward") == "expanded":
        # the drawn gradient is the one the recorded pass computes (create_graph=True)
        recorded = {}
        for _ in backward_steps(outs, seeds, create_graph=True, keep=None, grads=recorded):
            pass
        grads = recorded
        for n in pic.nodes:
            if n.kind is NodeKind.GRAD:
                for e in pic.edges:
                    if e.head == n.id and e.kind is EdgeKind.GRAD:
                        for m in e.members:
                            g, grad = m.tail, m.head
                            want = grads[grad.leaf]
                            want = want.data if hasattr(want, "data") else want.value().data
                            np.testing.assert_allclose(g.data, want, rtol=1e-6, atol=1e-9,
                                                       equal_nan=True)
