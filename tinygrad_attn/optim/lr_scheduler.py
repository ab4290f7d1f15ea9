"""Learning-rate schedules under PyTorch's names (``torch.optim.lr_scheduler``).

    opt = TorchAdam(model.parameters(), lr=1e-3)
    warmup = LinearLR(opt, start_factor=0.01, total_iters=100)
    decay = CosineAnnealingLR(opt, T_max=900)
    sched = SequentialLR(opt, [warmup, decay], milestones=[100])   # warm-up, then decay
    for batch in batches:
        ...; opt.step()
        sched.step()                  # after the optimiser's step, as in PyTorch

A scheduler sets ``optimizer.lr`` when it is built (its lr at epoch 0) and at every
`step()`. ``last_epoch`` counts the `step()` calls. The base lr is the optimiser's lr when
its first scheduler was built (kept as ``optimizer.initial_lr``, PyTorch's
``initial_lr``), so several schedulers of one optimiser share it.

Every schedule is computed in closed form from the base lr and ``last_epoch`` (PyTorch's
``_get_closed_form_lr``, bit for bit), not by PyTorch's default recursive update of the
previous lr: the lr at a step depends on nothing but the step, so a resumed run gets
exactly the lrs of an uninterrupted one and no rounding accumulates (PyTorch's recursive
forms agree to a few ulps; tests/test_lr_scheduler.py measures it).

`state_dict()` is ``{"hyper": {JSON numbers, strings, lists}, "arrays": {}}``, the same
shape as an optimiser's, so a checkpoint stores it the same way; `load_state_dict` checks
the type, restores it (the state's hyper-parameters win over the constructor's, as for
optimisers) and sets the optimiser's lr. A `LambdaLR`'s function is code, not state: the
resuming program builds it again.
"""
from __future__ import annotations

import bisect
import math

from .optimizers import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "InverseSqrtLR",
           "SequentialLR"]


class LRScheduler:
    """Base class: a subclass defines `lr_at(epoch)` from ``self.base_lr`` and lists its
    hyper-parameters in ``params`` (attribute names saved in `state_dict`)."""

    params = ()

    def __init__(self, optimizer):
        who = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an optimizer (tinygrad_attn.optim), got a "
                            f"{type(optimizer).__name__}")
        if not isinstance(getattr(optimizer, "lr", None), (int, float)):
            raise TypeError(f"{who}: {type(optimizer).__name__} has no numeric `lr` to "
                            "schedule")
        self.optimizer = optimizer
        self.base_lr = float(vars(optimizer).setdefault("initial_lr", float(optimizer.lr)))
        self.last_epoch = 0
        self._apply()

    def lr_at(self, epoch):
        """The learning rate after `epoch` calls of `step()`."""
        raise NotImplementedError

    def step(self):
        """Advance one epoch (or one optimiser step: whichever the schedule counts) and set
        the optimiser's lr."""
        self.last_epoch += 1
        self._apply()

    def _apply(self):
        self.last_lr = float(self.lr_at(self.last_epoch))
        self.optimizer.lr = self.last_lr

    def get_last_lr(self):
        """[the lr set last] (a list, as PyTorch's, one entry per parameter group)."""
        return [self.last_lr]

    # --- saving and resuming ------------------------------------------------------------
    def _hyper(self):
        hyper = {"type": type(self).__name__, "last_epoch": self.last_epoch,
                 "base_lr": self.base_lr}
        hyper.update({name: getattr(self, name) for name in self.params})
        return hyper

    def state_dict(self):
        """``{"hyper": {"type", "last_epoch", "base_lr", hyper-parameters...}, "arrays":
        {}}``: everything `step()` reads, so a resumed run continues bit for bit."""
        return {"hyper": self._hyper(), "arrays": {}}

    def _load_hyper(self, hyper):
        who = f"{type(self).__name__}.load_state_dict"
        if hyper.get("type") != type(self).__name__:
            raise ValueError(f"{who}: the state is of a {hyper.get('type')}")
        missing = [k for k in ("last_epoch", "base_lr", *self.params) if k not in hyper]
        if missing:
            raise ValueError(f"{who}: the state lacks {', '.join(missing)}")
        epoch = hyper["last_epoch"]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"{who}: last_epoch is {epoch!r}, not a count")
        self.last_epoch, self.base_lr = epoch, float(hyper["base_lr"])
        for name in self.params:
            value = hyper[name]
            setattr(self, name, list(value) if isinstance(value, (list, tuple)) else value)

    def load_state_dict(self, state):
        """Restore what `state_dict` returned and set the optimiser's lr to match."""
        self._load_hyper(state["hyper"])
        self._apply()

    def __repr__(self):
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.params)
        return f"{type(self).__name__}({args}; last_epoch={self.last_epoch}, " \
               f"lr={self.last_lr!r})"


def _positive_int(who, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return value


class LambdaLR(LRScheduler):
    """``base_lr * lr_lambda(epoch)``. The function is not saved in `state_dict` (only the
    epoch): build the scheduler with the same function before loading."""

    def __init__(self, optimizer, lr_lambda):
        if not callable(lr_lambda):
            raise TypeError(f"LambdaLR: lr_lambda must be callable, got "
                            f"{type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.lr_lambda(epoch)


class StepLR(LRScheduler):
    """``base_lr * gamma ** (epoch // step_size)``: times gamma every `step_size` epochs."""

    params = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """``base_lr * gamma ** (number of milestones <= epoch)``."""

    params = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ConstantLR(LRScheduler):
    """``base_lr * factor`` for the first `total_iters` epochs, then ``base_lr``."""

    params = ("factor", "total_iters")

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = float(factor), int(total_iters)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * (self.factor + (epoch >= self.total_iters) * (1 - self.factor))


class LinearLR(LRScheduler):
    """``base_lr`` times a factor going linearly from `start_factor` to `end_factor` over
    `total_iters` epochs, then `end_factor`: the usual linear warm-up (``start_factor``
    small, ``end_factor`` 1) or a linear decay."""

    params = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                               * min(self.total_iters, epoch) / self.total_iters)


class ExponentialLR(LRScheduler):
    """``base_lr * gamma ** epoch``."""

    params = ("gamma",)

    def __init__(self, optimizer, gamma):
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** epoch


class PolynomialLR(LRScheduler):
    """``base_lr * (1 - min(epoch, total_iters) / total_iters) ** power``: down to 0 at
    `total_iters` (power 1: linearly)."""

    params = ("total_iters", "power")

    def __init__(self, optimizer, total_iters=5, power=1.0):
        self.total_iters = _positive_int("PolynomialLR", "total_iters", total_iters)
        self.power = float(power)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * (1.0 - min(self.total_iters, epoch) / self.total_iters) \
            ** self.power


class CosineAnnealingLR(LRScheduler):
    """``eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2`` (Loshchilov &
    Hutter 2017, without restarts): from base_lr down to eta_min at T_max (and, as
    PyTorch's closed form, back up after it: stop stepping, or chain a constant)."""

    params = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.eta_min + (self.base_lr - self.eta_min) * \
            (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class InverseSqrtLR(LRScheduler):
    """The Transformer's schedule (Vaswani et al. 2017, section 5.3) with its peak
    `base_lr` at step `warmup_steps`: a linear warm-up, then decay as 1 / sqrt(step).

        lr = base_lr * min(s / warmup_steps, sqrt(warmup_steps / s)),   s = epoch + 1

    The paper's ``d_model^-0.5 * min(s^-0.5, s * warmup^-1.5)`` is this with ``base_lr =
    (d_model * warmup_steps) ** -0.5`` (fairseq's ``inverse_sqrt``). Step it once per
    optimiser step; s counts from 1, so the first step already has a non-zero lr.
    """

    params = ("warmup_steps",)

    def __init__(self, optimizer, warmup_steps):
        self.warmup_steps = _positive_int("InverseSqrtLR", "warmup_steps", warmup_steps)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        s, w = epoch + 1, self.warmup_steps
        return self.base_lr * min(s / w, (w / s) ** 0.5)


class SequentialLR(LRScheduler):
    """Schedulers one after the other: `schedulers[i]` runs from `milestones[i - 1]` on,
    counting its own epochs from 0 there (PyTorch's ``SequentialLR``). Warm-up then
    decay: ``SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=w), CosineAnnealingLR(opt,
    T_max=n - w)], milestones=[w])``. Step only the SequentialLR, not its members."""

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), [int(m) for m in milestones]
        if not schedulers:
            raise ValueError("SequentialLR: needs at least one scheduler")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is a {type(s).__name__}, "
                                "not a scheduler")
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] ({type(s).__name__}) "
                                 "schedules another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        if any(m < 1 for m in milestones) or milestones != sorted(set(milestones)):
            raise ValueError(f"SequentialLR: milestones must be increasing positive epochs, "
                             f"got {milestones}")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer)

    def _phase(self, epoch):
        i = bisect.bisect_right(self.milestones, epoch)
        return self.schedulers[i], epoch - (self.milestones[i - 1] if i else 0)

    def lr_at(self, epoch):
        sched, local = self._phase(epoch)
        return sched.lr_at(local)

    def _apply(self):
        sched, local = self._phase(self.last_epoch)
        sched.last_epoch = local
        super()._apply()
        sched.last_lr = self.last_lr

    def _hyper(self):
        hyper = super()._hyper()
        hyper["milestones"] = list(self.milestones)
        hyper["schedulers"] = [s.state_dict()["hyper"] for s in self.schedulers]
        return hyper

    def _load_hyper(self, hyper):
        super()._load_hyper(hyper)
        subs = hyper.get("schedulers", [])
        if len(subs) != len(self.schedulers) or "milestones" not in hyper:
            raise ValueError(f"SequentialLR.load_state_dict: the state holds {len(subs)} "
                             f"schedulers, this one {len(self.schedulers)}")
        self.milestones = [int(m) for m in hyper["milestones"]]
        for s, h in zip(self.schedulers, subs):
            s._load_hyper(h)
