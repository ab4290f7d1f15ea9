"""A diagram in Jupyter: inline SVG when Graphviz's `dot` is installed; without it one line
saying what to install (no traceback in the cell), through IPython's own display machinery."""
import shutil

import numpy as np
import pytest

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, viz


def diagram():
    x = Variable(np.ones((2, 3)), name="x")
    return viz.make_dot(F.softmax(x * 2, axis=1).sum())


def formatted(obj):
    IPython = pytest.importorskip("IPython.core.formatters")
    data, _ = IPython.DisplayFormatter().format(obj)
    return data


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_diagram_displays_as_svg():
    data = formatted(diagram())
    assert data["image/svg+xml"].lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert "<svg" in data["image/svg+xml"]


def test_without_dot_a_diagram_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))            # no `dot` anywhere on it
    d = diagram()
    assert d._repr_svg_() is None and d._repr_html_() is None
    data = formatted(d)
    out = capsys.readouterr()
    assert set(data) == {"text/plain"}
    text = data["text/plain"]
    assert "\n" not in text and "not installed" in text and "apt-get install graphviz" in text
    assert f"{d.counts['nodes']} nodes" in text
    assert "Traceback" not in out.out + out.err          # IPython printed no formatter error
