"""Folding: scopes deeper than `max_depth` (or, in the module view, every module call) become
one box each.

A box is one scope path as it was entered once: a `Module` call carries its call number in
its scope name (nn/module.py), so two calls of one module are two boxes. Ops recorded
under the same path that a path through other ops separates (``with name_scope("a")``
twice, with work outside in between that reads the first and feeds the second) are split
into parts, so that no box both feeds and reads what lies between: folding never draws a
cycle the computation does not have. Each op gets the *level* of its path: how many times
a path from the graph's start into it left the box; a box is one level of one path.
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
    """A recorded scope without empty names (``name_scope("enc.")`` records "enc" and "")."""
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
    for key, ops in groups.items():
        levels = _levels(tape, ops, by_gen, gens)
        parts = sorted(set(levels.values()))
        made = {}
        for lv in parts:
            fi0 = ops[0]
            path = scopes[fi0][:prefix[fi0]]
            box = Box(len(boxes), tuple(str(s) for s in path), key, key[0],
                      getattr(path[-1], "call", None))
            box.part, box.parts = parts.index(lv) + 1, len(parts)
            boxes.append(box)
            made[lv] = box
        for fi in ops:
            box = made[levels[fi]]
            box.ops.append(fi)
            box_of[fi] = box
    return box_of, boxes


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
