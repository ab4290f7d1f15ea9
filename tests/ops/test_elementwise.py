"""exp, log, tanh, sigmoid, relu, cast."""
import numpy as np
import pytest
from hypothesis import given

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import PrecisionWarning, check_op, gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same


def sigmoid_ref(x):
    return 1.0 / (1.0 + np.exp(-x))


SMOOTH = {
    "exp": (F.exp, np.exp, tst.floats_arrays()),
    "log": (F.log, np.log, tst.positive_arrays()),
    "tanh": (F.tanh, np.tanh, tst.floats_arrays()),
    "sigmoid": (F.sigmoid, sigmoid_ref, tst.floats_arrays()),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
@given(data=tst.data())
def test_forward_matches_numpy(name, data):
    op, ref, strategy = SMOOTH[name]
    x = data.draw(strategy)
    assert_same(op(Variable(x)), ref(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_check_op(name):
    """gradcheck and gradgradcheck on every example, in float64 and float32 (float32 in,
    float32 out and float32 gradients), a repeatable backward and a freed graph."""
    op, _, strategy = SMOOTH[name]
    check_op(op, strategy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_saturate_without_overflow(dtype):
    x = Variable(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype))
    with np.errstate(all="raise"):
        s = F.sigmoid(x)
        t = F.tanh(x)
        (gs,) = grad(s.sum(), [x])
        (gt,) = grad(t.sum(), [x])
    for v in (s, t, gs, gt):
        assert v.dtype == dtype and np.all(np.isfinite(v.data))
    np.testing.assert_allclose(s.data, [0, 0, 0.5, 1, 1], atol=1e-7)
    np.testing.assert_allclose(gs.data, [0, 0, 0.25, 0, 0], atol=1e-7)


# --- relu: a kink at 0 --------------------------------------------------------------------
@given(tst.floats_arrays(avoid=(0.0,), margin=1e-3))
def test_relu_away_from_the_kink(x):
    assert_same(F.relu(Variable(x)), np.maximum(x, 0))
    assert gradcheck(F.relu, x)
    assert gradgradcheck(F.relu, x)  # second order: zero


def test_relu_gradient_at_zero_is_zero_by_hand():
    x = Variable(np.array([-1.0, 0.0, 2.0, -0.0]))
    F.relu(x).backward(np.array([5.0, 5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 5.0, 0.0])


# --- cast ---------------------------------------------------------------------------------
@given(tst.floats_arrays(dtype=np.float32))
def test_cast_up_is_exact_and_its_gradient_comes_back_in_float32(x):
    y = F.cast(Variable(x), np.float64)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.data, x.astype(np.float64))
    with pytest.warns(PrecisionWarning):
        assert gradcheck(lambda v: F.cast(v, np.float64) * 3.0, x, atol=1e-6, rtol=1e-6)


@given(tst.floats_arrays(dtype=np.float32))
def test_cast_up_second_order(x):
    """float32 -> float64: the first-order gradient is cast back to float32, and that cast is
    itself differentiated (finite differences run in float64, where the cast is exact)."""
    with pytest.warns(PrecisionWarning):
        assert gradgradcheck(lambda v: F.cast(v, np.float64) ** 3, x, atol=1e-6, rtol=1e-6)


@given(tst.floats_arrays())
def test_cast_down_gradient_is_the_cast_back_seed(x):
    """Finite differences through a float32 rounding are meaningless; check by hand."""
    v = Variable(x)
    y = F.cast(v, np.float32)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, x.astype(np.float32))
    u = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    (g,) = grad(y, [v], grad_outputs=Variable(u))
    assert g.dtype == np.float64 and g.shape == x.shape
    np.testing.assert_array_equal(g.data, u.astype(np.float64))


@given(tst.floats_arrays())
def test_cast_to_the_same_dtype_is_identity(x):
    assert gradcheck(lambda v: F.cast(v, np.float64), x)
    assert gradgradcheck(lambda v: F.cast(v, np.float64) * v, x)


def test_cast_second_order_through_a_round_trip():
    x = np.array([0.5, -1.25, 2.0])  # exact in float32
    f = lambda v: F.cast(F.cast(v, np.float32) ** 2, np.float64)  # noqa: E731
    v = Variable(x)
    (g,) = grad(f(v).sum(), [v], create_graph=True)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g.data, 2 * x, rtol=1e-6)
    (gg,) = grad(g.sum(), [v])
    np.testing.assert_allclose(gg.data, [2.0, 2.0, 2.0], rtol=1e-6)
    assert gg.dtype == np.float64


def test_cast_to_int_is_not_differentiable():
    x = Variable(np.array([1.5, 2.5]))
    y = F.cast(x, np.int64)
    assert y.dtype == np.int64 and not y.requires_grad
    with pytest.raises(TypeError, match="only floating outputs"):
        y.backward(np.ones(2))
