"""The docs run as written: every ```python block of README.md and docs/*.md is a test,
collected by Sybil (https://sybil.readthedocs.io). A page's blocks run top to bottom in one
namespace, as a reader pastes them into one session, in a fresh temporary folder (so a block
that writes `date.txt` or `runs/...` writes nothing into the repository). An expression
statement followed by a line `# <repr>` must show exactly that repr. A block that only shows
output or a signature is fenced as ```text, not ```python.

This file lives at the repository's root so that it sees README.md; pyproject.toml's
`testpaths` lists README.md and docs/ after tests/, so `python -m pytest` collects them.
"""
import ast
import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")     # pictures are written, never shown
os.environ.setdefault("TGA_HYPOTHESIS_PROFILE", "ci")   # as tests/conftest.py: check_op too

try:
    from sybil import Sybil
    from sybil.parsers.markdown import CodeBlockParser
except ImportError:        # the `test` extra installs it; without it the docs are not run
    Sybil = None


def run_block(example):
    """Run one block statement by statement; check every `# <repr>` line under an
    expression statement."""
    __tracebackhide__ = True
    source = str(example.parsed)
    first = example.line + example.parsed.line_offset     # the block's first line in the file
    lines = source.splitlines()
    tree = ast.parse("\n" * first + source, example.path)
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr):
            code = compile(ast.Expression(stmt.value), example.path, "eval")
            value = eval(code, example.namespace)
            after = stmt.end_lineno - first       # index of the line under it, in the block
            shown = lines[after] if after < len(lines) else ""
            if shown.startswith("# "):
                assert repr(value) == shown[2:], (
                    f"{example.path} line {stmt.end_lineno + 1} shows {shown[2:]!r}, "
                    f"the code gives {value!r}")
        else:
            exec(compile(ast.Module([stmt], []), example.path, "exec"), example.namespace)
    example.namespace.pop("__builtins__", None)


def in_a_temporary_folder(namespace):
    namespace["__doc_cwd__"] = os.getcwd()
    namespace["__doc_tmp__"] = tempfile.mkdtemp(prefix="tga-docs-")
    os.chdir(namespace["__doc_tmp__"])


def back_to_the_start(namespace):
    os.chdir(namespace.pop("__doc_cwd__"))
    shutil.rmtree(namespace.pop("__doc_tmp__"), ignore_errors=True)


if Sybil is not None:
    pytest_collect_file = Sybil(
        parsers=[CodeBlockParser(language="python", evaluator=run_block)],
        patterns=["README.md", "docs/*.md"],
        setup=in_a_temporary_folder,
        teardown=back_to_the_start,
    ).pytest()
else:
    import fnmatch
    from pathlib import Path

    import pytest

    class NotRun(pytest.Item):
        def runtest(self):
            pytest.skip("sybil is not installed (pip install -e \".[test]\"): the docs' "
                        "python blocks are not run")

    class Page(pytest.File):
        def collect(self):
            yield NotRun.from_parent(self, name="snippets")

    def pytest_collect_file(file_path, parent):
        where = file_path.relative_to(Path(__file__).parent).as_posix()
        if where == "README.md" or fnmatch.fnmatch(where, "docs/*.md"):
            return Page.from_parent(parent, path=file_path)
        return None
