"""getitem (basic, integer arrays, boolean masks), embedding, where, masked_fill."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples


# --- getitem --------------------------------------------------------------------------------
@given(tst.floats_arrays(), st.data())
def test_getitem_basic(x, data):
    """ints, slices (negative steps too), None, Ellipsis."""
    index = data.draw(tst.basic_indices(x.shape))
    assert_same(F.getitem(Variable(x), index), x[index])
    assert_same(Variable(x)[index], x[index])
    assert gradcheck(lambda v: F.getitem(v, index), x)


@examples(0.5)
@given(tst.floats_arrays(), st.data())
def test_getitem_basic_second_order(x, data):
    index = data.draw(tst.basic_indices(x.shape))
    assert gradgradcheck(lambda v: F.getitem(v * v, index), x)


@given(tst.floats_arrays(min_dims=1), st.data())
def test_getitem_integer_arrays(x, data):
    """Integer index arrays on the first axis (repeats common), alone or with a slice."""
    idx = data.draw(tst.index_arrays(x.shape))
    assert_same(F.getitem(Variable(x), idx), x[idx])
    assert gradcheck(lambda v: F.getitem(v, idx), x)
    if x.ndim >= 2:
        index = (slice(None, None, -1), data.draw(tst.index_arrays(x.shape, axis=1)))
        assert_same(F.getitem(Variable(x), index), x[index])
        assert gradcheck(lambda v: F.getitem(v, index), x)


@examples(0.5)
@given(tst.floats_arrays(min_dims=1), st.data())
def test_getitem_integer_arrays_second_order(x, data):
    idx = data.draw(tst.index_arrays(x.shape))
    assert gradgradcheck(lambda v: F.getitem(v * v, idx), x)


@given(tst.floats_arrays(min_dims=1), st.data())
def test_getitem_boolean_mask(x, data):
    mask = data.draw(tst.bool_masks(x.shape))
    assert_same(F.getitem(Variable(x), mask), x[mask])
    assert gradcheck(lambda v: F.getitem(v, mask), x)
    assert gradgradcheck(lambda v: F.getitem(v * v, mask), x)
    row_mask = data.draw(tst.bool_masks(x.shape[:1]))
    assert_same(Variable(x)[row_mask], x[row_mask])
    assert gradcheck(lambda v: v[row_mask], x)


def test_getitem_repeated_indices_accumulate_by_hand():
    x = Variable(np.arange(8.0).reshape(4, 2))
    y = x[np.array([3, 0, 3, 3, -1])]
    y.backward(np.array([[1.0, 10.0]] * 5))
    np.testing.assert_array_equal(x.grad.data, [[1, 10], [0, 0], [0, 0], [4, 40]])


def test_getitem_repeated_pairs_accumulate_by_hand():
    x = Variable(np.zeros((2, 3)))
    y = x[np.array([0, 0, 1]), np.array([2, 2, 0])]
    y.backward(np.array([1.0, 2.0, 5.0]))
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 3], [5, 0, 0]])


def test_getitem_list_index_and_variable_index():
    x = Variable(np.arange(5.0))
    assert_same(x[[4, 4, 0]], [4.0, 4.0, 0.0])
    idx = Variable(np.array([1, 1]))
    y = x[idx]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 2, 0, 0, 0])


def test_getitem_negative_steps_by_hand():
    x = Variable(np.arange(10.0))
    y = x[8:1:-3]  # 8, 5, 2
    assert_same(y, [8.0, 5.0, 2.0])
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.data, [0, 0, 3, 0, 0, 2, 0, 0, 1, 0])


def test_getitem_none_and_ellipsis():
    x = np.arange(24.0).reshape(2, 3, 4)
    for index in [(None, Ellipsis, 1), (Ellipsis, None, slice(None, None, -2)),
                  (0, None, slice(1, None), None)]:
        assert_same(Variable(x)[index], x[index])
        assert gradcheck(lambda v: v[index], x)


def test_getitem_error_names_the_index_and_shape():
    with pytest.raises(IndexError, match=r"getitem: index \[5\] does not fit shape \(3,\)"):
        Variable(np.ones(3))[5]


# --- embedding ------------------------------------------------------------------------------
@given(tst.floats_arrays(min_dims=2, max_dims=2), st.data())
def test_embedding(W, data):
    ids = data.draw(tst.index_arrays(W.shape, allow_negative=False))
    out = F.embedding(Variable(W), ids)
    assert out.shape == ids.shape + W.shape[1:]
    assert_same(out, W[ids])
    assert gradcheck(lambda w: F.embedding(w, ids), W)
    assert gradcheck(F.embedding, W, ids)  # integer input: skipped as data
    assert gradgradcheck(lambda w: F.embedding(w * w, ids), W)


def test_embedding_repeats_accumulate_by_hand():
    W = Variable(np.zeros((4, 2)))
    ids = np.array([[1, 3, 1], [1, 0, 3]])
    y = F.embedding(W, ids)
    g = np.arange(12.0).reshape(2, 3, 2)
    y.backward(g)
    expected = np.zeros((4, 2))
    for pos, i in np.ndenumerate(ids):
        expected[i] += g[pos]
    np.testing.assert_array_equal(W.grad.data, expected)
    np.testing.assert_array_equal(W.grad.data[1], g[0, 0] + g[0, 2] + g[1, 0])


def test_embedding_errors():
    W = Variable(np.ones((5, 3)))
    with pytest.raises(IndexError, match=r"embedding: id 7 is outside \[0, 5\) for a table of "
                                         r"shape \(5, 3\)"):
        F.embedding(W, np.array([0, 7, 2]))
    with pytest.raises(IndexError, match=r"embedding: id -1 is outside \[0, 5\)"):
        F.embedding(W, np.array([-1]))
    with pytest.raises(TypeError, match="embedding: ids must be integers, got dtype float64"):
        F.embedding(W, np.array([1.0]))


# --- where / masked_fill --------------------------------------------------------------------
@given(tst.broadcastable_shapes(num_shapes=3), st.data())
def test_where(shapes, data):
    sc, sa, sb = shapes
    cond = data.draw(tst.bool_masks(sc))
    a = data.draw(tst.floats_arrays(sa))
    b = data.draw(tst.floats_arrays(sb))
    assert_same(F.where(cond, Variable(a), Variable(b)), np.where(cond, a, b))
    assert gradcheck(lambda u, v: F.where(cond, u, v), a, b)


@examples(0.5)
@given(tst.broadcastable_shapes(num_shapes=3), st.data())
def test_where_second_order(shapes, data):
    sc, sa, sb = shapes
    cond = data.draw(tst.bool_masks(sc))
    a = data.draw(tst.floats_arrays(sa))
    b = data.draw(tst.floats_arrays(sb))
    assert gradgradcheck(lambda u, v: F.where(cond, u * v, v * v), a, b)


def test_where_with_a_constant_side_by_hand():
    cond = np.array([[True, False, True], [False, False, True]])
    x = Variable(np.array([1.0, 2.0, 3.0]))  # broadcast over the rows of cond
    y = F.where(cond, x, 0.0)
    assert_same(y, np.where(cond, x.data, 0.0))
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad.data, [1, 0, 2])


def test_where_errors():
    with pytest.raises(TypeError, match="where: the condition must be a bool array"):
        F.where(np.array([1, 0]), Variable(np.ones(2)), 0.0)
    with pytest.raises(ValueError, match=r"where: shapes cond \(3,\), a \(2,\), b \(\) do not"):
        F.where(np.ones(3, bool), Variable(np.ones(2)), 0.0)


@given(tst.broadcast_to_shapes(), st.floats(-1e9, 1e9), st.data())
def test_masked_fill(pair, value, data):
    mshape, xshape = pair
    x = data.draw(tst.floats_arrays(xshape))
    mask = data.draw(tst.bool_masks(mshape))
    assert_same(F.masked_fill(Variable(x), mask, value), np.where(mask, value, x))
    assert gradcheck(lambda v: F.masked_fill(v, mask, value), x)
    assert gradgradcheck(lambda v: F.masked_fill(v * v, mask, value), x)


def test_masked_fill_blocks_the_gradient_by_hand():
    x = Variable(np.arange(6.0).reshape(2, 3))
    mask = np.array([False, True, False])
    F.masked_fill(x, mask, -1e9).backward(np.full((2, 3), 2.0))
    np.testing.assert_array_equal(x.grad.data, [[2, 0, 2], [2, 0, 2]])


def test_masked_fill_error():
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2, 3\) does not broadcast "
                                         r"to x of shape \(3,\)"):
        F.masked_fill(Variable(np.ones(3)), np.ones((2, 3), bool), 0.0)
