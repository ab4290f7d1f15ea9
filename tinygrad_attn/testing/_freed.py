"""`graph_freed`: after backward and `del`, nothing of the graph may stay alive.

The tape holds outputs weakly and inputs strongly, so a graph lives exactly as long as the
Variables at its end: dropping the loss frees every Function and intermediate by reference
counting alone. A leak (a stashed attribute, a list of losses, a cycle) keeps whole graphs,
and their arrays, alive for every step; this finds it from weak references.
"""
from __future__ import annotations

import gc
import weakref

from .. import Variable

__all__ = ["graph_freed", "GraphNotFreedError"]


class GraphNotFreedError(AssertionError):
    """Part of a graph is still alive after its outputs were dropped."""


class graph_freed:
    """Watch a graph through weak references; `check()` asserts that none of it is alive.

        watch = graph_freed(loss)        # or graph_freed() and watch.watch(loss) later
        loss.backward()
        del loss
        watch.check()                    # GraphNotFreedError naming what is still alive

    or as a context manager, checked when the block ends without an exception::

        with graph_freed() as watch:
            loss = model.loss(xs, ts)
            watch.watch(loss)
            loss.backward()
            del loss

    Watched: every Function reachable from the outputs and every Variable a Function made
    (the outputs and intermediates). Leaves (parameters, inputs) are not: the caller owns
    them. Nothing is held strongly. ``collect=True`` runs the garbage collector before
    checking; by default the graph must be freed by reference counting alone, as the
    engine's graphs are (a cycle keeps a graph until the next collection).
    """

    def __init__(self, *outputs, collect=False):
        self.collect = collect
        self._refs = []     # (weakref, kind, name, scope, shape, dtype)
        self._ids = set()
        self.watch(*outputs)

    def watch(self, *outputs):
        """Add the graph(s) ending at `outputs` (Variables, or lists of them); returns self."""
        stack = []
        for out in outputs:
            stack.extend(out if isinstance(out, (list, tuple)) else [out])
        seen_f = set()
        while stack:
            v = stack.pop()
            if not isinstance(v, Variable):
                raise TypeError(f"graph_freed: expected Variables, got {type(v).__name__}")
            f = v.creator
            if f is None:
                continue
            if id(v) not in self._ids:
                self._ids.add(id(v))
                self._refs.append((weakref.ref(v), "Variable", f.name, tuple(f.scope),
                                   v.shape, v.dtype))
            if id(f) in seen_f:
                continue
            seen_f.add(id(f))
            if id(f) not in self._ids:
                self._ids.add(id(f))
                self._refs.append((weakref.ref(f), "Function", f.name, tuple(f.scope),
                                   None, None))
            for ref in f.outputs:
                y = ref()
                if y is not None and id(y) not in self._ids:
                    stack.append(y)
            stack.extend(x for x in f.inputs if x.creator is not None)
        return self

    @property
    def watched(self):
        """How many Functions and Variables are watched."""
        return len(self._refs)

    def alive(self):
        """Descriptions of the watched objects still alive (an empty list: all freed)."""
        out = []
        for ref, kind, name, scope, shape, dtype in self._refs:
            if ref() is not None:
                where = f" in {'.'.join(scope)}" if scope else ""
                if kind == "Function":
                    out.append(f"Function {name}{where}")
                else:
                    out.append(f"Variable {shape} {dtype} made by {name}{where}")
        return out

    @property
    def freed(self):
        if self.collect:
            gc.collect()
        return not self.alive()

    def check(self):
        """Raise `GraphNotFreedError` if anything watched is alive; returns True."""
        if self.collect:
            gc.collect()
        alive = self.alive()
        if not alive:
            return True
        gc.collect()
        after = self.alive()
        why = ("they are freed by gc.collect(): the graph has a reference cycle, so it lives "
               "until the next collection" if not after else
               "something still holds them (a list of outputs, an attribute that stashes a "
               "Variable, a traceback or a frame that references one)")
        shown = "; ".join(alive[:8]) + (f"; ... ({len(alive) - 8} more)" if len(alive) > 8
                                         else "")
        raise GraphNotFreedError(f"graph_freed: {len(alive)} of {len(self._refs)} objects of "
                                 f"the graph are still alive after its outputs were dropped: "
                                 f"{shown}. {why[0].upper() + why[1:]}.")

    def __bool__(self):
        return self.freed

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.check()
        return False
