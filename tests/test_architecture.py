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
    cli = {m for m in g if m == "tinygrad_attn.cli" or m.startswith("tinygrad_attn.cli.")}
    assert {"tinygrad_attn.cli", "tinygrad_attn.cli.train", "tinygrad_attn.cli.eval",
            "tinygrad_attn.cli.options", "tinygrad_attn.cli.process"} <= cli
    for name, deps in g.items():
        if name.startswith("tinygrad_attn.ops."):
            assert "tinygrad_attn.functions" not in deps, name
            assert "tinygrad_attn.autodiff" not in deps, name
        if name not in cli | {"tinygrad_attn.__main__"}:
            assert not deps & cli, f"{name} imports the CLI"


# The application layer, bottom to top: a module imports only modules of lower ranks (and
# the engine below them all). One concern each: the run folder (runs) on the tasks, the
# tasks on the loop and its callbacks, the loop on the optimiser alone.
APP_RANKS = {
    "tinygrad_attn.files": 0, "tinygrad_attn.plugins": 0, "tinygrad_attn.batches": 0,
    "tinygrad_attn.data": 0, "tinygrad_attn.checkpoint": 1, "tinygrad_attn.plots": 1,
    "tinygrad_attn.training": 2, "tinygrad_attn.callbacks": 3, "tinygrad_attn.tasks": 4,
    "tinygrad_attn.runs": 5, "tinygrad_attn.cli": 6, "tinygrad_attn.__main__": 7,
}


def _app_rank(module):
    for prefix, rank in APP_RANKS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def test_the_application_layer_imports_only_downward():
    g = _import_graph()
    assert {m for m in g if _app_rank(m) is not None} >= set(APP_RANKS) | {
        "tinygrad_attn.tasks.qa", "tinygrad_attn.tasks.copy", "tinygrad_attn.cli.train"}
    for name, deps in g.items():
        rank = _app_rank(name)
        if rank is None:      # the engine never reaches up into the application
            assert not {d for d in deps if _app_rank(d) is not None and
                        d != "tinygrad_attn.files"}, name
            continue
        for d in deps:
            r = _app_rank(d)
            same_package = d.split(".")[:2] == name.split(".")[:2]
            if r is not None and not same_package:
                assert r < rank, f"{name} (rank {rank}) imports {d} (rank {r})"
    # the loop knows neither files, checkpoints, registries nor tasks: callbacks do that
    assert g["tinygrad_attn.training"] & set(APP_RANKS) == set()


def test_the_framework_never_imports_the_models_package():
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            assert not any(n.split(".")[0] in ("tinygrad_attn_models", "models")
                           for n in names), path


TUNING = {"configure_from_environment", "set_num_threads", "keep_freed_memory"}


def test_process_tuning_happens_only_in_the_command_entry():
    """malloc and the thread pool are process-wide: the library tunes neither; only the
    command (cli/process.py) calls what tunes them (memory.py and threads.py define it)."""
    callers = set()
    for path in PKG.rglob("*.py"):
        name = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if called in TUNING:
                    callers.add(name)
    assert callers - {"tinygrad_attn.memory", "tinygrad_attn.threads"} == \
        {"tinygrad_attn.cli.process"}


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
        import tinygrad_attn.testing, tinygrad_attn.book, tinygrad_attn.cli
        import tinygrad_attn.runs, tinygrad_attn.tasks.qa, tinygrad_attn.tasks.copy
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
        from tinygrad_attn.plugins import model_class, task_class
        cls = model_class("attention")
        assert cls.__module__.startswith("tinygrad_attn_models."), cls.__module__
        assert model_class("ntm").__module__.startswith("tinygrad_attn_models.")
        assert task_class("copy").name == "copy"
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
