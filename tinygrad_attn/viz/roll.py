"""Rolling: repeated identical sub-graphs found on the tape, to be drawn once.

An LSTM unrolled over 29 steps records the same dozen ops 29 times. Read the functions in
*program order* (a post-order walk that visits each op's newest input first: a step's ops
come out together, after everything the step reads) and give each a signature: op, attributes,
scope, input shapes and dtypes. The steps then show up as a tandem repeat in the sequence
of signatures, ``... [s1 .. s12] [s1 .. s12] ... [s1 .. s12] ...``, found for every period
with one vectorised comparison ``sig[i] == sig[i + p]``.

A candidate repeat is accepted only if its copies are wired the same way too: every input
of the op at position j comes, in every copy, from the same place, namely the same
position of the same copy, the same position of the previous copy (a *recurrent* input,
like h and c), or outside the block (one shared Variable, like Wh, or one per copy, like
the step's slice of the input: never one parameter, or differently named leaf, per copy,
which would be different layers, not time steps). Among overlapping candidates the one
covering most ops wins (the shortest period on ties), and its phase is the rotation with
the fewest edges crossing from one copy to the next (h and c, not half a cell). A block
then takes in the ops just before or after it that form one more copy in another order
(where h0 is a leaf, step 1's two matmuls tie and come out swapped). At least 3 copies.

Imports nothing from the library: it reads Functions and Variables by their attributes.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

MIN_COPIES = 3      # two equal ops in a row (x @ W1 @ W2) are not a loop
MAX_PERIOD = 400    # ops in one step; bounds the search (N * MAX_PERIOD comparisons)

Block = namedtuple("Block", "copies period scope per_copy")
Block.__doc__ = """A rolled block: `copies` (lists of Functions, in program order, each
`period` long; the first is the one drawn) living in `scope` (their common scope);
`per_copy` lists, per input slot fed from outside by a different Variable in each copy
(the step's input slice), those Variables."""


def program_order(outputs, keep=None):
    """Functions reachable from `outputs` in the order a program computing them would run
    them (depth first, iteratively), `keep(f)` filtering the result. An op's inputs are
    visited newest first (highest generation; ties in input order): in
    ``tanh(x_t @ Wx + h @ Wh)`` the recurrence through h is followed before x_t @ Wx, so
    each step's ops come out together instead of every x_t @ Wx first."""
    order, done, opened = [], set(), set()
    for out in outputs:
        f0 = out.creator
        if f0 is None or id(f0) in opened:
            continue
        stack = [(f0, 0, _by_generation(f0))]
        opened.add(id(f0))
        while stack:
            f, i, ins = stack[-1]
            if i < len(ins):
                stack[-1] = (f, i + 1, ins)
                c = ins[i].creator
                if c is not None and id(c) not in opened:
                    opened.add(id(c))
                    stack.append((c, 0, _by_generation(c)))
            else:
                stack.pop()
                done.add(id(f))
                if keep is None or keep(f):
                    order.append(f)
    return order


def _by_generation(f):
    ins = f.inputs
    if len(ins) < 2:
        return ins
    return sorted(ins, key=lambda x: -x.generation)   # stable: input order on ties


def _signature(f, scope, attributes):
    ins = []
    for x in f.inputs:
        if x.creator is None and not x.requires_grad and x.name is None and x.data.size == 1:
            ins.append((x.shape, x.dtype.str, x.data.item()))   # a constant: its value counts
        else:
            ins.append((x.shape, x.dtype.str))
    return (f.name, tuple(attributes(f)), scope, tuple(ins))


def _common_scope(scopes):
    first = scopes[0]
    n = len(first)
    for s in scopes[1:]:
        k = 0
        while k < min(n, len(s)) and s[k] == first[k]:
            k += 1
        n = k
    return first[:n]


def find_blocks(order, scope_of, attributes, is_parameter, min_copies=MIN_COPIES,
                max_period=MAX_PERIOD):
    """The rolled blocks among the Functions `order` (program order). `scope_of(f)` is the
    scope a function is drawn in, `attributes(f)` its attribute strings, `is_parameter(v)`
    whether a leaf is a parameter."""
    n = len(order)
    if n < min_copies:
        return []
    ids, codes = {}, np.empty(n, np.int64)
    for k, f in enumerate(order):
        codes[k] = ids.setdefault(_signature(f, scope_of(f), attributes), len(ids))
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
    taken = np.zeros(n, bool)
    blocks = []
    for _, negp, start, span in candidates:
        p = -negp
        for run_start, run_span in _free_runs(taken, start, span, p * min_copies):
            found = _best_phase(order, codes, run_start, run_span, p, taken, min_copies,
                                is_parameter)
            if found is None:
                continue
            copies, per_copy, first = found
            taken[first:first + len(copies) * p] = True
            blocks.append(Block(copies, p, _common_scope([scope_of(f) for f in copies[0]]),
                                per_copy))
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


def _extend(order, codes, copies, per_copy, first, p, taken, is_parameter):
    """Take in the p ops just before (and after) the block when they are one more copy
    with its ops in another order (the program order can differ in the first step: where
    h0 is a leaf, x_t @ Wx and h0 @ Wh tie and are visited in input order)."""
    want = codes[first:first + p].tolist()
    while first - p >= 0 and not taken[first - p:first].any():
        candidate = _match(order[first - p:first], codes[first - p:first], want)
        checked = candidate and _check([candidate] + copies, None, is_parameter)
        if not checked:
            break
        copies, per_copy, first = [candidate] + copies, checked[1], first - p
    end = first + len(copies) * p
    while end + p <= len(order) and not taken[end:end + p].any():
        candidate = _match(order[end:end + p], codes[end:end + p], want)
        checked = candidate and _check(copies + [candidate], None, is_parameter)
        if not checked:
            break
        copies, per_copy, end = copies + [candidate], checked[1], end + p
    return copies, per_copy, first


def _match(functions, codes, want):
    """`functions` rearranged to the signature order `want`, or None."""
    if sorted(codes.tolist()) != sorted(want):
        return None
    free = {}
    for f, c in zip(functions, codes.tolist()):
        free.setdefault(c, []).append(f)
    return [free[c].pop(0) for c in want]


def _best_phase(order, codes, start, span, p, taken, min_copies, is_parameter):
    """The rotation of the periodic stretch order[start:start+span] with the fewest edges
    crossing between copies (then the most copies, counting those `_extend` adds), whose
    copies are consistently wired, as (copies, per_copy, index of its first op); None if
    there is none."""
    best = None
    for phase in range(p):
        s = start + phase
        copies = (span - phase) // p
        if copies < min_copies:
            break
        blocks = [order[s + k * p:s + (k + 1) * p] for k in range(copies)]
        checked = _check(blocks, None, is_parameter)
        if checked is None:
            continue
        blocks, per_copy, first = _extend(order, codes, blocks, checked[1], s, p, taken,
                                          is_parameter)
        key = (checked[0], -len(blocks))
        if best is None or key < best[0]:
            best = (key, blocks, per_copy, first)
    return None if best is None else best[1:]


def _check(blocks, _unused, is_parameter):
    """(how many edges cross from one copy to the next, the per-copy outside inputs as
    lists), or None if the copies are not wired alike (see the module docstring)."""
    where = {}
    for k, copy in enumerate(blocks):
        for j, f in enumerate(copy):
            where[id(f)] = (k, j)
    slots = None
    outside = {}            # (j, i) -> the outside Variable each copy reads there
    crossing = set()
    for k, copy in enumerate(blocks):
        wiring = []
        for j, f in enumerate(copy):
            for i, x in enumerate(f.inputs):
                c = x.creator
                at = where.get(id(c)) if c is not None else None
                if at is None:
                    wiring.append(("ext",))
                    outside.setdefault((j, i), []).append(x)
                elif at[0] == k:
                    wiring.append(("in", at[1], _out_index(c, x)))
                elif at[0] == k - 1:
                    wiring.append(("prev", at[1], _out_index(c, x)))
                    if k == 1:
                        crossing.add((id(x), j, i))
                else:
                    return None        # reads a copy further back: not one step after another
        if slots is None:
            slots = wiring
        elif k == 1:
            # copy 0 reads from outside what later copies read from their predecessor
            if len(wiring) != len(slots) or any(
                    a != b and not (a[0] == "ext" and b[0] == "prev")
                    for a, b in zip(slots, wiring)):
                return None
            slots = wiring
        elif wiring != slots:
            return None
    per_copy = []
    for xs in outside.values():
        if len(xs) != len(blocks) or len({id(x) for x in xs}) == 1:
            continue           # the first copy's recurrent input, or one shared Variable
        if any(x.creator is None and (is_parameter(x) or x.name != xs[0].name) for x in xs):
            return None        # a different parameter (or named leaf) per copy: layers
        per_copy.append(xs)
    return len(crossing), per_copy


def _out_index(f, x):
    for i, ref in enumerate(f.outputs):
        if ref() is x:
            return i
    return -1
