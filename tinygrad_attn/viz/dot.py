"""`make_dot`: the tape as a Graphviz diagram, built in named steps over a typed model.

    walk      every Function and Variable reachable from the outputs (walk.py); with
              ``backward="expanded"`` the ops the recorded backward pass made too
    place     each op's cluster path: its scope, under `Backward()` for the backward pass
    fold      scopes deeper than `max_depth` (in the module view, every module call) become
              boxes (fold.py)
    roll      repeated units (ops, boxes) found on the tape, to be drawn once (roll.py)
    assemble  a `Picture` (model.py): nodes and edges, each with the tape things it stands
              for; the compact backward pass mirrored onto the forward one
    emit      the DOT text (emit.py)

Each step reads what the ones before it made; none of them lays anything out.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..tape import Variable
from . import roll as rolling
from .diagram import Diagram
from .emit import emit
from .fold import fold_units, scope_parts
from .model import BACKWARD, Backward, Edge, EdgeKind, Grad, Link, NodeKind, Picture, \
    Roll, Rule, Scope, find_cycle
from .saved import saved as saved_of
from .style import attr_steps, fmt_shape, is_parameter
from .walk import Tape, program_order

__all__ = ["make_dot", "BACKWARD_VIEWS", "VIEWS"]

_RANKDIRS = ("TB", "LR", "BT", "RL")
BACKWARD_VIEWS = ("compact", "expanded")
VIEWS = ("ops", "modules")


# --- the diagram --------------------------------------------------------------------------
def make_dot(outputs, params=None, *, show_shapes=True, show_dtypes=False, group=True,
             max_depth=None, rankdir="TB", roll=True, backward=False, show_values=False,
             show_saved=False, view="ops"):
    """The graph that computed `outputs` as a `Diagram` (a `graphviz.Digraph`; nothing is
    laid out until you render or display it).

    outputs      a Variable or a list of Variables; drawn green.
    params       optional dict name -> Variable (``dict(model.named_parameters())``) or an
                 iterable of (name, Variable) pairs: these leaves are drawn as parameters and
                 labelled with their names.
    show_shapes  put shapes on Variables (and on folded boxes' inputs and outputs).
    show_dtypes  add each Variable's dtype.
    group        draw name scopes as nested clusters.
    max_depth    fold scopes nested deeper than this into one box each (0: every top-level
                 scope is a box; None: no folding).
    rankdir      "TB" (top to bottom), "LR", "BT" or "RL".
    roll         draw repeated identical sub-graphs (an LSTM's time steps) once, as an
                 orange cluster "× n" with its recurrent edges; False draws every copy.
    backward     also draw the backward pass (the outputs must be scalars; no `.grad` is
                 touched). True or "compact": one node per rule reverse mode runs, the
                 gradients flowing between them as edges labelled with their shapes, and
                 each leaf's gradient once, labelled ``d loss / d x``. "expanded": every
                 rule's primitive ops as recorded with ``create_graph=True``.
    show_values  a value summary on every Variable (and its `.grad` once backward has run;
                 a caption says which), and on every drawn gradient.
    show_saved   list on every op what its Function keeps alive for the backward pass
                 (name, shape, bytes; on the compact backward's nodes when it is drawn),
                 and the total in the caption.
    view         "ops" (every op) or "modules": one box per module call, the tensors
                 between them as edges labelled with their shapes (torchview's view);
                 `max_depth` says how deep calls are opened.

    ``dot.source`` is the DOT text, ``dot.picture`` the typed model it was written from;
    ``dot.render(...)``/``dot.pipe(...)``, or `render`, lay it out. In Jupyter the diagram
    displays itself.
    """
    outs = _as_outputs(outputs)
    names = _param_names(params)
    if rankdir not in _RANKDIRS:
        raise ValueError(f"make_dot: rankdir must be one of {', '.join(_RANKDIRS)}, "
                         f"got {rankdir!r}")
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int)
                                  or max_depth < 0):
        raise ValueError(f"make_dot: max_depth must be None or an int >= 0, got {max_depth!r}")
    mode = _backward_mode(backward)
    if view not in VIEWS:
        raise ValueError(f"make_dot: view must be 'ops' or 'modules', got {view!r}")
    if view == "modules" and mode is not None:
        raise ValueError("make_dot: view='modules' draws the forward pass; draw the backward "
                         "pass with view='ops' (the default)")
    opt = dict(show_shapes=bool(show_shapes), show_dtypes=bool(show_dtypes),
               group=bool(group), max_depth=max_depth, rankdir=rankdir, roll=bool(roll),
               backward=mode, show_values=bool(show_values), show_saved=bool(show_saved),
               view=view)
    build = _Build(outs, names, opt)
    picture = build.run()
    return Diagram.from_picture(picture, emit(picture))


def _backward_mode(backward):
    if backward is False or backward is None:
        return None
    if backward is True:
        return "compact"
    if isinstance(backward, str) and backward in BACKWARD_VIEWS:
        return backward
    raise ValueError(f"make_dot: backward must be False, True, 'compact' or 'expanded', got "
                     f"{backward!r}")


class _Build:
    """One diagram being built: each method is one step, reading what earlier ones made."""

    def __init__(self, outs, names, opt):
        self.outs, self.names, self.opt = outs, names, opt
        self.output_ids = {id(v) for v in outs}
        self.modules = opt["view"] == "modules"

    # --- walk --------------------------------------------------------------------------------
    def run(self):
        opt, outs = self.opt, self.outs
        mode = opt["backward"]
        self.rule_of = {}            # expanded: id(backward Function) -> forward Function
        self.grad_values = {}        # expanded: id(gradient Variable) -> [forward Variables]
        self.leaf_grads = []         # [(leaf, its gradient: Variable (expanded) or array)]
        self.ran = None
        roots = list(outs)
        if mode == "expanded":
            from .backward import record   # runs reverse mode: only diagrams that ask for it
            rec = record(outs)
            self.rule_of = rec.rule_of
            self.made_at = {id(f): k for k, f in enumerate(rec.functions)}
            for x, g in rec.grads.values():
                self.grad_values.setdefault(id(g), []).append(x)
                if x.creator is None and id(x) not in self.output_ids:
                    self.leaf_grads.append((x, g))
                    roots.append(g)     # (the recorded ops are what leads to these)
        self.tape = tape = Tape(roots)
        self.saved = {}
        if opt["show_saved"]:
            for f in tape.ops:
                self.saved[id(f)] = saved_of(f, self.names)
        if mode == "compact":
            from .backward import run
            self.ran = run(outs)
            for x, g in self.ran.grads.values():
                if x.creator is None and id(x) not in self.output_ids:
                    self.leaf_grads.append((x, g))
        self.place()
        self.fold()
        self.make_units()
        blocks = self.find_blocks() if opt["roll"] else []
        while True:
            picture = self.assemble(blocks)
            cycle = picture.has_cycle()
            if not cycle:
                break
            # a rolled block that would draw a cycle is not a loop after all: draw it out
            bad = {picture.nodes[i].block for i in _cycle_nodes(picture)} - {None}
            if not bad:
                raise AssertionError("make_dot: a cycle without a rolled block")
            blocks = [b for k, b in enumerate(blocks) if k not in bad]
        self._box_steps(picture)
        opts = picture.options
        opts.update(names=self.names, saved=self.saved, outputs=list(outs), depth=self.depth,
                    loss=(outs[0].name or "loss") if len(outs) == 1 else "outputs")
        loss = opts["loss"]
        # an intermediate's gradient by its name, else by the op that made it; a label
        # two gradients would share is left off (a leaf's has its own labelled node)
        found = {}
        for gid, xs in self.grad_values.items():
            inter = [x for x in xs if x.creator is not None and id(x) not in self.output_ids]
            if inter:
                x = max(inter, key=lambda v: v.generation)    # the first it was made for
                name = self.names.get(id(x)) or x.name
                if not name:
                    f = x.creator
                    name = f.name + (f"[{next(o for o, r in enumerate(f.outputs) if r() is x)}]"
                                     if len(f.outputs) > 1 else "")
                found[gid] = f"d {loss} / d {name}"
        counts = {}
        for text in found.values():
            counts[text] = counts.get(text, 0) + 1
        opts["grad_names"] = {g: t for g, t in found.items() if counts[t] == 1}
        return picture

    def _box_steps(self, picture):
        """How many steps each drawn box holds: its own ops rolled (a first and a last step
        that differ counted too), or a fused recurrent op's length."""
        tape = self.tape
        for node in picture.nodes:
            if node.kind is not NodeKind.BOX or node.role == "rule":
                continue
            box = node.info["boxes"][0]
            node.info["steps"] = _steps_inside(tape, box.ops, self.order_ops)

    # --- place -------------------------------------------------------------------------------
    def place(self):
        """The scope of every op (its forward op's, for ops of the recorded backward), empty
        names left out, and whether it belongs to the backward pass."""
        tape = self.tape
        self.scopes, self.is_bw = [], []
        for f in tape.ops:
            fwd = self.rule_of.get(id(f))
            self.is_bw.append(fwd is not None)
            self.scopes.append(scope_parts((fwd or f).scope))
        self.depth = max((len(s) for s in self.scopes), default=0)

    def path(self, scope, backward):
        """The cluster path for a scope: typed parts (never equal to a user's name)."""
        parts = (BACKWARD,) if backward else ()
        if self.opt["group"]:
            parts += tuple(Scope(str(s)) for s in scope)
        return parts

    # --- fold --------------------------------------------------------------------------------
    def fold(self):
        tape = self.tape
        self.box_of, self.boxes = fold_units(tape, self.scopes, self.is_bw,
                                             self.opt["max_depth"], self.modules)
        # which Variables a box hides: made and read only inside it (or a leaf read only by
        # it); the module view also hides what passes between units (drawn as edges)
        n = len(tape.values)
        self.hidden_in = [None] * n     # value -> Box hiding it
        self.through = [False] * n      # module view: an edge, not a node
        for v in range(n):
            x = tape.values[v]
            if id(x) in self.output_ids:
                continue
            readers = [self.box_of.get(fi) for fi, _ in tape.consumers[v]]
            c = tape.creator[v]
            if c is not None:
                mine = self.box_of.get(c[0])
                if mine is not None and all(b is mine for b in readers):
                    self.hidden_in[v] = mine
                elif self.modules and readers:
                    self.through[v] = True
            elif readers and readers[0] is not None and all(b is readers[0] for b in readers):
                # a parameter or constant only one box reads is inside it; inputs (the
                # data fed in, h0) stay drawn, so every call of a module looks alike
                if self._role(x) in ("param", "const"):
                    self.hidden_in[v] = readers[0]
        for box in self.boxes:
            box.hidden = [v for v in range(n) if self.hidden_in[v] is box]

    def _is_param(self, x):
        return id(x) in self.names or is_parameter(x)

    # --- units: what rolling and drawing work on ------------------------------------------------
    def make_units(self):
        """Units: every op outside a box, and every box; their inputs and outputs."""
        tape = self.tape
        self.order_ops = _program_order(tape, self.outs, self.leaf_grads, self.grad_values)
        pos = {fi: k for k, fi in enumerate(self.order_ops)}
        self.units = []            # (kind, op index or Box)
        self.unit_of_op = [None] * len(tape.ops)
        for fi in range(len(tape.ops)):
            if fi not in self.box_of:
                self.unit_of_op[fi] = len(self.units)
                self.units.append(("op", fi))
        self.unit_of_box = {}
        for box in self.boxes:
            box.ops.sort(key=lambda fi: pos.get(fi, len(pos)))
            u = len(self.units)
            self.unit_of_box[id(box)] = u
            self.units.append(("box", box))
            for fi in box.ops:
                self.unit_of_op[fi] = u
        self.unit_ins, self.unit_outs = [], []
        for kind, ref in self.units:
            if kind == "op":
                self.unit_ins.append(list(tape.ins[ref]))
                self.unit_outs.append(list(tape.outs[ref]))
                continue
            ins, outs, seen_in, seen_out = [], [], set(), set()
            inside = set(ref.ops)
            for fi in ref.ops:
                for x in tape.ins[fi]:
                    c = tape.creator[x]
                    if (c is not None and c[0] in inside) or self.hidden_in[x] is ref:
                        continue
                    if x not in seen_in:
                        seen_in.add(x)
                        ins.append(x)
            for fi in ref.ops:
                for y in tape.outs[fi]:
                    if y is not None and self.hidden_in[y] is not ref and y not in seen_out:
                        seen_out.add(y)
                        outs.append(y)
            self.unit_ins.append(ins)
            self.unit_outs.append(outs)
        self.out_slot = {}        # value -> (unit, output index)
        for u, outs in enumerate(self.unit_outs):
            for o, y in enumerate(outs):
                if y is not None:
                    self.out_slot[y] = (u, o)
        self.in_slots = {}        # value -> [(unit, slot)]
        for u, ins in enumerate(self.unit_ins):
            for i, x in enumerate(ins):
                self.in_slots.setdefault(x, []).append((u, i))
        self.unit_order = []
        seen = set()
        for fi in self.order_ops:
            u = self.unit_of_op[fi]
            if u not in seen:
                seen.add(u)
                self.unit_order.append(u)
        for u in range(len(self.units)):
            if u not in seen:
                self.unit_order.append(u)

    def unit_path(self, u):
        kind, ref = self.units[u]
        if kind == "op":
            return self.path(self.scopes[ref], self.is_bw[ref])
        return self.path(tuple(ref.path[:-1]), ref.backward)

    # --- roll --------------------------------------------------------------------------------
    def find_blocks(self):
        tape = self.tape
        codes = []
        for u, (kind, ref) in enumerate(self.units):
            ins = tuple(_value_code(tape.values[x]) for x in self.unit_ins[u])
            if kind == "op":
                f = tape.ops[ref]
                code, steps = attr_steps(f)
                codes.append(rolling.Unit((f.name, code, self.unit_path(u), ins),
                                          tuple(self.unit_ins[u]), tuple(self.unit_outs[u]),
                                          steps))
            else:
                inner = tuple(sorted((tape.ops[fi].name, tuple(
                    tape.values[x].shape for x in tape.ins[fi])) for fi in ref.ops))
                outs = tuple(_value_code(tape.values[y]) for y in self.unit_outs[u])
                codes.append(rolling.Unit(("box", ref.path, ref.backward, self.unit_path(u),
                                           inner, ins, outs),
                                          tuple(self.unit_ins[u]), tuple(self.unit_outs[u])))
        self.codes = codes
        return rolling.find_blocks(self.unit_order, codes, self.out_slot.get,
                                   lambda v: self.in_slots.get(v, ()), self._per_copy)

    def _per_copy(self, values):
        """An input slot fed by a different Variable in each copy: "merge" them into one
        node (alike leaves: the step's x_t; or the outputs of one op: unstack's), "keep"
        them apart (each drawn where it is made), or "reject" the block (a different
        parameter, or differently named leaf, per copy: layers, not steps)."""
        tape = self.tape
        xs = [tape.values[v] for v in values]
        leaves = [x.creator is None for x in xs]
        if all(leaves):
            if any(self._is_param(x) for x in xs) or len({x.name for x in xs}) > 1:
                return "reject"
        once = all(len(tape.consumers[v]) == 1 and id(tape.values[v]) not in self.output_ids
                   and self.hidden_in[v] is None for v in values)
        if all(leaves) and once:
            return "merge"
        makers = {tape.creator[v][0] if tape.creator[v] else None for v in values}
        if not any(leaves) and once and len(makers) == 1 and \
                self.unit_of_op[next(iter(makers))] is not None and \
                self.units[self.unit_of_op[next(iter(makers))]][0] == "op":
            return "merge"
        return "keep"

    # --- assemble ------------------------------------------------------------------------------
    def assemble(self, blocks):
        """The `Picture`: nodes for units and Variables (one per copy position when rolled),
        edges standing for the tape's edges, and the backward pass."""
        tape, opt = self.tape, self.opt
        pic = Picture()
        pic.options = dict(opt)
        self.pic = pic
        self.blocks = blocks
        self.rule_obj, self.grad_obj = {}, {}
        self.rep = {}             # unit -> (block, copy, position)
        self.marks = []
        self.copy_of = {}         # id(Function or Variable) -> its copy in a rolled block
        for b, block in enumerate(blocks):
            for k, copy in enumerate(block.copies):
                for j, u in enumerate(copy):
                    self.rep[u] = (b, k, j)
                    kind, ref = self.units[u]
                    for fi in ([ref] if kind == "op" else ref.ops):
                        self.copy_of[id(tape.ops[fi])] = k
                        for y in tape.outs[fi]:
                            if y is not None:
                                self.copy_of[id(tape.values[y])] = k
            common = _common_prefix([self.unit_path(u) for u in block.copies[0]])
            mark = Roll(b, len(block.copies), block.period)
            self.marks.append((mark, common))
            pic.blocks.append((mark, common, block))
        self._unit_nodes()
        self.value_node = [None] * len(tape.values)
        self._merged_inputs()
        self._rolled_values()
        for v in range(len(tape.values)):
            if self.value_node[v] is None and self.hidden_in[v] is None and \
                    not self.through[v]:
                self._value_node(v)
        for v in range(len(tape.values)):      # hidden in a box: the box stands for it
            box = self.hidden_in[v]
            if box is not None:
                pic.node_of.setdefault(id(tape.values[v]),
                                       self.unit_node[self.unit_of_box[id(box)]])
            elif self.through[v]:
                pic.node_of.setdefault(id(tape.values[v]),
                                       self.unit_node[self.unit_of_op[tape.creator[v][0]]])
        self._data_edges()
        self.mirrored = set()
        if opt["backward"] == "compact":
            self._compact_backward()
        elif opt["backward"] == "expanded":
            self._expanded_sinks()
        self._edge_labels()
        return pic

    def _unit_nodes(self):
        tape, pic, blocks = self.tape, self.pic, self.blocks
        self.unit_node = [None] * len(self.units)
        for u in self.unit_order:
            at = self.rep.get(u)
            if at is not None and at[1] > 0:
                continue
            kind, ref = self.units[u]
            copies = [u] if at is None else [c[at[2]] for c in blocks[at[0]].copies]
            block = None if at is None else at[0]
            if kind == "op":
                node = pic.add_node(NodeKind.OP, self._rolled_path(u),
                                    [tape.ops[self.units[c][1]] for c in copies],
                                    copies=len(copies), block=block,
                                    role="backward" if self.is_bw[ref] else "forward")
            else:
                node = pic.add_node(NodeKind.BOX, self._rolled_path(u),
                                    [tape.ops[fi] for c in copies for fi in self.units[c][1].ops],
                                    copies=len(copies), block=block,
                                    role="backward" if ref.backward else "forward")
                node.info["boxes"] = [self.units[c][1] for c in copies]
                node.info["copy_members"] = [[tape.ops[fi] for fi in self.units[c][1].ops]
                                             for c in copies]
                node.info["ins"] = [tape.values[x] for x in self.unit_ins[u]]
                node.info["outs"] = [tape.values[y] for y in self.unit_outs[u]]
                node.info["hidden"] = [tape.values[v] for v in ref.hidden]
            for c in copies:
                self.unit_node[c] = node.id

    def _rolled_path(self, u):
        path = self.unit_path(u)
        at = self.rep.get(u)
        if at is None:
            return path
        mark, common = self.marks[at[0]]
        return path[:len(common)] + (mark,) + path[len(common):]

    def _merged_inputs(self):
        """One node for the per-copy inputs a block merges (x_t of every step)."""
        tape, pic = self.tape, self.pic
        for b, block in enumerate(self.blocks):
            for j, i, values, decision in block.per_copy:
                if decision != "merge" or any(self.value_node[v] is not None or self.through[v]
                                              or self.hidden_in[v] is not None for v in values):
                    continue        # (the module view draws what passes between units as edges)
                xs = [tape.values[v] for v in values]
                if xs[0].creator is None:
                    place = _common_prefix([self._rolled_path(u)
                                            for u, _ in self.in_slots[values[0]]])
                else:
                    place = self._rolled_path(self.unit_of_op[tape.creator[values[0]][0]])
                node = pic.add_node(NodeKind.VALUE, place, xs, copies=len(xs),
                                    role=self._role(xs[0]), block=b)
                node.info["per_copy"] = True
                for k, v in enumerate(values):
                    self.value_node[v] = node.id
                    self.copy_of[id(tape.values[v])] = k

    def _drawable(self, y):
        return y is not None and self.value_node[y] is None and self.hidden_in[y] is None \
            and not self.through[y] and id(self.tape.values[y]) not in self.output_ids

    def _rolled_values(self):
        """One node for what every copy of a rolled unit makes at one output."""
        tape, pic = self.tape, self.pic
        for b, block in enumerate(self.blocks):
            for j, u0 in enumerate(block.copies[0]):
                for o in range(len(self.unit_outs[u0])):
                    vs = []
                    for copy in block.copies:
                        outs = self.unit_outs[copy[j]]
                        y = outs[o] if o < len(outs) else None
                        if self._drawable(y):
                            vs.append(y)
                    if not vs:
                        continue
                    xs = [tape.values[y] for y in vs]
                    node = pic.add_node(NodeKind.VALUE, self._rolled_path(u0), xs,
                                        copies=len(xs), role=self._role(xs[0]), block=b)
                    for y in vs:
                        self.value_node[y] = node.id

    def _value_node(self, v):
        tape, pic = self.tape, self.pic
        x = tape.values[v]
        made = self.out_slot.get(v)
        if made is not None:
            at = self.rep.get(made[0])
            # an output made by a rolled unit is drawn apart, just outside the block
            place = self.unit_path(made[0]) if at is None else self.marks[at[0]][1]
        elif tape.creator[v] is not None:     # made inside a box, read outside it
            place = self._rolled_path(self.unit_of_op[tape.creator[v][0]])
        else:
            readers = [self._rolled_path(u) for u, _ in self.in_slots.get(v, ())]
            place = _strip_rolls(_common_prefix(readers)) if readers else ()
        node = pic.add_node(NodeKind.VALUE, place, [x], role=self._role(x))
        self.value_node[v] = node.id

    def _role(self, x):
        if id(x) in self.output_ids:
            return "output"
        if id(x) in self.grad_values:
            return "grad"
        if x.creator is not None:
            return "var"
        if self._is_param(x):
            return "param"
        if not x.requires_grad and x.name is None:
            return "const"
        return "input"

    def _add(self, tail, head, kind, link, slot=None, recurrent=False):
        if tail is None or head is None or (tail == head and not recurrent):
            return          # inside one box (a rolled unit feeding its next copy: a loop)
        a, b = self.pic.nodes[tail].block, self.pic.nodes[head].block
        if a != b and (b is None or self.pic.nodes[head].kind is NodeKind.VALUE):
            slot = None     # out of a rolled block: one edge carries every copy (into a
            #                 stack, each copy's h is another input slot)
        key = (tail, head, kind, slot, recurrent)
        e = self.agg.get(key)
        if e is None:
            e = self.agg[key] = Edge(tail, head, kind, [], slot, recurrent)
            self.pic.edges.append(e)
        e.members.append(link)

    def _data_edges(self):
        """Variable -> unit per input, unit -> Variable per output; in the module view,
        unit -> unit for what passes between them."""
        tape, pic = self.tape, self.pic
        self.agg = {}
        add = self._add
        for u, (kind, ref) in enumerate(self.units):
            head = self.unit_node[u]
            at = self.rep.get(u)
            ops = [ref] if kind == "op" else ref.ops
            inside = set(ops)
            for fi in ops:
                f = tape.ops[fi]
                for slot, x in enumerate(tape.ins[fi]):
                    c = tape.creator[x]
                    if kind == "box" and (self.hidden_in[x] is ref or
                                          (c is not None and c[0] in inside)):
                        continue
                    link = Link(tape.values[x], f, slot)
                    rec = self._recurrent(x, at)
                    if self.through[x]:
                        # into an op, one edge per input slot (as in the ops view): a rolled
                        # op's copies may read one unit at different slots, and each edge
                        # says which copies it feeds
                        add(self.unit_node[self.unit_of_op[c[0]]], head, EdgeKind.DATA, link,
                            slot if kind == "op" else None, rec)
                    else:
                        merged = pic.nodes[self.value_node[x]].info.get("per_copy") \
                            if self.value_node[x] is not None else False
                        add(self.value_node[x], head, EdgeKind.DATA, link,
                            slot if kind == "op" and not merged else None, rec)
                for o, y in enumerate(tape.outs[fi]):
                    if y is None or self.through[y] or self.hidden_in[y] is not None:
                        continue
                    merged = pic.nodes[self.value_node[y]].info.get("per_copy")
                    add(head, self.value_node[y], EdgeKind.DATA, Link(f, tape.values[y], o),
                        o if kind == "op" and not merged else None)

    def _recurrent(self, x, at):
        """Whether value x, read by a unit at (block, copy, position) `at`, was made by the
        previous copy of the same block."""
        if at is None:
            return False
        made = self.out_slot.get(x)
        src = self.rep.get(made[0]) if made is not None else None
        return src is not None and src[0] == at[0] and src[1] == at[1] - 1

    def _rule(self, f):
        r = self.rule_obj.get(id(f))
        if r is None:
            r = self.rule_obj[id(f)] = Rule(f)
        return r

    def _grad(self, x):
        g = self.grad_obj.get(id(x))
        if g is None:
            g = self.grad_obj[id(x)] = Grad(x)
        return g

    # --- the backward pass -----------------------------------------------------------------------
    def _compact_backward(self):
        """One node per rule reverse mode ran, mirrored onto the forward drawing (a rolled
        block's rules roll with it when every copy ran alike); gradients as edges; one
        node per leaf's gradient."""
        tape, pic, ran = self.tape, self.pic, self.ran
        ran_of = {id(f): (tuple(received), tuple(sent)) for f, received, sent in ran.steps}
        for b, block in enumerate(self.blocks):
            if all(len({self._ran_pattern(copy[j], ran_of) for copy in block.copies}) == 1
                   for j in range(block.period)):
                self.mirrored.add(b)
                mark, common = self.marks[b]
                pic.blocks.append((mark, (BACKWARD,) + _strip_backward(common), block))
        rule_node = {}                 # (block, position) or unit -> node id
        self.rule_node_of = {}         # id(forward Function) -> node id
        for f, _, _ in ran.steps:
            u = self.unit_of_op[tape.op(f)]
            at = self.rep.get(u)
            kind, ref = self.units[u]
            if at is not None and at[0] in self.mirrored:
                key, block = ("block", at[0], at[2]), at[0]
                place = (BACKWARD,) + _strip_backward(self._rolled_path(u))
            else:
                key, block = ("unit", u), None
                place = (BACKWARD,) + _strip_backward(_strip_rolls(self.unit_path(u)))
            nid = rule_node.get(key)
            if nid is None:
                node = pic.add_node(NodeKind.RULE if kind == "op" else NodeKind.BOX, place, (),
                                    block=block, role="rule")
                node.info.update(forward=self.unit_node[u], rules=[], boxes=[])
                if kind == "box":
                    node.info.update(ins=[], outs=[], hidden=[])
                nid = rule_node[key] = node.id
            node = pic.nodes[nid]
            rule = self._rule(f)
            node.members += (rule,)
            node.info["rules"].append(f)
            if kind == "box" and all(ref is not b for b in node.info["boxes"]):
                node.info["boxes"].append(ref)
            node.copies = len(node.info["boxes"]) if kind == "box" else len(node.members)
            pic.node_of.setdefault(id(rule), nid)
            self.rule_node_of[id(f)] = nid
            if at is not None and at[0] in self.mirrored:
                self.copy_of[id(rule)] = at[1]
        sink_of = self._sinks(lambda x, v: [self.rule_node_of.get(id(tape.ops[fi]))
                                            for fi, _ in tape.consumers[v]])
        add = self._add
        # the seed: each output starts the pass at the rule of the op that made it
        for y in self.outs:
            if y.creator is not None and id(y.creator) in self.rule_node_of:
                add(self.value_node[tape.value(y)], self.rule_node_of[id(y.creator)],
                    EdgeKind.SEED, Link(y, self._rule(y.creator), None))
        # gradients flowing from a rule to the rule (or leaf) of each input it sent one to
        for f, _, sent in ran.steps:
            tail = self.rule_node_of[id(f)]
            at = self.rep.get(self.unit_of_op[tape.op(f)])
            for i in sent:
                x = f.inputs[i]
                c = x.creator
                if c is None:
                    head = sink_of.get(id(x))
                    link = Link(self._rule(f), self._grad(x), i)
                else:
                    head = self.rule_node_of.get(id(c))
                    link = Link(self._rule(f), self._rule(c), i)
                rec = False
                if c is not None and at is not None and at[0] in self.mirrored:
                    src = self.rep.get(self.unit_of_op[tape.op(c)])
                    rec = src is not None and src[0] == at[0] and src[1] == at[1] - 1
                add(tail, head, EdgeKind.GRAD, link, None, rec)
        # (no dashed link from each forward op to its rule: the backward cluster mirrors the
        # forward scopes and names each rule by its op; links across the whole picture made
        # Graphviz's layout 20 times slower and the picture hard to read)

    def _sinks(self, box_readers):
        """A labelled node per leaf's gradient (a leaf merged per copy: one node for all);
        a leaf hidden in a box has its gradient in the box's backward node."""
        tape, pic = self.tape, self.pic
        sink_of = {}
        for x, g in self.leaf_grads:
            v = tape.value(x)
            if v is None:
                continue
            grad = self._grad(x)
            box = self.hidden_in[v]
            if box is not None and box_readers is not None:
                readers = [r for r in box_readers(x, v) if r is not None]
                nid = readers[0] if readers else self.unit_node[self.unit_of_box[id(box)]]
                pic.nodes[nid].members += (grad,)
                pic.node_of.setdefault(id(grad), nid)
                continue
            vnode = self.value_node[v]
            key = ("node", vnode) if vnode is not None and pic.nodes[vnode].copies > 1 \
                else ("x", v)
            nid = sink_of.get(key)
            if nid is None:
                place = (BACKWARD,) + _strip_backward(_strip_rolls(
                    pic.nodes[vnode].place if vnode is not None else ()))
                node = pic.add_node(NodeKind.GRAD, place, (), role="grad")
                node.info.update(leaf=x, values=[])
                nid = sink_of[key] = node.id
            node = pic.nodes[nid]
            node.members += (grad,)
            node.copies = len(node.members)
            node.info["values"].append(g.data if isinstance(g, Variable) else g)
            pic.node_of.setdefault(id(grad), nid)
            sink_of[id(x)] = nid
            self.copy_of[id(grad)] = self.copy_of.get(id(x))
        return sink_of

    def _ran_pattern(self, u, ran_of):
        kind, ref = self.units[u]
        ops = [ref] if kind == "op" else ref.ops
        return tuple(sorted((ran_of.get(id(self.tape.ops[fi])) or ((), ())) for fi in ops))

    def _expanded_sinks(self):
        """Each leaf's gradient once: a node fed by the Variable holding its value."""
        tape, pic = self.tape, self.pic
        grads = {id(x): g for x, g in self.leaf_grads}

        # every leaf's gradient gets its node, even when the leaf is folded away: the
        # recorded ops that make it may lie anywhere
        sink_of = self._sinks(None)
        for x, g in self.leaf_grads:
            gv = tape.value(g)
            if id(x) in sink_of and gv is not None:
                self._add(self._node_of_value(gv), sink_of[id(x)], EdgeKind.GRAD,
                          Link(g, self._grad(x), None))
        # a dashed link from each forward op to the first op its rule recorded
        first = {}
        for fi, f in enumerate(tape.ops):
            fwd = self.rule_of.get(id(f))
            fo = tape.op(fwd) if fwd is not None else None
            if fo is not None and (fo not in first or self.made_at[id(f)] <
                                   self.made_at[id(tape.ops[first[fo]])]):
                first[fo] = fi
        for fo, fi in first.items():
            self._add(self.unit_node[self.unit_of_op[fo]], self.unit_node[self.unit_of_op[fi]],
                      EdgeKind.LINK, Link(tape.ops[fo], tape.ops[fi], None))

    def _node_of_value(self, v):
        if self.value_node[v] is not None:
            return self.value_node[v]
        box = self.hidden_in[v]
        if box is not None:
            return self.unit_node[self.unit_of_box[id(box)]]
        return self.unit_node[self.unit_of_op[self.tape.creator[v][0]]]

    # --- labels on edges ----------------------------------------------------------------------
    def _edge_labels(self):
        """Edges that carry some of a rolled node's copies say how many (×n), or which;
        gradients say their shapes; the module view's edges the shapes they carry."""
        pic = self.pic
        for e in pic.edges:
            if e.kind is EdgeKind.LINK:
                continue
            if e.recurrent:
                e.label = "next step" if e.kind is EdgeKind.DATA else "previous step"
                continue
            parts = []
            t, h = pic.nodes[e.tail], pic.nodes[e.head]
            if e.kind is EdgeKind.GRAD:
                parts.append(_grad_label(e.members))
            elif self.modules and e.kind is EdgeKind.DATA and \
                    NodeKind.VALUE not in (t.kind, h.kind):
                parts.append(_shapes_label(e.members, self.opt["show_dtypes"]))
            if not (t.block == h.block and t.block is not None):
                # the copies of what reads along the edge, else of what it comes from
                rolled, side = (h, 1) if h.block is not None else (t, 0)
                if rolled.block is not None:
                    ks = {self.copy_of.get(id(m[side])) for m in e.members} - {None}
                    if not (side == 1 and len(ks) == rolled.copies):
                        # (every copy reading one shared thing needs no label)
                        parts.append(_copies_label(ks, rolled.copies))
            text = " ".join(p for p in parts if p)
            e.label = text or None


# --- helpers ---------------------------------------------------------------------------------
def _steps_inside(tape, ops, order_ops):
    """The number of time steps among `ops` (a box's): the longest rolled block found in
    them, plus a first and a last step that do less work (h0 = 0 skips h0 @ Wh) but make
    the same recurrent state; a fused recurrent op's length; 0 if none."""
    best = 0
    for fi in ops:
        f = tape.ops[fi]
        if f.name == "lstm" and f.inputs and f.inputs[0].ndim == 3:
            best = max(best, f.inputs[0].shape[1])
    inside = set(ops)
    order = [fi for fi in order_ops if fi in inside]
    if len(order) < rolling.MIN_COPIES:
        return best
    units = {}
    for fi in order:
        f = tape.ops[fi]
        code, steps = attr_steps(f)
        units[fi] = rolling.Unit((f.name, code, tuple(_value_code(x) for x in f.inputs)),
                                 tuple(tape.ins[fi]), tuple(tape.outs[fi]), steps)

    def producer(v):
        c = tape.creator[v]
        return c if c is not None and c[0] in inside else None

    def consumers(v):
        return [(fi, s) for fi, s in tape.consumers[v] if fi in inside]

    for block in rolling.find_blocks(order, units, producer, consumers, lambda vs: "keep"):
        n = len(block.copies)
        first, last = block.copies[0], block.copies[-1]
        lead = trail = False
        for j, i in block.recurrent:
            # the recurrent input of the first copy made by an op like the one that makes it
            # in later copies: a first step
            made = producer(units[first[j]].ins[i])
            src = producer(units[block.copies[1][j]].ins[i])
            if made is not None and made[0] not in first and src is not None and \
                    units[made[0]].code[0] == units[src[0]].code[0]:
                lead = True
            # what the last copy makes there read by an op like the reader: a last step
            y = units[block.copies[1][j]].ins[i]
            src = producer(y)
            pos = [k for k, u in enumerate(block.copies[0]) if u == src[0]] if src else []
            if src and pos:
                out = units[last[pos[0]]].outs[src[1]]
                rolled = {u for copy in block.copies for u in copy}
                if out is not None and any(units[c].code[0] == units[first[j]].code[0]
                                           and c not in rolled for c, s in consumers(out)
                                           if s == i):
                    trail = True
        best = max(best, n + lead + trail)
    return best


def _program_order(tape, outs, leaf_grads, grad_values):
    roots = list(outs)
    roots += [g for _, g in leaf_grads if isinstance(g, Variable)]
    roots += [v for v in tape.values if id(v) in grad_values]
    order = program_order(tape, roots)
    seen = set(order)
    order += [fi for fi in range(len(tape.ops)) if fi not in seen]
    return order


def _value_code(x):
    if x.creator is None and not x.requires_grad and x.name is None and x.data.size == 1:
        return (x.shape, x.dtype.str, x.data.item())   # a constant: its value counts
    return (x.shape, x.dtype.str)


def _common_prefix(paths):
    if not paths:
        return ()
    first = paths[0]
    n = len(first)
    for p in paths[1:]:
        k = 0
        while k < min(n, len(p)) and p[k] == first[k]:
            k += 1
        n = k
    return tuple(first[:n])


def _strip_rolls(path):
    """A path cut at its first rolled block: a Variable shared by every copy sits outside."""
    for k, part in enumerate(path):
        if isinstance(part, Roll):
            return tuple(path[:k])
    return tuple(path)


def _strip_backward(path):
    return tuple(p for p in path if not isinstance(p, Backward))


def _cycle_nodes(picture):
    return find_cycle(len(picture.nodes), [
        (e.tail, e.head) for e in picture.edges
        if not e.recurrent and e.kind is not EdgeKind.LINK]) or []


def _copies_label(ks, n):
    if not ks or n <= 1:
        return None
    if len(ks) == n:
        return f"×{n}"
    if len(ks) == 1:
        k = next(iter(ks))
        return "last" if k == n - 1 else ("first" if k == 0 else f"copy {k + 1}")
    return f"×{len(ks)}"


def _shapes_label(members, dtypes):
    shapes = []
    for m in members:
        x = m.tail if isinstance(m.tail, Variable) else m.head
        if isinstance(x, Variable):
            s = fmt_shape(x.shape) + (" " + x.dtype.name if dtypes else "")
            if s not in shapes:
                shapes.append(s)
    return ", ".join(shapes[:3]) + (" …" if len(shapes) > 3 else "")


def _grad_label(members):
    shapes = []
    for m in members:
        f = m.tail.function if isinstance(m.tail, Rule) else None
        if f is None or m.slot is None:
            continue
        s = fmt_shape(f.inputs[m.slot].shape)
        if s not in shapes:
            shapes.append(s)
    return ", ".join(shapes[:3])


# --- arguments ----------------------------------------------------------------------------
def _as_outputs(outputs):
    if isinstance(outputs, Variable):
        return [outputs]
    if isinstance(outputs, (list, tuple)):
        outs = []
        for i, v in enumerate(outputs):
            if not isinstance(v, Variable):
                raise TypeError(f"make_dot: outputs[{i}] is a {type(v).__name__}, "
                                "not a Variable")
            if all(v is not w for w in outs):
                outs.append(v)
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
