"""What each Function keeps alive for its backward rule: the memory side of backprop.

A recorded Function holds its inputs by reference (its rule reads them: ``gy * b`` for
``a * b``) and may keep arrays of its own among its attributes: a mask, token ids, the fused
LSTM's workspace. All of it stays in memory until the graph is dropped. `saved(f)` lists
them, read from the Function's inputs and attributes (nothing is recorded for this);
`total` counts bytes once per buffer (a slice shares its base's memory), and says how
much of it is intermediates, which live only because the graph does (leaves, such as
parameters and inputs, are alive anyway).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Saved", "saved", "total", "fmt_bytes"]

# attributes every Function has that are not saved tensors
_PLUMBING = {"inputs", "outputs", "_attrs", "scope", "generation", "output_meta"}


class Saved(NamedTuple):
    """One saved tensor: `name` (the input's name, ``input k``, or the attribute),
    `arrays` (one, or a workspace's several), `leaf` (True for a leaf input: alive anyway)."""

    name: str
    arrays: tuple
    leaf: bool

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.arrays)

    @property
    def shape(self):
        return self.arrays[0].shape if len(self.arrays) == 1 else None


def saved(f, names=None):
    """What Function `f` holds for its rule, as a list of `Saved`."""
    names = names or {}
    found, seen = [], set()
    for i, x in enumerate(f.inputs):
        if id(x) in seen:
            continue
        seen.add(id(x))
        name = names.get(id(x)) or x.name or f"input {i}"
        found.append(Saved(str(name), (x.data,), x.creator is None))
    try:
        attributes = vars(f)
    except TypeError:
        attributes = {}
    for key, value in attributes.items():
        if key in _PLUMBING:
            continue
        if isinstance(value, np.ndarray):
            found.append(Saved(key.lstrip("_"), (value,), False))
        elif isinstance(value, (tuple, list)) and value and all(
                isinstance(a, np.ndarray) for a in value):
            found.append(Saved(key.lstrip("_"), tuple(value), False))
    return found


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def total(items):
    """(bytes, bytes of intermediates) of `items` (Saved), each buffer counted once."""
    seen, leaves = {}, {}
    for s in items:
        for a in s.arrays:
            r = _root(a)
            if s.leaf:
                leaves.setdefault(id(r), r.nbytes)
            else:
                seen.setdefault(id(r), r.nbytes)
    everything = dict(leaves)
    everything.update(seen)
    inter = sum(b for k, b in seen.items() if k not in leaves)
    return sum(everything.values()), inter


def fmt_bytes(n):
    """1536 -> '1.5 KiB'."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
