"""The `tinygrad-attn` command: demo, graph, errors, help."""
import shutil

import pytest

from tinygrad_attn import cli


def test_demo_proves_its_gradients(capsys):
    assert cli.main(["demo", "--gradients"]) == 0
    out = capsys.readouterr().out
    assert "max |autograd - book|" in out
    assert out.count("passed") == 2 and "FAILED" not in out


def test_graph_of_the_example_expression(tmp_path, capsys):
    out = tmp_path / "example.dot"              # DOT source: needs no Graphviz binary
    assert cli.main(["graph", "--model", "example", "--out", str(out)]) == 0
    assert out.read_text().startswith("digraph")
    assert f"wrote {out}" in capsys.readouterr().out


def test_graph_of_a_model_found_as_a_plugin(tmp_path):
    from tinygrad_attn.plugins import model_plugins
    if "attention" not in model_plugins():
        pytest.skip("the project is not installed (pip install -e .): no model entry points")
    out = tmp_path / "attention.dot"
    assert cli.main(["graph", "--model", "attention", "--out", str(out), "--max-depth", "1"]) == 0
    text = out.read_text()
    assert "decoder.attention" in text and "encoder" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_renders_svg(tmp_path):
    out = tmp_path / "g.svg"
    assert cli.main(["graph", "--model", "example", "--out", str(out)]) == 0
    assert "<svg" in out.read_text()


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["graph", "--model", "nope", "--out", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "example" in err
    assert cli.main(["graph", "--model", "ntm", "--out", str(tmp_path / "g.svg")]) == 2
    assert "'ntm' model is not a seq2seq model" in capsys.readouterr().err
    assert not (tmp_path / "g.svg").exists()


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "data", "train", "eval", "translate", "plot", "graph"):
        assert f"    {command} " in out
    assert "    copy " not in out           # the copy task is `train --task copy`


def test_version_and_python_dash_m():
    import subprocess
    import sys

    import tinygrad_attn
    run = subprocess.run([sys.executable, "-m", "tinygrad_attn", "--version"],
                         capture_output=True, text=True)
    assert run.returncode == 0
    assert run.stdout.strip() == f"tinygrad-attn {tinygrad_attn.__version__}"


def test_graph_draws_the_lstm_op_by_op_unless_fused(tmp_path):
    """The diagram explains the cell (step_by_step); --fused-lstm shows the trained node.
    Two module clusters are labelled lstm either way; fused adds one lstm node per LSTM."""
    from tinygrad_attn import cli
    counts = {}
    for flag in ([], ["--fused-lstm"]):
        out = tmp_path / f"g{len(flag)}.dot"
        assert cli.main(["graph", "--model", "seq2seq", "--out", str(out), *flag]) == 0
        text = out.read_text()
        counts[bool(flag)] = (text.count("<B>lstm</B>"), text.count("<B>sigmoid</B>"))
    assert counts[False][0] == 2 and counts[False][1] > 0
    assert counts[True] == (4, 0)
