"""Repro on failure: a standalone script, the inputs (.npz) and the highlighted diagram.

The script re-runs exactly the check that failed, on the same inputs with the same
arguments, so ``python repro.py`` fails again while the bug is there. It rebuilds what it
needs as source: the function under test (imported by name when it can be, otherwise its
source, lambdas included, with the globals and closure values it uses), and any op rule
that was replaced at the time (a monkeypatched ``backward``) is replaced again. What cannot
be written as source (a closure over an object that has no importable name) falls back to
the op `locate` blamed, rebuilt from its state and checked alone at the values the graph
gave it.
"""
from __future__ import annotations

import ast
import builtins
import datetime
import dis
import importlib
import inspect
import linecache
import os
import pathlib
import sys
import tempfile
import textwrap
import types

import numpy as np

from .. import Function, Variable
from . import _core

__all__ = ["write_repro", "try_write_repro"]


class _Unbuildable(Exception):
    pass


def _importable(obj):
    """(module, qualname) if importing module and walking qualname gives `obj` back."""
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if not mod or not qual or "<" in qual or mod == "__main__":
        return None
    try:
        o = importlib.import_module(mod)
        for part in qual.split("."):
            o = getattr(o, part)
    except Exception:
        return None
    return (mod, qual) if o is obj else None


def _root_of(module_name):
    """The sys.path entry `module_name` was imported from (None for stdlib/site-packages)."""
    top = sys.modules.get(module_name.split(".")[0])
    path = getattr(top, "__file__", None)
    if not path:
        return None
    path = os.path.abspath(path)
    root = os.path.dirname(path)
    if os.path.basename(path) == "__init__.py":
        root = os.path.dirname(root)
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        if root.startswith(os.path.abspath(prefix) + os.sep) and "site-packages" in root:
            return None
        if root.startswith(os.path.join(os.path.abspath(prefix), "lib")) and \
                "site-packages" not in root:
            return None
    return root


class _Script:
    """Collects the lines of the script: imports, arrays (into the .npz), definitions."""

    def __init__(self):
        self.paths = []
        self.imports = []
        self.defs = []
        self.names = {}      # name -> the expression or source it was bound to
        self.arrays = {}     # npz key -> array
        self.built = {}      # id(obj) -> expression (functions and ops already written)

    # --- names ----------------------------------------------------------------------------
    def _path_for(self, module):
        root = _root_of(module)
        if root and root not in self.paths:
            self.paths.append(root)

    def import_as(self, obj, name=None):
        ref = _importable(obj)
        if ref is None:
            return None
        mod, qual = ref
        self._path_for(mod)
        top, *rest = qual.split(".")
        alias = name or top
        line = f"from {mod} import {top}" + (f" as {alias}" if alias != top else "")
        self._bind(alias, line, self.imports)
        return alias + "".join("." + r for r in rest)

    def _bind(self, name, text, where):
        old = self.names.get(name)
        if old is not None:
            if old != text:
                raise _Unbuildable(f"the name {name!r} means two different things")
            return
        self.names[name] = text
        where.append(text)

    def array(self, key, a):
        key = key.replace(".", "_")
        base, n = key, 1
        while key in self.arrays and not (self.arrays[key] is a):
            key, n = f"{base}_{n}", n + 1
        self.arrays[key] = np.asarray(a)
        return f'A["{key}"]'

    # --- values ---------------------------------------------------------------------------
    def literal(self, v, hint="value"):
        """Python source for `v` (arrays go into the .npz)."""
        if v is None or isinstance(v, (bool, str, bytes)) or v is Ellipsis:
            return repr(v)
        if isinstance(v, int):
            return repr(int(v))
        if isinstance(v, float):
            return repr(v) if np.isfinite(v) else f"float({str(v)!r})"
        if isinstance(v, np.generic):
            return f"np.{type(v).__name__}({self.literal(v.item())})"
        if isinstance(v, np.dtype):
            return f"np.dtype({v.name!r})" if v.names is None else \
                self._fail(f"a structured dtype ({hint})")
        if isinstance(v, np.ndarray):
            return self.array(hint, v)
        if isinstance(v, Variable):
            rg = v.requires_grad
            return f"Variable({self.array(hint, v.data)}, requires_grad={rg})"
        if isinstance(v, slice):
            return f"slice({self.literal(v.start)}, {self.literal(v.stop)}, " \
                   f"{self.literal(v.step)})"
        if isinstance(v, tuple):
            items = [self.literal(x, f"{hint}_{k}") for k, x in enumerate(v)]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(v, list):
            return "[" + ", ".join(self.literal(x, f"{hint}_{k}") for k, x in enumerate(v)) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{self.literal(k)}: {self.literal(x, f'{hint}_{k}')}"
                                   for k, x in v.items()) + "}"
        if isinstance(v, types.ModuleType):
            name = v.__name__.split(".")[-1]
            self._path_for(v.__name__)
            line = f"import {v.__name__}" if name == v.__name__ else \
                f"import {v.__name__} as {name}"
            self._bind(name, line, self.imports)
            return name
        if isinstance(v, Function):
            return self.op(v, hint)
        if isinstance(v, type) or callable(v):
            return self.callable(v, hint)
        return self._fail(f"a {type(v).__name__} ({hint})")

    def _fail(self, what):
        raise _Unbuildable(f"cannot write {what} as source")

    def op(self, f, hint):
        """An op instance, rebuilt from its class and state."""
        if id(f) in self.built:
            return self.built[id(f)]
        cls = self.import_as(type(f)) or self.class_source(type(f))
        self._bind("_rebuild", _REBUILD, self.defs)
        state = self.literal(_core.state_of(f), f"{hint}_state")
        expr = f"_rebuild({cls}, {state})"
        self.built[id(f)] = expr
        return expr

    def callable(self, fn, hint="f"):
        if id(fn) in self.built:
            return self.built[id(fn)]
        expr = self.import_as(fn)
        if expr is None:
            if isinstance(fn, type):
                expr = self.class_source(fn)
            elif isinstance(fn, types.MethodType) or not isinstance(fn, types.FunctionType):
                self._fail(f"{getattr(fn, '__qualname__', fn)!r} (no importable name)")
            else:
                expr = self._function_source(fn)
        self.built[id(fn)] = expr
        return expr

    def class_source(self, cls):
        """A class with no importable name (defined in a script's __main__ or a notebook
        cell) written out as its source, with the globals its body and methods use."""
        if id(cls) in self.built:
            return self.built[id(cls)]
        if "<" in cls.__qualname__:
            self._fail(f"the class {cls.__qualname__} (defined inside a function)")
        node = _class_node(cls)
        if node is None:
            self._fail(f"the class {cls.__qualname__} (its source cannot be read)")
        self.built[id(cls)] = cls.__name__  # (a method may name its own class)
        names = set()
        for part in list(node.bases) + list(node.keywords) + [
                stmt for stmt in node.body
                if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            names |= {n.id for n in ast.walk(part)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for value in vars(cls).values():
            fn = getattr(value, "__func__", getattr(value, "fget", value))
            if isinstance(fn, types.FunctionType):
                names |= _global_names(fn.__code__)
        namespace = vars(sys.modules.get(cls.__module__)) if cls.__module__ in sys.modules \
            else {}
        for name in sorted(names - {cls.__name__}):
            if name in namespace:
                expr = self.literal(namespace[name], name)
                if expr != name:
                    self._bind(name, f"{name} = {expr}", self.defs)
            elif not hasattr(builtins, name):
                self._fail(f"the class {cls.__qualname__} (it uses {name!r}, defined nowhere)")
        node.decorator_list = []
        self._bind(cls.__name__, ast.unparse(node), self.defs)
        return cls.__name__

    def _function_source(self, fn):
        code = fn.__code__
        try:
            with open(code.co_filename, encoding="utf-8") as fh:
                src = fh.read()
            tree = ast.parse(src)
        except Exception:
            self._fail(f"{fn.__qualname__} (its source file cannot be read)")
        line = code.co_firstlineno
        args = list(code.co_varnames[:code.co_argcount])
        cands = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Lambda) and code.co_name == "<lambda>" and \
                    node.lineno == line and [a.arg for a in node.args.args] == args:
                cands.append(node)
            elif isinstance(node, (ast.FunctionDef,)) and node.name == code.co_name and \
                    min([d.lineno for d in node.decorator_list] + [node.lineno]) == line:
                cands.append(node)
        texts = {ast.unparse(n) for n in cands}
        if len(texts) != 1:
            self._fail(f"{fn.__qualname__} (its source is ambiguous or not found)")
        node = cands[0]
        # what it refers to: globals (and builtins), and closure values
        for name in sorted(_global_names(code)):
            if name in fn.__globals__:
                expr = self.literal(fn.__globals__[name], name)
                if expr != name:
                    self._bind(name, f"{name} = {expr}", self.defs)
            elif not hasattr(builtins, name):
                self._fail(f"{fn.__qualname__} (it uses {name!r}, defined nowhere)")
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:
                self._fail(f"{fn.__qualname__} (its closure variable {name!r} is unset)")
            if value is fn:
                continue
            expr = self.literal(value, name)
            if expr != name:
                self._bind(name, f"{name} = {expr}", self.defs)
        if isinstance(node, ast.Lambda):
            name = "f" if "f" not in self.names else f"f_{len(self.built)}"
            self._bind(name, f"{name} = {ast.unparse(node)}", self.defs)
            return name
        node = ast.FunctionDef(node.name, node.args, node.body, [], node.returns,
                               getattr(node, "type_comment", None),
                               **({"type_params": []} if sys.version_info >= (3, 12) else {}))
        ast.fix_missing_locations(node)
        self._bind(fn.__name__, ast.unparse(node), self.defs)
        return fn.__name__


def _class_node(cls):
    """The ClassDef of `cls`: from its module's file (inspect), else from the cell or file
    its methods were compiled from (a notebook cell lives in linecache), found by the line
    of a method."""
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return node
    except (OSError, TypeError, SyntaxError, IndexError):
        pass
    for value in vars(cls).values():
        fn = getattr(value, "__func__", getattr(value, "fget", value))
        if not isinstance(fn, types.FunctionType):
            continue
        code = fn.__code__
        try:
            tree = ast.parse("".join(linecache.getlines(code.co_filename)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__ and any(
                    isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and
                    min([d.lineno for d in m.decorator_list] + [m.lineno]) ==
                    code.co_firstlineno for m in node.body):
                return node
    return None


def _global_names(code):
    names = set()
    stack = [code]
    while stack:
        c = stack.pop()
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                names.add(ins.argval)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


_REBUILD = '''def _rebuild(cls, state):
    """An op as it was recorded: its class with its configuration (instance state)."""
    op = object.__new__(cls)
    op.__dict__.update(state)
    return op'''


def _patched_rules(script):
    """Lines that replace op rules again, as they were replaced when the check failed."""
    lines, notes = [], []
    seen, stack = set(), [Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    for cls in sorted(seen, key=lambda c: (c.__module__, c.__qualname__)):
        for meth in ("forward", "backward"):
            fn = cls.__dict__.get(meth)
            if fn is None or not callable(fn):
                continue
            if getattr(fn, "__qualname__", "") == f"{cls.__qualname__}.{meth}" and \
                    getattr(fn, "__module__", None) == cls.__module__:
                continue
            try:
                target = script.import_as(cls)
                if target is None:
                    raise _Unbuildable("class not importable")
                value = script.callable(fn, f"{cls.__name__}_{meth}")
            except _Unbuildable as e:
                notes.append(f"{cls.__qualname__}.{meth} was replaced by "
                             f"{getattr(fn, '__qualname__', fn)!r} but cannot be replaced "
                             f"here: {e}")
                continue
            lines.append(f"{target}.{meth} = {value}")
    return lines, notes


def write_repro(directory, call, f, inputs, kwargs, *, report=None, message=""):
    """Write repro.py, inputs.npz and graph.svg (when there is a report) into `directory`
    (a fresh temporary folder if None); returns the folder as a Path.

    The script is built in memory first, so a folder is made only when there is something
    to put in it. When the function under test cannot be written as source, the script
    checks the op `locate` blamed alone instead; when that op cannot be written either,
    the script says why it cannot re-run the failure (with the failure itself in its
    docstring)."""
    notes = []
    try:
        script, body, call_used, how = _build(call, f, inputs, kwargs)
    except _Unbuildable as e:
        notes.append(f"the function under test cannot be rebuilt here ({e})")
        built = None
        if report is not None:
            try:
                built = _build_blamed_op(report)
            except _Unbuildable as e2:
                notes.append(f"nor can the op locate blamed ({e2})")
        if built is None:
            script = _Script()
            script.paths = [p for p in [_root_of("tinygrad_attn")] if p]
            body = ["raise SystemExit('this failure cannot be re-run from a script; see the "
                    "notes above')"]
            call_used, how = call, "cannot re-run the failure (see the notes)"
        else:
            script, body, call_used, how = built
    patch_lines, patch_notes = _patched_rules(script)
    notes = patch_notes + notes
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tga-repro-") if directory is None
                          else directory)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "inputs.tmp.npz", **script.arrays)
    os.replace(folder / "inputs.tmp.npz", folder / "inputs.npz")
    diagram = None
    if report is not None:
        try:
            diagram = report.render(folder / "graph.svg")
        except Exception as e:  # no Graphviz: the .dot source is there instead
            notes.append(f"the diagram could not be drawn ({type(e).__name__}); see graph.dot")
            if not (folder / "graph.dot").exists():
                try:
                    report.render(folder / "graph.dot")
                except Exception:
                    pass
    first = message.strip().splitlines()[0] if message.strip() else call
    doc = [f"Repro written by tinygrad_attn.testing on "
           f"{datetime.datetime.now().isoformat(timespec='seconds')}: it {how}.",
           "", "    python repro.py    # fails again while the bug is there", "",
           textwrap.fill(first, 88)]
    if report is not None:
        doc += ["", textwrap.fill(str(report), 88)]
    if diagram is not None:
        doc += ["", f"The graph, the op highlighted: {diagram.name}"]
    for n in notes:
        doc += ["", "Note: " + textwrap.fill(n, 82)]
    text = ['#!/usr/bin/env python3', '"""' + "\n".join(doc).replace('"""', "'''") + '\n"""',
            "import os", "import sys", "",
            "HERE = os.path.dirname(os.path.abspath(__file__))",
            "# where the code under test was imported from, if it is still there",
            f"for path in {script.paths!r}:",
            "    if os.path.isdir(path) and path not in sys.path:",
            "        sys.path.insert(0, path)", "",
            "import numpy as np  # noqa: E402", "",
            "from tinygrad_attn import Variable  # noqa: E402,F401",
            f"from tinygrad_attn.testing import {call_used}  # noqa: E402"]
    text += [f"{line}  # noqa: E402" for line in script.imports]
    text += ["", 'A = np.load(os.path.join(HERE, "inputs.npz"), allow_pickle=False)']
    if script.defs:
        text += [""] + [d + ("\n" if "\n" in d else "") for d in script.defs]
    if patch_lines:
        text += ["", "# op rules that were replaced (monkeypatched) when the check failed"]
        text += patch_lines
    text += [""] + body
    text += ['print("the check passed: the failure did not reproduce")', ""]
    out = "\n".join(text)
    tmp = folder / "repro.py.tmp"
    tmp.write_text(out, encoding="utf-8")
    os.replace(tmp, folder / "repro.py")
    return folder


def _new_script():
    script = _Script()
    script.paths = [p for p in [_root_of("tinygrad_attn")] if p]
    return script


def _input_expr(script, k, x):
    """An input as source: arrays (and Variables) go into the .npz, data (an axis, an
    index, a subscripts string) is written as a literal."""
    if isinstance(x, (np.ndarray, Variable, np.generic)) or (
            isinstance(x, list) and _core.is_floating(x)):
        return script.array(f"input_{k}", _core.array_of(x))
    return script.literal(x, f"input_{k}")


def _build(call, f, inputs, kwargs):
    """(script, body lines, check called, what it does): re-run `call` on `f` itself."""
    script = _new_script()
    in_exprs = [_input_expr(script, k, x) for k, x in enumerate(inputs)]
    kw = ", ".join(f"{k}={script.literal(v, k)}" for k, v in kwargs.items())
    target = script.callable(f) if not isinstance(f, Function) else script.op(f, "op")
    body = [f"inputs = [{', '.join(in_exprs)}]",
            f"{call}({target}, *inputs{', ' + kw if kw else ''})"]
    return script, body, call, f"re-runs {call} on the failing example"


def _build_blamed_op(report):
    """The fallback: the op `locate` blamed, rebuilt from its state and checked alone at the
    values the graph gave it (a builder of its own: never the one that just failed)."""
    script = _new_script()
    op = script.op(report.function, "op")
    ins = [script.array(f"op_input_{k}", a) for k, a in enumerate(report.op_inputs)]
    eps, atol, rtol = report.tolerances
    where = f"in {report.scope_name}" if report.scope else "at top level"
    script._bind("_fresh", "from tinygrad_attn.testing._core import fresh as _fresh",
                 script.imports)
    body = [f"# the op locate blamed, {report.signature} {where}, alone at the values the "
            "graph gave it",
            "def op(*xs):\n"
            f"    return _fresh({op})(*xs)",
            f"inputs = [{', '.join(ins)}]",
            f"gradcheck(op, *inputs, eps={eps!r}, atol={atol!r}, rtol={rtol!r})"]
    return script, body, "gradcheck", f"re-runs the check of {report.signature} alone"


def try_write_repro(directory, call, f, inputs, kwargs, *, report=None, message=""):
    """`write_repro`, for a check that is failing: (folder, None), or (None, why no repro was
    written). The failure being reported always matters more than its repro."""
    try:
        return write_repro(directory, call, f, inputs, kwargs, report=report,
                           message=message), None
    except Exception as e:  # noqa: BLE001 - e.g. an unwritable folder
        return None, f"no repro written: {type(e).__name__}: {e}"
