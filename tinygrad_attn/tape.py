"""The tape: `Variable`, `Function`, and what decides whether ops are recorded.

* Every op is a `Function`. Calling it runs `forward` on plain ndarrays and, when
  recording is on and some input wants a gradient, links the outputs to the function
  (`output.creator`) and the function to its inputs (`function.inputs`). That chain of
  links *is* the tape. Outputs are held weakly, so a graph lives exactly as long as the
  Variables at its end.
* A function's `generation` is one past the newest of its inputs; reverse mode
  (`autodiff.py`) walks functions newest-first so every gradient is complete when used.
* What `with` blocks change (recording on/off, the name scope) lives in `ContextVar`s:
  each thread and each asyncio task sees its own, so one thread's `no_grad()` never turns
  recording off in another.

This module imports no op and no reverse mode (only `threads`, which imports nothing of the
package): ops import it, reverse mode imports it.
"""
from __future__ import annotations

import contextlib
import contextvars
import operator
import re
import threading
import weakref

import numpy as np

from . import threads

__all__ = ["Variable", "Function", "ProductSum", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "name_scope", "current_scope", "unfused", "is_unfused",
           "as_variable", "as_operand", "as_array", "on_record", "topological_order"]

# Whether ops are recorded. PyTorch's vocabulary (`no_grad`, `enable_grad`,
# `set_grad_enabled`, `is_grad_enabled`) is the public one.
_grad_enabled = contextvars.ContextVar("tinygrad_attn_grad_enabled", default=True)
# The current name scope, a tuple of names; functions created inside remember it so that
# graph diagrams and error reports can say where an op came from.
_scope = contextvars.ContextVar("tinygrad_attn_scope", default=())


class set_grad_enabled(contextlib.ContextDecorator):
    """Record ops (`mode` True) or not inside a `with` block or a decorated function, then
    restore what was there before."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._tokens = []

    def __enter__(self):
        self._tokens.append(_grad_enabled.set(self.mode))
        return self

    def __exit__(self, *exc):
        _grad_enabled.reset(self._tokens.pop())
        return False

    def _recreate_cm(self):  # each call of a decorated function gets its own state
        return type(self)(self.mode)


def no_grad():
    """Context manager (or decorator): nothing computed inside is recorded on the tape."""
    return set_grad_enabled(False)


def enable_grad():
    """Context manager (or decorator): record again, e.g. inside a `no_grad` block."""
    return set_grad_enabled(True)


def is_grad_enabled():
    """True when ops are being recorded (False inside `no_grad()`)."""
    return _grad_enabled.get()


def name_scope(name):
    """Group every op recorded inside ``with name_scope(name):`` under `name`; nested scopes
    make a path, and a dotted name is one: ``name_scope("decoder.attention")`` is the same as
    two nested scopes. A name with an empty part (``""``, ``"enc."``, ``".enc"``,
    ``"a..b"``) raises ValueError at the ``with`` line: a path has no nameless level."""
    parts = tuple(str(name).split("."))
    if "" in parts:
        named = ".".join(p for p in parts if p)
        raise ValueError(f"name_scope: {name!r} has an empty name in its path (a scope is "
                         f"split on \".\"); " + (f"did you mean {named!r}?" if named else
                                                  "give the scope a name"))
    return _entered(parts)


@contextlib.contextmanager
def _entered(parts):
    token = _scope.set(_scope.get() + parts)
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope():
    """The name scope ops are recorded under here, a tuple of names."""
    return _scope.get()


# Inside `unfused()` an op that fuses a composite (see `Function.composite`) records the
# composite, primitive by primitive.
_unfused = contextvars.ContextVar("tinygrad_attn_unfused", default=False)


@contextlib.contextmanager
def unfused():
    """Record every fused op inside (`lstm`) as the composite it stands for, primitive by
    primitive: same values and gradients, slower; for tools that need each primitive on the
    tape (a diagram of the LSTM cell, `testing.locate` hunting a wrong rule inside it)."""
    token = _unfused.set(True)
    try:
        yield
    finally:
        _unfused.reset(token)


def is_unfused():
    """True inside `unfused()`: a fused op's public function records its composite."""
    return _unfused.get()


# Callbacks told of every Function recorded (the testing kit notes the order ops ran in).
# They live in a ContextVar, so a block sees only its own thread's (or task's) ops;
# `_observed` counts the blocks open anywhere, so that with none open Function.__call__
# pays one global check and nothing more.
_observers = contextvars.ContextVar("tinygrad_attn_observers", default=())
_observed = 0
_observed_lock = threading.Lock()


@contextlib.contextmanager
def on_record(callback):
    """Inside the block, `callback(function)` runs for each Function this thread (or asyncio
    task) records on the tape, right after it is linked to its inputs and outputs, in the
    order the ops run. Ops that record nothing (constants only, `no_grad`) are not seen."""
    global _observed
    token = _observers.set(_observers.get() + (callback,))
    with _observed_lock:
        _observed += 1
    try:
        yield
    finally:
        with _observed_lock:
            _observed -= 1
        _observers.reset(token)


def _is_float(dtype):
    return dtype.kind in "fc"


class Variable:
    """An ndarray with a place on the tape.

    `data` is the array, `grad` its gradient (a Variable, or None), `creator` the Function
    that made it (None for a leaf). Floating leaves are differentiable; integer and bool
    Variables are data (token ids, masks) and never get a gradient.

    `==`, `<`, ... compare values and give bool data Variables (functions.py); the hash
    stays the identity. `bool(v)` is a one-element Variable's value and raises for more
    (PyTorch's rule). NumPy may read a Variable only where no gradient is lost:
    `np.asarray(v)` of one that requires grad raises.
    """

    __slots__ = ("data", "name", "grad", "creator", "generation", "requires_grad", "__weakref__")
    __array_priority__ = 200
    __array_ufunc__ = None  # make `ndarray + Variable` defer to Variable.__radd__
    # (functions.py replaces it: NumPy's ufuncs then run as F's ops, `np.exp(v)` is F.exp)
    __hash__ = object.__hash__  # identity: the tape keys dicts by Variable, whatever == says

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
    # (attrgetter: read in C, no Python frame; ops read these on every call)
    shape = property(operator.attrgetter("data.shape"))
    ndim = property(operator.attrgetter("data.ndim"))
    size = property(operator.attrgetter("data.size"))
    dtype = property(operator.attrgetter("data.dtype"))

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = str(self.data).replace("\n", "\n" + " " * 9)
        name = f", name={self.name!r}" if self.name else ""
        return f"Variable({body}{name})"

    def _repr_html_(self):
        # Jupyter: one line of facts (name, shape, dtype, where it came from, its gradient)
        # above the values, summarised as NumPy prints them (large arrays elided)
        import html
        if self.creator is not None:
            scope = ".".join(getattr(self.creator, "scope", ()))
            origin = f"made by {repr(self.creator)[1:-1]}" + (f" in {scope}" if scope else "")
        elif self.requires_grad:
            origin = "leaf, requires grad"
        else:
            origin = "leaf, no gradient" if _is_float(self.dtype) else "leaf, data"
        facts = [f"shape {self.shape}", str(self.dtype), origin]
        if self.grad is not None:
            facts.append(f"has .grad {self.grad.shape}")
        name = f" <code>{html.escape(repr(self.name))}</code>" if self.name else ""
        values = np.array2string(self.data, threshold=min(np.get_printoptions()["threshold"],
                                                          200), edgeitems=3)
        return (f'<div class="tinygrad-attn-variable"><b>Variable</b>{name} '
                f'<span style="opacity:0.75">{html.escape(" · ".join(facts))}</span>'
                f'<pre style="margin:0.2em 0">{html.escape(values)}</pre></div>')

    def item(self):
        return self.data.item()

    def __bool__(self):
        # PyTorch's rule: the truth of one element is its value; of several it is ambiguous
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a Variable of shape {self.shape} is ambiguous; use "
                "(v.data).any() or (v.data).all(), or compare one element")
        return bool(self.data)

    def __float__(self):
        return float(self._one("float"))

    def __int__(self):
        return int(self._one("int"))

    def _one(self, what):
        if self.data.size != 1:
            raise TypeError(f"{what}() of a Variable of shape {self.shape}: only one-element "
                            "Variables convert to Python scalars")
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        # NumPy may read a Variable's values only where that cannot silently cut a gradient
        # path: `np.asarray(v)` of a Variable that requires grad is refused (as in PyTorch)
        if self.requires_grad:
            raise TypeError(
                f"NumPy was given a Variable that requires grad ({self.shape} {self.dtype}); "
                "its result would leave the tape. Use F's ops (or the Variable's methods) to "
                "stay on it, or v.data / v.detach() for the values")
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self):
        return self.data

    @property
    def is_leaf(self):
        return self.creator is None

    def zero_grad(self):
        """Forget the accumulated gradient (`.grad = None`)."""
        self.grad = None

    cleargrad = zero_grad  # DeZero's name for the same thing

    def detach(self):
        """The same data, cut from the tape."""
        return Variable(self.data, self.name, requires_grad=False)

    # Operators, methods and `backward` (reverse mode, autodiff.py) are attached in
    # tinygrad_attn/functions.py, so this module never imports upward.


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
    """A constant operand mixed with `like` (a Variable, or an array): it takes `like`'s
    floating dtype.

    This is why `x * 0.5` and `x + np.ones(3)` keep a float32 `x` float32.
    """
    if isinstance(x, Variable):
        return x
    dtype = like.data.dtype if isinstance(like, Variable) else np.asarray(like).dtype
    if dtype.kind not in "fc":
        dtype = None
    if type(x) is float or type(x) is int:   # the common case, without the checks below
        return _wrap(np.asarray(x, dtype), None, 0, False)
    try:
        arr = np.asarray(x, dtype)
    except (TypeError, ValueError):
        raise TypeError(f"cannot mix a {type(x).__name__} with a Variable") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"cannot mix a {type(x).__name__} with a Variable")
    return _wrap(arr, None, 0, False)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Function:
    """One primitive: `forward` on ndarrays, `backward` on Variables, side by side.

    An op is a subclass with two methods and nothing else:

        class Softmax(Function):
            def forward(self, x):        # ndarrays in, ndarray (or tuple) out
                ...uses self.axis...
            def backward(self, gy):      # Variables in: a gradient per input (or None)
                ...

    Its configuration is passed as keywords, ``Softmax(axis=1)(x)``, and kept as plain
    attributes (``self.axis``); `attributes()` returns them and ``type(f)(**f.attributes())``
    builds an equal op. Gradients a rule returns may have the broadcast shape: reverse mode
    reduces them. The op's name (for messages and diagrams) is its class name in
    snake_case (``LogSoftmax`` -> ``log_softmax``).

    An op may fuse a composite of other ops into one node with a fast rule (`lstm`): it
    then defines ``composite(self, *inputs)``, the same outputs computed with primitives,
    which is its definition. Its `backward` need only be first order: a backward pass that
    records (``create_graph=True``, for higher order) differentiates the composite instead,
    and inside `unfused()` the op's public function records the composite itself. (JAX's
    `custom_vjp` attaches a rule to a function in the same way.)
    """

    generation = 0
    inputs = ()
    outputs = ()
    scope = ()
    composite = None
    _attrs = {}

    def __init__(self, **attributes):
        if attributes:
            self._attrs = attributes
            self.__dict__.update(attributes)

    def __call__(self, *inputs):
        # One and two Variable inputs (nearly every call) are spelled out: the generic loop
        # costs more than NumPy's own work on small arrays.
        n = len(inputs)
        if n == 2 and isinstance(a := inputs[0], Variable) and \
                isinstance(b := inputs[1], Variable):
            ys = self.forward(a.data, b.data)
            record = (a.requires_grad or b.requires_grad) and _grad_enabled.get()
            gen = a.generation if a.generation > b.generation else b.generation
        elif n == 1 and isinstance(a := inputs[0], Variable):
            ys = self.forward(a.data)
            record = a.requires_grad and _grad_enabled.get()
            gen = a.generation
        else:
            inputs = tuple(x if isinstance(x, Variable) else as_variable(x) for x in inputs)
            ys = self.forward(*[x.data for x in inputs])
            record = any(x.requires_grad for x in inputs) and _grad_enabled.get()
            gen = max([x.generation for x in inputs], default=0)
        if type(ys) is not tuple:   # one output: _wrap spelled out, as above
            if type(ys) is not np.ndarray:
                ys = np.asarray(ys)
            y = _new_variable(Variable)
            y.data, y.name, y.grad = ys, None, None
            if record:
                y.creator, y.generation, y.requires_grad = self, gen + 1, ys.dtype.kind in "fc"
                self.inputs, self.generation, self.scope = inputs, gen, _scope.get()
                self.outputs = (weakref.ref(y),)
                if _observed:  # someone listens (on_record): the one check recording pays
                    for callback in _observers.get():
                        callback(self)
            else:   # constants in, or recording off: a constant out
                y.creator, y.generation, y.requires_grad = None, 0, False
            return y
        if not record:
            return [_wrap(y, None, 0, False) for y in ys]
        outputs = [_wrap(y, self, gen + 1, True) for y in ys]
        self.inputs, self.generation, self.scope = inputs, gen, _scope.get()
        self.outputs = tuple(map(weakref.ref, outputs))
        self.output_meta = [(y.data.shape, y.data.dtype) for y in outputs]
        if _observed:  # someone listens (on_record): the one check recording pays
            for callback in _observers.get():
                callback(self)
        return outputs

    def output(self, i=0):
        """The i-th output Variable (rules that reuse the forward result, e.g. exp, tanh)."""
        y = self.outputs[i]()
        if y is None:
            raise RuntimeError(f"{self.name}: output {i} was freed before backward")
        return y

    @property
    def name(self):
        cls = type(self)
        name = cls.__dict__.get("_name")
        if name is None:
            name = _CAMEL.sub("_", cls.__name__).lower()
            cls._name = name
        return name

    def attributes(self):
        """What the op was configured with (axis, shape, ...): its constructor keywords."""
        return dict(self._attrs)

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def __repr__(self):
        attrs = ", ".join(f"{k}={describe(v)}" for k, v in self._attrs.items())
        return f"<{self.name}({attrs})>"


def describe(value):
    """A short text for an op attribute: slices as `1:3`, arrays by shape, dtypes by name."""
    if isinstance(value, slice):
        text = ("" if value.start is None else str(value.start)) + ":" + \
            ("" if value.stop is None else str(value.stop))
        return text if value.step is None else f"{text}:{value.step}"
    if isinstance(value, np.ndarray):
        return f"{'mask' if value.dtype == np.bool_ else 'array'}{value.shape}"
    if isinstance(value, np.dtype):
        return value.name
    if value is Ellipsis:
        return "..."
    if isinstance(value, tuple) and any(
            isinstance(v, (slice, np.ndarray)) or v is None or v is Ellipsis for v in value):
        return "[" + ", ".join(describe(v) for v in value) + "]"   # an index
    return str(value)


class ProductSum:
    """A weight's gradient as a sum of products, ``sum_i lhs_i^T @ rhs_i``, not yet formed.

    A weight used at every time step (``h_t @ Wh``) receives ``h_t^T @ g_t`` from each
    step. Summed one by one that is T small products and T additions; summed as
    ``[h_1 .. h_T]^T @ [g_1 .. g_T]`` it is one large product. A rule returns
    ``ProductSum(lhs, rhs)`` (2-D Variables) for such an input and the pass decides:

    * it merges contributions and forms the product once, at the end of the pass, only
      when (a) the pass is first order (`create_graph=False`: nothing will differentiate
      the gradient, so it need not be a graph), (b) the input is a leaf (no rule of this
      pass waits for its gradient), and (c) lhs, rhs and the input share one dtype (the
      concatenated product is then what the step-by-step sum computes, up to float
      rounding order);
    * otherwise it evaluates ``lhs^T @ rhs`` at once as ordinary (recorded) ops.

    So a rule never needs to know what kind of pass it is in. (It lives here, beside
    `Function`, so that ops import only the tape.)
    """

    __slots__ = ("lhs", "rhs", "shape", "dtype")

    def __init__(self, lhs, rhs):
        self.lhs, self.rhs = [lhs], [rhs]
        self.shape = (lhs.shape[1], rhs.shape[1])
        self.dtype = np.result_type(lhs.dtype, rhs.dtype)

    def mergeable(self, x, create_graph):
        return (not create_graph and x.creator is None
                and self.lhs[0].dtype == self.rhs[0].dtype == x.dtype)

    def merge(self, other):
        self.lhs += other.lhs
        self.rhs += other.rhs

    def evaluate(self):
        """The sum as recorded ops (one product per contribution)."""
        total = None
        for lhs, rhs in zip(self.lhs, self.rhs):
            term = lhs.T @ rhs       # operators (attached by functions.py), not an op import
            total = term if total is None else total + term
        return total

    def value(self):
        """The sum as one product of the concatenated arrays (first order: not recorded)."""
        if len(self.lhs) == 1:
            return _wrap(threads.matmul(self.lhs[0].data.T, self.rhs[0].data), None, 0, False)
        lhs = np.concatenate([v.data for v in self.lhs])
        rhs = np.concatenate([v.data for v in self.rhs])
        return _wrap(threads.matmul(lhs.T, rhs), None, 0, False)


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


def topological_order(outputs):
    """Every Function that computed `outputs` (a Variable or a list of them), each listed
    after the Functions that made its inputs: a forward order of the graph. Iterative, so
    graphs of any depth are fine; among unrelated branches, the order of the outputs' and
    inputs' listing decides."""
    outs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    order, done, onstack = [], set(), set()
    stack = [(y.creator, False) for y in reversed(outs) if y.creator is not None]
    while stack:
        f, expanded = stack.pop()
        if expanded:
            onstack.discard(id(f))
            if id(f) not in done:
                done.add(id(f))
                order.append(f)
            continue
        if id(f) in done or id(f) in onstack:
            continue
        onstack.add(id(f))
        stack.append((f, True))
        for x in reversed(list(f.inputs)):
            c = x.creator
            if c is not None and id(c) not in done:
                stack.append((c, False))
    return order
