"""The tape: `Variable`, `Function`, and reverse mode over them.

The whole idea fits on one screen:

* Every op is a `Function`. Calling it runs `forward` on plain ndarrays and, when
  recording is on and some input wants a gradient, links the outputs to the function
  (`output.creator`) and the function to its inputs (`function.inputs`). That chain of
  links *is* the tape. Outputs are held weakly, so a graph lives exactly as long as the
  Variables at its end.
* A function's `generation` is one past the newest of its inputs. Walking functions
  newest-first (a heap keyed on generation) guarantees that when a function's `backward`
  runs, every gradient flowing into its outputs has already been summed.
* `backward` rules are written with the framework's own ops. With `create_graph=True`
  recording stays on while they run, so the gradient is itself a graph and can be
  differentiated again: higher order for free.
* Broadcasting is undone in one place: whatever shape a rule returns, the engine reduces it
  to its input's shape with `sum_to` (and back to its input's dtype) before accumulating.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import weakref

import numpy as np


class Config:
    enable_backprop = True


class using_config(contextlib.ContextDecorator):
    """Set `Config.<name>` inside a `with` block (or a decorated function), then restore it."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __enter__(self):
        self.old = getattr(Config, self.name)
        setattr(Config, self.name, self.value)
        return self

    def __exit__(self, *exc):
        setattr(Config, self.name, self.old)
        return False

    def _recreate_cm(self):  # a decorated function may recurse: one state per call
        return type(self)(self.name, self.value)


def no_grad():
    """Context manager (or decorator): nothing computed inside is recorded on the tape."""
    return using_config("enable_backprop", False)


def is_grad_enabled():
    return Config.enable_backprop


# The current name scope, a tuple of names; functions created inside remember it so that
# graph diagrams can group them (`viz`).
_scope = ()


@contextlib.contextmanager
def name_scope(name):
    """Group every op recorded inside under `name` (nested scopes make a path)."""
    global _scope
    old = _scope
    _scope = old + tuple(str(name).split("."))
    try:
        yield
    finally:
        _scope = old


def current_scope():
    return _scope


def _is_float(dtype):
    return dtype.kind in "fc"


class Variable:
    """An ndarray with a place on the tape.

    `data` is the array, `grad` its gradient (a Variable, or None), `creator` the Function
    that made it (None for a leaf). Floating leaves are differentiable; integer and bool
    Variables are data (token ids, masks) and never get a gradient.
    """

    __slots__ = ("data", "name", "grad", "creator", "generation", "requires_grad", "__weakref__")
    __array_priority__ = 200
    __array_ufunc__ = None  # make `ndarray + Variable` defer to Variable.__radd__

    def __init__(self, data, name=None, *, requires_grad=None):
        if isinstance(data, Variable):
            raise TypeError("Variable(data): data is already a Variable; use it directly")
        data = np.asarray(data)
        if data.dtype.kind not in "biufc":
            raise TypeError(f"Variable(data): expected a numeric array, got dtype {data.dtype}")
        floating = _is_float(data.dtype)
        if requires_grad is None:
            requires_grad = floating
        elif requires_grad and not floating:
            raise TypeError(f"Variable(data): dtype {data.dtype} is data, not differentiable; "
                            "only floating Variables can require a gradient")
        self.data = data
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0
        self.requires_grad = requires_grad

    # --- array-like facts -------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = str(self.data).replace("\n", "\n" + " " * 9)
        name = f", name={self.name!r}" if self.name else ""
        return f"Variable({body}{name})"

    def item(self):
        return self.data.item()

    def numpy(self):
        return self.data

    @property
    def is_leaf(self):
        return self.creator is None

    def cleargrad(self):
        self.grad = None

    zero_grad = cleargrad

    def detach(self):
        """The same data, cut from the tape."""
        return Variable(self.data, self.name, requires_grad=False)

    # --- reverse mode -------------------------------------------------------------------
    def backward(self, grad=None, retain_grad=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every differentiable leaf's `.grad`.

        `grad` seeds the output gradient (required unless self has one element).
        `retain_grad` also keeps intermediates' gradients; `create_graph` records the
        backward pass so the gradients can be differentiated again.
        """
        seed = _seed_grad(self, grad, "backward()")
        keep = None if retain_grad else ()
        grads = _backprop([self], [seed], create_graph, keep)
        taken = {id(seed.data)}
        for var, g in grads.items():
            if var.creator is None:
                if var.grad is None:
                    var.grad = g if create_graph else _own(g, taken)
                else:
                    with using_config("enable_backprop", create_graph):
                        var.grad = var.grad + g
            elif retain_grad:
                var.grad = g if create_graph else _own(g, taken)

    # Operators and methods are attached in tinygrad_attn/functions.py, next to the ops.


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


def as_array(x, dtype=None):
    """`x` as an ndarray; Python scalars take `dtype` (if given) instead of float64."""
    if isinstance(x, np.ndarray):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def as_variable(x):
    """Wrap a non-Variable as a constant (a leaf that never gets a gradient)."""
    if isinstance(x, Variable):
        return x
    return Variable(as_array(x), requires_grad=False)


def as_operand(x, like):
    """A constant operand mixed with Variable `like`: it takes `like`'s floating dtype.

    This is why `x * 0.5` and `x + np.ones(3)` keep a float32 `x` float32.
    """
    if isinstance(x, Variable):
        return x
    dtype = like.data.dtype
    if dtype.kind not in "fc":
        dtype = None
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(f"cannot mix a {type(x).__name__} with a Variable") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"cannot mix a {type(x).__name__} with a Variable")
    return _wrap(arr, None, 0, False)


class Function:
    """One primitive: `forward` on ndarrays, `backward` on Variables, side by side.

    Subclasses set attributes in `__init__` (axis, shape, ...), implement
    `forward(*arrays) -> array or tuple of arrays` and
    `backward(*output_grads) -> gradient per input` (a Variable, or None for an input that
    takes no gradient). Returned gradients may have the broadcast shape: the engine
    reduces them.
    """

    generation = 0
    inputs = ()
    outputs = ()
    scope = ()

    def __call__(self, *inputs):
        inputs = [x if isinstance(x, Variable) else as_variable(x) for x in inputs]
        ys = self.forward(*[x.data for x in inputs])
        single = not isinstance(ys, tuple)
        if single:
            ys = (ys,)
        if Config.enable_backprop:
            for x in inputs:
                if x.requires_grad:
                    break
            else:
                x = None
        else:
            x = None
        if x is None:  # nothing to record: constants in, constants out
            outputs = [_wrap(y, None, 0, False) for y in ys]
            return outputs[0] if single else outputs
        gen = max([x.generation for x in inputs])
        self.generation = gen
        outputs = [_wrap(y, self, gen + 1, True) for y in ys]
        self.inputs = inputs
        self.outputs = [weakref.ref(y) for y in outputs]
        self.scope = _scope
        if not single:
            self.output_meta = [(y.shape, y.dtype) for y in ys]
        return outputs[0] if single else outputs

    def output(self, i=0):
        """The i-th output Variable (rules that reuse the forward result, e.g. exp, tanh)."""
        y = self.outputs[i]()
        if y is None:
            raise RuntimeError(f"{self.name}: output {i} was freed before backward")
        return y

    @property
    def name(self):
        return getattr(self, "op_name", type(self).__name__.lower())

    def attributes(self):
        """What the op was configured with (axis, shape, ...), for messages and diagrams."""
        return {}

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def __repr__(self):
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes().items())
        return f"<{self.name}({attrs})>"


def _wrap(data, creator, generation, requires_grad):
    """A Variable made by an op: skips __init__'s checks, which only user data needs."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    v = _new_variable(Variable)
    v.data = data
    v.name = None
    v.grad = None
    v.creator = creator
    v.generation = generation
    v.requires_grad = requires_grad and data.dtype.kind in "fc"
    return v


_new_variable = object.__new__


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


def _backprop(outputs, seeds, create_graph, keep):
    """Run the tape backwards from `outputs`; return {Variable: gradient Variable}.

    Gradients of intermediates are dropped as soon as their creator has consumed them,
    unless the Variable is in `keep` (`keep=None` keeps all).
    """
    grads = {}
    owned = set()  # ids of gradient arrays this pass made and nobody else has seen
    heap = []
    seen = set()
    tie = itertools.count()

    def push(f):
        if f is not None and f not in seen:
            seen.add(f)
            heapq.heappush(heap, (-f.generation, next(tie), f))

    with using_config("enable_backprop", create_graph):
        for y, g in zip(outputs, seeds):
            _accumulate(grads, y, g, owned, create_graph)
            push(y.creator)
        while heap:
            f = heapq.heappop(heap)[2]
            gys = []
            for ref in f.outputs:
                y = ref()
                g = None if y is None else (
                    grads.get(y) if keep is None or y in keep else grads.pop(y, None))
                if g is not None:
                    owned.discard(id(g.data))  # handed to a rule: no longer ours to mutate
                gys.append(g)
            if all(g is None for g in gys):
                continue
            if len(gys) > 1 and any(g is None for g in gys):
                gys = [g if g is not None else _zeros_for(f, i) for i, g in enumerate(gys)]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if gx is None or not x.requires_grad:
                    continue
                if isinstance(gx, Deferred) and x.creator is not None:
                    gx = gx.value()  # only leaves wait: an intermediate's grad is needed soon
                if not isinstance(gx, (Variable, Deferred)):
                    gx = Variable(as_array(gx, x.dtype), requires_grad=False)
                if gx.shape != x.data.shape:
                    gx = sum_to(gx, x.data.shape)
                if gx.dtype != x.data.dtype:
                    gx = cast(gx, x.data.dtype)
                _accumulate(grads, x, gx, owned, create_graph)
                push(x.creator)
    for x, g in grads.items():
        if isinstance(g, Deferred):
            grads[x] = g.value()
    return grads


def _accumulate(grads, x, gx, owned, create_graph):
    """grads[x] += gx: in place into an array this pass made, else into a new one."""
    acc = grads.get(x)
    if acc is None:
        grads[x] = gx
    elif isinstance(acc, Deferred) and isinstance(gx, Deferred):
        acc.merge(gx)
    else:
        acc = acc.value() if isinstance(acc, Deferred) else acc
        gx = gx.value() if isinstance(gx, Deferred) else gx
        if not create_graph and id(acc.data) in owned:
            acc.data += gx.data
        else:
            acc = grads[x] = acc + gx
            if not create_graph:
                owned.add(id(acc.data))


class Deferred:
    """A first-order gradient contribution whose sum is cheaper computed all at once.

    A weight used at every time step gets one `a_t^T @ g_t` per step; summed one by one
    that is T small products and T additions, summed as `[a_1..a_T]^T @ [g_1..g_T]` it is
    one large product. A rule may return a Deferred for a leaf input; the engine merges the
    contributions to one leaf and calls `value()` when the pass ends.
    """

    __slots__ = ("lhs", "rhs", "shape", "dtype")

    def __init__(self, lhs, rhs):
        self.lhs, self.rhs = [lhs], [rhs]          # the value is sum_i lhs_i^T @ rhs_i
        self.shape = (lhs.shape[1], rhs.shape[1])
        self.dtype = np.result_type(lhs.dtype, rhs.dtype)

    def merge(self, other):
        self.lhs += other.lhs
        self.rhs += other.rhs

    def value(self):
        if len(self.lhs) == 1:
            return _wrap(self.lhs[0].T @ self.rhs[0], None, 0, False)
        lhs, rhs = np.concatenate(self.lhs), np.concatenate(self.rhs)
        return _wrap(lhs.T @ rhs, None, 0, False)


def _zeros_for(f, i):
    # A multi-output op (split, unstack) where only some outputs received a gradient.
    shape, dtype = f.output_meta[i]
    return Variable(np.zeros(shape, dtype), requires_grad=False)


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


# The one place broadcasting (and dtype promotion) is undone; imported last because the
# ops are built on the classes above.
from .ops.shape import sum_to  # noqa: E402
from .ops.elementwise import cast  # noqa: E402
