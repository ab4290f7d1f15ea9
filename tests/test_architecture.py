"""How the code is laid out: imports run one way, importing changes nothing in the process,
and the installed models package cannot collide with a user's own `models`."""
import ast
import pathlib
import subprocess
import sys
import textwrap
import tomllib

import tinygrad_attn

PKG = pathlib.Path(tinygrad_attn.__file__).parent
ROOT = PKG.parent


def _module_name(path):
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph():
    """{module: {module it imports}} inside tinygrad_attn, every import statement counted
    (also those inside functions): a dependency is a dependency wherever it is written."""
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[:len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # `from pkg import submodule` depends on the submodule itself
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod
                           for a in node.names]
            else:
                continue
            deps.update(t for t in targets if t in modules and t != name)
        graph[name] = deps
    return graph


def _find_cycle(graph):
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_package():
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_layering():
    """The tape imports no op (only `threads`); ops import the tape, never reverse mode;
    the viz modules import only the tape, each other and `files` (the atomic writer, which
    imports nothing of the package; nor does `threads`, which the tape, ops and reverse mode
    use), except viz.backward, which runs the backward pass it draws and replays and so
    imports reverse mode too; only the CLI may import everything."""
    g = _import_graph()
    inside = lambda deps: {d for d in deps if d.startswith("tinygrad_attn")}  # noqa: E731
    assert inside(g["tinygrad_attn.tape"]) == {"tinygrad_attn.threads"}
    assert inside(g["tinygrad_attn.files"]) == set()
    assert inside(g["tinygrad_attn.threads"]) == set()
    viz_modules = {m for m in g if m == "tinygrad_attn.viz" or m.startswith("tinygrad_attn.viz.")}
    assert {"tinygrad_attn.viz", "tinygrad_attn.viz.dot", "tinygrad_attn.viz.roll"} <= viz_modules
    for name in viz_modules:
        allowed = viz_modules | {"tinygrad_attn.tape", "tinygrad_attn.files"}
        if name == "tinygrad_attn.viz.backward":
            allowed = allowed | {"tinygrad_attn.autodiff"}
        assert inside(g[name]) <= allowed, (name, inside(g[name]) - allowed)
    assert "tinygrad_attn.autodiff" in g["tinygrad_attn.viz.backward"]
    assert g["tinygrad_attn.autodiff"] >= {"tinygrad_attn.tape"}
    for name, deps in g.items():
        if name.startswith("tinygrad_attn.ops."):
            assert "tinygrad_attn.functions" not in deps, name
            assert "tinygrad_attn.autodiff" not in deps, name
        if name not in ("tinygrad_attn.cli", "tinygrad_attn.__main__"):
            assert "tinygrad_attn.cli" not in deps, f"{name} imports the CLI"


def _run(code, cwd=None, env=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_importing_the_library_leaves_malloc_alone():
    """ctypes announces every symbol it looks up (audit events): importing every module of
    the library must not look up glibc's mallopt; the explicit call does (the control)."""
    run = _run("""
        import sys
        seen = []
        sys.addaudithook(lambda ev, args: seen.append(args[1]) if ev == "ctypes.dlsym" else None)
        import tinygrad_attn, tinygrad_attn.nn, tinygrad_attn.optim, tinygrad_attn.viz
        import tinygrad_attn.checkpoint, tinygrad_attn.decoding, tinygrad_attn.memory
        import tinygrad_attn.testing, tinygrad_attn.book
        assert "mallopt" not in seen, seen
        from tinygrad_attn.memory import keep_freed_memory
        assert keep_freed_memory()
        assert "mallopt" in seen, seen
        print("ok")
        """)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_a_users_own_models_package_and_ours_coexist(tmp_path):
    """In a project with its own `models` package, the user's package imports, and the CLI
    still finds our models (installed as `tinygrad_attn_models`)."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("WHOSE = 'the user'\n")
    run = _run("""
        import models
        assert models.WHOSE == "the user", models.__file__
        from tinygrad_attn.cli import _model_plugins
        plugins = _model_plugins()
        cls = plugins["attention"].load()
        assert cls.__module__.startswith("tinygrad_attn_models."), cls.__module__
        import models as again
        assert again.WHOSE == "the user"
        print("ok")
        """, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    cli = subprocess.run([sys.executable, "-m", "tinygrad_attn", "graph", "--model",
                          "attention", "--out", str(tmp_path / "g.dot")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert "unknown model" not in cli.stderr, cli.stderr


def test_every_package_is_installed():
    """pyproject.toml lists packages by hand (models/ is installed under another name):
    a package directory missing from the list would be missing from an install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {_module_name(p) for p in PKG.rglob("__init__.py")}
    assert found <= listed, f"not in pyproject.toml's packages: {sorted(found - listed)}"
    assert config["package-dir"] == {"tinygrad_attn_models": "models"}
