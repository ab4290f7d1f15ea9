"""The elementwise compositions (ops/math.py) where a registry row cannot say enough: the
choices at kinks and jumps, by hand and against PyTorch; comparisons; clip's bounds."""
import numpy as np
import pytest

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import gradcheck


def _grad1(f, x):
    v = Variable(np.asarray(x, dtype=np.float64))
    (g,) = grad(f(v).sum(), [v], allow_unused=True)
    return None if g is None else g.data


def test_choices_at_kinks_are_pytorchs():
    x = [-1.0, 0.0, 2.0]
    np.testing.assert_array_equal(_grad1(F.abs, x), [-1, 0, 1])
    np.testing.assert_array_equal(_grad1(lambda v: F.leaky_relu(v, 0.1), x), [0.1, 0.1, 1])
    np.testing.assert_array_equal(_grad1(lambda v: F.clip(v, 0.0, 2.0), x), [0, 1, 1])
    ties = Variable(np.array([1.0, 2.0, 3.0]))
    other = Variable(np.array([1.0, 1.0, 4.0]))
    ga, gb = grad(F.maximum(ties, other).sum(), [ties, other])
    np.testing.assert_array_equal(ga.data, [0.5, 1, 0])
    np.testing.assert_array_equal(gb.data, [0.5, 0, 1])
    ga, gb = grad(F.minimum(ties, other).sum(), [ties, other])
    np.testing.assert_array_equal(ga.data, [0.5, 0, 1])
    np.testing.assert_array_equal(gb.data, [0.5, 1, 0])


@pytest.mark.parametrize("name", ["sign", "floor", "ceil"])
def test_piecewise_constant_ops_have_a_zero_gradient_not_a_missing_one(name):
    """Like PyTorch's: the result depends on x with gradient 0 (jumps included), so a loss
    made only of them still backpropagates, zeros."""
    op = getattr(F, name)
    x = Variable(np.array([-1.5, -1.0, 0.0, 0.5, 2.0]))
    y = op(x)
    np.testing.assert_array_equal(y.data, getattr(np, name)(x.data))
    assert y.creator is not None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(5))
    assert op(Variable(np.array([0.5], np.float32))).dtype == np.float32


def test_kinks_match_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, 0.0, 0.0, 1.0, 2.0])
    for ours, theirs in [(F.abs, torch.abs), (F.sign, torch.sign), (F.floor, torch.floor),
                         (lambda v: F.clip(v, 0.0, 1.0), lambda t: torch.clamp(t, 0.0, 1.0)),
                         (lambda v: F.leaky_relu(v, 0.3),
                          lambda t: torch.nn.functional.leaky_relu(t, 0.3))]:
        t = torch.tensor(x, requires_grad=True)
        (g,) = torch.autograd.grad(theirs(t).sum(), t)
        np.testing.assert_array_equal(_grad1(ours, x), g.numpy())


def test_clip_with_variable_bounds_sends_the_gradient_to_the_bound_taken():
    x = Variable(np.array([-2.0, 0.0, 3.0]))
    lo = Variable(np.array([-1.0, -1.0, -1.0]))
    hi = Variable(np.array(1.0))
    gx, glo, ghi = grad(F.clip(x, lo, hi).sum(), [x, lo, hi])
    np.testing.assert_array_equal(gx.data, [0, 1, 0])
    np.testing.assert_array_equal(glo.data, [1, 0, 0])
    assert ghi.item() == 1.0
    assert gradcheck(F.clip, np.array([-2.0, 0.3, 3.0]), np.array([-1.0, -1.0, -1.5]),
                     np.array([1.0, 0.5, 2.0]))
    np.testing.assert_array_equal(F.clip(np.array([0.0, 5.0]), 2.0, 1.0).data, [1.0, 1.0])


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip: give lo, hi or both"):
        F.clip(Variable(np.ones(2)))


def test_maximum_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"maximum: shapes \(2,\) and \(3,\) do not broadcast"):
        F.maximum(Variable(np.ones(2)), np.ones(3))


def test_log1p_and_expm1_are_accurate_for_tiny_x():
    x = Variable(np.array([1e-17, -1e-12]))
    np.testing.assert_array_equal(F.log1p(x).data, np.log1p(x.data))
    np.testing.assert_array_equal(F.expm1(x).data, np.expm1(x.data))
    assert F.log1p(x).data[0] == 1e-17      # log(1 + 1e-17) would be 0


# --- comparisons --------------------------------------------------------------------------------
def test_comparisons_are_bool_data_variables_with_broadcasting():
    a = Variable(np.array([[1.0, 2.0, 3.0]]))
    b = np.array([[2.0], [1.0]])
    for op, ref in [(lambda p, q: p < q, np.less), (lambda p, q: p <= q, np.less_equal),
                    (lambda p, q: p > q, np.greater), (lambda p, q: p >= q, np.greater_equal),
                    (lambda p, q: p == q, np.equal), (lambda p, q: p != q, np.not_equal)]:
        for left, right in [(a, b), (b, a), (a, 2.0), (2.0, a)]:
            got = op(left, right)
            assert isinstance(got, Variable) and got.dtype == np.bool_
            assert got.creator is None and not got.requires_grad
            np.testing.assert_array_equal(got.data, ref(np.asarray(getattr(left, "data", left)),
                                                        np.asarray(getattr(right, "data", right))))
    x = Variable(np.arange(3.0))
    assert (x == x + 0).data.all()                       # values, not identity
    assert F.where(x > 0.5, x, 0.0).data.tolist() == [0.0, 1.0, 2.0]
    assert (x == None) is False and (x != "x") is True   # noqa: E711 - not numbers: unequal


def test_comparison_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"less: \(2,\) < \(3,\): shapes do not broadcast"):
        Variable(np.ones(2)) < np.ones(3)
