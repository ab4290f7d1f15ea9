"""Folding: scopes deeper than `max_depth` (or, in the module view, every module call) become
one box each.

A box is one scope path as it was entered once: a `Module` call carries its call number in
its scope name (nn/module.py), so two calls of one module are two boxes. Ops recorded
under the same path that a path through other ops separates (``with name_scope("a")``
twice, with work outside in between that reads the first and feeds the second) are split
into parts, so that no box both feeds and reads what lies between: folding never draws a
cycle the computation does not have. Each op gets the *level* of its path: how many times
a path from the graph's start into it left the box; a box is one level of one path. Two
boxes can still feed each other without any path leaving one and coming back (each reads
what the other makes on an unrelated chain): such boxes are cut further by depth
(`_split_cycles`) until no boxes together draw a cycle either.
"""
from __future__ import annotations

import bisect

__all__ = ["Box", "fold_units"]


class Box:
    """A folded scope: `path` (the scope names), `part` (1, 2, ... when one path is
    entered several times), the ops it hides, and the Variables it hides."""

    __slots__ = ("index", "path", "key", "backward", "call", "part", "parts", "ops",
                 "hidden")

    def __init__(self, index, path, key, backward, call):
        self.index, self.path, self.key, self.backward = index, path, key, backward
        self.call = call
        self.part = self.parts = 1
        self.ops = []
        self.hidden = []


def scope_parts(scope):
    """A recorded scope without empty names (`name_scope` refuses them; a scope set some
    other way may still hold one, and an empty name is no cluster)."""
    return tuple(s for s in scope if s != "")


def call_key(parts):
    """The scope path with each module call's number: tells two calls of one module apart."""
    return tuple((str(s), getattr(s, "call", None)) for s in parts)


def fold_units(tape, scopes, backward, max_depth, modules):
    """{op index: Box} for every op that is folded, and the boxes.

    `scopes[fi]` is op fi's scope (empty names dropped), `backward[fi]` whether it belongs
    to the drawn backward pass. `modules`: the module view (every op inside a scope is
    folded into the box of its innermost call, or its depth-`max_depth + 1` ancestor)."""
    n = len(tape.ops)
    prefix = [None] * n
    if modules:
        keys = [call_key(s) for s in scopes]
        parents = set()
        for k in keys:
            for d in range(1, len(k)):
                parents.add(k[:d])
        for fi, s in enumerate(scopes):
            if not s:
                continue
            if max_depth is not None and len(s) >= max_depth + 1:
                prefix[fi] = max_depth + 1       # folded into its ancestor at that depth
            elif keys[fi] not in parents:
                prefix[fi] = len(s)              # a call with no calls inside: one box
            # else: an op of a module that calls others (a concat between them): as is
    elif max_depth is not None:
        for fi, s in enumerate(scopes):
            if len(s) > max_depth:
                prefix[fi] = max_depth + 1
    groups = {}
    for fi in range(n):
        if prefix[fi] is not None:
            key = (backward[fi], call_key(scopes[fi][:prefix[fi]]))
            groups.setdefault(key, []).append(fi)
    if not groups:
        return {}, []
    by_gen = sorted(range(n), key=lambda fi: tape.ops[fi].generation)
    gens = [tape.ops[fi].generation for fi in by_gen]
    box_of, boxes = {}, []
    order = {}                  # id(box) -> where it comes among the parts of its path
    for key, ops in groups.items():
        levels = _levels(tape, ops, by_gen, gens)
        made = {}
        for lv in sorted(set(levels.values())):
            fi0 = ops[0]
            path = scopes[fi0][:prefix[fi0]]
            box = Box(len(boxes), tuple(str(s) for s in path), key, key[0],
                      getattr(path[-1], "call", None))
            boxes.append(box)
            made[lv] = box
            order[id(box)] = (lv,)
        for fi in ops:
            box = made[levels[fi]]
            box.ops.append(fi)
            box_of[fi] = box
    boxes = _split_cycles(tape, box_of, boxes, order, by_gen)
    by_key = {}
    for box in boxes:
        by_key.setdefault(box.key, []).append(box)
    for parts in by_key.values():
        parts.sort(key=lambda b: order[id(b)])
        for k, box in enumerate(parts):
            box.part, box.parts = k + 1, len(parts)
    return box_of, boxes


def _split_cycles(tape, box_of, boxes, order, by_gen):
    """The boxes, split further where boxes together would draw a cycle.

    Each box alone is never left and re-entered (`_levels`), but two can still feed each
    other: ``a = f(x)`` in "dec", ``b = g(a)`` in "enc", ``c = h(x)`` in "enc", ``d = k(c)``
    in "dec" has no path leaving either box and coming back, yet "dec" -> "enc" -> "dec".
    For each set of units (boxes and ops) that reach one another, every op gets a depth:
    the most times a path into it within the set crossed from one unit to another. Ops of
    one box at one depth stay together; any edge between units of the set then goes from
    a lower depth to a higher one, so the set draws no cycle. One box of each such set is
    split at a time (the smallest that has ops at two depths), and the units are checked
    again: most cycles need one box cut in two."""
    n_box = len(boxes)
    while True:
        unit = [box_of[fi].index if fi in box_of else n_box + fi for fi in range(len(tape.ops))]
        sccs = _cyclic_components(tape, unit, n_box + len(tape.ops))
        if not sccs:
            return boxes
        for members in sccs:
            depth = {}
            for fi in by_gen:
                if unit[fi] not in members:
                    continue
                d = 0
                for x in tape.ins[fi]:
                    c = tape.creator[x]
                    if c is not None and c[0] in depth:
                        d = max(d, depth[c[0]] + (unit[c[0]] != unit[fi]))
                depth[fi] = d
            candidates = []
            for b in members:
                if b < n_box:
                    levels = {depth[fi] for fi in boxes[b].ops}
                    if len(levels) > 1:
                        candidates.append((len(boxes[b].ops), b))
            _, b = min(candidates)      # (one exists: split all, and no cycle is left)
            old = boxes[b]
            pieces = {}
            for fi in old.ops:
                pieces.setdefault(depth[fi], []).append(fi)
            first = order[id(old)]
            for k, d in enumerate(sorted(pieces)):
                if k == 0:
                    box = old
                else:
                    box = Box(len(boxes), old.path, old.key, old.backward, old.call)
                    boxes.append(box)
                box.ops = pieces[d]
                order[id(box)] = first + (d,)
                for fi in box.ops:
                    box_of[fi] = box
        n_box = len(boxes)


def _cyclic_components(tape, unit, n):
    """The strongly connected components of more than one unit of the graph whose nodes
    are `unit` numbers and whose edges are the tape's edges between ops of different units,
    as sets (Kosaraju's algorithm, iterative)."""
    out = [set() for _ in range(n)]
    for fi, ins in enumerate(tape.ins):
        for x in ins:
            c = tape.creator[x]
            if c is not None and unit[c[0]] != unit[fi]:
                out[unit[c[0]]].add(unit[fi])
    done, finish = [False] * n, []
    for s in range(n):
        if done[s] or not out[s]:
            continue
        done[s] = True
        stack = [(s, iter(out[s]))]
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                stack.pop()
                finish.append(v)
            elif not done[w]:
                done[w] = True
                stack.append((w, iter(out[w])))
    back = [[] for _ in range(n)]
    for v in range(n):
        for w in out[v]:
            back[w].append(v)
    comp, found = [None] * n, []
    for s in reversed(finish):
        if comp[s] is not None:
            continue
        comp[s] = s
        members, stack = {s}, [s]
        while stack:
            v = stack.pop()
            for w in back[v]:
                if comp[w] is None:
                    comp[w] = s
                    members.add(w)
                    stack.append(w)
        if len(members) > 1:
            found.append(members)
    return found


def _levels(tape, ops, by_gen, gens):
    """{op: level} for the ops of one box path: how many times a path into the op left
    the box and came back (0 when nothing outside lies between its ops)."""
    inside = set(ops)
    lo = min(tape.ops[fi].generation for fi in ops)
    hi = max(tape.ops[fi].generation for fi in ops)
    start, stop = bisect.bisect_left(gens, lo), bisect.bisect_right(gens, hi)
    level = {}              # op -> level, for ops at or after the box's first
    value_level = {}
    for k in range(start, stop):
        fi = by_gen[k]
        lv = 0
        mine = fi in inside
        for x in tape.ins[fi]:
            c = tape.creator[x]
            if c is None:
                continue
            lx = value_level.get(x)
            if lx is None:
                continue
            if c[0] in inside and not mine:
                lx += 1
            if lx > lv:
                lv = lx
        if lv or mine:
            level[fi] = lv
            for y in tape.outs[fi]:
                if y is not None:
                    value_level[y] = lv
    return {fi: level.get(fi, 0) for fi in ops}
