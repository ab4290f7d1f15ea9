"""The gradient-checking kit itself: it must pass correct rules and catch broken ones."""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
import tinygrad_attn.testing as kit
from tinygrad_attn import Function, Variable, grad, no_grad
from tinygrad_attn.testing import (GradcheckError, PrecisionWarning, gradcheck, gradgradcheck,
                                   numerical_grad)
from tinygrad_attn.testing import strategies as tst

RNG = np.random.default_rng(1234)


def randn(*shape):
    return RNG.standard_normal(shape)


# --- deliberately broken (and correct) rules ----------------------------------------------
class Square(Function):
    """x**2 with a configurable backward."""

    def __init__(self, mode="ok"):
        self.mode = mode

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x = self.inputs[0]
        if self.mode == "ok":
            return gy * 2 * x
        if self.mode == "sign":
            return gy * -2 * x
        if self.mode == "transposed":
            return (gy * 2 * x).T
        if self.mode == "numpy":  # right values, but built on .data: no second order
            return gy * (2 * x.data)
        if self.mode == "half_second":  # right first order, second order 1 instead of 2
            return gy * (x + x.detach())
        raise AssertionError(self.mode)


class SoftmaxForgetsSum(Function):
    """softmax along the last axis whose backward forgets the `- sum(gy * y)` term."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, gy):
        return gy * self.output()


class PoisonEntry(Function):
    """Identity whose gradient is off by 1 at one entry (of a 2-D input)."""

    def __init__(self, entry):
        self.entry = entry

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        bump = np.zeros(gy.shape)
        bump[self.entry] = 1.0
        return gy + bump


# --- numerical_grad -------------------------------------------------------------------------
def test_numerical_grad_of_sum_of_squares_is_2x():
    x = randn(3, 2)
    (g,) = numerical_grad(lambda v: (v * v).sum(), x)
    assert g.shape == x.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * x, rtol=1e-7, atol=1e-8)


def test_numerical_grad_projects_on_grad_output_and_handles_broadcasting():
    x, y, u = randn(2, 3), randn(3), randn(2, 3)
    gx, gy = numerical_grad(lambda a, b: a * b, x, y, grad_output=u)
    np.testing.assert_allclose(gx, u * y, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gy, (u * x).sum(0), rtol=1e-7, atol=1e-8)


def test_numerical_grad_works_in_float64_and_leaves_inputs_alone():
    x32 = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    keep = x32.copy()
    seen = []

    def f(v):
        seen.append((type(v), v.dtype))
        return (v ** 3).sum()

    (g,) = numerical_grad(f, Variable(x32))
    assert set(seen) == {(Variable, np.dtype(np.float64))}
    np.testing.assert_array_equal(x32, keep)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 3 * x32.astype(np.float64) ** 2, rtol=1e-7)


def test_numerical_grad_passes_integer_inputs_unchanged_and_gives_none():
    x = randn(4, 2)
    idx = np.array([0, 3, 3])
    seen = []

    def f(v, i):
        seen.append(i)
        return v[i].sum()

    gx, gi = numerical_grad(f, x, idx)
    assert gi is None
    assert all(i is idx for i in seen)
    np.testing.assert_allclose(gx, [[1, 1], [0, 0], [0, 0], [2, 2]], atol=1e-8)


def test_numerical_grad_of_several_outputs_takes_one_grad_output_each():
    x = randn(4)
    u0, u1 = randn(2), randn(2)
    (g,) = numerical_grad(lambda v: F.split(v, 2), x, grad_output=[u0, u1])
    np.testing.assert_allclose(g, np.concatenate([u0, u1]), atol=1e-8)


def test_numerical_grad_when_f_returns_its_input_itself():
    x, u = randn(2, 3), randn(2, 3)
    (g,) = numerical_grad(lambda v: v, x, grad_output=u)
    np.testing.assert_allclose(g, u, atol=1e-8)
    assert gradcheck(lambda v: F.reshape(v, (2, 3)), x)  # reshape to its own shape: v itself


def test_numerical_grad_rejects_a_non_scalar_output_without_grad_output():
    with pytest.raises(ValueError, match=r"output 0 has shape \(3,\)"):
        numerical_grad(lambda v: v * 2, randn(3))
    with pytest.raises(ValueError, match="grad_output 0 has shape"):
        numerical_grad(lambda v: v * 2, randn(3), grad_output=np.ones(4))
    with pytest.raises(TypeError, match="must return a Variable"):
        numerical_grad(lambda v: v.data.sum(), randn(3))


# --- gradcheck ----------------------------------------------------------------------------
@pytest.mark.parametrize("f, shapes", [
    (F.tanh, [(3, 4)]),
    (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    (lambda x: F.softmax(x, axis=0), [(3, 2)]),
    (lambda x: Square()(x), [(2, 3)]),
    (lambda a, b: (a * b, a - b), [(2, 3), (3,)]),  # several outputs
])
def test_gradcheck_accepts_correct_rules(f, shapes):
    assert gradcheck(f, *[randn(*s) for s in shapes]) is True


def test_gradcheck_skips_integer_inputs_and_accepts_unused_inputs():
    x, idx = randn(5, 2), np.array([[1, 1], [4, 0]])
    assert gradcheck(lambda v, i: F.getitem(v, i), x, idx)
    assert gradcheck(lambda a, b: a * 3.0, randn(2), randn(3))  # b unused: zero gradient


def test_gradcheck_catches_a_wrong_sign_and_names_the_worst_entry():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.1, -0.3]])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: Square("sign")(v), x)
    msg = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "input 0" in msg and "worst entry" in msg and "tolerance" in msg
    m = re.search(r"worst entry \((\d+), (\d+)\): autograd (\S+) vs numerical (\S+)", msg)
    assert m, msg
    # the autograd value is exactly minus the numerical one (up to finite differences)
    assert float(m.group(3)) == pytest.approx(-float(m.group(4)), rel=1e-6)


def test_gradcheck_names_the_broken_input_and_entry():
    a, b = randn(2, 3), randn(2, 3)
    with pytest.raises(GradcheckError, match=r"input 1\b.*worst entry \(1, 2\)"):
        gradcheck(lambda u, v: u * 2.0 + PoisonEntry((1, 2))(v), a, b)


def test_gradcheck_catches_a_transposed_gradient():
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda v: Square("transposed")(v), randn(3, 3))


def test_gradcheck_catches_a_softmax_backward_that_forgets_the_sum_term():
    x = randn(3, 4)
    with pytest.raises(GradcheckError, match=r"input 0, projection 0: \d+ of 12 entries differ; "
                                             r"worst entry \(\d, \d\)"):
        gradcheck(lambda v: SoftmaxForgetsSum()(v), x)
    assert gradcheck(F.softmax, x)


def test_gradcheck_all_ones_blindness_of_a_subtler_rule():
    """Broken rules that *do* pass an all-ones seed (sum(softmax) is constant, so the true
    gradient of sum(softmax(x)) is 0): y * (gy - mean(gy)) is right exactly when gy is
    constant along the axis, and so is a rule returning zeros. Random projections catch
    both."""
    class SoftmaxMeanNotWeighted(SoftmaxForgetsSum):
        def backward(self, gy):
            y = self.output()
            return y * (gy - F.mean(gy, axis=-1, keepdims=True))

    x = randn(2, 5)
    bad = lambda v: SoftmaxMeanNotWeighted()(v)  # noqa: E731
    v = Variable(x)
    (auto,) = grad(bad(v), [v], grad_outputs=[Variable(np.ones_like(x))])
    (num,) = numerical_grad(bad, x, grad_output=np.ones_like(x))
    np.testing.assert_allclose(auto.data, num, atol=1e-6)  # the all-ones seed is fooled
    with pytest.raises(GradcheckError):
        gradcheck(bad, x)

    class SoftmaxZeroGrad(SoftmaxForgetsSum):
        def backward(self, gy):
            return gy * 0.0

    zero = lambda v: SoftmaxZeroGrad()(v)  # noqa: E731
    (num,) = numerical_grad(zero, x, grad_output=np.ones_like(x))
    np.testing.assert_allclose(num, 0, atol=1e-6)  # fooled again
    with pytest.raises(GradcheckError):
        gradcheck(zero, x)


def test_gradcheck_detects_wrong_shape_and_dtype_of_a_gradient(monkeypatch):
    x = randn(2, 3)
    real = kit._autograd

    def wrong_shape(*args, **kwargs):
        return [Variable(g.data.reshape(-1)) for g in real(*args, **kwargs)]

    def wrong_dtype(*args, **kwargs):
        return [Variable(g.data.astype(np.float32)) for g in real(*args, **kwargs)]

    monkeypatch.setattr(kit, "_autograd", wrong_shape)
    with pytest.raises(GradcheckError, match=r"input 0: gradient has shape \(6,\) but the input "
                                             r"has shape \(2, 3\)"):
        gradcheck(F.tanh, x)
    monkeypatch.setattr(kit, "_autograd", wrong_dtype)
    with pytest.raises(GradcheckError, match="gradient has dtype float32 but the input has "
                                             "dtype float64"):
        gradcheck(F.tanh, x)


def test_gradcheck_catches_nan_gradients():
    class NanGrad(Square):
        def backward(self, gy):
            return gy * np.nan

    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(lambda v: NanGrad()(v), randn(3))


def test_gradcheck_without_raising_returns_false():
    assert gradcheck(lambda v: Square("sign")(v), randn(3), raise_exception=False) is False
    assert gradcheck(lambda v: Square()(v), randn(3), raise_exception=False) is True


def test_float32_checks_take_tolerances_from_the_dtype_and_tighter_ones_warn():
    x32 = randn(2, 3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float32 with its own defaults: no hand-tuning
        assert gradcheck(F.tanh, x32)
    assert kit.default_tolerances(np.float32) == {"eps": 1e-3, "atol": 1e-4, "rtol": 1e-3}
    with pytest.warns(PrecisionWarning, match="float32"):  # tighter than float32 supports
        assert gradcheck(F.tanh, x32, atol=1e-7, rtol=1e-6, raise_exception=False) in (
            True, False)
    assert issubclass(PrecisionWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float64 does not warn
        gradcheck(F.tanh, x32.astype(np.float64))


def test_gradcheck_checks_the_gradient_dtype_in_float32():
    # autograd runs in float32 (the input's dtype) and must return float32 gradients
    x32 = randn(4).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda v: v * np.arange(4.0), x32)


def test_gradcheck_works_under_no_grad_and_leaves_grad_alone():
    x = Variable(randn(3))
    with no_grad():
        assert gradcheck(F.sigmoid, x)
    assert x.grad is None


def test_gradcheck_needs_a_floating_input():
    with pytest.raises(ValueError, match="no floating input"):
        gradcheck(lambda i: Variable(np.ones(2)), np.arange(2))


# --- gradgradcheck ------------------------------------------------------------------------
@pytest.mark.parametrize("f, shapes", [
    (F.tanh, [(3,)]),
    (lambda a, b: a @ b, [(2, 3), (3,)]),
    (F.softmax, [(2, 3)]),
    (lambda x: Square()(x), [(2, 2)]),
    (lambda a, b: a + b, [(2,), (2,)]),  # linear: second order zero
])
def test_gradgradcheck_accepts_correct_rules(f, shapes):
    assert gradgradcheck(f, *[randn(*s) for s in shapes]) is True


def test_gradgradcheck_catches_a_backward_written_in_numpy():
    x = randn(2, 3)
    f = lambda v: Square("numpy")(v)  # noqa: E731
    assert gradcheck(f, x)  # first order is right...
    with pytest.raises(GradcheckError, match=r"second order"):
        gradgradcheck(f, x)  # ...but the gradient is a constant: zero second order


def test_gradgradcheck_catches_a_wrong_second_order():
    x = randn(4)
    f = lambda v: Square("half_second")(v)  # noqa: E731
    assert gradcheck(f, x)
    with pytest.raises(GradcheckError, match=r"input 0 \(second order\)"):
        gradgradcheck(f, x)


def test_gradgradcheck_catches_a_numpy_softmax_backward():
    class NumpySoftmaxBackward(SoftmaxForgetsSum):
        def backward(self, gy):
            y = self.output().data
            return y * (gy - F.sum(gy * y, axis=-1, keepdims=True))

    x = randn(2, 3)
    f = lambda v: NumpySoftmaxBackward()(v)  # noqa: E731
    assert gradcheck(f, x)
    with pytest.raises(GradcheckError):
        gradgradcheck(f, x)


# --- the strategies -----------------------------------------------------------------------
def test_strategies_is_a_submodule():
    import tinygrad_attn.testing.strategies as direct
    assert kit.strategies is direct is tst


@given(tst.floats_arrays())
def test_floats_arrays_are_bounded_finite_float64(x):
    assert isinstance(x, np.ndarray) and x.dtype == np.float64 and x.ndim <= 3
    assert np.all(np.isfinite(x)) and np.all(np.abs(x) <= 3)


@given(tst.floats_arrays(dtype=np.float32, min_value=-1, max_value=2, min_dims=2))
def test_floats_arrays_honour_dtype_and_bounds(x):
    assert x.dtype == np.float32 and x.ndim >= 2
    assert np.all(x >= -1) and np.all(x <= 2)


@given(tst.floats_arrays(avoid=(0.0, 1.0), margin=0.1))
def test_floats_arrays_avoid_kinks(x):
    assert np.all(np.abs(x) >= 0.1) and np.all(np.abs(x - 1) >= 0.1)


@given(tst.floats_arrays(distinct=True, gap=0.05, min_dims=1))
def test_distinct_arrays_have_no_ties(x):
    v = np.sort(x.ravel())
    assert np.all(np.diff(v) >= 0.05 - 1e-12)


@given(tst.positive_arrays())
def test_positive_arrays(x):
    assert np.all(x >= 0.5) and np.all(x <= 3)


@given(tst.broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


@given(tst.broadcast_to_shapes())
def test_broadcast_to_shapes(pair):
    shape, target = pair
    assert np.broadcast_shapes(shape, target) == target


@given(tst.matmul_shapes())
def test_matmul_shapes_are_valid_for_numpy(pair):
    a, b = pair
    np.matmul(np.ones(a), np.ones(b))


def test_matmul_shapes_cover_every_kind():
    seen = set()

    @given(tst.matmul_shapes(max_batch_dims=2))
    def collect(pair):
        a, b = pair
        seen.add((min(len(a), 3), min(len(b), 3), len(a) > 2 and len(b) > 2 and
                  a[:-2] != b[:-2]))

    from hypothesis import settings
    settings(max_examples=200, derandomize=True)(collect)()
    kinds = {(x, y) for x, y, _ in seen}
    assert {(1, 1), (1, 2), (2, 1), (2, 2), (3, 2), (2, 3), (3, 3), (1, 3), (3, 1)} <= kinds
    assert any(broadcasting for *_, broadcasting in seen)


@given(tst.concat_shapes())
def test_concat_shapes_concatenate(arg):
    shapes, axis = arg
    np.concatenate([np.ones(s) for s in shapes], axis=axis)


@given(tst.shapes(), st.data())
def test_axes_are_valid(shape, data):
    axis = data.draw(tst.axes(len(shape)))
    np.ones(shape).sum(axis=axis)


@given(tst.shapes(min_dims=1), st.data())
def test_index_arrays_in_range(shape, data):
    idx = data.draw(tst.index_arrays(shape, allow_negative=False))
    assert idx.dtype.kind == "i" and np.all(idx >= 0) and np.all(idx < shape[0])
    np.ones(shape)[idx]


@given(tst.shapes(min_dims=1), st.data())
def test_reshape_targets_and_split_args(shape, data):
    target = data.draw(tst.reshape_targets(shape))
    assert np.ones(shape).reshape(target).size == np.prod(shape)
    ios, axis = data.draw(tst.split_args(shape))
    np.split(np.ones(shape), ios, axis=axis)


@given(tst.logits_and_targets(ignore_index=-100))
def test_logits_and_targets(arg):
    logits, targets, axis = arg
    C = logits.shape[axis]
    assert targets.shape == tuple(np.moveaxis(logits, axis, -1).shape[:-1])
    live = targets[targets != -100]
    assert np.all((live >= 0) & (live < C))
