"""The pictures in docs/img are what the code draws today, and what the page's code draws.

* `python docs/make_graphs.py` (the script that draws docs/graphs.md's pictures) writes,
  into a temporary folder, exactly the SVG files docs/img holds: a change to the diagrams
  that is not followed by regenerating them fails here.
* Running docs/graphs.md's own ```python blocks writes, under the same names, the same
  files: each picture is what its snippet draws.

Graphviz lays out the same graph identically from run to run (same version), so the files
are compared byte for byte. Without the `dot` program both are skipped.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
IMG = DOCS / "img"

pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="Graphviz `dot` is not installed")


def svgs(folder):
    return {p.name: p.read_bytes() for p in Path(folder).glob("*.svg")}


def test_make_graphs_redraws_every_picture_of_graphs_md_as_committed(tmp_path):
    done = subprocess.run([sys.executable, str(DOCS / "make_graphs.py"), "--out",
                           str(tmp_path)] + [n for n in PICTURES()],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    drawn, kept = svgs(tmp_path), svgs(IMG)
    assert len(drawn) >= 12
    stale = sorted(name for name in drawn if drawn[name] != kept.get(name))
    assert not stale, (f"docs/img is not what docs/make_graphs.py draws now: {stale} "
                       "(run python docs/make_graphs.py and look at them)")


def PICTURES():
    sys.path.insert(0, str(DOCS))
    try:
        import make_graphs
    finally:
        sys.path.remove(str(DOCS))
    return list(make_graphs.PICTURES)


def test_every_picture_graphs_md_draws_is_the_one_it_shows(tmp_path, monkeypatch):
    pytest.importorskip("sybil")
    from sybil import Sybil
    from sybil.parsers.markdown import PythonCodeBlockParser
    monkeypatch.chdir(tmp_path)
    document = Sybil(parsers=[PythonCodeBlockParser()], path=str(DOCS)).parse(
        DOCS / "graphs.md")
    for example in document.examples():
        example.evaluate()
    drawn, kept = svgs(tmp_path), svgs(IMG)
    assert len(drawn) >= 9
    shown = (DOCS / "graphs.md").read_text()
    for name, data in drawn.items():
        assert f"img/{name}" in shown, f"graphs.md draws {name} but does not show it"
        assert data == kept.get(name), f"graphs.md's snippet for {name} draws another picture"
