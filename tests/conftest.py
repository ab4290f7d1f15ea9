"""This repository's tests run under tinygrad_attn's pytest plugin
(tinygrad_attn/testing/pytest_plugin.py), with the hypothesis profile `ci` unless asked
otherwise:

ci  (default) deterministic: the same examples on every run, no example database.
dev           ten times the examples, freshly random each run (and a local database so a
              failure found once is replayed first next time).

    python -m pytest tests/ops --tga-profile dev
    TGA_HYPOTHESIS_PROFILE=dev python -m pytest tests/ops
"""
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# the package is importable from a source checkout without installing it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLUGIN = "tinygrad_attn.testing.pytest_plugin"

# this repository's default; the plugin reads it (after --tga-profile) when pytest configures
os.environ.setdefault("TGA_HYPOTHESIS_PROFILE", "ci")

# The plugin is loaded by its pytest11 entry point once the package is installed with it;
# from a checkout (or with plugin autoloading off) it is loaded from here instead.
_autoloaded = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") and any(
    ep.value == PLUGIN for ep in entry_points(group="pytest11"))
pytest_plugins = [] if _autoloaded else [PLUGIN]


@pytest.fixture
def failing_graphviz(monkeypatch):
    """`fail(stderr)`: from then on Graphviz's `dot` is "installed" and every run of it
    exits 1 printing `stderr` (bytes), so a test sees what render makes of a failure."""
    import importlib
    rendering = importlib.import_module("tinygrad_attn.viz.render")

    def fail(stderr):
        def broken(command, input, capture_output, timeout):   # noqa: A002
            class Proc:
                returncode = 1
                stdout = b""
            Proc.stderr = stderr
            return Proc()

        monkeypatch.setattr(rendering.shutil, "which", lambda name: "/usr/bin/dot")
        monkeypatch.setattr(rendering.subprocess, "run", broken)
    return fail
