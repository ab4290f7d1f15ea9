"""tinygrad_attn.optim: SGD, Adam and clip_grad_norm_ reproduce the book's updates exactly;
RMSprop is PyTorch's update and clip_grad_value_ clips entry by entry.

Given the same weights and gradients, our Adam and clipping give bit-identical arrays to the
book's (`tinygrad_attn.book.optim`) in float32 and in float64; a few training steps of a
model from the same start give the same weights as the book's model + Adam + clip_grads.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tga
from tinygrad_attn import nn
from tinygrad_attn.book import optim as book_optim
from tinygrad_attn.optim import SGD, Adam, RMSprop, clip_grad_norm_, clip_grad_value_

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float32, np.float64])


def make(rng, shapes, dtype, scale=1.0):
    params = [nn.Parameter((rng.standard_normal(s) * scale).astype(dtype)) for s in shapes]
    return params


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = tga.Variable(g.copy(), requires_grad=False)


SHAPES = [(3, 4), (4,), (2, 2, 3), (1,)]


@given(seed=seeds, dtype=dtypes, steps=st.integers(1, 6),
       lr=st.sampled_from([0.001, 0.01, 0.3]))
def test_adam_is_bit_identical_to_book(seed, dtype, steps, lr):
    rng = np.random.default_rng(seed)
    params = make(rng, SHAPES, dtype)
    ref = [p.data.copy() for p in params]
    ours, theirs = Adam(params, lr=lr), book_optim.Adam(lr=lr)
    for _ in range(steps):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        set_grads(params, grads)
        ours.step()
        theirs.update(ref, grads)
        for p, r in zip(params, ref):
            assert p.dtype == dtype                    # no float64 upcast
            np.testing.assert_array_equal(p.data, r)


@given(seed=seeds, dtype=dtypes, scale=st.sampled_from([0.01, 1.0, 10.0]),
       max_norm=st.sampled_from([0.5, 5.0, 100.0]))
def test_clip_grad_norm_is_bit_identical_to_book(seed, dtype, scale, max_norm):
    rng = np.random.default_rng(seed)
    params = make(rng, SHAPES, dtype)
    grads = [(rng.standard_normal(p.shape) * scale).astype(dtype) for p in params]
    set_grads(params, grads)
    total = clip_grad_norm_(params, max_norm)
    ref = [g.copy() for g in grads]
    ref_total = book_optim.clip_grads(ref, max_norm)
    assert total == ref_total
    assert isinstance(total, float)
    for p, r in zip(params, ref):
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad.data, r)
    if ref_total * 1.0 <= max_norm * 0.99:             # small norms are left untouched
        for p, g in zip(params, grads):
            np.testing.assert_array_equal(p.grad.data, g)


def test_clip_scales_a_shared_or_read_only_gradient_once():
    p, q = nn.Parameter(np.ones(4)), nn.Parameter(np.ones(4))
    (p + q).sum().backward()          # p.grad and q.grad may be one read-only array
    total = clip_grad_norm_([p, q], 1.0)
    assert total == pytest.approx(np.sqrt(8))
    rate = 1.0 / (np.sqrt(8) + 1e-6)
    np.testing.assert_allclose(p.grad.data, rate)
    np.testing.assert_allclose(q.grad.data, rate)


def test_sgd_matches_book_and_skips_missing_grads():
    rng = np.random.default_rng(0)
    params = make(rng, SHAPES, np.float32)
    ref = [p.data.copy() for p in params]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    set_grads(params, grads)
    params[1].grad = None
    opt = SGD(params, lr=0.1)
    opt.step()
    book_optim.SGD(lr=0.1).update([ref[0], ref[2], ref[3]], [grads[0], grads[2], grads[3]])
    for p, r in zip(params, ref):
        np.testing.assert_array_equal(p.data, r)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_optimiser_argument_errors():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="twice"):
        Adam([p, p])
    with pytest.raises(ValueError, match="does not require a gradient"):
        SGD([tga.Variable(np.ones(2), requires_grad=False)])
    with pytest.raises(TypeError, match="not a Variable"):
        SGD([np.ones(2)])
    p.grad = tga.Variable(np.ones(3))
    with pytest.raises(ValueError, match="gradient has shape"):
        SGD([p]).step()


def test_adam_steps_in_place_on_float32():
    p = nn.Parameter(np.ones((2, 2), np.float32))
    data = p.data
    opt = Adam([p])
    p.grad = tga.Variable(np.full((2, 2), 0.5, np.float32))
    opt.step()
    assert p.data is data and p.dtype == np.float32 and opt.m[0].dtype == np.float32
    assert opt.t == 1


def test_training_trajectory_equals_book():
    """Model + clip_grad_norm_ + Adam for a few steps == the book's model + clip_grads +
    Adam from the same start on the same batches (float64, so only rounding differs)."""
    from models import AttentionSeq2seq
    from tinygrad_attn.book.models import AttentionSeq2seq as BookAttention

    V, D, H, N = 7, 4, 5, 3
    rng = np.random.default_rng(11)
    ours = AttentionSeq2seq(V, D, H, seed=3, dtype=np.float64)
    book = BookAttention(V, D, H, params=ours.book_params(), dtype=np.float64)
    opt, book_opt = Adam(ours.parameters(), lr=0.05), book_optim.Adam(lr=0.05)
    for _ in range(4):
        xs, ts = rng.integers(0, V, (N, 5)), rng.integers(0, V, (N, 4))
        ours.zero_grad()
        loss = ours.loss(xs, ts)
        loss.backward()
        total = clip_grad_norm_(ours.parameters(), 0.1)
        opt.step()
        book_loss = book.forward(xs, ts)
        book.backward()
        book_total = book_optim.clip_grads(book.grads, 0.1)
        book_opt.update(book.params, book.grads)
        assert loss.item() == pytest.approx(book_loss, rel=1e-12)
        assert total == pytest.approx(book_total, rel=1e-10)
        assert total > 0.1                               # clipping was active
    for name, p, q in zip([n for n, _ in ours.named_parameters()], ours.parameters(),
                          book.params):
        np.testing.assert_allclose(p.data, q, rtol=1e-9, atol=1e-12, err_msg=name)


def _rmsprop_reference(params, grads_per_step, lr, alpha, eps, momentum):
    """PyTorch's RMSprop as its documentation writes the algorithm, in float64."""
    params = [p.astype(np.float64) for p in params]
    square = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for k, g in enumerate(grads):
            square[k] = alpha * square[k] + (1 - alpha) * g.astype(np.float64) ** 2
            step = g / (np.sqrt(square[k]) + eps)
            if momentum:
                buf[k] = momentum * buf[k] + step
                step = buf[k]
            params[k] = params[k] - lr * step
    return params


@given(seed=seeds, dtype=dtypes, steps=st.integers(1, 6),
       momentum=st.sampled_from([0.0, 0.9]), alpha=st.sampled_from([0.95, 0.99]))
def test_rmsprop_is_the_documented_update(seed, dtype, steps, momentum, alpha):
    rng = np.random.default_rng(seed)
    params = make(rng, SHAPES, dtype)
    start = [p.data.copy() for p in params]
    opt = RMSprop(params, lr=1e-2, alpha=alpha, momentum=momentum)
    history = []
    for _ in range(steps):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        history.append(grads)
        set_grads(params, grads)
        opt.step()
    ref = _rmsprop_reference(start, history, 1e-2, alpha, 1e-8, momentum)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for p, r in zip(params, ref):
        assert p.dtype == dtype and opt.square_avg[0].dtype == dtype
        np.testing.assert_allclose(p.data, r, rtol=tol, atol=tol)


def test_rmsprop_equals_torch_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    params = make(rng, SHAPES, np.float64)
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    ours = RMSprop(params, lr=1e-4, alpha=0.95, momentum=0.9)
    opt = torch.optim.RMSprop(theirs, lr=1e-4, alpha=0.95, momentum=0.9)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape) for p in params]
        set_grads(params, grads)
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        ours.step()
        opt.step()
    for p, t in zip(params, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_rmsprop_state_resumes_bit_for_bit_and_is_checked():
    rng = np.random.default_rng(2)
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(4)]
    whole = make(np.random.default_rng(1), SHAPES, np.float32)
    opt = RMSprop(whole, lr=1e-3, momentum=0.9)
    for g in grads:
        set_grads(whole, g)
        opt.step()
    half = make(np.random.default_rng(1), SHAPES, np.float32)
    first = RMSprop(half, lr=1e-3, momentum=0.9)
    for g in grads[:2]:
        set_grads(half, g)
        first.step()
    state = first.state_dict()
    assert state["hyper"] == {"type": "RMSprop", "lr": 1e-3, "alpha": 0.99, "eps": 1e-8,
                              "momentum": 0.9}
    assert sorted(state["arrays"]) == sorted(f"{s}.{k}" for s in ("square_avg",
                                             "momentum_buffer") for k in range(4))
    second = RMSprop(half)                     # other hyper-parameters: the state wins
    second.load_state_dict(state)
    for g in grads[2:]:
        set_grads(half, g)
        second.step()
    for p, q in zip(whole, half):
        np.testing.assert_array_equal(p.data, q.data)
    del state["arrays"]["momentum_buffer.1"]
    with pytest.raises(ValueError, match="square_avg and momentum_buffer do not cover"):
        second.load_state_dict(state)
    with pytest.raises(ValueError, match="state is of a Adam"):
        second.load_state_dict(Adam(half).state_dict())
    with pytest.raises(ValueError, match="RMSprop: need lr > 0"):
        RMSprop(half, momentum=1.0)


@given(seed=seeds, dtype=dtypes, clip=st.sampled_from([0.1, 1.0, 100.0]))
def test_clip_grad_value_clips_each_entry(seed, dtype, clip):
    rng = np.random.default_rng(seed)
    params = make(rng, SHAPES, dtype)
    grads = [(rng.standard_normal(p.shape) * 3).astype(dtype) for p in params]
    set_grads(params, grads)
    params[1].grad = None
    largest = clip_grad_value_(params, clip)
    assert largest == max(float(np.abs(g).max()) for k, g in enumerate(grads) if k != 1)
    assert params[1].grad is None
    for k, (p, g) in enumerate(zip(params, grads)):
        if k != 1:
            assert p.grad.dtype == dtype
            np.testing.assert_array_equal(p.grad.data, np.clip(g, -clip, clip))
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be > 0"):
        clip_grad_value_(params, 0)
