"""docs/nn.md runs as written: its ```python blocks run top to bottom in one namespace (as a
reader pastes them into one session), and every expression followed by a ``# <repr>``
comment line shows exactly that."""
import ast
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "nn.md"


def blocks(text):
    return [(text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def test_every_snippet_of_the_nn_reference_runs_and_shows_what_it_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace, checked = {"__name__": "docs_nn"}, 0
    found = blocks(DOC.read_text())
    assert len(found) >= 8
    for line, source in found:
        lines = source.splitlines()
        for stmt in ast.parse(source).body:
            code = compile(ast.Module([stmt], []) if not isinstance(stmt, ast.Expr)
                           else ast.Expression(stmt.value), f"docs/nn.md:{line}",
                           "exec" if not isinstance(stmt, ast.Expr) else "eval")
            try:
                value = (eval if isinstance(stmt, ast.Expr) else exec)(code, namespace)
            except Exception as e:       # noqa: BLE001  (name the snippet's line)
                where = line + stmt.lineno - 1
                pytest.fail(f"docs/nn.md line {where}: {type(e).__name__}: {e}")
            after = lines[stmt.end_lineno] if stmt.end_lineno < len(lines) else ""
            if isinstance(stmt, ast.Expr) and after.startswith("# "):
                assert repr(value) == after[2:], f"docs/nn.md line {line + stmt.end_lineno}"
                checked += 1
    assert checked >= 4
