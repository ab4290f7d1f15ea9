"""Walk: every Function and Variable the roots were computed from, as indexed lists.

`Tape` is the graph as recorded: ``ins[f]`` the Variables op f read (by slot), ``outs[f]``
the Variables it made that are reachable (None for an output nobody drawn uses), and for
each Variable its consumers. Iterative and linear in the size of the graph; `program_order`
lists the ops in the order a program would have run them (roll.py reads repeats in it).
"""
from __future__ import annotations

__all__ = ["Tape", "program_order"]


class Tape:
    """Functions (`ops`) and Variables (`values`) reachable from `roots`, indexed."""

    def __init__(self, roots):
        self.ops, self.values = [], []
        self.op_index, self.value_index = {}, {}
        stack = list(reversed(roots))
        while stack:
            v = stack.pop()
            if id(v) in self.value_index:
                continue
            self.value_index[id(v)] = len(self.values)
            self.values.append(v)
            f = v.creator
            if f is not None and id(f) not in self.op_index:
                self.op_index[id(f)] = len(self.ops)
                self.ops.append(f)
                stack.extend(reversed(f.inputs))
        vi = self.value_index
        self.ins = [[vi[id(x)] for x in f.inputs] for f in self.ops]
        self.outs = []
        for f in self.ops:
            outs = []
            for ref in f.outputs:
                y = ref()
                outs.append(None if y is None else vi.get(id(y)))
            self.outs.append(outs)
        self.creator = [None] * len(self.values)     # value -> (op, output index)
        for fi, outs in enumerate(self.outs):
            for o, y in enumerate(outs):
                if y is not None:
                    self.creator[y] = (fi, o)
        self.consumers = [[] for _ in self.values]    # value -> [(op, slot)]
        for fi, ins in enumerate(self.ins):
            for slot, x in enumerate(ins):
                self.consumers[x].append((fi, slot))

    def op(self, f):
        return self.op_index.get(id(f))

    def value(self, v):
        return self.value_index.get(id(v))


def program_order(tape, roots, keep=None):
    """Op indices in the order a program computing `roots` would run them: depth first from
    each root, an op's inputs visited newest first (highest generation; ties in input
    order), so that in ``tanh(x_t @ Wx + h @ Wh)`` the recurrence through h is followed
    before x_t @ Wx and each step's ops come out together. `keep(op index)` filters."""
    order, opened = [], set()
    by_gen = {}

    def inputs(fi):
        ins = by_gen.get(fi)
        if ins is None:
            ins = sorted(tape.ins[fi], key=lambda x: -tape.values[x].generation)
            by_gen[fi] = ins
        return ins

    for root in roots:
        r = tape.value(root)
        if r is None or tape.creator[r] is None:
            continue
        f0 = tape.creator[r][0]
        if f0 in opened:
            continue
        opened.add(f0)
        stack = [(f0, 0)]
        while stack:
            fi, i = stack[-1]
            ins = inputs(fi)
            if i < len(ins):
                stack[-1] = (fi, i + 1)
                c = tape.creator[ins[i]]
                if c is not None and c[0] not in opened:
                    opened.add(c[0])
                    stack.append((c[0], 0))
            else:
                stack.pop()
                if keep is None or keep(fi):
                    order.append(fi)
    return order
