"""Modules: trainable parameters and the layers the seq2seq models are built from.

Forward code only: every gradient comes from the tape (`Variable.backward`).

* `Parameter` -- a trainable leaf (a floating `Variable`).
* `Module` -- holds parameters and child modules in the order they are assigned as
  attributes (`self.W = Parameter(...)`, `self.lstm = LSTM(...)`); `parameters()`,
  `named_parameters()` (dotted paths such as ``decoder.lstm.Wx``), `children()`,
  `zero_grad()`, `state_dict()`, `load_state_dict()`. Calling a module runs its `forward`
  inside ``tga.name_scope(<the attribute name its parent holds it under>)``, so the ops of
  ``model.decoder.attention`` are recorded under the scope ``('decoder', 'attention')``.
* Layers, initialised as in *Deep Learning from Scratch 2*:
  `Linear` (``x @ W + b``), `Embedding` (``W[ids]``), `LSTM` (a whole sequence; gates
  f, g, i, o), `Attention` (dot-product attention over all decoder steps at once), and the
  two halves of attention as functions, `attention_weight` and `weight_sum`.

Each layer constructor takes ``dtype`` (float32 by default) and ``rng`` (a
``numpy.random.Generator``) or ``seed``; weights are drawn as float64 standard normals,
scaled, then cast to ``dtype`` (as the book's ``randn(...) / sqrt(n)``, then ``astype``).
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import functions as F
from .engine import Variable, name_scope

__all__ = ["Parameter", "Module", "Linear", "Embedding", "LSTM", "Attention",
           "attention_weight", "weight_sum", "make_rng"]


class Parameter(Variable):
    """A trainable leaf: a floating-point `Variable` that always requires a gradient."""

    __slots__ = ()

    def __init__(self, data, name=None):
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected a floating array, got dtype {data.dtype}")
        super().__init__(data, name, requires_grad=True)

    def __repr__(self):
        name = f"{self.name!r}, " if self.name else ""
        return f"Parameter({name}shape={self.shape}, dtype={self.dtype})"


def make_rng(rng=None, seed=None):
    """A `numpy.random.Generator`: `rng` itself, or a new one from `seed`."""
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _normal(rng, shape, divisor, dtype):
    """The book's `randn(*shape) / divisor`, drawn in float64 and cast to `dtype`."""
    return (rng.standard_normal(shape) / divisor).astype(dtype)


class Module:
    """A container of parameters and child modules, in assignment order.

    Subclasses assign `Parameter`s and `Module`s as attributes in `__init__` (after
    ``super().__init__()``) and define `forward`. ``module(*args)`` calls `forward` inside
    the module's name scope.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_scope_name", None)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before "
                                 f"assigning attributes (assigning {name!r})")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            if value is self:
                raise ValueError(f"{type(self).__name__}: a module cannot contain itself")
            self._modules[name] = value
            if value._scope_name is None:
                object.__setattr__(value, "_scope_name", name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # --- calling ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        scope = name_scope(self._scope_name) if self._scope_name else contextlib.nullcontext()
        with scope:
            return self.forward(*args, **kwargs)

    # --- walking the tree ---------------------------------------------------------------
    def children(self):
        """The direct child modules, in assignment order."""
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_modules(self, prefix="", _seen=None):
        """(dotted path, module) for this module ('' for itself) and every descendant;
        a module reachable along two paths is listed once, under the first."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def named_parameters(self, prefix=""):
        """(dotted path, Parameter): own parameters first, then each child's, in order.

        A parameter reachable along two paths is listed once, under the first.
        """
        seen = set()
        for path, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def parameters(self):
        """Every Parameter, in the order of `named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # --- saving and loading -------------------------------------------------------------
    def state_dict(self):
        """{dotted name: a copy of the parameter's array}, in parameter order."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state):
        """Copy the arrays of `state` (name -> array) into the parameters, in place.

        Every parameter must be present with its exact shape and dtype, and nothing else:
        all problems are reported together in one error naming the keys concerned.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        arrays = {}
        for name, p in params.items():
            if name not in state:
                continue
            value = state[name]
            arr = value.data if isinstance(value, Variable) else np.asarray(value)
            if arr.shape != p.shape:
                problems.append(f"{name}: shape {arr.shape} in the state, {p.shape} in the "
                                "model")
            elif arr.dtype != p.dtype:
                problems.append(f"{name}: dtype {arr.dtype} in the state, {p.dtype} in the "
                                "model")
            else:
                arrays[name] = arr
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for name, arr in arrays.items():
            p = params[name]
            if not p.data.flags.writeable:
                p.data = p.data.copy()
            np.copyto(p.data, arr)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for name, p in self._parameters.items():
            lines.append(f"  {name}: {tuple(p.shape)} {p.dtype}")
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  {name}: {body}")
        return "\n".join(lines) + ")" if len(lines) > 1 else f"{type(self).__name__}()"


# --- layers --------------------------------------------------------------------------------
class Linear(Module):
    """``y = x @ W + b`` with ``W (in, out)`` (the book's Affine / TimeAffine).

    ``x`` may have any number of leading axes; (N, T, in) goes through one matmul.
    Init: ``W ~ N(0, 1) / sqrt(in)``, ``b = 0``.
    """

    def __init__(self, in_features, out_features, *, bias=True, dtype=np.float32, rng=None,
                 seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.in_features, self.out_features = in_features, out_features
        self.W = Parameter(_normal(rng, (in_features, out_features),
                                   np.sqrt(in_features), dtype))
        self.b = Parameter(np.zeros(out_features, dtype)) if bias else None

    def forward(self, x):
        y = x @ self.W
        return y + self.b if self.b is not None else y


class Embedding(Module):
    """``W[ids]``: integer ids of any shape -> ids.shape + (D,). Init ``W ~ N(0, 1) / 100``."""

    def __init__(self, vocab_size, embed_size, *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.W = Parameter(_normal(rng, (vocab_size, embed_size), 100, dtype))

    def forward(self, ids):
        return F.embedding(self.W, ids)


class LSTM(Module):
    """An LSTM over a whole sequence, parameters as the book's TimeLSTM.

    ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``; the four gate blocks in the order f, g, i, o:

        A = x_t @ Wx + h_{t-1} @ Wh + b
        f, g, i, o = sigmoid(A_f), tanh(A_g), sigmoid(A_i), sigmoid(A_o)
        c_t = f * c_{t-1} + g * i
        h_t = o * tanh(c_t)

    ``forward(xs (N, T, D), state=None) -> (hs (N, T, H), (h, c))``. ``state`` is an initial
    ``(h, c)``; either may be None, meaning zeros (the book's default, and its decoders'
    ``set_state(h)`` with c = 0). The input projection ``xs @ Wx + b`` of all T steps is one
    matmul; the recurrence then runs `cell` step by step.
    Init: ``Wx ~ N(0, 1) / sqrt(D)``, ``Wh ~ N(0, 1) / sqrt(H)``, ``b = 0``.
    """

    def __init__(self, input_size, hidden_size, *, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        D, H = input_size, hidden_size
        self.input_size, self.hidden_size = D, H
        self.Wx = Parameter(_normal(rng, (D, 4 * H), np.sqrt(D), dtype))
        self.Wh = Parameter(_normal(rng, (H, 4 * H), np.sqrt(H), dtype))
        self.b = Parameter(np.zeros(4 * H, dtype))

    def forward(self, xs, state=None):
        h, c = (None, None) if state is None else state
        # all steps' input projections at once, time-major so each step's slice is contiguous
        xw = F.swapaxes(xs, 0, 1) @ self.Wx + self.b     # (T, N, 4H)
        hs = []
        for xw_t in F.unstack(xw, axis=0):
            h, c = self.cell(xw_t, h, c)
            hs.append(h)
        return F.stack(hs, axis=1), (h, c)

    def cell(self, xw_t, h, c):
        """One step from the projected input ``xw_t = x_t @ Wx + b`` (N, 4H).

        ``h`` / ``c`` None stand for zeros (nothing is computed for them).
        """
        A = xw_t if h is None else xw_t + h @ self.Wh
        f, g, i, o = F.split(A, 4, axis=-1)
        f, g, i, o = F.sigmoid(f), F.tanh(g), F.sigmoid(i), F.sigmoid(o)
        c = g * i if c is None else f * c + g * i
        h = o * F.tanh(c)
        return h, c


def attention_weight(hs, h):
    """The book's AttentionWeight: ``a = softmax_t(hs[n, t] . h[n])``.

    ``hs (N, Te, H)`` with ``h (N, H)`` -> ``a (N, Te)``; or with all decoder steps at once,
    ``h (N, Td, H)`` -> ``a (N, Td, Te)``: scores ``h @ hs^T``, softmax over encoder steps.
    """
    if h.ndim == 2:
        scores = F.squeeze(hs @ F.expand_dims(h, -1), -1)   # (N, Te, H) @ (N, H, 1)
    else:
        scores = h @ F.swapaxes(hs, 1, 2)                   # (N, Td, H) @ (N, H, Te)
    return F.softmax(scores, axis=-1)


def weight_sum(hs, a):
    """The book's WeightSum: ``c[n] = sum_t a[n, t] * hs[n, t]``.

    ``a (N, Te)`` -> ``c (N, H)``; ``a (N, Td, Te)`` -> ``c (N, Td, H)`` (``a @ hs``).
    """
    if a.ndim == 2:
        return F.squeeze(F.expand_dims(a, 1) @ hs, 1)       # (N, 1, Te) @ (N, Te, H)
    return a @ hs


class Attention(Module):
    """Dot-product attention of the decoder states over the encoder states.

    ``forward(hs_enc (N, Te, H), hs_dec (N, Td, H)) -> context (N, Td, H)``, every decoder
    step at once (the book's TimeAttention without its loop); ``hs_dec (N, H)`` gives one
    step, ``(N, H)`` (the book's Attention). The weights ``a`` of the last call stay in
    ``self.weights`` (an ndarray, (N, Td, Te) or (N, Te)) for plotting.
    """

    def __init__(self):
        super().__init__()
        self.weights = None

    def forward(self, hs_enc, hs_dec):
        a = attention_weight(hs_enc, hs_dec)
        self.weights = a.data
        return weight_sum(hs_enc, a)
