"""prod, var, std, logsumexp, mean_squared_error, cumsum where a registry row cannot say
enough: zeros, zero variance, huge inputs, ddof, and the primitive cumsum proved equal to
its composition."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.ops.statistics import cumsum_composed
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import examples


def test_prod_gradient_at_zeros_by_hand():
    x = Variable(np.array([[2.0, 0.0, 3.0, 5.0], [0.0, 4.0, 0.0, 1.0]]))
    (g,) = grad(F.prod(x, axis=1).sum(), [x])
    np.testing.assert_array_equal(g.data, [[0, 30, 0, 0], [0, 0, 0, 0]])
    assert gradgradcheck(lambda v: F.prod(v, axis=1), x.data)  # second order too
    assert F.prod(np.zeros((2, 0)), axis=1).data.tolist() == [1.0, 1.0]   # empty product


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_std_at_zero_variance_has_zero_gradient_not_nan(dtype):
    x = Variable(np.full((2, 3), 1.5, dtype))
    s = F.std(x, axis=1, ddof=1)
    assert s.dtype == dtype and s.data.tolist() == [0.0, 0.0]
    (g,) = grad(s.sum(), [x], create_graph=True)
    (gg,) = grad(g.sum(), [x], allow_unused=True)
    assert np.all(g.data == 0) and (gg is None or np.all(np.isfinite(gg.data)))


def test_var_and_std_ddof_and_errors():
    x = np.array([[1.0, 2.0, 4.0], [0.5, 0.5, 3.0]])
    for ddof in (0, 1, 2):
        np.testing.assert_allclose(F.var(x, axis=1, ddof=ddof).data, np.var(x, 1, ddof=ddof))
        np.testing.assert_allclose(F.std(x, ddof=ddof).data, np.std(x, ddof=ddof))
    with pytest.raises(ValueError, match=r"var: 3 value\(s\) over axis 1 of shape \(2, 3\) "
                                         r"leave no degrees of freedom with ddof=3"):
        F.var(x, axis=1, ddof=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e10, -1e10])
def test_logsumexp_is_finite_at_huge_inputs(dtype, scale):
    x = Variable(np.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 0.5]], dtype) + dtype(scale))
    with np.errstate(all="raise"):
        y = F.logsumexp(x, axis=1)
        (g,) = grad(y.sum(), [x])
    assert y.dtype == dtype and g.dtype == dtype
    shifted = x.data.astype(np.float64) - scale
    ref = np.log(np.exp(shifted).sum(1)) + scale
    np.testing.assert_allclose(y.data, ref, rtol=1e-6 if dtype == np.float32 else 1e-14)
    e = np.exp(shifted - shifted.max(1, keepdims=True))
    np.testing.assert_allclose(g.data, e / e.sum(1, keepdims=True), atol=1e-6)


def test_mean_squared_error_is_the_mean_over_every_entry():
    x, t = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [3.0, 3.0]])
    assert F.mean_squared_error(Variable(x), t).item() == pytest.approx((1 + 4) / 4)


# --- cumsum: the primitive equals the composition, values and both orders --------------------
@examples(0.3)
@given(st.data())
def test_cumsum_primitive_equals_the_composition(data):
    x = data.draw(tst.floats_arrays(min_dims=1))
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    v = Variable(x)
    prim, comp = F.cumsum(v, axis), cumsum_composed(v, axis)
    np.testing.assert_allclose(prim.data, comp.data, rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(0)
    u = Variable(rng.standard_normal(prim.shape))
    (gp,) = grad((prim * u).sum(), [v], create_graph=True)
    (gc,) = grad((comp * u).sum(), [v], create_graph=True)
    np.testing.assert_allclose(gp.data, gc.data, rtol=1e-12, atol=1e-12)
    w = Variable(rng.standard_normal(x.shape))
    (ggp,) = grad((F.cumsum(v * v, axis) * u).sum(), [v], create_graph=True)
    (ggc,) = grad((cumsum_composed(v * v, axis) * u).sum(), [v], create_graph=True)
    (hp,) = grad((ggp * w).sum(), [v])
    (hc,) = grad((ggc * w).sum(), [v])
    np.testing.assert_allclose(hp.data, hc.data, rtol=1e-12, atol=1e-12)
    assert gradgradcheck(lambda t: F.cumsum(t * t, axis), x)


def test_cumsum_gradient_is_the_reversed_scan_by_hand():
    x = Variable(np.array([1.0, 2.0, 3.0]))
    (g,) = grad(F.cumsum(x), [x], grad_outputs=Variable(np.array([1.0, 10.0, 100.0])))
    np.testing.assert_array_equal(g.data, [111, 110, 100])
    assert gradcheck(lambda v: F.cumsum(v, 0), np.ones((2, 3)))
