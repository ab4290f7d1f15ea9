"""tinygrad_attn/data is plain NumPy + the standard library: none of its modules imports
anything from tinygrad_attn outside tinygrad_attn.data (checked on the source, by AST)."""
import ast
import sys
from pathlib import Path

import pytest

import tinygrad_attn.data

DATA = Path(tinygrad_attn.data.__file__).parent
MODULES = sorted(DATA.glob("*.py"))
ALLOWED_THIRD_PARTY = {"numpy"}


def imports(path):
    """(absolute module name, line) of every import in a module of the data package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module, node.lineno
            else:  # relative: resolve against the package tinygrad_attn.data
                package = ["tinygrad_attn", "data"]
                if node.level - 1 >= len(package):  # above tinygrad_attn: never allowed
                    yield "." * node.level + (node.module or ""), node.lineno
                    continue
                base = package[:len(package) - (node.level - 1)]
                if node.module:
                    yield ".".join(base + [node.module]), node.lineno
                else:  # from . import x -> the module base.x
                    for alias in node.names:
                        yield ".".join(base + [alias.name]), node.lineno


def allowed(name):
    top = name.split(".")[0]
    if top == "tinygrad_attn":
        return name == "tinygrad_attn.data" or name.startswith("tinygrad_attn.data.")
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY


def test_there_are_modules_to_check():
    assert {p.name for p in MODULES} >= {"__init__.py", "dates.py", "addition.py",
                                         "textfile.py", "check.py", "vocab.py", "generate.py"}


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_imports_stay_inside_the_data_package(path):
    bad = [(name, line) for name, line in imports(path) if not allowed(name)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("source,ok", [
    ("from . import vocab", True),
    ("from .check import scan", True),
    ("import numpy as np", True),
    ("from tinygrad_attn.data import vocab", True),
    ("from .. import tape", False),
    ("from ... import anything", False),
    ("from ..nn import Linear", False),
    ("import tinygrad_attn", False),
    ("from tinygrad_attn import Variable", False),
    ("import tinygrad_attn.nn", False),
    ("import torch", False),
])
def test_the_rule_itself(tmp_path, source, ok):
    path = tmp_path / "m.py"
    path.write_text(source + "\n")
    assert all(allowed(name) for name, _ in imports(path)) is ok
