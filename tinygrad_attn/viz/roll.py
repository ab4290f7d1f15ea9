"""Rolling: repeated identical sub-graphs (time steps) found on the tape, to be drawn once.

An LSTM unrolled over 29 steps records the same dozen ops 29 times. The units (ops, or
folded module calls) are read in *program order* (walk.py: a step's ops come out together)
and each gets a code: op, attributes with their integers left out, scope, input shapes and
dtypes. Time steps then show up as a tandem repeat of codes, found for every period with one
vectorised comparison ``code[i] == code[i + p]``.

A repeat is accepted only if its copies are wired alike: after lining the copies up (ops of
equal code that tie in program order are matched by their wiring), every input of the unit
at position j comes, in every copy, from the same place: the same position of the same
copy, the same position of the previous copy (a *recurrent* input: h, c), or outside the
block (one shared Variable such as Wh, or one per copy such as the step's slice of the
input). The integers left out of the code must step evenly from copy to copy (``xs[:, t]``
with t = 0, 1, 2, ...) or stay equal. Each rotation of a repeat grows by one copy before and
after for as long as the wiring finds one (the first step, whose ops tie in program order
where h0 is a leaf, is one when it does the same work); the rotation with the most copies
wins, then the one with the fewest edges from one copy to the next (h and c, not half a
cell). Among overlapping repeats the one covering most units wins (the shortest period on
ties). At least 3 copies.

Imports nothing of the library: it reads units through the small records it is given.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

MIN_COPIES = 3      # two equal ops in a row (x @ W1 @ W2) are not a loop
MAX_PERIOD = 400    # units in one step; bounds the search (N * MAX_PERIOD comparisons)

__all__ = ["Unit", "Block", "find_blocks", "MIN_COPIES", "MAX_PERIOD"]


class Unit(NamedTuple):
    """What rolling reads of an op or a folded box: its `code` (equal codes: the same op),
    the value numbers it reads (`ins`, by slot) and makes (`outs`, None where unused), and
    `steps`, the integers of its attributes that may step from copy to copy."""

    code: object
    ins: tuple
    outs: tuple
    steps: tuple = ()


class Block(NamedTuple):
    """A rolled block: `copies` (lists of unit numbers, position j plays the same part in
    each; the first copy is the one drawn), `period` units each. `per_copy` lists, for
    every input slot fed from outside by a different value in each copy, ``(j, slot,
    values, decision)`` (decision: "merge" into one node, or "keep" apart); `recurrent` the
    slots ``(j, slot)`` fed by the previous copy."""

    copies: list
    period: int
    per_copy: list
    recurrent: frozenset


_EXT = ("ext",)


class _Search:
    def __init__(self, units, producer, consumers, per_copy, min_copies):
        self.units, self.producer, self.consumers = units, producer, consumers
        self.per_copy, self.min_copies = per_copy, min_copies
        self.taken_units = set()

    # --- wiring ---------------------------------------------------------------------------
    def check(self, copies):
        """(edges crossing from copy to copy, per_copy, recurrent slots, wiring of copy 1),
        or None if the copies are not wired alike (see the module docstring)."""
        units, producer = self.units, self.producer
        where = {}
        for k, copy in enumerate(copies):
            for j, u in enumerate(copy):
                where[u] = (k, j)
        first = slots = None
        outside = {}
        crossing = 0
        recurrent = set()
        for k, copy in enumerate(copies):
            wiring = []
            for j, u in enumerate(copy):
                for i, v in enumerate(units[u].ins):
                    pr = producer(v)
                    at = where.get(pr[0]) if pr is not None else None
                    if at is None:
                        wiring.append(_EXT)
                        outside.setdefault((j, i), []).append(v)
                    elif at[0] == k:
                        wiring.append(("in", at[1], pr[1]))
                    elif at[0] == k - 1:
                        wiring.append(("prev", at[1], pr[1]))
                        if k == 1:
                            crossing += 1
                            recurrent.add((j, i))
                    else:
                        return None     # reads a copy further back, or a later one
            if k == 0:
                first = wiring
            elif k == 1:
                # copy 0 reads from outside what later copies read from their predecessor
                if any(a != b and not (a is _EXT and b[0] == "prev")
                       for a, b in zip(first, wiring)):
                    return None
                slots = wiring
            elif wiring != slots:
                return None
        # the integers of the attributes: equal, or stepping evenly from copy to copy
        for j in range(len(copies[0])):
            steps = [units[c[j]].steps for c in copies]
            if any(len(s) != len(steps[0]) for s in steps):
                return None
            for vals in zip(*steps):
                d = vals[1] - vals[0]
                if any(b - a != d for a, b in zip(vals, vals[1:])):
                    return None
        per_copy = []
        n = len(copies)
        for (j, i), values in outside.items():
            if len(values) != n:
                continue            # the first copy's recurrent input (h0, c0)
            distinct = len({v for v in values})
            if distinct == 1:
                continue            # one shared Variable (Wh)
            if distinct != n:
                return None         # some copies share, others do not: no loop
            decision = self.per_copy(values)
            if decision == "reject":
                return None         # a different parameter per copy: layers, not steps
            per_copy.append((j, i, values, decision))
        return crossing, per_copy, frozenset(recurrent), slots

    # --- lining copies up ------------------------------------------------------------------
    def align(self, copies):
        """The copies with each reordered so that position j plays the part it plays in
        copy 1 (the reference: copy 0 may start from outside), or None."""
        units, producer = self.units, self.producer
        n = len(copies)
        ref_k = 1
        ref = copies[ref_k]
        codes = [units[u].code for u in ref]
        if len(set(codes)) == len(codes) and all(
                [units[u].code for u in c] == codes for c in copies):
            return copies            # nothing ties: the order is the only alignment
        in_block = {u for c in copies for u in c}
        aligned = [None] * n
        aligned[ref_k] = list(ref)
        ref_pos = {u: j for j, u in enumerate(ref)}
        prev_pos = {}                # units of copy ref_k - 1 (copy 0), once aligned
        for k in [0] + list(range(2, n)):
            prev = None if k == 0 else aligned[k - 1]
            if k == 2:
                prev_pos = {u: j for j, u in enumerate(aligned[0])}
            got = self._align_one(copies[k], ref, ref_pos, prev_pos, prev, in_block, k == 0)
            if got is None:
                return None
            aligned[k] = got
        return aligned

    def _align_one(self, copy, ref, ref_pos, prev_pos, prev, in_block, first):
        units, producer = self.units, self.producer
        free = {}
        for u in copy:
            free.setdefault(units[u].code, []).append(u)
        mine = {}                   # unit of this copy -> position
        out = []
        for j, r in enumerate(ref):
            cands = free.get(units[r].code)
            if not cands:
                return None
            best, best_score = None, -1
            for c in cands:
                score = 0
                ok = True
                for rv, cv in zip(units[r].ins, units[c].ins):
                    rp, cp = producer(rv), producer(cv)
                    if rp is not None and rp[0] in ref_pos:            # in the same copy
                        ok = cp is not None and mine.get(cp[0]) == ref_pos[rp[0]] and \
                            cp[1] == rp[1]
                    elif rp is not None and rp[0] in in_block:           # the previous copy
                        if first:
                            ok = cp is None or cp[0] not in in_block
                        elif prev is not None and rp[0] in prev_pos:
                            ok = cp is not None and cp[0] == prev[prev_pos[rp[0]]] and \
                                cp[1] == rp[1]
                        else:
                            ok = cp is not None and cp[0] in in_block
                    else:                                                # outside
                        ok = first or cp is None or cp[0] not in in_block
                        score += rv == cv
                    if not ok:
                        break
                if ok and score > best_score:
                    best, best_score = c, score
            if best is None:
                return None
            cands.remove(best)
            mine[best] = j
            out.append(best)
        return out

    def accept(self, copies):
        aligned = self.align(copies)
        if aligned is None:
            return None
        checked = self.check(aligned)
        return None if checked is None else (aligned, checked)

    # --- one more copy, found by following the wiring ---------------------------------------
    def grow(self, copies, checked, before):
        """`copies` with one more copy before (or after) it, if the wiring finds one that
        is wired alike; else None."""
        units, producer, consumers = self.units, self.producer, self.consumers
        slots = checked[3]
        p = len(copies[0])
        in_block = {u for c in copies for u in c}
        codes = [units[u].code for u in copies[1]]
        wiring = []        # per position: [(slot, kind, j', o)]
        k = 0
        for j, u in enumerate(copies[1]):
            row = []
            for i in range(len(units[u].ins)):
                w = slots[k]
                k += 1
                if w is not _EXT:
                    row.append((i, w[0], w[1], w[2]))
            wiring.append(row)
        new = [None] * p
        used = set()

        def assign(j, u):
            if u is None or u in in_block or u in self.taken_units:
                return False
            if units[u].code != codes[j]:
                return False
            if new[j] is not None:
                return new[j] == u
            if u in used:
                return False
            new[j] = u
            used.add(u)
            todo.append(j)
            return True

        todo = []
        edge = copies[0] if before else copies[-1]
        for j, row in enumerate(wiring):
            for i, kind, jj, o in row:
                if kind != "prev":
                    continue
                if before:      # copy 0 reads at (j, i) what the new copy made at (jj, o)
                    pr = producer(units[edge[j]].ins[i])
                    if pr is None or pr[1] != o or not assign(jj, pr[0]):
                        return None
                else:           # the new copy reads at (j, i) what the last made at (jj, o)
                    v = units[edge[jj]].outs[o] if o < len(units[edge[jj]].outs) else None
                    found = [c for c, slot in consumers(v) if slot == i
                             and units[c].code == codes[j]] if v is not None else []
                    if len(found) != 1 or not assign(j, found[0]):
                        return None
        if not todo:
            return None
        while todo:
            j = todo.pop()
            u = new[j]
            for i, kind, jj, o in wiring[j]:          # its inputs made in the same copy
                if kind == "in":
                    pr = producer(units[u].ins[i])
                    if pr is None or pr[1] != o or not assign(jj, pr[0]):
                        return None
            for m, row in enumerate(wiring):           # what reads it in the same copy
                for i, kind, jj, o in row:
                    if kind == "in" and jj == j and new[m] is None:
                        v = units[u].outs[o] if o < len(units[u].outs) else None
                        found = [c for c, slot in consumers(v) if slot == i
                                 and units[c].code == codes[m] and c not in used] \
                            if v is not None else []
                        if len(found) != 1 or not assign(m, found[0]):
                            return None
        if any(u is None for u in new):
            return None
        grown = [new] + copies if before else copies + [new]
        checked = self.check(grown)
        return None if checked is None else (grown, checked)


def find_blocks(order, units, producer, consumers, per_copy, min_copies=MIN_COPIES,
                max_period=MAX_PERIOD):
    """The rolled blocks among the units `order` (unit numbers in program order).

    `units[u]` is a `Unit`; `producer(v)` the (unit, output index) that made value v, or
    None (a leaf, or made by something that is not a unit); `consumers(v)` the (unit, slot)
    pairs that read it; `per_copy(values)` says what to do with an input slot fed by a
    different value in each copy: "merge" (one node), "keep" (apart) or "reject" (no loop).
    """
    n = len(order)
    if n < min_copies:
        return []
    ids, codes = {}, np.empty(n, np.int64)
    for k, u in enumerate(order):
        codes[k] = ids.setdefault(units[u].code, len(ids))
    if len(ids) == n:
        return []                                   # nothing repeats at all
    candidates = []
    for p in range(1, min(max_period, n // min_copies) + 1):
        eq = np.concatenate(([False], codes[:-p] == codes[p:], [False]))
        d = np.diff(eq.astype(np.int8))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        lengths = ends - starts
        good = lengths >= p * (min_copies - 1)
        for s, length in zip(starts[good], lengths[good]):
            copies = int(length) // p + 1
            candidates.append((copies * p, -p, int(s), int(length) + p))
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
    search = _Search(units, producer, consumers, per_copy, min_copies)
    taken = np.zeros(n, bool)
    blocks = []
    for _, negp, start, span in candidates:
        p = -negp
        for run_start, run_span in _free_runs(taken, start, span, p * min_copies):
            found = _best_phase(search, order, run_start, run_span, p)
            if found is None:
                continue
            copies, checked = found
            members = {u for c in copies for u in c}
            search.taken_units |= members
            for k in range(n):
                if order[k] in members:
                    taken[k] = True
            _, per, recurrent, _ = checked
            blocks.append(Block(copies, p, per, recurrent))
    return blocks


def _free_runs(taken, start, span, shortest):
    """The stretches of [start, start + span) no accepted block has taken, at least
    `shortest` long."""
    part = taken[start:start + span]
    if not part.any():
        return [(start, span)] if span >= shortest else []
    free = np.concatenate(([False], ~part, [False]))
    d = np.diff(free.astype(np.int8))
    return [(start + int(a), int(b - a)) for a, b in
            zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)) if b - a >= shortest]


def _best_phase(search, order, start, span, p):
    """The rotation of the periodic stretch order[start:start+span] with the most copies
    (counting those grown on either side), then the fewest edges crossing between copies,
    whose copies are wired alike, as (copies, check); None if there is none."""
    best = None
    for phase in range(p):
        s = start + phase
        n = (span - phase) // p
        if n < search.min_copies:
            break
        copies = [list(order[s + k * p:s + (k + 1) * p]) for k in range(n)]
        if any(u in search.taken_units for c in copies for u in c):
            continue
        found = search.accept(copies)
        if found is None:
            continue
        copies, checked = found
        for before in (True, False):
            while True:
                grown = search.grow(copies, checked, before)
                if grown is None:
                    break
                copies, checked = grown
        key = (-len(copies), checked[0])     # most copies, then fewest crossing edges
        if best is None or key < best[0]:
            best = (key, copies, checked)
    return None if best is None else best[1:]
