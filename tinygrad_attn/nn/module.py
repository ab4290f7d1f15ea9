"""`Parameter` (a trainable leaf), `Module` (a tree of parameters, buffers and child
modules) and the containers that hold modules or parameters in a list or by name.

`Module` holds parameters and child modules in the order they are assigned as attributes
(``self.W = Parameter(...)``, ``self.lstm = LSTM(...)``); `parameters()`,
`named_parameters()` (dotted paths such as ``decoder.lstm.Wx``), `children()`, `apply()`,
`zero_grad()`, `state_dict()`, `load_state_dict()`, `train()` / `eval()`. Calling a module
runs its `forward` inside ``name_scope(<the attribute name its parent holds it under>)``,
so the ops of ``model.decoder.attention`` are recorded under the scope
``('decoder', 'attention')``. Each call's name in that path is numbered (`CallName`), so a
diagram can draw one node per call.

Buffers (`register_buffer`) are arrays that are state but not trained, such as batch
norm's running mean: `state_dict` saves them beside the parameters, `load_state_dict`
restores them, the optimiser never sees them.

Modules in a list or a dict. `ModuleList`, `ModuleDict`, `ParameterList`, `ParameterDict`
and `Sequential` register what they hold (``layers.0.W``). A plain list, tuple or dict
assigned as an attribute is registered too, as a user expects: if every entry is a Module
(or a list/dict of them) it becomes a `ModuleList` / `ModuleDict`, if every entry is a
Parameter a `ParameterList` / `ParameterDict` (PyTorch silently leaves such parameters out
of `parameters()`, and the optimiser then never trains them). Two cases cannot be
registered and raise a TypeError naming the attribute: a container mixing Modules or
Parameters with other values, and a plain container assigned first (``self.blocks = []``)
and filled with modules afterwards, which `parameters()`, `state_dict()` and `train()`
detect.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..tape import Variable, _scope

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "CallName"]

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


_PLAIN = (list, tuple, dict)


def _members(value):
    """The Modules and Parameters anywhere inside a plain list / tuple / dict."""
    stack, found = [value], []
    while stack:
        v = stack.pop()
        if isinstance(v, (Module, Parameter)):
            found.append(v)
        elif isinstance(v, _PLAIN):
            stack.extend(v.values() if isinstance(v, dict) else v)
    return found


def _as_container(value):
    """A plain list / tuple / dict of Modules (or of Parameters), nested or not, as the
    container that registers them; None if `value` is not such a container."""
    if isinstance(value, (Module, Parameter)):
        return value
    if not isinstance(value, _PLAIN) or not value:
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value)
    converted = {k: _as_container(v) for k, v in items}
    entries = list(converted.values())
    if all(isinstance(v, Module) for v in entries):
        return ModuleDict(converted) if isinstance(value, dict) else ModuleList(entries)
    if all(isinstance(v, Parameter) for v in entries):
        return ParameterDict(converted) if isinstance(value, dict) else ParameterList(entries)
    return None


def _check_key(owner, key):
    if not isinstance(key, str):
        raise TypeError(f"{owner}: keys must be strings, got {type(key).__name__} {key!r}")
    if not key or "." in key:
        raise ValueError(f"{owner}: key {key!r} must be a non-empty string without '.' "
                         "(dots separate the parts of a parameter's path)")


class Module:
    """A container of parameters, buffers and child modules, in assignment order.

    Subclasses assign `Parameter`s and `Module`s as attributes in `__init__` (after
    ``super().__init__()``) and define `forward`. ``module(*args)`` calls `forward` inside
    the module's name scope.

    ``training`` (True after construction) is the mode `train()` and `eval()` set for the
    whole tree: layers whose forward differs between training and evaluation (`Dropout`,
    `BatchNorm1d`) read their own ``self.training``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_transient", set())    # buffers left out of state_dict
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_plain", set())        # attributes holding plain containers
        object.__setattr__(self, "_scope_name", None)
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before "
                                 f"assigning attributes (assigning {name!r})")
        if name in self._buffers:            # assigning a registered buffer replaces it
            self._buffers[name] = self._buffer_value(name, value)
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._plain.discard(name)
        if isinstance(value, _PLAIN):
            container = _as_container(value)
            if container is not None:
                value = container
            elif _members(value):
                raise TypeError(
                    f"{type(self).__name__}.{name}: a {type(value).__name__} mixing Modules "
                    "or Parameters with other values cannot be registered; keep modules in "
                    "nn.ModuleList / nn.ModuleDict, parameters in nn.ParameterList / "
                    "nn.ParameterDict, and other values in an attribute of their own")
            else:
                self._plain.add(name)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            if value is self:
                raise ValueError(f"{type(self).__name__}: a module cannot contain itself")
            self._modules[name] = value
            value._take_scope(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        self._transient.discard(name)
        self._plain.discard(name)
        object.__delattr__(self, name)

    def _take_scope(self, name):
        """Called when a parent registers this module under `name`: the first name is the
        scope its ops are recorded under."""
        if self._scope_name is None:
            object.__setattr__(self, "_scope_name", name)

    # --- buffers ------------------------------------------------------------------------
    def _buffer_value(self, name, value):
        if value is not None and not isinstance(value, np.ndarray):
            raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a numpy array "
                            f"or None, got {type(value).__name__}")
        return value

    def register_buffer(self, name, array, persistent=True):
        """Keep `array` (a numpy array, or None) as state that is not trained: reachable
        as ``self.<name>``, saved by `state_dict` unless ``persistent=False`` (None is
        never saved), restored in place by `load_state_dict`, never in `parameters()`."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before "
                                 f"registering buffer {name!r}")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{type(self).__name__}.register_buffer: the name must be an "
                             f"identifier, got {name!r}")
        if name in self._parameters or name in self._modules:
            raise ValueError(f"{type(self).__name__}.register_buffer: {name!r} is already "
                             "a parameter or a child module")
        self._plain.discard(name)
        self._buffers[name] = self._buffer_value(name, array)
        if persistent:
            self._transient.discard(name)
        else:
            self._transient.add(name)
        object.__setattr__(self, name, array)

    def named_buffers(self, prefix=""):
        """(dotted path, array) of every buffer that is not None, in module order; an array
        reachable along two paths is listed once."""
        seen = set()
        for path, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None and id(b) not in seen:
                    seen.add(id(b))
                    yield (f"{path}.{name}" if path else name), b

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    # --- calling ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        if not self._scope_name:
            return self.forward(*args, **kwargs)
        # name_scope(self._scope_name), with the call numbered (the scope is a ContextVar);
        # a module held in a container has a dotted name ("layers.0"): one name per level
        *outer, own = self._scope_name.split(".")
        token = _scope.set(_scope.get() + (*outer, CallName(own)))
        try:
            return self.forward(*args, **kwargs)
        finally:
            _scope.reset(token)

    # --- modes --------------------------------------------------------------------------
    def train(self, mode=True):
        """Set ``training`` to `mode` on this module and every descendant; returns self.

        Only layers whose forward differs read it (`Dropout` drops only in training,
        `BatchNorm1d` uses batch statistics and updates its running ones only in
        training); whether ops are recorded (`no_grad`) is a separate switch."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be True or False, got "
                            f"{mode!r}")
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """``train(False)``: evaluation mode for the whole tree; returns self."""
        return self.train(False)

    # --- walking the tree ---------------------------------------------------------------
    def children(self):
        """The direct child modules, in assignment order."""
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_modules(self, prefix=""):
        """(dotted path, module) for this module ('' for itself) and every descendant;
        a module reachable along two paths is listed once, under the first.

        Raises TypeError if a plain list / tuple / dict attribute holds a Module or
        Parameter that is not registered (filled after it was assigned)."""
        found, seen = [], set()
        self._walk(prefix, found, seen)
        params = None
        for path, module in found:
            if not module._plain:
                continue
            for name in module._plain:
                members = _members(module.__dict__[name])
                if not members:
                    continue
                if params is None:
                    params = {id(p) for _, m in found for p in m._parameters.values()}
                lost = [m for m in members if id(m) not in (
                    seen if isinstance(m, Module) else params)]
                if lost:
                    where = f"{path}.{name}" if path else name
                    raise TypeError(
                        f"{type(module).__name__}.{name} ({where!r}) is a plain "
                        f"{type(module.__dict__[name]).__name__} that got "
                        f"{type(lost[0]).__name__}s after it was assigned, so they are not "
                        "registered (not in parameters(), state_dict(), train()): assign "
                        "nn.ModuleList() / nn.ModuleDict() (or nn.ParameterList / "
                        "nn.ParameterDict) instead of an empty container, or assign the "
                        "container once it is filled")
        return iter(found)

    def _walk(self, path, found, seen):
        seen.add(id(self))
        found.append((path, self))
        for name, child in self._modules.items():
            if id(child) not in seen:
                child._walk(f"{path}.{name}" if path else name, found, seen)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, then on this module (PyTorch's order:
        children first); returns self. The usual way to initialise a whole model:
        ``model.apply(lambda m: nn.init.xavier_uniform_(m.W, rng=rng) if isinstance(m,
        nn.Linear) else None)``."""
        order, seen = [], set()

        def visit(m):
            seen.add(id(m))
            for child in m._modules.values():
                if id(child) not in seen:
                    visit(child)
            order.append(m)

        list(self.named_modules())      # the check for unregistered modules, as everywhere
        visit(self)
        for m in order:                 # a module shared by two parents: called once
            fn(m)
        return self

    def named_parameters(self, prefix=""):
        """(dotted path, Parameter): own parameters first, then each child's, in order.

        A parameter reachable along two paths is listed once, under the first.
        """
        seen, out = set(), []
        for path, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(((f"{path}.{name}" if path else name), p))
        return iter(out)

    def parameters(self):
        """Every Parameter, in the order of `named_parameters`."""
        seen, out = set(), []
        for _, module in self.named_modules():
            for p in module._parameters.values():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # --- saving and loading -------------------------------------------------------------
    def _named_state(self):
        """(dotted name, Parameter or buffer array) of everything `state_dict` saves: per
        module its parameters, then its persistent buffers; each object once."""
        seen = set()
        for path, module in self.named_modules():
            entries = list(module._parameters.items()) + [
                (n, b) for n, b in module._buffers.items()
                if b is not None and n not in module._transient]
            for name, obj in entries:
                if id(obj) not in seen:
                    seen.add(id(obj))
                    yield (f"{path}.{name}" if path else name), obj

    def state_dict(self):
        """{dotted name: a copy of the array}: every parameter and persistent buffer,
        module by module (its parameters, then its buffers)."""
        return {name: (obj.data if isinstance(obj, Variable) else obj).copy()
                for name, obj in self._named_state()}

    def load_state_dict(self, state):
        """Copy the arrays of `state` (name -> array) into the parameters and buffers, in
        place.

        Every parameter and persistent buffer must be present with its exact shape and
        dtype, and nothing else: all problems are reported together in one error naming
        the keys concerned.
        """
        targets = dict(self._named_state())
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        arrays = {}
        for name, obj in targets.items():
            if name not in state:
                continue
            value = state[name]
            arr = value.data if isinstance(value, Variable) else np.asarray(value)
            have = obj.data if isinstance(obj, Variable) else obj
            if arr.shape != have.shape:
                problems.append(f"{name}: shape {arr.shape} in the state, {have.shape} in "
                                "the model")
            elif arr.dtype != have.dtype:
                problems.append(f"{name}: dtype {arr.dtype} in the state, {have.dtype} in "
                                "the model")
            else:
                arrays[name] = arr
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for name, arr in arrays.items():
            obj = targets[name]
            if isinstance(obj, Variable):
                if not obj.data.flags.writeable:
                    obj.data = obj.data.copy()
                np.copyto(obj.data, arr)
            elif obj.flags.writeable:
                np.copyto(obj, arr)
            else:
                self._replace_buffer(obj, arr.copy())

    def _replace_buffer(self, old, new):
        for _, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is old:
                    module._buffers[name] = new
                    object.__setattr__(module, name, new)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for name, p in self._parameters.items():
            lines.append(f"  {name}: {tuple(p.shape)} {p.dtype}")
        for name, b in self._buffers.items():
            if b is not None:
                lines.append(f"  {name}: {tuple(b.shape)} {b.dtype} (buffer)")
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  {name}: {body}")
        return "\n".join(lines) + ")" if len(lines) > 1 else f"{type(self).__name__}()"


# --- containers ------------------------------------------------------------------------------
class _Keyed(Module):
    """What the containers share: entries kept in `_modules` (or `_parameters`) under
    their keys, iteration in order, and scopes: the modules a container registers are
    recorded under ``<the container's name>.<key>`` (a ModuleList is not itself called,
    so its name is part of each entry's scope)."""

    _store = "_modules"
    _kind = Module

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "_scoped", set())     # ids of entries this container named

    def _entries(self):
        return getattr(self, self._store)

    def _scope_for(self, key):
        return f"{self._scope_name}.{key}" if self._scope_name else key

    def _entry(self, value, what):
        """`value` as an entry: a plain list / dict converted, then of the container's
        kind (`what` names it in the error)."""
        value = _as_container(value) if isinstance(value, _PLAIN) else value
        if not isinstance(value, self._kind):
            raise TypeError(f"{type(self).__name__}: {what} must be a "
                            f"{self._kind.__name__}, got a {type(value).__name__}")
        if value is self:
            raise ValueError(f"{type(self).__name__}: a container cannot contain itself")
        return value

    def _adopt(self, key, value):
        if isinstance(value, Module) and (value._scope_name is None
                                          or id(value) in self._scoped):
            self._scoped.add(id(value))
            object.__setattr__(value, "_scope_name", self._scope_for(key))

    def _take_scope(self, name):
        super()._take_scope(name)
        for key, value in self._entries().items():
            if isinstance(value, Module) and id(value) in self._scoped:
                object.__setattr__(value, "_scope_name", self._scope_for(key))

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries().values())

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for key, v in self._entries().items():
            body = (repr(v).replace("\n", "\n  ") if isinstance(v, Module)
                    else f"{tuple(v.shape)} {v.dtype}")
            lines.append(f"  {key}: {body}")
        return "\n".join(lines) + ")" if len(lines) > 1 else f"{type(self).__name__}()"


class _Listed(_Keyed):
    """A list whose keys are the positions "0", "1", ... (renumbered when entries move)."""

    def __init__(self, items=()):
        super().__init__()
        if (isinstance(items, (Module, Parameter)) and not isinstance(items, _Keyed)) or \
                not hasattr(items, "__iter__"):
            raise TypeError(f"{type(self).__name__}: expected an iterable of "
                            f"{self._kind.__name__}s, got a {type(items).__name__}")
        self._set_all(list(items))

    def _check(self, value):
        return self._entry(value, "each entry")

    def _set_all(self, values):
        values = [self._check(v) for v in values]
        store = self._entries()
        store.clear()
        for i, v in enumerate(values):
            store[str(i)] = v
            self._adopt(str(i), v)

    def _index(self, i):
        n = len(self)
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"{type(self).__name__}: indices must be integers or slices, "
                            f"got {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__}: index {i} out of range for {n} "
                             "entries")
        return int(i) % n

    def __getitem__(self, i):
        values = list(self._entries().values())
        if isinstance(i, slice):
            return type(self)(values[i])
        return values[self._index(i)]

    def __setitem__(self, i, value):
        values = list(self._entries().values())
        values[self._index(i)] = value
        self._set_all(values)

    def __delitem__(self, i):
        values = list(self._entries().values())
        if isinstance(i, slice):
            del values[i]
        else:
            del values[self._index(i)]
        self._set_all(values)

    def append(self, value):
        """Add `value` at the end; returns self."""
        value = self._check(value)
        key = str(len(self))
        self._entries()[key] = value
        self._adopt(key, value)
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def insert(self, index, value):
        values = list(self._entries().values())
        values.insert(index, value)
        self._set_all(values)


class ModuleList(_Listed):
    """Modules in a list, registered under their positions: ``self.layers =
    nn.ModuleList([Linear(4, 4), Linear(4, 4)])`` gives parameters ``layers.0.W``,
    ``layers.0.b``, ``layers.1.W``, ... Indexing, slicing (a new ModuleList of the same
    modules), ``len``, iteration, `append`, `extend`, `insert`, item assignment and
    deletion (later entries are renumbered, as in PyTorch). Not callable: iterate over it
    in your `forward`; each module's ops are recorded under ``layers.<i>``."""

    def forward(self, *args, **kwargs):
        raise TypeError("ModuleList is not callable: call its modules in your forward "
                        "(or use nn.Sequential to chain them)")


class ParameterList(_Listed):
    """Parameters in a list, registered as ``<name>.0``, ``<name>.1``, ... (the list API
    of `ModuleList`)."""

    _kind = Parameter
    _store = "_parameters"


class _Named(_Keyed):
    """A dict of entries by string key (no dots), in insertion order."""

    def __init__(self, items=None):
        super().__init__()
        if items is not None:
            self.update(items)

    def _check(self, key, value):
        _check_key(type(self).__name__, key)
        return self._entry(value, f"entry {key!r}")

    def __getitem__(self, key):
        try:
            return self._entries()[key]
        except KeyError:
            raise KeyError(f"{type(self).__name__}: no entry {key!r} (keys: "
                           f"{', '.join(self._entries()) or 'none'})") from None

    def __setitem__(self, key, value):
        value = self._check(key, value)
        self._entries()[key] = value
        self._adopt(key, value)

    def __delitem__(self, key):
        self[key]  # noqa: B018  (the KeyError naming the keys)
        del self._entries()[key]

    def __contains__(self, key):
        return key in self._entries()

    def __iter__(self):
        return iter(self._entries())

    def keys(self):
        return self._entries().keys()

    def values(self):
        return self._entries().values()

    def items(self):
        return self._entries().items()

    def update(self, items):
        pairs = items.items() if hasattr(items, "items") else items
        for key, value in pairs:
            self[key] = value

    def pop(self, key):
        value = self[key]
        del self[key]
        return value


class ModuleDict(_Named):
    """Modules by name: ``self.heads = nn.ModuleDict({"date": Linear(8, 3), "year":
    Linear(8, 5)})`` gives parameters ``heads.date.W``, ... A dict's API (keys must be
    strings without dots); iteration gives the keys, as a dict's does. Not callable."""

    def forward(self, *args, **kwargs):
        raise TypeError("ModuleDict is not callable: call its modules in your forward")


class ParameterDict(_Named):
    """Parameters by name (the dict API of `ModuleDict`)."""

    _kind = Parameter
    _store = "_parameters"


class Sequential(_Keyed):
    """Modules called one after the other: ``Sequential(Linear(4, 8), ReLU(), Linear(8,
    2))(x)`` is ``m2(m1(m0(x)))``. Built from modules (named "0", "1", ...) or from one
    dict of name -> module. Indexing gives a module (a slice gives a new Sequential of the
    same modules); ``len``, iteration and `append` work as in `ModuleList`. Calling it
    records each module's ops under ``<sequential's name>.<key>``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            pairs = list(modules[0].items())
        else:
            pairs = [(str(i), m) for i, m in enumerate(modules)]
        for key, m in pairs:
            self._add(key, m)

    def _add(self, key, m):
        _check_key("Sequential", key)
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: entry {key!r} must be a Module, got a "
                            f"{type(m).__name__}")
        if key in self._modules:
            raise ValueError(f"Sequential: two entries named {key!r}")
        self._modules[key] = m
        if m._scope_name is None or id(m) in self._scoped:
            # called through the Sequential, whose own scope is entered first: relative name
            self._scoped.add(id(m))
            object.__setattr__(m, "_scope_name", key)

    def _take_scope(self, name):
        Module._take_scope(self, name)

    def append(self, module):
        self._add(str(len(self)), module)
        return self

    def __getitem__(self, i):
        values = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*values[i])
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"Sequential: indices must be integers or slices, got "
                            f"{type(i).__name__}")
        if not -len(values) <= i < len(values):
            raise IndexError(f"Sequential: index {i} out of range for {len(values)} modules")
        return values[i]

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
