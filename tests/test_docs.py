"""The docs say what the code has, and the project speaks only of itself.

(The docs' ```python blocks themselves run as tests through Sybil: see the root conftest.py.)

* Every name README.md's table "What is in it" lists exists where the row says, and the
  row of `tinygrad_attn.functions` lists exactly `F.__all__`, primitives first.
* No tracked file cites a file users do not have, a work-item number, or a name of
  whoever did the work.
"""
import importlib
import inspect
import re
import subprocess
from pathlib import Path

import pytest

import tinygrad_attn.functions as F
from tinygrad_attn import plugins

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def api_table():
    """{first cell: second cell} of README's table under "What is in it"."""
    text = README.read_text()
    section = text.split("## What is in it", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"\s\|\s", line.strip().strip("|"))]
        if line.startswith("|") and len(cells) == 2 and not set(cells[0]) <= set("-: "):
            rows[cells[0]] = cells[1]
    return rows


def row(first_word):
    found = [(k, v) for k, v in api_table().items() if first_word in k]
    assert len(found) == 1, f"README's table has {len(found)} rows naming {first_word!r}"
    return found[0]


def test_the_table_has_a_row_for_every_public_module():
    rows = " ".join(api_table())
    for name in ("tinygrad_attn`", "tinygrad_attn.functions", "tinygrad_attn.testing",
                 "tinygrad_attn.data", "tinygrad_attn.nn", "tinygrad_attn.optim",
                 "tinygrad_attn.decoding", "tinygrad_attn.checkpoint",
                 "tinygrad_attn.training", "models/", "tinygrad_attn.book",
                 "tinygrad_attn.viz"):
        assert name in rows, name


def functions_listed():
    """The ops of F's row: (primitives, compositions), in the order the row gives them."""
    cell = row("tinygrad_attn.functions")[1]
    ops = cell.split("`tinygrad_attn/ops/`:", 1)[1].split(". Variables compare", 1)[0]
    ops = re.sub(r"\([^)]*\)", " ", ops)              # "(NumPy's full semantics)", ...
    primitives, compositions = ops.split("and, as compositions with no rule of their own,")
    words = lambda part: [w for w in part.replace("·", " ").split() if w]   # noqa: E731
    return words(primitives), words(compositions)


def test_the_functions_row_lists_exactly_the_ops_of_F():
    primitives, compositions = functions_listed()
    listed = primitives + compositions
    assert len(listed) == len(set(listed)), "an op is listed twice"
    missing = sorted(set(F.__all__) - set(listed))
    unknown = sorted(set(listed) - set(F.__all__))
    assert not unknown, f"README lists ops F does not have: {unknown}"
    assert not missing, f"F has ops README does not list: {missing}"
    for name in listed:
        assert callable(getattr(F, name)), name


def test_the_ops_listed_as_compositions_record_no_rule_of_their_own():
    """A composition is written with other ops: calling it records only primitives listed
    in the row's first part (or, through them, others), never a Function named after it."""
    import numpy as np
    import tinygrad_attn as tga
    primitives, compositions = functions_listed()
    x = tga.Variable(np.linspace(0.1, 0.9, 6).reshape(2, 3))
    for name in ("abs", "sqrt", "square", "reciprocal", "softplus", "logsumexp"):
        assert name in compositions, name
        y = getattr(F, name)(x)
        assert type(y.creator).__name__.lower() != name, name


# --- every other name in the table exists ----------------------------------------------
ROW_MODULES = {
    "tinygrad_attn` (tape": ["tinygrad_attn"],
    "tinygrad_attn.testing": ["tinygrad_attn.testing"],
    "tinygrad_attn.data": ["tinygrad_attn.data"],
    "tinygrad_attn.nn": ["tinygrad_attn.nn", "tinygrad_attn.optim", "tinygrad_attn.nn.init"],
    "tinygrad_attn.decoding": ["tinygrad_attn.decoding"],
    "tinygrad_attn.checkpoint": ["tinygrad_attn.checkpoint"],
    "tinygrad_attn.training": ["tinygrad_attn.training", "tinygrad_attn.callbacks",
                               "tinygrad_attn.tasks", "tinygrad_attn.runs",
                               "tinygrad_attn.plots"],
    "models/": ["tinygrad_attn_models"],
    "tinygrad_attn.book": ["tinygrad_attn.book"],
    "tinygrad_attn.viz": ["tinygrad_attn.viz"],
}


def known_names(modules):
    """Everything a backticked word in a row may name: the modules' attributes, the
    methods and attributes of their classes, the keyword parameters of their callables,
    and the registered model and task names."""
    names = set(plugins.model_plugins()) | set(plugins.task_plugins())
    for module in modules:
        module = importlib.import_module(module)
        names.add(module.__name__.rsplit(".", 1)[-1])
        for attr in sorted(set(dir(module)) | set(getattr(module, "__all__", ()))):
            names.add(attr)
            obj = getattr(module, attr)
            if inspect.isclass(obj):
                names.update(dir(obj))
            if callable(obj):
                try:
                    names.update(inspect.signature(obj).parameters)
                except (TypeError, ValueError):
                    pass
    return names


def backticked_identifiers(cell):
    """`Name`, `name()`, `name=value`, `a.b`, `BatchNorm1d/2d`, `train()` / `eval()`: the
    identifiers a reader would look up (not `× 28`, `xs[:, t]`, `np.exp(v)`, options)."""
    for code in re.findall(r"`([^`]+)`", cell):
        code = code.strip()
        if code.startswith(("np.", "-", "<", "!", "×")) or "[" in code or "|" in code:
            continue
        code = re.sub(r"\(\)$", "", code).split("=", 1)[0]
        if code.endswith("/2d"):                       # BatchNorm1d/2d
            yield code[:-3]
            yield code[:-5] + "2d"
            continue
        if re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_]\w*)*", code):
            yield code


@pytest.mark.parametrize("first", sorted(ROW_MODULES))
def test_every_name_a_row_lists_exists(first):
    key, cell = row(first)
    for name in backticked_identifiers(key):                  # the row's own modules
        importlib.import_module(name if name.startswith("tinygrad_attn")
                                else f"tinygrad_attn.{name}")
    known = known_names(ROW_MODULES[first])
    listed = list(backticked_identifiers(cell))
    assert listed or first == "tinygrad_attn.book", f"no names found in the row {key}"
    missing = [name for name in listed
               if not all(part in known or part == "tinygrad_attn"
                          for part in name.split("."))]
    assert not missing, f"README's row {key} lists names that do not exist: {missing}"


def test_the_nn_and_optim_row_names_classes_that_exist():
    """The row's capitalised names are classes of nn or optim (not methods or keywords)."""
    import tinygrad_attn.nn as nn
    import tinygrad_attn.optim as optim
    key, cell = row("tinygrad_attn.nn")
    classes = [n for n in backticked_identifiers(cell) if n[:1].isupper()]
    assert len(classes) > 20
    for name in classes:
        obj = getattr(nn, name, None) or getattr(optim, name, None)
        assert inspect.isclass(obj), f"README's row {key}: {name} is not a class"


# --- the project speaks only of itself -------------------------------------------------
# Built from pieces so that this file does not match itself.
FORBIDDEN = {
    "a file users do not have": re.compile("SEED" + r"\.md", re.I),
    "a work-item number": re.compile(r"\bissues?\s*#?\d+|\b(pull request|PR) ?#\d+", re.I),
    "a work item": re.compile(r"\b(the|this|that) issue('s)?\b(?! with)", re.I),
    "who did the work": re.compile(r"\bhelper[-_ ]?\d+\b|\bhelper[-_][a-z]+\b"
                                   r"|\bh-(docs|viz|cli|nn|ops|perf|ntm|lead)\b", re.I),
}


def tracked_text_files():
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode()
        paths = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):          # not a git checkout
        skip = {".git", "__pycache__", ".hypothesis", ".pytest_cache"}
        paths = [p for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
                 and not any(part.endswith(".egg-info") for part in p.parts)]
    for path in paths:
        if not path.is_file():
            continue
        try:
            yield path, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:                             # a picture, an archive
            continue


def test_the_project_speaks_only_of_itself():
    found = []
    files = 0
    for path, text in tracked_text_files():
        files += 1
        for what, pattern in FORBIDDEN.items():
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {m.group(0)!r}")
    assert files > 100
    assert not found, "\n".join(found)


@pytest.mark.parametrize("text, what", [
    ("as " + "SEED" + ".md section 5 says", "a file users do not have"),
    ("fixed in iss" + "ue 17", "a work-item number"), ("see Iss" + "ue #3", "a work-item number"),
    ("what the iss" + "ue's NTM does", "a work item"),
    ("helper" + "-1's generators", "who did the work"),
])
def test_the_grep_finds_what_it_looks_for(text, what):
    assert FORBIDDEN[what].search(text)


@pytest.mark.parametrize("text", ["the issue with float32 sums", "seed=0", "issued",
                                  "helpers for the received gradients"])
def test_the_grep_leaves_plain_words_alone(text):
    assert not any(p.search(text) for p in FORBIDDEN.values())


# --- the docs' runner itself (the root conftest.py) -------------------------------------
def test_the_docs_runner_checks_what_a_block_shows_and_writes_nothing_here(tmp_path):
    """A page whose block shows a wrong repr fails, a right one passes, and a page's blocks
    share one namespace in a temporary folder that is removed afterwards."""
    sybil = pytest.importorskip("sybil")
    import importlib.util
    spec = importlib.util.spec_from_file_location("docs_runner", ROOT / "conftest.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1 + 1\nopen('made.txt', 'w').close()\n```\n\ntext\n\n"
                    "```python\nx * 2\n# 4\n```\n\n```python\nx * 3\n# 7\n```\n")
    from sybil.parsers.markdown import CodeBlockParser
    doc = sybil.Sybil(parsers=[CodeBlockParser(language="python",
                                               evaluator=runner.run_block)],
                      path=str(tmp_path)).parse(page)
    first, second, third = doc.examples()
    start = Path.cwd()
    runner.in_a_temporary_folder(doc.namespace)
    folder = Path.cwd()
    try:
        first.evaluate()
        second.evaluate()
        with pytest.raises(AssertionError, match="line 15 shows '7', the code gives 6"):
            third.evaluate()
        assert (folder / "made.txt").exists() and folder != start
    finally:
        runner.back_to_the_start(doc.namespace)
    assert Path.cwd() == start and not folder.exists()
    assert not (start / "made.txt").exists()
