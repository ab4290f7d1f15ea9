"""docs/tutorial.ipynb (the chapter as a notebook) runs: every cell, top to bottom, in a
Jupyter kernel of this very Python, as a reader runs it; its own asserts (the book's
gradients, finite differences, at least 99% accuracy, the planted bug found) are part of
it. The stored file carries no outputs (git keeps the source, not a run's pictures)."""
import json
import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"


def test_the_notebook_is_stored_without_outputs():
    raw = NOTEBOOK.read_text(encoding="utf-8")
    nb = json.loads(raw)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 10
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"cells {dirty} of {NOTEBOOK.name} are stored with outputs; clear them "
                       "(in Jupyter: Edit > Clear Outputs of All Cells, then save)")
    assert all("attachments" not in c for c in nb["cells"])
    assert len(raw.encode()) < 40_000, f"{NOTEBOOK.name} is {len(raw.encode())} bytes"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_the_tutorial_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient.exceptions import CellExecutionError

    # A kernel spec of this interpreter, found first (JUPYTER_PATH precedes the user's and
    # the environment's kernel folders): the notebook runs against the package under test,
    # not whatever `python3` kernel another environment registered.
    spec = tmp_path / "jupyter" / "kernels" / "tga-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tinygrad_attn tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    client = nbclient.NotebookClient(nb, kernel_name="tga-test", timeout=1200,
                                     resources={"metadata": {"path": str(run_dir)}})
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{NOTEBOOK.name}: a cell failed:\n{e}")

    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
    cells = [c for c in nb.cells[1:] if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [set(o.get("data", {})) for o in outputs if o.output_type == "execute_result"]
    # Variables show as HTML, diagrams inline as SVG (drawn by Graphviz's `dot`: without it
    # a diagram shows its text form and the error saying what to install), the heatmap as PNG
    assert sum("text/html" in s and "image/svg+xml" not in s for s in shown) >= 2
    if shutil.which("dot"):
        assert sum("image/svg+xml" in s for s in shown) >= 4
    assert any("image/png" in s for s in shown)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "test accuracy" in text and "no wrong rule found" in text
    assert "softmax(axis=1) in attention_weight" in text       # what locate named
