"""`Parameter` (a trainable leaf) and `Module` (a tree of parameters and child modules).

`Module` holds parameters and child modules in the order they are assigned as attributes
(``self.W = Parameter(...)``, ``self.lstm = LSTM(...)``); `parameters()`,
`named_parameters()` (dotted paths such as ``decoder.lstm.Wx``), `children()`,
`zero_grad()`, `state_dict()`, `load_state_dict()`. Calling a module runs its `forward`
inside ``name_scope(<the attribute name its parent holds it under>)``, so the ops of
``model.decoder.attention`` are recorded under the scope ``('decoder', 'attention')``. Each
call's name in that path is numbered (`CallName`), so a diagram can draw one node per call.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..tape import Variable, _scope

__all__ = ["Parameter", "Module", "CallName"]

_calls = itertools.count(1)


class CallName(str):
    """A module's name in a scope path, equal to the plain name, that also says which call
    it was (`call`, unique in the process): diagrams draw two calls of one module apart."""

    def __new__(cls, name):
        self = super().__new__(cls, name)
        self.call = next(_calls)
        return self


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
        if not self._scope_name:
            return self.forward(*args, **kwargs)
        # name_scope(self._scope_name), with the call numbered (the scope is a ContextVar)
        token = _scope.set(_scope.get() + (CallName(self._scope_name),))
        try:
            return self.forward(*args, **kwargs)
        finally:
            _scope.reset(token)

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
