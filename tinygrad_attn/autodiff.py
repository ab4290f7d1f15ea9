"""Reverse mode: the backward pass over the tape, `grad`, and gradient accumulation.

* Functions run newest generation first (counted down, no heap), so when a function's
  `backward` runs, every gradient flowing into its outputs has already been summed. The
  loop is iterative: a 100 000-op chain is fine.
* `backward` rules are written with the framework's own ops. With `create_graph=True`
  recording stays on while they run, so the gradient is itself a graph and can be
  differentiated again: higher order for free.
* Broadcasting is undone in one place: whatever shape a rule returns, the pass reduces it
  to its input's shape with `sum_to` (and back to its input's dtype with `cast`).
* `backward_steps` is the same pass as a generator of `Step`s, for tools that show the
  pass as it happens (`viz.replay`); `backward` and `grad` just run it to the end.

Imports: the tape (`ProductSum`, what a rule may return for a weight, lives there), and
the two ops the pass itself needs (`sum_to`, `cast`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .ops.elementwise import cast
from .ops.shape import sum_to
from .tape import Function, ProductSum, Variable, _grad_enabled, _is_float, _wrap, as_array

__all__ = ["backward", "grad", "backward_steps", "Step", "ProductSum"]


class Step(NamedTuple):
    """One function of the backward pass: the gradients it received and the ones it sent
    (one per input; None where an input takes no gradient)."""

    function: object
    output_grads: list
    input_grads: list


def _seed_grad(y, grad, where):
    if not isinstance(y, Variable):
        raise TypeError(f"{where}: expected a Variable output, got {type(y).__name__}")
    if not _is_float(y.dtype):
        raise TypeError(f"{where}: output has dtype {y.dtype}; only floating outputs "
                        "can be differentiated")
    if grad is None:
        if y.data.size != 1:
            raise RuntimeError(
                f"{where}: output has shape {y.shape}, not a scalar; pass a gradient of that "
                "shape (grad=...) or reduce it first, e.g. y.sum().backward()")
        return _wrap(np.ones_like(y.data), None, 0, False)
    g = grad if isinstance(grad, Variable) else Variable(as_array(grad, y.dtype),
                                                         requires_grad=False)
    if g.shape != y.shape:
        raise ValueError(f"{where}: gradient has shape {g.shape} but the output has shape "
                         f"{y.shape}")
    return g


def backward_steps(outputs, seeds, create_graph=False, keep=None, grads=None):
    """Run the tape backwards from `outputs`, yielding a `Step` after each function.

    `grads` (a dict, filled in place) ends as {Variable: gradient Variable}. Gradients of
    intermediates are dropped as soon as their creator has consumed them, unless the
    Variable is in `keep` (`keep=None` keeps all).
    """
    return _reverse(outputs, seeds, create_graph, keep, {} if grads is None else grads, True)


def _reverse(outputs, seeds, create_graph, keep, grads, steps):
    # Pending functions by generation, each an ordered set (a dict): a function's inputs
    # come from functions of lower generation only, so counting generations down visits
    # each function after every function that consumed its outputs, newest first (in
    # arrival order within a generation). A chain costs one small dict per function.
    todo = {}
    owned = set()   # ids of gradient arrays this pass made and nobody else has seen
    sums = []       # inputs whose gradient is a merged ProductSum, formed at the end
    token = _grad_enabled.set(create_graph)
    try:
        for y, g in zip(outputs, seeds):
            _accumulate(grads, y, g, owned, create_graph, sums)
            _push(todo, y.creator)
        for gen in range(max(todo, default=-1), -1, -1):
            for f in todo.pop(gen, ()):
                gys = _received(f, grads, keep)
                if gys is None:
                    continue
                if owned:
                    for g in gys:   # handed to a rule: no longer ours to mutate
                        owned.discard(id(g.data))
                if create_graph and f.composite is not None:
                    gxs = _composite_rule(f, gys)
                else:
                    gxs = f.backward(*gys)
                if type(gxs) is not tuple:
                    gxs = (gxs,)
                sent = []
                for x, gx in zip(f.inputs, gxs):
                    if gx is not None and x.requires_grad:
                        gx = _fit(gx, x, create_graph)
                        if x in grads or type(gx) is ProductSum:
                            _accumulate(grads, x, gx, owned, create_graph, sums)
                        else:
                            grads[x] = gx
                        _push(todo, x.creator)
                    else:
                        gx = None
                    sent.append(gx)
                if steps:
                    yield Step(f, gys, sent)
    finally:
        _grad_enabled.reset(token)
    for x in sums:
        if type(grads.get(x)) is ProductSum:
            grads[x] = grads[x].value()


def _push(todo, f):
    if f is not None:
        pending = todo.get(f.generation)
        if pending is None:
            todo[f.generation] = {f: None}
        else:
            pending[f] = None


def _received(f, grads, keep):
    """The gradients f's outputs received (zeros for an output that received none while
    another did), or None if none did. Taken out of `grads` unless kept."""
    if len(f.outputs) == 1:   # nearly always
        y = f.outputs[0]()
        g = None if y is None else grads.get(y) if keep is None or y in keep else \
            grads.pop(y, None)
        return None if g is None else (g,)
    gys = []
    for ref in f.outputs:
        y = ref()
        gys.append(None if y is None else grads.get(y) if keep is None or y in keep else
                   grads.pop(y, None))
    missing = [i for i, g in enumerate(gys) if g is None]
    if len(missing) == len(gys):
        return None
    for i in missing:
        gys[i] = _zeros_for(f, i)
    return gys


def _fit(gx, x, create_graph):
    """A rule's gradient for input x in x's shape (broadcasting undone) and dtype; a
    ProductSum kept when the pass may merge it (else evaluated); an array wrapped."""
    if type(gx) is not Variable:
        if isinstance(gx, ProductSum):
            return gx if gx.mergeable(x, create_graph) else gx.evaluate()
        if not isinstance(gx, Variable):
            gx = Variable(as_array(gx, x.dtype), requires_grad=False)
    a, xa = gx.data, x.data
    if a.shape != xa.shape:
        gx = sum_to(gx, xa.shape)
    if a.dtype is not xa.dtype and a.dtype != xa.dtype:
        gx = cast(gx, xa.dtype)
    return gx


class _Alias(Function):
    """``x -> x``: one input slot of a fused op as its composite sees it (`_composite_rule`)."""

    _name = "alias"

    def forward(self, x):
        return x

    def backward(self, gy):
        return gy


def _composite_rule(f, gys):
    """A recording pass through a fused op (its own rule is first order only): the
    composite it stands for is run and differentiated, recorded, instead.

    The composite runs on one alias per input slot (``_Alias()(x)``), and the nested pass
    treats the aliases as leaves: it stops at f's own inputs. Run on the inputs themselves
    it walked on into the graph that made them (which the outer pass walks anyway) and
    counted gradients twice wherever that graph reaches f's inputs again (the same LSTM
    called again on its own final state: Wx feeds both calls; h0 = hs[:, -1] with hs an
    input too; one Variable as h0 and c0). The gradients are graphs of the aliases, and the
    aliases of the inputs, so differentiating them again reaches the inputs."""
    aliases = [_Alias()(x) if x.requires_grad else x for x in f.inputs]
    outs = f.composite(*aliases)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    pairs = [(y, g) for y, g in zip(outs, gys) if y.requires_grad]
    if not pairs:
        return (None,) * len(f.inputs)
    links = [(a, a.creator) for a in aliases if a.creator is not None]
    try:
        for a, _ in links:          # leaves for the nested pass (only it has seen them)
            a.creator = None
        return tuple(grad([y for y, _ in pairs], aliases, [g for _, g in pairs],
                          create_graph=True, allow_unused=True))
    finally:
        for a, creator in links:
            a.creator = creator


def _backprop(outputs, seeds, create_graph, keep):
    grads = {}
    for _ in _reverse(outputs, seeds, create_graph, keep, grads, False):
        pass    # without steps the pass yields nothing: this runs it in one go
    return grads


def _accumulate(grads, x, gx, owned, create_graph, sums):
    """grads[x] += gx: in place into an array this pass made, else into a new one."""
    acc = grads.get(x)
    if acc is None:
        grads[x] = gx
        if type(gx) is ProductSum:
            sums.append(x)
    elif type(acc) is ProductSum and type(gx) is ProductSum:
        acc.merge(gx)
    elif create_graph:
        acc = acc.value() if type(acc) is ProductSum else acc
        grads[x] = acc + (gx.value() if type(gx) is ProductSum else gx)
    else:
        if type(acc) is ProductSum:
            acc = grads[x] = acc.value()      # a new array: ours
            owned.add(id(acc.data))
        b = gx.value().data if type(gx) is ProductSum else gx.data
        if id(acc.data) in owned:
            acc.data += b
        else:
            a = np.add(acc.data, b)
            owned.add(id(a))
            grads[x] = _wrap(a, None, 0, False)


def _zeros_for(f, i):
    # A multi-output op (split, unstack) where only some outputs received a gradient.
    shape, dtype = f.output_meta[i]
    return Variable(np.zeros(shape, dtype), requires_grad=False)


def backward(y, grad=None, retain_grad=False, create_graph=False):
    """`y.backward(...)`: accumulate d(y)/d(leaf) into every differentiable leaf's `.grad`.

    `grad` seeds the output gradient (required unless y has one element). `retain_grad`
    also keeps intermediates' gradients; `create_graph` records the backward pass so the
    gradients can be differentiated again.
    """
    seed = _seed_grad(y, grad, "backward()")
    keep = None if retain_grad else ()
    grads = _backprop([y], [seed], create_graph, keep)
    taken = {id(seed.data)}
    for var, g in grads.items():
        if var.creator is None:
            if var.grad is None:
                var.grad = g if create_graph else _own(g, taken)
            else:
                token = _grad_enabled.set(create_graph)
                try:
                    var.grad = var.grad + g
                finally:
                    _grad_enabled.reset(token)
        elif retain_grad:
            var.grad = g if create_graph else _own(g, taken)


def _own(g, taken):
    """`g`, or a copy of it, so that each leaf's `.grad` is a writable array of its own.

    Rules may hand back shared or read-only arrays (`add` returns `gy` to both inputs,
    `sum` a broadcast view); an optimizer scaling `p.grad.data` in place must not see that.
    """
    a = g.data
    if a.base is not None or not a.flags.writeable or id(a) in taken:
        g = _wrap(a.copy(), None, 0, False)
    taken.add(id(g.data))
    return g


def grad(outputs, inputs, grad_outputs=None, create_graph=False, allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, returned as a list.

    PyTorch's `torch.autograd.grad`: nothing's `.grad` is touched. `grad_outputs` seeds each
    output (None: ones, for one-element outputs). An input the outputs do not depend on is an
    error unless `allow_unused=True`, in which case its entry is None.
    """
    single_out = isinstance(outputs, Variable)
    outputs = [outputs] if single_out else list(outputs)
    inputs = [inputs] if isinstance(inputs, Variable) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Variable, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Variable):
            raise TypeError(f"grad: input {i} is a {type(x).__name__}, not a Variable")
        if not _is_float(x.dtype):
            raise TypeError(f"grad: input {i} has dtype {x.dtype}; integer and bool Variables "
                            "are data, not differentiable")
    seeds = [_seed_grad(y, g, "grad") for y, g in zip(outputs, grad_outputs)]
    grads = _backprop(outputs, seeds, create_graph, keep=set(inputs))
    result = []
    for i, x in enumerate(inputs):
        g = grads.get(x)
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) is not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return result
