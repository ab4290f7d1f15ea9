"""Every op of `tinygrad_attn.functions`, checked from its row in the registry
(tests/ops/registry.py): the same checks for every op, generated, so that a new op is one
row and an op without a row fails `test_every_op_has_a_row`.

Per row: the forward equals NumPy's; `check_op` (first and, where it applies, second order
against finite differences, float64 and float32, a repeatable backward, a freed graph);
broadcast operands; plain arrays in (a constant Variable out, the values of the recorded
path); the no-tape path (`no_grad`: nothing recorded, the same values); float32 mixed with
float64 constants stays float32 through first and second order; `taylor_check`; at the
op's kinks, a valid subgradient (PyTorch's choice); and, where PyTorch is installed, values,
first- and second-order gradients equal to PyTorch's (skipped otherwise).
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad, no_grad
from tinygrad_attn.testing import KinkWarning, check_op, check_op_example, taylor_check

from . import examples
from .registry import OPS

ROWS = [pytest.param(row, id=row.id) for row in OPS]


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _variables(args, dtype=None):
    return [Variable(a if dtype is None else a.astype(dtype)) if _is_float(a) else a
            for a in args]


def _outs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _float_positions(args):
    return [i for i, a in enumerate(args) if _is_float(a)]


def test_every_op_has_a_row():
    names = {row.name for row in OPS}
    assert names == set(F.__all__), (f"without a row: {sorted(set(F.__all__) - names)}; "
                                     f"rows of no F op: {sorted(names - set(F.__all__))}")


@pytest.mark.parametrize("row", ROWS)
@examples(0.2)
@given(data=st.data())
def test_forward_matches_numpy(row, data):
    if row.ref is None:
        pytest.skip("no NumPy reference")
    args = data.draw(row.sample)
    got = _outs(row.fn(*_variables(args)))
    expected = row.ref(*args)
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    assert len(got) == len(expected)
    for y, e in zip(got, expected):
        assert isinstance(y, Variable)
        e = np.asarray(e)
        assert y.shape == e.shape, (y.shape, e.shape)
        np.testing.assert_allclose(y.data, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("row", ROWS)
def test_check_op(row):
    """Both orders (where second order applies), float64 and float32 with their own
    tolerances, determinism and a freed graph, on examples drawn from the row."""
    from hypothesis import settings
    check_op(row.fn, inputs=row.sample, order=row.order, same_dtype=row.same_dtype,
             settings=settings(max_examples=max(2, settings.default.max_examples // 16)))


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].broadcast is not None])
@examples(0.1)
@given(data=st.data())
def test_broadcasting(row, data):
    """Operands of different shapes broadcast as in NumPy; each gradient comes back in its
    operand's shape."""
    args = data.draw(row.broadcast)
    if row.ref is not None:
        np.testing.assert_allclose(row.fn(*_variables(args)).data, row.ref(*args),
                                   rtol=1e-10, atol=1e-12)
    check_op_example(row.fn, *args, dtypes=(np.float64,), order=1)


@pytest.mark.parametrize("row", ROWS)
@examples(0.06)
@given(data=st.data())
def test_plain_arrays_give_constants(row, data):
    """Called with arrays only (no Variable), an op computes the same values and returns
    constant Variables: nothing to record."""
    args = data.draw(row.sample)
    plain = _outs(row.fn(*args))
    recorded = _outs(row.fn(*_variables(args)))
    for p, r in zip(plain, recorded):
        assert isinstance(p, Variable), type(p)
        assert p.creator is None and not p.requires_grad
        assert p.dtype == r.dtype and p.shape == r.shape
        np.testing.assert_array_equal(p.data, r.data)


@pytest.mark.parametrize("row", ROWS)
@examples(0.06)
@given(data=st.data())
def test_no_tape_path(row, data):
    """Under no_grad() nothing is recorded and the values are those of the recorded path."""
    args = data.draw(row.sample)
    recorded = _outs(row.fn(*_variables(args)))
    with no_grad():
        xs = _variables(args)
        plain = _outs(row.fn(*xs))
    for p, r in zip(plain, recorded):
        # (an op that is the identity here, a reshape to the same shape, returns its input)
        assert p.creator is None and (not p.requires_grad or any(p is x for x in xs))
        np.testing.assert_array_equal(p.data, r.data)


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].same_dtype])
@examples(0.06)
@given(data=st.data())
def test_float32_mixed_with_float64_constants_stays_float32(row, data):
    """A floating input a float32 Variable (the first, or each in turn: the row's `mixed`),
    the others float64 arrays: constants take the Variable's dtype, so the output, the
    gradient and the second-order gradient are float32."""
    args = data.draw(row.sample)
    positions = _float_positions(args)
    for i in positions if row.mixed == "each" else positions[:1]:
        xs = list(args)
        x = xs[i] = Variable(args[i].astype(np.float32))
        outs = [y for y in _outs(row.fn(*xs)) if y.dtype.kind == "f"]
        for y in outs:
            assert y.dtype == np.float32, f"input {i}: output {y.dtype}"
        live = [y for y in outs if y.creator is not None]
        if not live:
            continue
        loss = sum((y * y).sum() for y in live)
        (g,) = grad(loss, [x], create_graph=row.order == 2, allow_unused=True)
        if g is None:
            continue
        assert g.dtype == np.float32 and g.shape == x.shape, f"input {i}: gradient {g.dtype}"
        if row.order == 2 and g.creator is not None:
            (gg,) = grad((g * g).sum(), [x], allow_unused=True)
            assert gg is None or gg.dtype == np.float32, f"input {i}: second order {gg.dtype}"


@pytest.mark.parametrize("row", ROWS)
@examples(0.04)
@given(data=st.data())
def test_taylor_check(row, data):
    """The gradient's first-order Taylor remainder shrinks at the second-order rate. (The
    steps start at h0 = 0.01 along a normal direction: within the samples' margin from the
    ops' kinks and jumps.)"""
    args = data.draw(row.sample)
    if not _float_positions(args):
        return
    result = taylor_check(row.fn, *args, h0=0.01)
    assert result.ok and (result.rate is None or result.rate >= 3), result.message


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].kinks is not None])
@examples(0.06)
@given(data=st.data())
def test_at_the_kinks(row, data):
    """Inputs on the op's kinks: autograd gives a valid subgradient (between the
    one-sided differences), in both dtypes; where PyTorch is installed, its choice."""
    args = data.draw(row.kinks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KinkWarning)
        check_op_example(row.fn, *args, order=1)
    if row.torch is not None and row.torch_at_kinks:
        _compare_with_torch(row, args, order=1)


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].torch is not None])
@examples(0.1)
@given(data=st.data())
def test_equals_torch(row, data):
    """Values, and gradients along random output projections, first and (where it applies)
    second order, equal PyTorch's (float64)."""
    pytest.importorskip("torch")
    _compare_with_torch(row, data.draw(row.sample),
                        order=row.order if row.torch_order is None else row.torch_order)


def _compare_with_torch(row, args, order):
    torch = pytest.importorskip("torch")
    ours_in = _variables(args)
    theirs_in = [torch.tensor(a, requires_grad=True) if _is_float(a) else
                 torch.as_tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    ours = _outs(row.fn(*ours_in))
    theirs = _outs(row.torch(*theirs_in))
    assert len(ours) == len(theirs)
    for y, t in zip(ours, theirs):
        np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
    pos = _float_positions(args)
    if not pos:
        return
    rng = np.random.default_rng(0)
    us = [rng.standard_normal(y.shape) for y in ours]
    wrt_ours = [ours_in[i] for i in pos]
    wrt_theirs = [theirs_in[i] for i in pos]
    s_ours = sum((y * u).sum() for y, u in zip(ours, us))
    s_theirs = sum((t * torch.tensor(u)).sum() for t, u in zip(theirs, us))
    if not s_theirs.requires_grad:
        return
    g_ours = grad(s_ours, wrt_ours, create_graph=order == 2, allow_unused=True)
    g_theirs = torch.autograd.grad(s_theirs, wrt_theirs, create_graph=order == 2,
                                   allow_unused=True)
    for k, (a, b) in enumerate(zip(g_ours, g_theirs)):
        a = np.zeros(wrt_ours[k].shape) if a is None else a.data
        b = np.zeros(a.shape) if b is None else b.detach().numpy(force=True)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"input {pos[k]}")
    if order < 2:
        return
    vs = [rng.standard_normal(x.shape) for x in wrt_ours]
    # a first-order gradient that is not a graph (on either side) has second order 0
    live = [(g, v) for g, v in zip(g_ours, vs) if g is not None and g.creator is not None]
    live_t = [(g, v) for g, v in zip(g_theirs, vs) if g is not None and g.requires_grad]
    gg_ours = grad(sum((g * v).sum() for g, v in live), wrt_ours, allow_unused=True) \
        if live else [None] * len(wrt_ours)
    gg_theirs = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in live_t),
                                    wrt_theirs, allow_unused=True) \
        if live_t else [None] * len(wrt_ours)
    for k, (a, b) in enumerate(zip(gg_ours, gg_theirs)):
        a = np.zeros(wrt_ours[k].shape) if a is None else a.data
        b = np.zeros(a.shape) if b is None else b.detach().numpy(force=True)
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9,
                                   err_msg=f"second order, input {pos[k]}")


# --- the docs list exactly what F has ----------------------------------------------------------
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_the_readme_row_of_F_lists_exactly_its_ops():
    import re
    row = next(line for line in (ROOT / "README.md").read_text().splitlines()
               if line.startswith("| `tinygrad_attn.functions` (`F`)"))
    listed = row.split("`tinygrad_attn/ops/`:", 1)[1].split("Variables compare", 1)[0]
    words = set(re.findall(r"\b[a-z][a-z_0-9]*\b", re.sub(r"\([^)]*\)", "", listed)))
    names = words - {"and", "as", "compositions", "with", "no", "rule", "of", "their", "own"}
    assert names == set(F.__all__), (sorted(names - set(F.__all__)),
                                     sorted(set(F.__all__) - names))


def test_the_rule_table_lists_every_op():
    text = (ROOT / "docs" / "autograd.md").read_text()
    table = text.split("## The ops and their gradient rules", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in F.__all__ if f"`{name}(" not in table]
    assert not missing, f"ops without a row in docs/autograd.md's rule table: {missing}"
