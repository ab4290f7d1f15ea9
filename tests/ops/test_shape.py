"""broadcast_to, sum_to, reshape, transpose, swapaxes, expand_dims, squeeze, concat, split,
stack, unstack."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import gradcheck, gradgradcheck, numerical_grad
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples


# --- broadcast_to / sum_to ------------------------------------------------------------------
def sum_to_ref(x, shape):
    while x.ndim > len(shape):
        x = x.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and x.shape[i] != 1:
            x = x.sum(axis=i, keepdims=True)
    return x


@given(tst.broadcast_to_shapes(), st.data())
def test_broadcast_to(pair, data):
    shape, target = pair
    x = data.draw(tst.floats_arrays(shape))
    assert_same(F.broadcast_to(Variable(x), target), np.broadcast_to(x, target))
    assert gradcheck(lambda v: F.broadcast_to(v, target), x)
    assert gradgradcheck(lambda v: F.broadcast_to(v, target) ** 2, x)


@given(tst.broadcast_to_shapes(), st.data())
def test_sum_to(pair, data):
    shape, big = pair
    x = data.draw(tst.floats_arrays(big))
    assert_same(F.sum_to(Variable(x), shape), sum_to_ref(x, shape))
    assert gradcheck(lambda v: F.sum_to(v, shape), x)
    assert gradgradcheck(lambda v: F.sum_to(v * v, shape), x)


def test_broadcast_errors():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast \(2, 3\) to \(3, 3\)"):
        F.broadcast_to(Variable(np.ones((2, 3))), (3, 3))
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast \(2, 3\) to \(3,\)"):
        F.broadcast_to(Variable(np.ones((2, 3))), (3,))
    with pytest.raises(ValueError, match=r"sum_to: cannot sum \(2, 3\) to \(2,\)"):
        F.sum_to(Variable(np.ones((2, 3))), (2,))


# --- reshape, transpose, swapaxes, expand_dims, squeeze -------------------------------------
@given(tst.floats_arrays(), st.data())
def test_reshape(x, data):
    target = data.draw(tst.reshape_targets(x.shape))
    assert_same(F.reshape(Variable(x), target), x.reshape(target))
    assert_same(Variable(x).reshape(*target), x.reshape(target))
    assert gradcheck(lambda v: F.reshape(v, target), x)


@examples(0.5)
@given(tst.floats_arrays(), st.data())
def test_reshape_second_order(x, data):
    target = data.draw(tst.reshape_targets(x.shape))
    assert gradgradcheck(lambda v: F.reshape(v * v, target), x)


def test_reshape_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \(2, 3\) \(6 elements\) to "
                                         r"\(4, -1\)"):
        F.reshape(Variable(np.ones((2, 3))), (4, -1))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \(2, 3\) \(6 elements\) to "
                                         r"\(7,\)"):
        Variable(np.ones((2, 3))).reshape(7)


@given(tst.floats_arrays(), st.data())
def test_transpose(x, data):
    perm = data.draw(tst.permutations(x.ndim))
    negative = tuple(a - x.ndim for a in perm)
    assert_same(F.transpose(Variable(x), perm), x.transpose(perm))
    assert_same(F.transpose(Variable(x), negative), x.transpose(perm))
    assert_same(Variable(x).T, x.T)
    assert_same(Variable(x).transpose(), x.transpose())
    assert gradcheck(lambda v: F.transpose(v, perm), x)
    assert gradgradcheck(lambda v: F.transpose(v * v, negative), x)


@pytest.mark.parametrize("perm", [(1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0)])
def test_transpose_three_axes_by_hand(perm):
    """3-cycles are not their own inverse: the rule must use the inverse permutation."""
    x = Variable(np.arange(24.0).reshape(2, 3, 4))
    gy = np.random.default_rng(0).standard_normal(x.data.transpose(perm).shape)
    (g,) = grad(F.transpose(x, perm), [x], grad_outputs=Variable(gy))
    np.testing.assert_array_equal(g.data, gy.transpose(np.argsort(perm)))
    assert gradcheck(lambda v: F.transpose(v, perm), x.data)


def test_transpose_error():
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) are not a permutation"):
        F.transpose(Variable(np.ones((2, 3))), (0, 0))


@given(tst.floats_arrays(min_dims=1), st.data())
def test_swapaxes(x, data):
    a = data.draw(st.integers(-x.ndim, x.ndim - 1))
    b = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_same(F.swapaxes(Variable(x), a, b), np.swapaxes(x, a, b))
    assert gradcheck(lambda v: F.swapaxes(v, a, b), x)
    assert gradgradcheck(lambda v: F.swapaxes(v * v, a, b), x)


@given(tst.floats_arrays(max_dims=2), st.data())
def test_expand_dims(x, data):
    if data.draw(st.booleans()):
        n = x.ndim + 1
        axis = data.draw(st.integers(-n, n - 1))
    else:  # a tuple of k new axes, in an output of ndim + k dims
        k = data.draw(st.integers(1, 2))
        n = x.ndim + k
        axis = tuple(data.draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k,
                                        unique_by=lambda a: a % n)))
    assert_same(F.expand_dims(Variable(x), axis), np.expand_dims(x, axis))
    assert gradcheck(lambda v: F.expand_dims(v, axis), x)
    assert gradgradcheck(lambda v: F.expand_dims(v * v, axis), x)


@given(tst.floats_arrays(min_side=1, max_side=2), st.data())
def test_squeeze(x, data):
    ones = [i for i, s in enumerate(x.shape) if s == 1]
    axis = data.draw(st.none() | st.lists(st.sampled_from(ones), unique=True).map(tuple)
                     if ones else st.none())
    assert_same(F.squeeze(Variable(x), axis), np.squeeze(x, axis))
    assert gradcheck(lambda v: F.squeeze(v, axis), x)
    assert gradgradcheck(lambda v: F.squeeze(v * v, axis), x)


def test_squeeze_error():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 of shape \(1, 3\) has length 3"):
        F.squeeze(Variable(np.ones((1, 3))), 1)


# --- concat / split -------------------------------------------------------------------------
@given(tst.concat_shapes(), st.data())
def test_concat(arg, data):
    shapes, axis = arg
    xs = [data.draw(tst.floats_arrays(s)) for s in shapes]
    assert_same(F.concat([Variable(x) for x in xs], axis), np.concatenate(xs, axis))
    assert gradcheck(lambda *vs: F.concat(vs, axis), *xs)


@examples(0.5)
@given(tst.concat_shapes(max_inputs=3), st.data())
def test_concat_second_order(arg, data):
    shapes, axis = arg
    xs = [data.draw(tst.floats_arrays(s)) for s in shapes]
    assert gradgradcheck(lambda *vs: F.concat([v * v for v in vs], axis), *xs)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_of_equal_shapes_by_hand(axis):
    """Each input gets its own slice of the gradient, in order."""
    xs = [Variable(np.full((2, 2), float(k))) for k in range(3)]
    y = F.concat(xs, axis)
    gy = np.random.default_rng(1).standard_normal(y.shape)
    gs = grad(y, xs, grad_outputs=Variable(gy))
    for g, e in zip(gs, np.split(gy, 3, axis)):
        np.testing.assert_array_equal(g.data, e)
    assert gradcheck(lambda *vs: F.concat(vs, axis), *[x.data for x in xs])


def test_concat_with_constants_differentiates_only_the_variables():
    x = np.array([[1.0, 2.0]])
    const = np.array([[3.0, 4.0], [5.0, 6.0]])
    assert_same(F.concat([const, Variable(x)], axis=0), np.concatenate([const, x]))
    assert gradcheck(lambda v: F.concat([const, v, const], axis=0), x)


def test_concat_error_names_the_axis_and_the_offending_input():
    xs = [Variable(np.ones((2, 3))), Variable(np.ones((2, 1))), Variable(np.ones((4, 2)))]
    with pytest.raises(ValueError) as info:
        F.concat(xs, axis=1)
    msg = str(info.value)
    assert msg.startswith("concat along axis 1: input 2 has shape (4, 2)")
    assert "input 0 has shape (2, 3)" in msg and "axis 0" in msg
    with pytest.raises(ValueError, match=r"concat: input 1 has shape \(3,\) \(1 dims\)"):
        F.concat([Variable(np.ones((2, 3))), Variable(np.ones(3))], axis=0)
    with pytest.raises(ValueError, match="concat: axis 2 is out of range"):
        F.concat([Variable(np.ones((2, 3)))], axis=2)


@given(tst.floats_arrays(min_dims=1), st.data())
def test_split(x, data):
    ios, axis = data.draw(tst.split_args(x.shape))
    got = F.split(Variable(x), ios, axis)
    expected = np.split(x, ios, axis)
    assert isinstance(got, list) and len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_same(g, e)
    # all outputs, projected together
    assert gradcheck(lambda v: F.split(v, ios, axis), x)


@given(tst.floats_arrays(min_dims=1), st.data())
def test_split_with_only_some_outputs_used(x, data):
    ios, axis = data.draw(tst.split_args(x.shape))
    n = len(np.split(x, ios, axis))
    used = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    f = lambda v: [F.split(v, ios, axis)[k] ** 2 for k in used]  # noqa: E731
    assert gradcheck(f, x)


@examples(0.5)
@given(tst.floats_arrays(min_dims=1), st.data())
def test_split_second_order(x, data):
    ios, axis = data.draw(tst.split_args(x.shape))
    assert gradgradcheck(lambda v: F.split(v * v, ios, axis)[0], x)


def test_split_some_outputs_used_by_hand():
    x = Variable(np.arange(6.0))
    a, b, c = F.split(x, [1, 4])
    assert [p.shape for p in (a, b, c)] == [(1,), (3,), (2,)]
    del a, c  # only b is used; the other outputs are freed
    (b * b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 2, 4, 6, 0, 0])


def test_split_sections_and_errors():
    x = Variable(np.arange(12.0).reshape(2, 6))
    parts = F.split(x, 3, axis=1)
    assert [p.shape for p in parts] == [(2, 2)] * 3
    with pytest.raises(ValueError, match=r"split: axis 1 of shape \(2, 6\) \(length 6\) does not "
                                         r"divide into 4 equal sections"):
        F.split(x, 4, axis=-1)


# --- stack / unstack ------------------------------------------------------------------------
@given(tst.shapes(max_dims=2), st.integers(1, 3), st.data())
def test_stack(shape, n, data):
    xs = [data.draw(tst.floats_arrays(shape)) for _ in range(n)]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_same(F.stack([Variable(x) for x in xs], axis), np.stack(xs, axis))
    assert gradcheck(lambda *vs: F.stack(vs, axis), *xs)
    assert gradgradcheck(lambda *vs: F.stack([v * v for v in vs], axis), *xs)


@given(tst.floats_arrays(min_dims=1), st.data())
def test_unstack(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    got = F.unstack(Variable(x), axis)
    expected = list(np.moveaxis(x, axis, 0))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_same(g, e)
    assert gradcheck(lambda v: F.unstack(v, axis), x)
    # only the first slice used
    assert gradcheck(lambda v: F.unstack(v, axis)[0] * 3.0, x)
    assert gradgradcheck(lambda v: F.unstack(v * v, axis)[-1], x)


def test_stack_unstack_round_trip_by_hand():
    x = Variable(np.arange(6.0).reshape(2, 3))
    rows = F.unstack(x, axis=1)
    y = F.stack([rows[2], rows[0]], axis=0)  # rows[1] unused
    assert_same(y, np.stack([x.data[:, 2], x.data[:, 0]]))
    y.backward(np.array([[1.0, 2.0], [10.0, 20.0]]))
    np.testing.assert_array_equal(x.grad.data, [[10, 0, 1], [20, 0, 2]])


def test_stack_error_names_the_offending_input():
    with pytest.raises(ValueError, match=r"stack along axis 0: input 1 has shape \(2, 4\), input 0 "
                                         r"has shape \(2, 3\)"):
        F.stack([Variable(np.ones((2, 3))), Variable(np.ones((2, 4)))])


def test_numerical_grad_of_unstack_outputs_by_hand():
    x = np.arange(4.0).reshape(2, 2)
    u = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    (g,) = numerical_grad(lambda v: F.unstack(v, 0), x, grad_output=u)
    v = Variable(x)
    (a,) = grad(F.unstack(v, 0), [v], grad_outputs=[Variable(w) for w in u])
    np.testing.assert_allclose(g, [[1, 2], [3, 4]], atol=1e-8)
    np.testing.assert_allclose(a.data, [[1, 2], [3, 4]])
