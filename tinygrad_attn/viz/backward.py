"""The backward pass as something to draw or replay: which rules reverse mode ran, the
gradients they sent, and (expanded) the ops each rule recorded.

This module runs reverse mode (`autodiff.backward_steps`), so it imports `autodiff` besides
the tape: drawing the backward pass means running it. It touches no `.grad`: gradients go
to a dict of their own.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autodiff import ProductSum, backward_steps
from ..tape import Variable, _wrap

__all__ = ["Recorded", "Ran", "seeds_for", "record", "run", "run_steps", "as_array"]


class Recorded(NamedTuple):
    """The pass recorded with ``create_graph=True``: `grads` {id(Variable): (Variable, its
    gradient Variable)}; `rule_of` {id(backward Function): the forward Function whose rule
    made it}; `functions` every backward Function, in the order the pass made them."""

    grads: dict
    rule_of: dict
    functions: list


class Ran(NamedTuple):
    """The first-order pass as reverse mode runs it: `steps`, one ``(function, received,
    sent)`` per rule run, in order (received: the output indices a gradient arrived at;
    sent: the input indices it sent one to); `grads` {id(Variable): (Variable, gradient
    array)} at the end of the pass."""

    steps: list
    grads: dict


def seeds_for(outputs, where):
    """d out / d out = 1 for each scalar output; a clear error otherwise."""
    seeds = []
    for k, y in enumerate(outputs):
        if y.data.size != 1:
            raise ValueError(f"{where}: output {k} has shape {y.shape}; the backward pass "
                             "starts from a scalar (reduce it first, e.g. F.sum(y))")
        if y.dtype.kind not in "fc":
            raise TypeError(f"{where}: output {k} has dtype {y.dtype}; only floating "
                            "outputs can be differentiated")
        seeds.append(_wrap(np.ones_like(y.data), None, 0, False))
    return seeds


def run(outputs, where="make_dot(backward=True)"):
    """Run the first-order backward pass of `outputs` and say which rules ran (`Ran`)."""
    grads, steps = {}, []
    for step in backward_steps(outputs, seeds_for(outputs, where), create_graph=False,
                               keep=None, grads=grads):
        received = [o for o, g in enumerate(step.output_grads) if g is not None]
        sent = [i for i, g in enumerate(step.input_grads) if g is not None]
        steps.append((step.function, received, sent))
    return Ran(steps, {id(x): (x, as_array(g)) for x, g in grads.items()})


def record(outputs, where="make_dot(backward='expanded')"):
    """Run the backward pass of `outputs` with ``create_graph=True`` and say which forward
    op's rule made each recorded op (one walk per step, from the gradients it sent)."""
    forward = set()
    stack = [y.creator for y in outputs if y.creator is not None]
    while stack:
        f = stack.pop()
        if id(f) in forward:
            continue
        forward.add(id(f))
        stack.extend(x.creator for x in f.inputs if x.creator is not None)
    grads, rule_of, functions = {}, {}, []
    for step in backward_steps(outputs, seeds_for(outputs, where), create_graph=True,
                               keep=None, grads=grads):
        # what the rule returned, and what accumulation made of it (acc + gx)
        roots = [g for g in step.input_grads if isinstance(g, Variable)]
        roots += [grads[x] for x in step.function.inputs if isinstance(grads.get(x), Variable)]
        new = []
        todo = [g.creator for g in roots if g.creator is not None]
        while todo:
            f = todo.pop()
            if id(f) in forward or id(f) in rule_of:
                continue
            rule_of[id(f)] = step.function
            new.append(f)
            todo.extend(x.creator for x in f.inputs if x.creator is not None)
        functions.extend(reversed(new))
    return Recorded({id(x): (x, g) for x, g in grads.items()}, rule_of, functions)


def as_array(g):
    """A gradient as an ndarray (a weight's merged product sum too)."""
    if isinstance(g, ProductSum):
        return g.value().data
    return g.data


def run_steps(outputs):
    """The first-order backward pass of `outputs`, as (Step, received arrays, sent arrays)
    triples. Read the arrays before asking for the next step: accumulation later writes
    into some of them in place."""
    grads = {}
    for step in backward_steps(outputs, seeds_for(outputs, "replay"), create_graph=False,
                               keep=None, grads=grads):
        received = [None if g is None else as_array(g) for g in step.output_grads]
        sent = [None if g is None else as_array(g) for g in step.input_grads]
        yield step, received, sent
