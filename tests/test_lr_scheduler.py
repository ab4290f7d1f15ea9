"""tinygrad_attn.optim's learning-rate schedules.

Each schedule equals PyTorch's closed form bit for bit at every step and PyTorch's default
(recursive) stepping to a few ulps; SequentialLR chains them as PyTorch's does; the
Transformer's schedule is the paper's formula; and a run resumed from a state that went
through JSON continues with exactly the lrs and weights of an uninterrupted run, for
generated schedules and split points (hypothesis).
"""
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tga
from tinygrad_attn import nn
from tinygrad_attn.optim import (SGD, Adam, ConstantLR, CosineAnnealingLR, ExponentialLR,
                                 InverseSqrtLR, LambdaLR, LinearLR, MultiStepLR,
                                 PolynomialLR, SequentialLR, StepLR, TorchAdam)

STEPS = 150

# name -> (ours, torch's) on an optimiser; torch's names and arguments are the same
SCHEDULES = {
    "StepLR": lambda L, o: L.StepLR(o, 7, 0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, [5, 20, 20, 90], 0.3),
    "ConstantLR": lambda L, o: L.ConstantLR(o, 0.25, 10),
    "LinearLR": lambda L, o: L.LinearLR(o, 0.01, 1.0, 50),
    "LinearLR decay": lambda L, o: L.LinearLR(o, 1.0, 0.1, 80),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, 0.97),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, 80, 2.0),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, 100, 0.001),
}


def ours_and_torch(make):
    torch = pytest.importorskip("torch")
    import tinygrad_attn.optim as ours_module
    p = nn.Parameter(np.zeros(2))
    opt = SGD([p], lr=0.1)
    tp = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    return opt, make(ours_module, opt), topt, make(torch.optim.lr_scheduler, topt)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_equals_torch_closed_form_exactly_and_its_stepping_to_ulps(name):
    opt, ours, topt, theirs = ours_and_torch(SCHEDULES[name])
    worst = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                    # torch's step-order warning
        for step in range(STEPS):
            if step:
                topt.step()
                theirs.step()
                ours.step()
            assert ours.last_epoch == theirs.last_epoch == step
            assert ours.last_lr == theirs._get_closed_form_lr()[0] == opt.lr
            rec = theirs.get_last_lr()[0]
            worst = max(worst, abs(rec - ours.last_lr) / max(abs(ours.last_lr), 1e-12))
    assert worst <= 64 * np.finfo(np.float64).eps, worst        # measured: 28 eps (cosine)
    assert ours.get_last_lr() == [ours.last_lr]


def test_warmup_then_cosine_equals_torch_sequential_lr():
    def make(L, o):
        warm = L.LinearLR(o, start_factor=0.05, total_iters=20)
        decay = L.CosineAnnealingLR(o, T_max=100)
        return L.SequentialLR(o, [warm, decay], milestones=[20])

    opt, ours, topt, theirs = ours_and_torch(make)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in range(STEPS):
            if step:
                topt.step()
                theirs.step()
                ours.step()
            np.testing.assert_allclose(ours.last_lr, theirs.get_last_lr()[0], rtol=1e-14)
    assert ours.schedulers[1].last_epoch == STEPS - 1 - 20
    assert ours.last_lr == ours.schedulers[1].lr_at(STEPS - 1 - 20)


def test_inverse_sqrt_is_the_transformers_schedule():
    d_model, warmup = 512, 4000
    p = nn.Parameter(np.zeros(1))
    opt = Adam([p], lr=(d_model * warmup) ** -0.5)
    sched = InverseSqrtLR(opt, warmup)
    for epoch in [0, 1, 999, 3998, 3999, 4000, 20000]:
        sched.last_epoch = epoch
        sched._apply()
        s = epoch + 1
        paper = d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5)
        assert opt.lr == pytest.approx(paper, rel=1e-14)
    sched.last_epoch = warmup - 1
    sched._apply()
    assert opt.lr == pytest.approx((d_model * warmup) ** -0.5, rel=1e-15)   # the peak
    torch = pytest.importorskip("torch")
    tp = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=opt.initial_lr)
    lam = torch.optim.lr_scheduler.LambdaLR(
        topt, lambda e: min((e + 1) / warmup, (warmup / (e + 1)) ** 0.5))
    mine = InverseSqrtLR(SGD([nn.Parameter(np.zeros(1))], lr=opt.initial_lr), warmup)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(50):
            assert mine.last_lr == lam.get_last_lr()[0]
            topt.step()
            lam.step()
            mine.step()


def test_lambda_lr_and_a_shared_base_lr():
    p = nn.Parameter(np.zeros(1))
    opt = SGD([p], lr=0.2)
    first = StepLR(opt, 1, gamma=0.5)          # moves opt.lr at once...
    assert opt.lr == 0.2
    first.step()
    assert opt.lr == 0.1
    second = LambdaLR(opt, lambda e: 1.0 / (e + 1))     # ...but the base stays 0.2
    assert second.base_lr == 0.2 and opt.lr == 0.2
    second.step()
    assert opt.lr == 0.1 and second.state_dict()["hyper"] == {
        "type": "LambdaLR", "last_epoch": 1, "base_lr": 0.2}


SCHEDULE_SPECS = st.sampled_from([
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=1e-4)),
    ("LinearLR", dict(start_factor=0.1, total_iters=4)),
    ("PolynomialLR", dict(total_iters=12, power=0.5)),
    ("ConstantLR", dict(factor=0.5, total_iters=3)),
    ("InverseSqrtLR", dict(warmup_steps=4)),
    ("warm-up then cosine", None),
])
CLASSES = {c.__name__: c for c in (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
                                   LinearLR, PolynomialLR, ConstantLR, InverseSqrtLR)}


def build(spec, opt):
    name, kw = spec
    if kw is None:
        return SequentialLR(opt, [LinearLR(opt, 0.2, total_iters=3),
                                  CosineAnnealingLR(opt, T_max=9)], milestones=[3])
    return CLASSES[name](opt, **kw)


@given(spec=SCHEDULE_SPECS, split=st.integers(0, 14), adam=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_a_resumed_run_continues_bit_for_bit(spec, split, adam, seed):
    """Train 15 steps at once, or `split` steps, save both states through JSON, build new
    optimiser and scheduler (other constructor arguments: the state wins) and go on."""
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal((3, 2)) for _ in range(15)]
    start = rng.standard_normal((3, 2))
    cls = TorchAdam if adam else SGD

    def run(p, opt, sched, gs):
        lrs = []
        for g in gs:
            p.grad = tga.Variable(g)
            opt.step()
            sched.step()
            lrs.append(opt.lr)
        return lrs

    p = nn.Parameter(start.copy())
    opt = cls([p], lr=0.05)
    whole = run(p, opt, build(spec, opt), grads)
    q = nn.Parameter(start.copy())
    opt1 = cls([q], lr=0.05)
    sched1 = build(spec, opt1)
    first = run(q, opt1, sched1, grads[:split])
    saved = json.loads(json.dumps({"opt": opt1.state_dict()["hyper"],
                                   "sched": sched1.state_dict()}))
    arrays = {k: a.copy() for k, a in opt1.state_dict()["arrays"].items()}
    opt2 = cls([q], lr=0.9)                     # another lr: the saved states decide
    sched2 = build(spec, opt2)
    opt2.load_state_dict({"hyper": saved["opt"], "arrays": arrays})
    sched2.load_state_dict(saved["sched"])
    assert opt2.lr == opt1.lr
    second = run(q, opt2, sched2, grads[split:])
    assert first + second == whole
    np.testing.assert_array_equal(p.data, q.data)


def test_scheduler_errors():
    p = nn.Parameter(np.zeros(1))
    opt = SGD([p], lr=0.1)
    with pytest.raises(TypeError, match="StepLR: expected an optimizer"):
        StepLR(object(), 3)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\]"):
        LinearLR(opt, start_factor=0.0)
    a, b = LinearLR(opt, 0.5, total_iters=2), ExponentialLR(opt, 0.9)
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones, got 2"):
        SequentialLR(opt, [a, b], milestones=[2, 4])
    with pytest.raises(ValueError, match="milestones must be increasing positive epochs"):
        SequentialLR(opt, [a, b], milestones=[0])
    with pytest.raises(ValueError, match=r"schedulers\[1\] \(ExponentialLR\) schedules "
                                         r"another optimizer"):
        SequentialLR(opt, [a, ExponentialLR(SGD([nn.Parameter(np.zeros(1))]), 0.9)], [2])
    with pytest.raises(ValueError, match="StepLR.load_state_dict: the state is of a "
                                         "ExponentialLR"):
        StepLR(opt, 2).load_state_dict(b.state_dict())
    state = b.state_dict()
    state["hyper"]["last_epoch"] = -1
    with pytest.raises(ValueError, match="last_epoch is -1, not a count"):
        b.load_state_dict(state)
    assert math.isclose(CosineAnnealingLR(opt, 4).lr_at(4), 0.0, abs_tol=1e-18)
