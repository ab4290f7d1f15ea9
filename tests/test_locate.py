"""locate's proof: bugs planted in real ops are found in the attention model's graph.

Each planted bug (tests/planted_bugs.py) replaces one op class's rule for the length of a
test (monkeypatch restores it). `locate` must name exactly that op and its scope, for
every model seed tried; `check_op` must fail with a readable message and a repro script
that fails again in a fresh process; `taylor_check` must fail on the op; and on the clean
model, in float64 and float32, `locate` must find nothing.
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import planted_bugs as pb
import tinygrad_attn.functions as F
import tinygrad_attn_models as models
from tinygrad_attn.testing import (CheckOpError, GradcheckError, Report, check_op, gradcheck,
                                   locate, taylor_check)
from tinygrad_attn.ops.recurrent import step_by_step
from tinygrad_attn.testing import strategies as tst

SEEDS = (0, 1)   # "every time": more than one model and batch


@pytest.fixture(autouse=True)
def lstm_op_by_op():
    """The bugs are planted in the LSTM cell's primitives (sigmoid, tanh, matmul): record the
    model's LSTMs step by step, not as the one fused node `F.lstm` makes by default."""
    with step_by_step():
        yield


def tiny_attention(dtype, seed):
    """The attention seq2seq at tiny sizes: 84 recorded ops (more than the 50 asked for)."""
    model = models.AttentionSeq2seq(7, 3, 4, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    xs, ts = rng.integers(0, 7, (2, 3)), rng.integers(0, 7, (2, 4))
    return model, xs, ts


@pytest.fixture(params=sorted(pb.BUGS))
def planted(request, monkeypatch):
    cls, rule, dtype, op, scope = pb.BUGS[request.param]
    monkeypatch.setattr(cls, "backward", rule)
    return request.param, dtype, op, scope


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_clean_model_has_no_finding(dtype):
    model, xs, ts = tiny_attention(dtype, 0)
    assert locate(lambda: model.loss(xs, ts)) is None


def test_the_model_graph_is_big_enough():
    model, xs, ts = tiny_attention(np.float64, 0)
    from tinygrad_attn.testing._core import walk_functions
    assert len(walk_functions([model.loss(xs, ts)])) >= 50


def test_locate_names_the_planted_op_and_its_scope(planted):
    name, dtype, op, scope = planted
    for seed in SEEDS:
        model, xs, ts = tiny_attention(dtype, seed)
        start = time.perf_counter()
        # the full check once; then stopping at the first finding is enough (and faster)
        report = locate(lambda: model.loss(xs, ts), first_only=seed != SEEDS[0])
        took = time.perf_counter() - start
        assert isinstance(report, Report), (name, seed)
        assert (report.op, report.scope_name) == (op, scope), (name, seed, str(report))
        assert report.n_ops >= 50 and 1 <= report.position <= report.n_ops
        text = str(report)
        assert "\n" not in text  # one paragraph
        where = f"in {scope}" if scope else "at top level"
        assert f"{op}(" in text and where in text and "autograd" in text and \
            "numerical" in text, text
        assert report.autograd != pytest.approx(report.numerical, rel=1e-3, abs=1e-4)
        print(f"[{name}] seed {seed}, {took:.2f} s: {text}")


def _render_reads(report, path):
    out = report.render(path)
    text = out.read_text()
    assert "#DC2626" in text and "✗ rule" in text  # the red node, marked
    return text


def test_report_renders_the_graph_with_the_node_highlighted(tmp_path, monkeypatch):
    cls, rule, dtype, op, scope = pb.BUGS["wrong sign"]
    monkeypatch.setattr(cls, "backward", rule)
    model, xs, ts = tiny_attention(dtype, 0)
    report = locate(lambda: model.loss(xs, ts))
    dot = _render_reads(report, tmp_path / "graph.dot")
    assert sum("✗ rule" in line for line in dot.splitlines()) == 1  # one node marked
    assert "softmax" in dot
    folded = report.render(tmp_path / "folded.dot", max_depth=1).read_text()
    assert "#DC2626" in folded  # inside a folded module: the module's box is red
    if __import__("shutil").which("dot"):
        svg = report.render(tmp_path / "graph.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "✗ rule" in svg


def _small_report(monkeypatch):
    """A report on a small graph: a loop of softmaxes whose rule has the wrong sign."""
    cls, rule, dtype, op, scope = pb.BUGS["wrong sign"]
    monkeypatch.setattr(cls, "backward", rule)
    W = np.random.default_rng(0).standard_normal((3, 3))

    def loop(h):
        for _ in range(6):
            h = F.softmax(h @ W, axis=-1)
        return F.sum(h * h)

    report = locate(loop, np.random.default_rng(1).standard_normal((2, 3)))
    assert isinstance(report, Report) and report.op == "softmax"
    return report


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="needs Graphviz `dot`")
def test_report_renders_a_png_within_viz_size_cap(tmp_path, monkeypatch):
    """The picture of where the wrong rule is keeps to viz.render's PNG cap: over it, it is
    drawn at a lower dpi with the same warning; under it, at viz.render's 144 dpi."""
    import warnings
    from tinygrad_attn import viz
    rendering = __import__("importlib").import_module("tinygrad_attn.viz.render")
    report = _small_report(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        natural = _png_size(report.render(tmp_path / "a.png", roll=False))
    plain = _png_size(viz.render_diagram(report.dot(roll=False), tmp_path / "b.png"))
    assert natural == plain
    cap = max(natural) // 2
    monkeypatch.setattr(rendering, "MAX_PIXELS", cap)
    with pytest.warns(viz.LargeGraphWarning, match=r"drawn at \d+ dpi"):
        small = _png_size(report.render(tmp_path / "c.png", roll=False))
    assert max(small) <= cap and max(small) > cap * 0.8


def test_report_render_failures_are_one_graphviz_error(tmp_path, monkeypatch,
                                                      failing_graphviz):
    """Whatever Graphviz says, the report's render raises viz.GraphvizError in one line
    naming where the DOT source was kept, and writes no picture."""
    from tinygrad_attn import viz
    rendering = __import__("importlib").import_module("tinygrad_attn.viz.render")
    report = _small_report(monkeypatch)
    failing_graphviz(b"Error: syntax error in line 3 near '<'\nmore\n")
    for fmt in ("svg", "png", "pdf"):
        with pytest.raises(viz.GraphvizError, match=r"syntax error in line 3") as info:
            report.render(tmp_path / f"g.{fmt}")
        assert "\n" not in str(info.value) and str(info.value.source_path) in str(info.value)
        assert "✗ rule" in info.value.source_path.read_text()     # the highlighted source
        assert not (tmp_path / f"g.{fmt}").exists()

    def slow(command, input, capture_output, timeout):   # noqa: A002
        raise rendering.subprocess.TimeoutExpired(command, timeout)

    monkeypatch.setattr(rendering.subprocess, "run", slow)
    with pytest.raises(viz.GraphvizError, match=r"within 120 s"):
        report.render(tmp_path / "g.svg")
    with pytest.raises(ValueError, match=r"cannot draw to suffix '\.jpg'"):
        report.render(tmp_path / "g.jpg")


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="needs Graphviz `dot`")
@pytest.mark.parametrize("scope", ["<b>&", "\t", "x\ny", "\x01", 'q"t\\'])
def test_report_renders_whatever_the_scope_is_named(scope, tmp_path, monkeypatch):
    """The caption names the op's scope: any name a scope can have is drawn."""
    import tinygrad_attn as tga
    cls, rule, dtype, op, _ = pb.BUGS["wrong sign"]
    monkeypatch.setattr(cls, "backward", rule)

    def f(x):
        with tga.name_scope(scope):
            return F.sum(F.softmax(x, axis=-1) ** 2)

    report = locate(f, np.random.default_rng(0).standard_normal((2, 3)))
    assert report.scope == tuple(scope.split("."))
    for suffix in ("svg", "png"):
        assert report.render(tmp_path / f"g.{suffix}").stat().st_size > 0


# --- the planted ops alone: check_op, gradcheck, taylor_check ----------------------------
PLANTED_OPS = {   # bug -> (f, inputs: a shape for a float input, an array for data)
    "wrong sign": (lambda x: F.softmax(x, axis=-1), [(2, 3)]),
    "missing factor": (F.sigmoid, [(2, 3)]),
    "missing factor (mean)": (lambda x, t: F.softmax_cross_entropy(x, t),
                              [(2, 3), np.array([0, 2])]),
    "wrong only when an axis is reduced": (lambda a, b: a @ b, [(2, 2, 3), (3, 2)]),
    "wrong only for float32": (F.tanh, [(2, 3)]),
    "wrong order": (lambda a, b: F.concat([a, b], axis=-1), [(2, 2), (2, 2)]),
}


def strategies_of(spec):
    return [tst.floats_arrays(s) if isinstance(s, tuple) else s for s in spec]


def values_of(spec, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, s).astype(dtype) if isinstance(s, tuple) else s for s in spec]


def test_every_planted_bug_has_an_op_row():
    assert set(PLANTED_OPS) == set(pb.BUGS)


def test_check_op_fails_readably_and_its_repro_fails_again(planted, tmp_path):
    name, dtype, op, scope = planted
    f, spec = PLANTED_OPS[name]
    with pytest.raises(CheckOpError) as info:
        check_op(f, *strategies_of(spec), order=1, repro_dir=tmp_path)
    msg = str(info.value)
    assert "autograd" in msg and "numerical" in msg and "worst entry" in msg, msg
    assert "check_op(" in msg and "repro: python" in msg and str(tmp_path) in msg, msg
    if dtype == np.float32:
        assert "in float32" in msg  # it is float32 that fails, and the message says so
    assert info.value.report is not None and info.value.report.op == op
    for part in ("repro.py", "inputs.npz"):
        assert (tmp_path / part).exists()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    run = subprocess.run([sys.executable, str(tmp_path / "repro.py")], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode != 0, run.stdout + run.stderr
    assert "GradcheckError" in run.stderr and "autograd" in run.stderr, run.stderr
    assert f"{op}(" in run.stderr  # the repro's own failure names the op too


def test_check_op_writes_to_a_temporary_folder_by_default(monkeypatch):
    cls, rule, *_ = pb.BUGS["wrong sign"]
    monkeypatch.setattr(cls, "backward", rule)
    f, spec = PLANTED_OPS["wrong sign"]
    with pytest.raises(CheckOpError) as info:
        check_op(f, *strategies_of(spec), order=1, dtypes=(np.float64,))
    folder = info.value.repro
    assert folder.is_dir() and str(folder) in str(info.value)
    assert (folder / "repro.py").exists()


def test_gradcheck_failures_end_with_the_locate_finding(planted):
    name, dtype, op, scope = planted
    f, spec = PLANTED_OPS[name]
    with pytest.raises(GradcheckError) as info:
        gradcheck(f, *values_of(spec, dtype))
    first, *rest = str(info.value).splitlines()
    assert first.startswith("gradcheck: input") and "autograd" in first
    assert rest and rest[-1].startswith("locate: op 1 of 1") and f"{op}(" in rest[-1]
    assert info.value.report.op == op


def test_taylor_check_fails_the_planted_op(planted):
    name, dtype, op, scope = planted
    f, spec = PLANTED_OPS[name]
    with pytest.raises(GradcheckError, match=r"shrinks only [0-9.]+x per halving"):
        taylor_check(f, *values_of(spec, dtype))
