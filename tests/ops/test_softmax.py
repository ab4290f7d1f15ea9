"""softmax, log_softmax, softmax_cross_entropy: references, gradients, stability at +-1e4,
axis != -1, ignore_index."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples


def softmax_ref(x, axis=-1):
    e = np.exp(x)  # straightforward: fine for the bounded inputs it is used on
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_ref(x, axis=-1):
    return np.log(softmax_ref(x, axis))


def cross_entropy_ref(logits, targets, axis=-1, ignore_index=None):
    logp = np.moveaxis(log_softmax_ref(logits, axis), axis, -1)
    counted = np.ones(targets.shape, bool) if ignore_index is None else targets != ignore_index
    total, n = 0.0, 0
    for pos in np.ndindex(*targets.shape):
        if counted[pos]:
            total -= logp[pos][targets[pos]]
            n += 1
    return total / n if n else 0.0


@st.composite
def with_axis(draw):
    x = draw(tst.floats_arrays(min_dims=1))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


OPS = {"softmax": (F.softmax, softmax_ref), "log_softmax": (F.log_softmax, log_softmax_ref)}


@pytest.mark.parametrize("name", sorted(OPS))
@given(arg=with_axis())
def test_forward_matches_reference(name, arg):
    op, ref = OPS[name]
    x, axis = arg
    assert_same(op(Variable(x), axis), ref(x, axis), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", sorted(OPS))
def test_default_axis_is_last(name):
    op, ref = OPS[name]
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert_same(op(Variable(x)), ref(x, -1), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", sorted(OPS))
@given(arg=with_axis())
def test_gradcheck(name, arg):
    op, _ = OPS[name]
    x, axis = arg
    assert gradcheck(lambda v: op(v, axis), x)


@pytest.mark.parametrize("name", sorted(OPS))
@examples(0.5)
@given(arg=with_axis())
def test_gradgradcheck(name, arg):
    op, _ = OPS[name]
    x, axis = arg
    assert gradgradcheck(lambda v: op(v, axis), x)


# --- stability ------------------------------------------------------------------------------
OFFSETS = np.array([[0.25, -1.5, 2.0, 0.0, -3.0], [1.0, 1.0, -0.5, 2.75, 0.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("base", [1e4, -1e4])
@pytest.mark.parametrize("name", sorted(OPS))
def test_stable_around_1e4(name, base, dtype):
    """Inputs 1e4 + small offsets (exact in float32): the outputs and gradients equal the
    reference at the offsets (softmax is shift invariant), finite, in the input's dtype."""
    op, ref = OPS[name]
    x = Variable((base + OFFSETS).astype(dtype))
    assert np.array_equal(x.data.astype(np.float64) - base, OFFSETS)  # exact inputs
    gy = np.random.default_rng(3).standard_normal(OFFSETS.shape)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = op(x)
        (g,) = grad(y, [x], grad_outputs=Variable(gy.astype(dtype)))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(g.data))
    s = softmax_ref(OFFSETS)
    if name == "softmax":
        expected_g = s * (gy - (gy * s).sum(-1, keepdims=True))
    else:
        expected_g = gy - s * gy.sum(-1, keepdims=True)
    tol = 1e-6 if dtype == np.float32 else 1e-13  # float32 eps ~1.2e-7; float64 ~2.2e-16
    np.testing.assert_allclose(y.data, ref(OFFSETS), rtol=tol, atol=tol)
    np.testing.assert_allclose(g.data, expected_g, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_around_1e4(dtype):
    targets = np.array([2, 3])
    for base in (1e4, -1e4):
        x = Variable((base + OFFSETS).astype(dtype))
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss = F.softmax_cross_entropy(x, targets)
            (g,) = grad(loss, [x])
        assert loss.dtype == dtype and g.dtype == dtype
        tol = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(loss.data, cross_entropy_ref(OFFSETS, targets), rtol=tol)
        onehot = np.eye(5)[targets]
        np.testing.assert_allclose(g.data, (softmax_ref(OFFSETS) - onehot) / 2, atol=tol)


def test_softmax_of_huge_spread_is_one_hot():
    x = Variable(np.array([-1e4, 0.0, 1e4]))
    y = F.softmax(x)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 1.0])
    ly = F.log_softmax(x)
    np.testing.assert_array_equal(ly.data, [-2e4, -1e4, 0.0])


# --- softmax_cross_entropy ------------------------------------------------------------------
@given(tst.logits_and_targets())
def test_cross_entropy_forward_and_gradients(arg):
    logits, targets, axis = arg
    loss = F.softmax_cross_entropy(Variable(logits), targets, axis=axis)
    assert loss.shape == () and loss.dtype == np.float64
    np.testing.assert_allclose(loss.data, cross_entropy_ref(logits, targets, axis), rtol=1e-12,
                               atol=1e-13)
    assert gradcheck(lambda v: F.softmax_cross_entropy(v, targets, axis=axis), logits)
    assert gradcheck(F.softmax_cross_entropy, logits, targets, axis)  # ints skipped


@given(tst.logits_and_targets(ignore_index=-100))
def test_cross_entropy_with_ignore_index(arg):
    logits, targets, axis = arg
    f = lambda v: F.softmax_cross_entropy(v, targets, axis=axis, ignore_index=-100)  # noqa
    np.testing.assert_allclose(f(Variable(logits)).data,
                               cross_entropy_ref(logits, targets, axis, ignore_index=-100),
                               rtol=1e-12, atol=1e-13)
    assert gradcheck(f, logits)
    v = Variable(logits)
    (g,) = grad(f(v), [v])
    ignored = np.expand_dims(targets == -100, axis)
    assert np.all(np.where(np.broadcast_to(ignored, logits.shape), g.data, 0.0) == 0.0)


@examples(0.5)
@given(tst.logits_and_targets(ignore_index=-1))
def test_cross_entropy_gradgradcheck(arg):
    logits, targets, axis = arg
    assert gradgradcheck(
        lambda v: F.softmax_cross_entropy(v, targets, axis=axis, ignore_index=-1), logits)


def test_cross_entropy_axis_1_by_hand():
    """Classes on axis 1 of (N, C, T), as in a time-distributed loss."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((2, 3, 4))
    targets = rng.integers(0, 3, (2, 4))
    loss = F.softmax_cross_entropy(Variable(logits), targets, axis=1)
    moved = np.moveaxis(logits, 1, -1).reshape(-1, 3)
    p = softmax_ref(moved)
    expected = -np.mean(np.log(p[np.arange(8), targets.ravel()]))
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    assert gradcheck(lambda v: F.softmax_cross_entropy(v, targets, axis=1), logits)


def test_ignore_index_by_hand():
    logits = Variable(np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [3.0, -1.0, 0.0]]))
    targets = np.array([1, -100, 0])
    loss = F.softmax_cross_entropy(logits, targets, ignore_index=-100)
    p = softmax_ref(logits.data)
    expected = -(np.log(p[0, 1]) + np.log(p[2, 0])) / 2  # mean over the 2 counted rows
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    loss.backward()
    np.testing.assert_array_equal(logits.grad.data[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(logits.grad.data[0], (p[0] - [0, 1, 0]) / 2, rtol=1e-12)
    np.testing.assert_allclose(logits.grad.data[2], (p[2] - [1, 0, 0]) / 2, rtol=1e-12)


def test_all_ignored_gives_zero_loss_and_zero_gradient():
    logits = Variable(np.random.default_rng(1).standard_normal((3, 4)))
    loss = F.softmax_cross_entropy(logits, np.array([-1, -1, -1]), ignore_index=-1)
    assert loss.data == 0.0 and np.isfinite(loss.data)
    loss.backward()
    np.testing.assert_array_equal(logits.grad.data, np.zeros((3, 4)))


# --- errors ---------------------------------------------------------------------------------
def test_cross_entropy_target_shape_error():
    with pytest.raises(ValueError) as info:
        F.softmax_cross_entropy(Variable(np.ones((2, 3, 4))), np.zeros((2, 3), int), axis=1)
    assert str(info.value) == ("softmax_cross_entropy: logits (2, 3, 4) (classes on axis 1) "
                               "need targets of shape (2, 4), got (2, 3)")


def test_cross_entropy_other_errors():
    with pytest.raises(IndexError, match=r"softmax_cross_entropy: target 3 is outside \[0, 3\)"):
        F.softmax_cross_entropy(Variable(np.ones((2, 3))), np.array([0, 3]))
    with pytest.raises(TypeError, match="softmax_cross_entropy: targets must be integers"):
        F.softmax_cross_entropy(Variable(np.ones((2, 3))), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="softmax: axis 2 is out of range"):
        F.softmax(Variable(np.ones((2, 3))), axis=2)
