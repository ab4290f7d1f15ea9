"""F.batch_norm: a composition (ops/normalization.py), proved over generated shapes.

First and second order against finite differences (x, weight and bias together), in
training mode (batch statistics: every entry depends on the whole channel) and in
evaluation mode (running statistics: an affine map); float32 stays float32 through the
forward, the gradient and the running statistics; the running update is PyTorch's
(unbiased variance); and everything equals torch.nn.functional.batch_norm when torch is
installed.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad, no_grad
from tinygrad_attn.testing import gradcheck, gradgradcheck


@st.composite
def bn_inputs(draw, max_ndim=4):
    """(x, weight, bias) float64: x (N, C) .. (N, C, d1, d2) with at least 2 values per
    channel, standard normal (distinct values, so no channel has zero variance)."""
    ndim = draw(st.integers(2, max_ndim))
    shape = [draw(st.integers(1, 4)), draw(st.integers(1, 3))] + \
        [draw(st.integers(1, 3)) for _ in range(ndim - 2)]
    if np.prod(shape) // shape[1] < 2:
        shape[0] = 2
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    C = shape[1]
    return (rng.standard_normal(shape) * 2 + 0.5, rng.standard_normal(C) + 1.0,
            rng.standard_normal(C))


def stats(x):
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    return x.mean(axis=axes), x.var(axis=axes), x.var(axis=axes) * n / (n - 1), axes


@given(inputs=bn_inputs())
def test_batch_norm_training_first_and_second_order(inputs):
    x, w, b = inputs
    f = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    assert gradcheck(f, x, w, b)
    assert gradgradcheck(f, x, w, b)


@given(inputs=bn_inputs(), momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_evaluation_first_and_second_order(inputs, momentum):
    x, w, b = inputs
    C = x.shape[1]
    rm, rv = np.linspace(-1, 1, C), np.linspace(0.5, 2, C)
    f = lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False)  # noqa: E731
    assert gradcheck(f, x, w, b)
    assert gradgradcheck(f, x, w, b)
    shape = (1, C) + (1,) * (x.ndim - 2)
    expected = (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + 1e-5) * \
        w.reshape(shape) + b.reshape(shape)
    np.testing.assert_allclose(f(x, w, b).data, expected, rtol=1e-12, atol=1e-12)


@given(inputs=bn_inputs(), momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_training_values_and_running_update(inputs, momentum):
    x, w, b = inputs
    mean, var, unbiased, axes = stats(x)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    rm, rv = np.full(x.shape[1], 0.25), np.full(x.shape[1], 2.0)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum)
    expected = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * \
        w.reshape(shape) + b.reshape(shape)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, (1 - momentum) * 0.25 + momentum * mean, rtol=1e-13)
    np.testing.assert_allclose(rv, (1 - momentum) * 2.0 + momentum * unbiased, rtol=1e-13)
    # the batch's own normalised output has mean 0 and (biased) variance var / (var + eps)
    z = F.batch_norm(x, None, None, training=True).data
    np.testing.assert_allclose(z.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(z.var(axis=axes), var / (var + 1e-5), rtol=1e-9)


def test_batch_norm_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = Variable(rng.standard_normal((4, 3, 2)).astype(np.float32))
    w = Variable(np.ones(3, np.float32))
    b = Variable(np.zeros(3, np.float32))
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    for training in (True, False):
        y = F.batch_norm(x, rm, rv, w, b, training=training)
        assert y.dtype == np.float32 and rm.dtype == rv.dtype == np.float32
        gx, gw = grad((y * y).sum(), [x, w], create_graph=True)
        assert gx.dtype == gw.dtype == np.float32
        (ggx,) = grad((gx * gx).sum(), [x])
        assert ggx.dtype == np.float32


def test_batch_norm_under_no_grad_still_updates_in_training():
    x = np.arange(6.0).reshape(3, 2)
    rm, rv = np.zeros(2), np.ones(2)
    with no_grad():
        y = F.batch_norm(x, rm, rv, training=True)
    assert not y.requires_grad
    np.testing.assert_allclose(rm, 0.1 * x.mean(axis=0))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"batch_norm: training needs more than one value "
                                         r"per channel, got input shape \(1, 3\)"):
        F.batch_norm(np.ones((1, 3)), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: input must be \(N, C\) or"):
        F.batch_norm(np.ones(3), None, None, training=True)
    with pytest.raises(ValueError, match=r"running_mean must be a numpy array of shape"):
        F.batch_norm(np.ones((2, 3)), np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="evaluation \\(training=False\\) needs running_mean"):
        F.batch_norm(np.ones((2, 3)), None, None)


@given(inputs=bn_inputs(), momentum=st.sampled_from([0.1, 0.9]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_batch_norm_equals_torch(inputs, momentum, dtype):
    torch = pytest.importorskip("torch")
    x, w, b = (a.astype(dtype) for a in inputs)
    C = x.shape[1]
    rm, rv = np.linspace(-1, 1, C).astype(dtype), np.linspace(0.5, 2, C).astype(dtype)
    u = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    for training in (True, False):
        ours_rm, ours_rv = rm.copy(), rv.copy()
        xv, wv, bv = Variable(x), Variable(w), Variable(b)
        y = F.batch_norm(xv, ours_rm, ours_rv, wv, bv, training=training, momentum=momentum)
        y.backward(u)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
        ty = torch.nn.functional.batch_norm(tx, t_rm, t_rv, tw, tb, training=training,
                                            momentum=momentum)
        ty.backward(torch.tensor(u))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
        for ours, theirs in ((xv, tx), (wv, tw), (bv, tb)):
            np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), **tol)
        np.testing.assert_allclose(ours_rm, t_rm.numpy(), **tol)
        np.testing.assert_allclose(ours_rv, t_rv.numpy(), **tol)
