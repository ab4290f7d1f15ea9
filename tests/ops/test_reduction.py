"""sum, mean, max, min over axis None / int / tuple, with keepdims; ties in max/min."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples

OPS = {"sum": (F.sum, np.sum), "mean": (F.mean, np.mean), "max": (F.max, np.max),
       "min": (F.min, np.min)}


@st.composite
def reduction_args(draw, distinct=False):
    x = draw(tst.floats_arrays(distinct=distinct))
    axis = draw(tst.axes(x.ndim))
    keepdims = draw(st.booleans())
    return x, axis, keepdims


@pytest.mark.parametrize("name", sorted(OPS))
@given(arg=reduction_args())
def test_forward_matches_numpy(name, arg):
    op, ref = OPS[name]
    x, axis, keepdims = arg
    assert_same(op(Variable(x), axis=axis, keepdims=keepdims),
                ref(x, axis=axis, keepdims=keepdims))


def test_methods_match_functions():
    x = Variable(np.arange(24.0).reshape(2, 3, 4))
    assert_same(x.sum(axis=(0, 2)), x.data.sum(axis=(0, 2)))
    assert_same(x.mean(axis=-1, keepdims=True), x.data.mean(axis=-1, keepdims=True))
    assert_same(x.max(axis=1), x.data.max(axis=1))
    assert_same(x.min(), x.data.min())


@pytest.mark.parametrize("name", sorted(OPS))
@given(arg=reduction_args(distinct=True))
def test_gradcheck(name, arg):
    """max/min get entries at least 0.01 apart, so eps never changes the arg-extremum."""
    op, _ = OPS[name]
    x, axis, keepdims = arg
    assert gradcheck(lambda v: op(v, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("name", sorted(OPS))
@examples(0.5)
@given(arg=reduction_args(distinct=True))
def test_gradgradcheck(name, arg):
    op, _ = OPS[name]
    x, axis, keepdims = arg
    assert gradgradcheck(lambda v: op(v, axis=axis, keepdims=keepdims), x)


def test_mean_of_a_product_second_order():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    assert gradgradcheck(lambda v: F.mean(v * v * v, axis=1), x)


# --- ties share the gradient equally (hand-checked) ---------------------------------------
def test_max_ties_share_equally_along_an_axis():
    x = Variable(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, -1.0]]))
    F.max(x, axis=1).backward(np.array([6.0, 6.0, 6.0]))
    np.testing.assert_allclose(x.grad.data, [[0, 3, 3], [2, 2, 2], [6, 0, 0]])


def test_min_ties_share_equally_with_keepdims():
    x = Variable(np.array([[1.0, 0.0], [1.0, 4.0], [7.0, 0.0]]))
    y = F.min(x, axis=0, keepdims=True)
    assert y.shape == (1, 2)
    y.backward(np.array([[4.0, 10.0]]))
    np.testing.assert_allclose(x.grad.data, [[2, 5], [2, 0], [0, 5]])


def test_max_ties_over_all_axes():
    x = Variable(np.array([[2.0, -1.0], [2.0, 2.0]]))
    F.max(x).backward()
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0], [1 / 3, 1 / 3]])


def test_max_ties_over_a_tuple_of_axes():
    x = np.zeros((2, 2, 3))
    x[0, :, 1] = 1.0  # two tied maxima in the (0, 2) slice for j=0, j=1
    x[1, 1, 2] = 1.0  # ...and a third for j=1
    v = Variable(x)
    (g,) = grad(F.max(v, axis=(0, 2)), [v], grad_outputs=Variable(np.array([1.0, 1.0])))
    expected = np.zeros_like(x)
    expected[0, 0, 1] = 1.0
    expected[0, 1, 1] = expected[1, 1, 2] = 0.5
    np.testing.assert_allclose(g.data, expected)


def test_max_tie_gradient_sums_to_the_output_gradient():
    x = Variable(np.array([[4.0, 4.0, 4.0, 1.0]]))
    F.max(x, axis=-1).backward(np.array([1.0]))
    assert x.grad.data.sum() == pytest.approx(1.0)


# --- errors ---------------------------------------------------------------------------------
def test_axis_out_of_range():
    with pytest.raises(ValueError, match="sum: axis 2 is out of range for an array of 2 dim"):
        F.sum(Variable(np.ones((2, 3))), axis=2)
    with pytest.raises(ValueError, match="mean: repeated axis"):
        F.mean(Variable(np.ones((2, 3))), axis=(1, -1))


def test_max_of_an_empty_axis():
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty axis of shape \(2, 0\)"):
        F.max(Variable(np.ones((2, 0))), axis=1)
