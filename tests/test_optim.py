"""tinygrad_attn.optim: SGD, Adam and clip_grad_norm_ reproduce the book's updates exactly;
RMSprop is PyTorch's update and clip_grad_value_ clips entry by entry; SGD's options,
TorchAdam and AdamW follow torch.optim over generated hyper-parameters (when torch is
installed) and every optimiser resumes bit for bit from its state.

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
from tinygrad_attn.optim import (SGD, Adam, AdamW, RMSprop, TorchAdam, clip_grad_norm_,
                                 clip_grad_value_)

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


# --- PyTorch's options: SGD (momentum, dampening, nesterov, weight decay), Adam, AdamW -----
# PyTorch's CPU kernels fuse a multiply and an add into one rounding where NumPy rounds
# twice (``p.add_(g, alpha=-lr)`` is fma(-lr, g, p): checked bit for bit below), so the
# trajectories agree to rounding, not bit for bit: each step may differ by about one
# rounding of the parameter, so after n steps by at most n ulps of the largest parameter.
def _trajectories_agree(ours, theirs, params, tparams, rng, dtype, steps, skip):
    torch = pytest.importorskip("torch")
    for step in range(steps):
        for k, (p, t) in enumerate(zip(params, tparams)):
            if skip and (step + k) % 3 == 0:       # no gradient: skipped, its step not counted
                p.grad, t.grad = None, None
                continue
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = tga.Variable(g, requires_grad=False)
            t.grad = torch.tensor(g)
        ours.step()
        theirs.step()
    for p, t in zip(params, tparams):
        assert p.dtype == dtype
        scale = max(np.abs(p.data).max(), 1.0)
        atol = steps * np.finfo(dtype).eps * scale
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=atol)


def _torch_params(torch, params):
    return [torch.tensor(p.data.copy(), requires_grad=True) for p in params]


def test_torch_sgd_step_is_a_fused_multiply_add():
    """Why the comparisons below allow rounding: PyTorch rounds p - lr g once."""
    torch = pytest.importorskip("torch")
    from fractions import Fraction
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(200), rng.standard_normal(200)
    t = torch.tensor(p.copy())
    t.add_(torch.tensor(g), alpha=-0.1)
    fused = np.array([float(Fraction(-0.1) * Fraction(b) + Fraction(a)) for a, b in zip(p, g)])
    np.testing.assert_array_equal(t.numpy(), fused)
    assert not np.array_equal(t.numpy(), p - 0.1 * g)       # NumPy's two roundings differ


@given(seed=seeds, dtype=dtypes, momentum=st.sampled_from([0.0, 0.5, 0.9]),
       dampening=st.sampled_from([0.0, 0.3]), nesterov=st.booleans(),
       weight_decay=st.sampled_from([0.0, 1e-2, 0.5]), lr=st.sampled_from([0.01, 0.3]),
       skip=st.booleans())
def test_sgd_options_follow_torch(seed, dtype, momentum, dampening, nesterov, weight_decay,
                                  lr, skip):
    torch = pytest.importorskip("torch")
    if nesterov and (momentum == 0 or dampening):
        with pytest.raises(ValueError, match="nesterov needs momentum > 0 and dampening 0"):
            SGD(make(np.random.default_rng(0), SHAPES, dtype), momentum=momentum,
                dampening=dampening, nesterov=True)
        return
    rng = np.random.default_rng(seed)
    params = make(rng, SHAPES, dtype)
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
              nesterov=nesterov)
    tparams = _torch_params(torch, params)
    _trajectories_agree(SGD(params, **kw), torch.optim.SGD(tparams, **kw), params, tparams,
                        rng, dtype, 30, skip)


@given(seed=seeds, dtype=dtypes, beta1=st.sampled_from([0.9, 0.3, 0.0]),
       beta2=st.sampled_from([0.999, 0.9]), eps=st.sampled_from([1e-8, 1e-3]),
       weight_decay=st.sampled_from([0.0, 0.1]), amsgrad=st.booleans(),
       decoupled=st.booleans(), skip=st.booleans())
def test_torch_adam_and_adamw_follow_torch(seed, dtype, beta1, beta2, eps, weight_decay,
                                           amsgrad, decoupled, skip):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    params = make(rng, SHAPES, dtype)
    kw = dict(lr=0.01, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
              amsgrad=amsgrad)
    tparams = _torch_params(torch, params)
    ours = (AdamW if decoupled else TorchAdam)(params, **kw)
    theirs = (torch.optim.AdamW if decoupled else torch.optim.Adam)(tparams, **kw)
    _trajectories_agree(ours, theirs, params, tparams, rng, dtype, 30, skip)
    for slot in ours.slots:
        assert all(a is None or a.dtype == dtype for a in getattr(ours, slot))


def test_book_adam_and_torch_adam_differ_only_where_eps_sits():
    """The book's eps equals PyTorch's times sqrt(1 - beta2^t): with that eps per step the
    two updates agree to rounding, and with the same eps they do not."""
    rng = np.random.default_rng(4)
    start = rng.standard_normal(50) * 1e-3
    grads = [rng.standard_normal(50) * 1e-4 for _ in range(5)]
    book, twin = nn.Parameter(start.copy()), nn.Parameter(start.copy())
    ours, torch_like = Adam([book], lr=0.01), TorchAdam([twin], lr=0.01)
    for t, g in enumerate(grads, 1):
        book.grad, twin.grad = tga.Variable(g), tga.Variable(g)
        ours.step()
        torch_like.eps = Adam.eps / np.sqrt(1 - 0.999 ** t)     # the book's eps, moved
        torch_like.step()
        np.testing.assert_allclose(twin.data, book.data, rtol=1e-12, atol=1e-15)
    plain = nn.Parameter(start.copy())
    other = TorchAdam([plain], lr=0.01, eps=1e-7)
    for g in grads:
        plain.grad = tga.Variable(g)
        other.step()
    assert np.abs(plain.data - book.data).max() > 1e-4


def test_adam_points_to_torch_adam_for_its_options():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(TypeError, match=r"Adam \(the book's.*got eps, weight_decay.*"
                                        r"optim.TorchAdam"):
        Adam([p], eps=1e-8, weight_decay=0.1)
    with pytest.raises(ValueError, match=r"TorchAdam: beta1 must be in \[0, 1\), got 1.0"):
        TorchAdam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="SGD: momentum must be >= 0, got -0.5"):
        SGD([p], momentum=-0.5)


@pytest.mark.parametrize("name", ["SGD", "TorchAdam", "AdamW"])
def test_new_optimisers_resume_bit_for_bit_through_json_and_npz(name, tmp_path):
    import io
    import json
    kw = {"SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
          "TorchAdam": dict(lr=0.01, amsgrad=True, weight_decay=1e-2),
          "AdamW": dict(lr=0.01)}[name]
    cls = {"SGD": SGD, "TorchAdam": TorchAdam, "AdamW": AdamW}[name]
    rng = np.random.default_rng(2)
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(6)]

    def feed(params, opt, gs, k):
        for g in gs:
            set_grads(params, g)
            params[1].grad = None if k % 2 else params[1].grad   # a parameter left out
            opt.step()
            k += 1
        return k

    whole = make(np.random.default_rng(1), SHAPES, np.float32)
    feed(whole, cls(whole, **kw), grads, 0)
    half = make(np.random.default_rng(1), SHAPES, np.float32)
    first = cls(half, **kw)
    k = feed(half, first, grads[:3], 0)
    state = first.state_dict()
    buf = io.BytesIO()
    np.savez(buf, **state["arrays"])
    buf.seek(0)
    with np.load(buf) as npz:
        arrays = {n: npz[n] for n in npz.files}
    again = cls(half)
    again.load_state_dict({"hyper": json.loads(json.dumps(state["hyper"])), "arrays": arrays})
    feed(half, again, grads[3:], k)
    for p, q in zip(whole, half):
        np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(ValueError, match=f"state is of a {'RMSprop'}"):
        again.load_state_dict(RMSprop(half).state_dict())


def test_sgd_reads_a_state_saved_before_its_options():
    p = nn.Parameter(np.ones(2))
    opt = SGD([p], momentum=0.9)
    opt.load_state_dict({"hyper": {"type": "SGD", "lr": 0.5}, "arrays": {}})
    assert (opt.lr, opt.momentum, opt.nesterov, opt.weight_decay) == (0.5, 0.0, False, 0.0)


@pytest.mark.parametrize("max_norm", [-1.0, 0.0, float("nan")])
def test_clip_grad_norm_refuses_a_max_norm_that_is_not_positive(max_norm):
    p = tga.Variable(np.ones(3), requires_grad=True)
    p.grad = tga.Variable(np.full(3, 10.0))
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        clip_grad_norm_([p], max_norm)
    np.testing.assert_array_equal(p.grad.data, np.full(3, 10.0))   # left as it was
