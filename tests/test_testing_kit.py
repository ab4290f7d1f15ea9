"""The kit's newer parts: kinks, dtype tolerances, check_op/op_test, taylor_check,
graph_freed, repro scripts, the pytest plugin, and importing without hypothesis."""
import os
import subprocess
import sys
import textwrap
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_attn.functions as F
from tinygrad_attn import Function, Variable
from tinygrad_attn.testing import (CheckOpError, GradcheckError, GraphNotFreedError,
                                   KinkWarning, check_op, gradcheck, graph_freed, op_test,
                                   taylor_check)
from tinygrad_attn.testing import strategies as tst

ROOT = Path(__file__).resolve().parents[1]


# --- a user's own op, tested in five lines ----------------------------------------------
class Cube(Function):
    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        x = self.inputs[0]
        return gy * 3 * x * x


test_cube_as_a_collected_test = op_test(Cube, tst.floats_arrays())


def test_op_test_returns_a_test_pytest_collects():
    t = op_test(Cube, tst.floats_arrays())
    assert t.__name__ == "test_cube" and callable(t)
    assert test_cube_as_a_collected_test.__code__.co_argcount == 0  # no fixtures asked


def test_check_op_passes_a_users_function_and_reports_what_it_ran():
    summary = check_op(Cube, tst.floats_arrays(max_dims=2))
    assert summary["examples"] >= 1 and summary["kinks"] == []


class Stateful(Function):
    """x * 2 whose rule scales by how often it ran: a second backward differs."""
    calls = 0

    def forward(self, x):
        return x * 2

    def backward(self, gy):
        Stateful.calls += 1
        return gy * (2.0 if Stateful.calls % 2 else 2.5)


class Upcasts(Function):
    """Returns float64 whatever comes in: float32 in must give float32 out."""

    def forward(self, x):
        return x.astype(np.float64) * 2

    def backward(self, gy):
        return gy * 2


@pytest.mark.parametrize("op, dtypes, message", [
    (Stateful, (np.float64,), "a second backward over the same graph gives different"),
    (Upcasts, (np.float32,), "output 0 has dtype float64, not the inputs' float32"),
])
def test_check_op_catches_what_gradcheck_alone_does_not(op, dtypes, message, tmp_path):
    with pytest.raises(CheckOpError, match=message):
        check_op(op, tst.floats_arrays((2,)), dtypes=dtypes, order=1, repro_dir=tmp_path)


def test_check_op_catches_a_graph_that_is_not_freed():
    kept = []

    def leaky(x):
        y = F.tanh(x)
        kept.append(y)  # a stashed output: the graph outlives the check
        return y

    with pytest.raises(CheckOpError, match="graph_freed: .* still alive"):
        check_op(leaky, tst.floats_arrays((2,)), dtypes=(np.float64,), order=1)


# --- kinks --------------------------------------------------------------------------------
def abs_by_relu(x):
    """|x| as a composition (there is no abs op): relu(x) + relu(-x); at 0 its rule gives 0,
    between the one-sided derivatives -1 and 1."""
    return F.relu(x) + F.relu(-x)


def abs_by_where(x):
    """|x| as where(x >= 0, x, -x): at 0 its rule gives 1, the right-hand derivative."""
    return F.where(x.data >= 0, x, -x)


class MaxFirstTie(Function):
    """max over the last axis whose rule sends everything to the first maximum (as
    argmax would): at a tie that is a valid subgradient, not the central difference."""

    def forward(self, x):
        return x.max(axis=-1)

    def backward(self, gy):
        x = self.inputs[0]
        first = np.zeros(x.shape, x.dtype)
        np.put_along_axis(first, x.data.argmax(axis=-1)[..., None], 1, axis=-1)
        return F.expand_dims(gy, -1) * first


class ReluWrongBelow(Function):
    """relu whose rule is 1 for negative inputs too."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):
        return gy * 1.0


class ReluTooSteepAtZero(Function):
    """relu whose rule gives 1.5 at exactly 0: outside [0, 1], so wrong at the kink."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * np.where(x > 0, 1.0, np.where(x == 0, 1.5, 0.0))


TIES = np.array([[1.0, 1.0, 0.5], [0.0, -2.0, 0.0]])
AT_ZERO = np.array([0.0, 1.5, -0.7, 0.0])

KINKS_PASS = {   # name -> (f, input at its kink, whether the check takes the kink path)
    "relu at 0": (F.relu, AT_ZERO, True),
    "abs (relu composition) at 0": (abs_by_relu, AT_ZERO, False),  # its 0 is central
    "abs (where composition) at 0": (abs_by_where, AT_ZERO, True),  # its 1 is one-sided
    "max with ties (shared)": (lambda x: F.max(x, axis=-1), TIES, False),
    "max with ties (first takes all)": (lambda x: MaxFirstTie()(x), TIES, True),
}


@pytest.mark.parametrize("name", sorted(KINKS_PASS))
def test_kinks_pass_and_say_so(name):
    f, x, via_kink = KINKS_PASS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert gradcheck(f, x)
    notes = [str(w.message) for w in caught if issubclass(w.category, KinkWarning)]
    if via_kink:
        assert notes and "a kink" in notes[0] and "lies between" in notes[0], notes
    else:  # ties shared equally: the central difference itself agrees
        assert not notes


@pytest.mark.filterwarnings("ignore::tinygrad_attn.testing.KinkWarning")
@pytest.mark.parametrize("op, x", [
    (ReluWrongBelow, AT_ZERO),           # wrong away from the kink
    (ReluWrongBelow, np.zeros(3)),       # 1 at 0 is a valid subgradient: passes there ...
    (ReluTooSteepAtZero, AT_ZERO),       # wrong at the kink itself
])
def test_a_wrong_rule_at_or_near_a_kink_still_fails(op, x):
    f = lambda v: op()(v)  # noqa: E731
    if op is ReluWrongBelow and not (x < 0).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KinkWarning)
            assert gradcheck(f, x)  # ... and the negative inputs are what make it fail
        return
    with pytest.raises(GradcheckError, match="autograd"):
        gradcheck(f, x)


def test_check_op_draws_kinks_and_passes_relu_but_not_a_wrong_relu():
    at_kinks = tst.floats_arrays(max_dims=1, kinks=(0.0,))
    summary = check_op(F.relu, at_kinks, order=1)
    assert summary["kinks"], "the strategy should have put entries on the kink"
    with pytest.raises(CheckOpError, match=r"worst entry"):
        check_op(ReluWrongBelow, at_kinks, order=1)


# --- every op in F: check_op (float64 and float32, default tolerances) and taylor_check --
# An input is (kind, shape): "r" real in [-3, 3], "p" positive, "d" distinct entries (no
# ties), "z" away from 0 (relu's kink), "e" an exponent in [-2, 2].
STRATEGY = {
    "r": lambda s: tst.floats_arrays(s),
    "p": lambda s: tst.positive_arrays(s),
    "d": lambda s: tst.floats_arrays(s, distinct=True, gap=0.05),
    "z": lambda s: tst.floats_arrays(s, avoid=(0.0,), margin=0.05),
    "e": lambda s: tst.floats_arrays(s, min_value=-2, max_value=2),
}


def _value(kind, shape, rng):
    if kind == "p":
        return rng.uniform(0.5, 3, shape)
    if kind == "d":
        return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.5 - 1
    if kind == "z":
        return rng.uniform(0.2, 3, shape) * rng.choice([-1, 1], shape)
    if kind == "e":
        return rng.uniform(-2, 2, shape)
    return rng.uniform(-3, 3, shape)


def _lstm_outputs(outs):
    """All three outputs of lstm (hs, h_T, c_T) in one Variable."""
    hs, h, c = outs
    return hs.sum(axis=1) + h * c


OPS = {   # name in F.__all__ -> (f, inputs): a new op adds a row
    "add": (lambda a, b: a + b, [("r", (2, 3)), ("r", (3,))]),
    "sub": (lambda a, b: a - b, [("r", (2, 3)), ("r", (2, 1))]),
    "mul": (lambda a, b: a * b, [("r", (2, 3)), ("r", (3,))]),
    "div": (lambda a, b: a / b, [("r", (2, 3)), ("p", (3,))]),
    "neg": (F.neg, [("r", (2, 3))]),
    "pow": (lambda a, b: a ** b, [("p", (2, 3)), ("e", (3,))]),
    "exp": (F.exp, [("r", (2, 3))]),
    "log": (F.log, [("p", (2, 3))]),
    "tanh": (F.tanh, [("r", (2, 3))]),
    "sigmoid": (F.sigmoid, [("r", (2, 3))]),
    "relu": (F.relu, [("z", (2, 3))]),
    "cast": (lambda x: F.cast(x, np.float64) * 1.0, [("r", (2, 3))]),
    "sum": (lambda x: F.sum(x, axis=1), [("r", (2, 3))]),
    "mean": (lambda x: F.mean(x, axis=0, keepdims=True), [("r", (2, 3))]),
    "max": (lambda x: F.max(x, axis=1), [("d", (2, 3))]),
    "min": (lambda x: F.min(x), [("d", (2, 3))]),
    "broadcast_to": (lambda x: F.broadcast_to(x, (2, 3)), [("r", (3,))]),
    "sum_to": (lambda x: F.sum_to(x, (1, 3)), [("r", (2, 3))]),
    "reshape": (lambda x: F.reshape(x, (3, 2)), [("r", (2, 3))]),
    "transpose": (F.transpose, [("r", (2, 3))]),
    "swapaxes": (lambda x: F.swapaxes(x, 0, 2), [("r", (2, 1, 3))]),
    "expand_dims": (lambda x: F.expand_dims(x, 1), [("r", (2, 3))]),
    "squeeze": (lambda x: F.squeeze(x, 1), [("r", (2, 1, 3))]),
    "concat": (lambda a, b: F.concat([a, b], axis=1), [("r", (2, 3)), ("r", (2, 1))]),
    "split": (lambda x: F.split(x, [1], axis=1), [("r", (2, 3))]),
    "stack": (lambda a, b: F.stack([a, b], axis=1), [("r", (2, 3)), ("r", (2, 3))]),
    "unstack": (lambda x: F.unstack(x, axis=1), [("r", (2, 3))]),
    "matmul": (lambda a, b: a @ b, [("r", (2, 2, 3)), ("r", (3, 2))]),
    "getitem": (lambda x: F.getitem(x, (slice(None), np.array([0, 2, 2]))), [("r", (2, 3))]),
    "embedding": (lambda W: F.embedding(W, np.array([[0, 2], [2, 1]])), [("r", (3, 2))]),
    "where": (lambda a, b: F.where(np.array([True, False, True]), a, b),
              [("r", (2, 3)), ("r", (3,))]),
    "masked_fill": (lambda x: F.masked_fill(x, np.array([False, True, False]), -1e9),
                    [("r", (2, 3))]),
    "softmax": (lambda x: F.softmax(x, axis=0), [("r", (2, 3))]),
    "log_softmax": (lambda x: F.log_softmax(x, axis=-1), [("r", (2, 3))]),
    "softmax_cross_entropy": (lambda x: F.softmax_cross_entropy(x, np.array([0, 2])),
                              [("r", (2, 3))]),
    "lstm": (lambda xs, Wx, Wh, b, h0, c0: _lstm_outputs(F.lstm(xs, Wx, Wh, b, h0, c0)),
             [("r", (2, 3, 2)), ("r", (2, 8)), ("r", (2, 8)), ("r", (8,)), ("r", (2, 2)),
              ("r", (2, 2))]),
    # compositions (ops/composite.py); masked_softmax's second row is fully masked
    "layer_norm": (F.layer_norm, [("d", (2, 3)), ("r", (3,)), ("r", (3,))]),
    "masked_softmax": (lambda x: F.masked_softmax(x, np.array([[False, True, False],
                                                               [True, True, True]])),
                       [("r", (2, 3))]),
    "softplus": (F.softplus, [("r", (2, 3))]),
    "gelu": (F.gelu, [("r", (2, 3))]),
    "cosine_similarity": (F.cosine_similarity, [("z", (2, 3)), ("z", (2, 3))]),
    "roll": (lambda x: F.roll(x, 1), [("r", (2, 3))]),
    "circular_convolution": (F.circular_convolution, [("r", (2, 4)), ("r", (2, 3))]),
    "dropout": (lambda x: F.dropout(x, 0.5, np.random.default_rng(0), training=True),
                [("r", (2, 3))]),
    "binary_cross_entropy_with_logits": (
        lambda z: F.binary_cross_entropy_with_logits(z, np.array([[0, 1, 0.5], [1, 0, .25]])),
        [("r", (2, 3))]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   [("d", (3, 2)), ("r", (2,)), ("r", (2,))]),
}


def test_every_op_has_a_row():
    assert set(OPS) == set(F.__all__), set(F.__all__) ^ set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_check_op_passes_every_op_in_float64_and_float32(name):
    """No hand-tuned tolerance anywhere: each dtype brings its own. (cast's row casts to
    float64 on purpose, so its output dtype is not the input's.)"""
    from hypothesis import settings
    f, inputs = OPS[name]
    check_op(f, *[STRATEGY[k](s) for k, s in inputs], same_dtype=name != "cast",
             settings=settings(max_examples=max(2, settings.default.max_examples // 10)))


@pytest.mark.parametrize("name", sorted(OPS))
def test_taylor_check_passes_every_op(name):
    f, inputs = OPS[name]
    rng = np.random.default_rng(0)
    result = taylor_check(f, *[_value(k, s, rng) for k, s in inputs])
    assert result.ok and (result.rate is None or result.rate >= 3), result.message


def test_taylor_check_reports_rates_and_fails_a_wrong_gradient():
    class TwiceTooSteep(Cube):
        def backward(self, gy):
            return super().backward(gy) * 2

    x = np.random.default_rng(0).standard_normal(5)
    ok = taylor_check(F.tanh, x)
    assert ok and 3.5 < ok.rate < 4.5 and len(ok.rates) == 10
    bad = taylor_check(lambda v: TwiceTooSteep()(v), x, raise_exception=False)
    assert not bad and 1.5 < bad.rate < 2.5, bad.message
    assert "shrinks only" in bad.message and "locate: op 1 of 1" in bad.message


# --- graph_freed --------------------------------------------------------------------------
def test_graph_freed_passes_when_everything_is_dropped():
    W = Variable(np.ones((3, 2)))
    loss = F.sum(F.tanh(np.ones((4, 3)) @ W))
    watch = graph_freed(loss)
    assert watch.watched >= 4  # 3 functions and their outputs, leaves excluded
    loss.backward()
    del loss
    assert watch.check() and watch.freed
    with graph_freed() as w:  # as a context manager
        y = F.exp(W * 2.0)
        w.watch(y)
        del y


def test_graph_freed_names_what_is_still_alive():
    W = Variable(np.ones((3, 2)))
    keep = []
    loss = F.sum(F.tanh(W))
    watch = graph_freed(loss)
    keep.append(loss.creator.inputs[0])  # a stashed intermediate
    del loss
    with pytest.raises(GraphNotFreedError, match=r"Variable \(3, 2\) float64 made by tanh"
                                                 r".*Something still holds them"):
        watch.check()
    del keep[:]
    assert watch.check()


def test_graph_freed_tells_a_cycle_from_a_holder():
    x = Variable(np.ones(2))
    y = F.exp(x)
    y.creator.me = y.creator  # a reference cycle through the op
    watch = graph_freed(y)
    del y
    with pytest.raises(GraphNotFreedError, match="reference cycle"):
        watch.check()


# --- repro scripts --------------------------------------------------------------------------
def _run_repro(folder):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, str(folder / "repro.py")], capture_output=True,
                          text=True, timeout=120, env=env)


def test_gradcheck_repro_rebuilds_a_lambda_with_its_closure(tmp_path):
    scale = 3.0
    f = lambda v: Cube()(v) * scale + F.relu(v)  # noqa: E731  (a closure over `scale`)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: ReluWrongBelow()(v) * scale, np.array([-1.0, 2.0]),
                  repro_dir=tmp_path)
    script = (tmp_path / "repro.py").read_text()
    assert "scale = 3.0" in script and "ReluWrongBelow" in script
    run = _run_repro(tmp_path)
    assert run.returncode != 0 and "GradcheckError" in run.stderr, run.stderr
    assert str(info.value).splitlines()[0] in run.stderr  # the same failure, to the digit
    assert gradcheck(f, np.array([-1.0, 2.0]))


# --- the pytest plugin ----------------------------------------------------------------------
def test_the_plugin_is_registered_by_a_pytest11_entry_point():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    eps = config["project"]["entry-points"]["pytest11"]
    assert eps == {"tinygrad_attn": "tinygrad_attn.testing.pytest_plugin"}


INNER = """
    import numpy as np
    from hypothesis import settings

    def test_profile(tga_rng, request):
        print("PROFILE", settings.default.max_examples, settings.default.derandomize)
        print("DRAW", tga_rng.integers(0, 10**9))
        assert request.config.getoption("tga_seed") == 0

    def test_fails(tga_rng):
        assert False
"""


def _inner_pytest(tmp_path, capsys, monkeypatch, *args, env=None):
    """An inner pytest session in this process (fast); the outer profile is restored."""
    from hypothesis import settings
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER))
    monkeypatch.delenv("TGA_HYPOTHESIS_PROFILE", raising=False)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    outer = settings.get_current_profile_name()
    capsys.readouterr()
    # installed, the plugin loads itself through its pytest11 entry point; loading it again
    # by module name would register one module twice
    from importlib.metadata import entry_points
    plugin = "tinygrad_attn.testing.pytest_plugin"
    autoloaded = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") and any(
        ep.value == plugin for ep in entry_points(group="pytest11"))
    load = [] if autoloaded else ["-p", plugin]
    try:
        code = pytest.main(["-p", "no:cacheprovider", "-s", "-q", *load, *args,
                            str(tmp_path / "test_inner.py")])
    finally:
        settings.load_profile(outer)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_plugin_chooses_the_profile_and_seeds_the_fixture(tmp_path, capsys, monkeypatch):
    code, dev = _inner_pytest(tmp_path, capsys, monkeypatch, "--tga-profile", "dev")
    assert "PROFILE 500 False" in dev, dev
    assert "tga_rng" in dev and "numpy.random.default_rng([0," in dev  # the failing test
    assert code == 1  # test_fails failed, test_profile passed
    code, ci = _inner_pytest(tmp_path, capsys, monkeypatch,
                             env={"TGA_HYPOTHESIS_PROFILE": "ci"})
    assert "PROFILE 50 True" in ci, ci
    draws = [line for line in (dev + ci).splitlines() if line.startswith("DRAW")]
    assert len(draws) == 2 and draws[0] == draws[1]  # the same stream in every run


def test_the_plugin_refuses_an_unknown_profile(monkeypatch):
    from tinygrad_attn.testing import pytest_plugin

    class Config:
        def getoption(self, name, default=None):
            return None

        def getini(self, name):
            return ""

    monkeypatch.setenv("TGA_HYPOTHESIS_PROFILE", "nightly")
    assert pytest_plugin.chosen_profile(Config()) == ("nightly", "$TGA_HYPOTHESIS_PROFILE")
    with pytest.raises(pytest.UsageError, match="unknown hypothesis profile 'nightly'"):
        pytest_plugin.pytest_configure(Config())


def test_the_library_the_plugin_and_the_cli_import_without_hypothesis():
    code = textwrap.dedent("""
        import sys
        sys.modules["hypothesis"] = None          # as if it were not installed
        import tinygrad_attn, tinygrad_attn.testing, tinygrad_attn.testing.pytest_plugin
        from tinygrad_attn.testing import gradcheck, locate, taylor_check
        import numpy as np
        import tinygrad_attn.functions as F
        assert gradcheck(F.tanh, np.ones(3)) and locate(F.tanh, np.ones(3)) is None
        assert tinygrad_attn.testing.pytest_plugin.register_profiles() is False
        from tinygrad_attn.cli import main
        try:
            main(["--version"])
        except SystemExit as e:
            assert not e.code
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr


# --- second order: locate names the rule that cannot be differentiated again -----------
class NumpyRule(Function):
    """x * x whose rule computes with .data: right first order, no second order."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * (2 * self.inputs[0].data)


def test_gradgradcheck_failures_name_the_rule_that_is_not_differentiable():
    from tinygrad_attn.testing import gradgradcheck
    with pytest.raises(GradcheckError, match=r"\(second order\)") as info:
        gradgradcheck(lambda v: F.tanh(NumpyRule()(v) * 3.0), np.array([0.3, -0.2]))
    report = info.value.report
    assert (report.op, report.order, report.others) == ("numpy_rule", 2, [])
    assert "differentiated again (second order)" in str(info.value).splitlines()[-1]
