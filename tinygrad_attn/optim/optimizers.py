"""The optimisers: the book's SGD and Adam, and PyTorch's SGD options, Adam, AdamW and
RMSprop.

Each optimiser holds a list of parameters (Variables with ``requires_grad``); `step()`
updates every parameter that has a gradient, in place on ``p.data`` and in its own dtype
(a float32 parameter stays float32: scalars are Python floats, never float64 arrays). A
parameter whose ``grad`` is None (unused in the last backward) is skipped.

Two Adams, on purpose. `Adam` is the book's (the project's default, bit for bit the book's
trajectory): ``p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + 1e-7)``. `TorchAdam`
and `AdamW` are PyTorch's: ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) +
eps)`` with eps 1e-8, settable, and weight decay. The two are the same update with eps in
another place (the book's eps is PyTorch's times ``sqrt(1 - b2^t)``, so they part early in
training), which is why one class with a switch would be a trap: the same ``eps=`` would
mean two different things. The book's `Adam` therefore takes no ``eps``/``weight_decay``
and says which class does.
"""
from __future__ import annotations

import math

import numpy as np

from ..tape import Variable

__all__ = ["Optimizer", "SGD", "Adam", "TorchAdam", "AdamW", "RMSprop"]


def _param_list(params, who):
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Variable):
            raise TypeError(f"{who}: parameter {i} is a {type(p).__name__}, not a Variable")
        if not p.requires_grad:
            raise ValueError(f"{who}: parameter {i} (shape {p.shape}, dtype {p.dtype}) does "
                             "not require a gradient")
    ids = [id(p) for p in params]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{who}: the same parameter is listed twice")
    return params


class Optimizer:
    """Base class: `params`, `zero_grad()`, and `step()` calling `update(p, g)` per
    parameter with a gradient (``g`` the gradient's ndarray)."""

    def __init__(self, params):
        self.params = _param_list(params, type(self).__name__)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self._begin_step()
        for k, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if g.shape != p.shape:
                raise ValueError(f"{type(self).__name__}: parameter {k} has shape {p.shape} "
                                 f"but its gradient has shape {g.shape}")
            if not p.data.flags.writeable:
                p.data = p.data.copy()
            self.update(k, p.data, g)

    def _begin_step(self):
        pass

    def update(self, k, p, g):
        raise NotImplementedError

    # --- saving and resuming ------------------------------------------------------------
    def load_state_dict(self, state):
        """Restore what `state_dict` returned (checks the optimiser type, the slots' shapes
        and dtypes against the parameters)."""
        hyper, arrays = state["hyper"], state["arrays"]
        who = type(self).__name__
        if hyper.get("type") != who:
            raise ValueError(f"{who}.load_state_dict: the state is of a {hyper.get('type')}")
        self._load_hyper(hyper)
        self._load_arrays(arrays)

    def _hyper(self):
        return {"type": type(self).__name__}

    def _load_hyper(self, hyper):
        pass

    # optimisers with per-parameter state arrays name them here (Adam: m, v); each is a
    # list with one entry per parameter, None until the parameter's first gradient
    slots = ()

    def _slot_arrays(self):
        return {f"{slot}.{k}": a.copy() for slot in self.slots
                for k, a in enumerate(getattr(self, slot)) if a is not None}

    def _load_arrays(self, arrays):
        who = f"{type(self).__name__}.load_state_dict"
        loaded = {slot: [None] * len(self.params) for slot in self.slots}
        for name, a in arrays.items():
            slot, _, k = name.partition(".")
            if slot not in loaded or not k.isdigit() or int(k) >= len(self.params):
                raise ValueError(f"{who}: unexpected array {name!r} ({len(self.params)} "
                                 "parameters)")
            p = self.params[int(k)]
            if a.shape != p.shape or a.dtype != p.dtype:
                raise ValueError(f"{who}: {name} is {a.shape} {a.dtype}, its parameter "
                                 f"{p.shape} {p.dtype}")
            loaded[slot][int(k)] = np.array(a, copy=True)
        covered = {slot: [x is None for x in v] for slot, v in loaded.items()}
        if len({tuple(c) for c in covered.values()}) > 1:
            raise ValueError(f"{who}: {' and '.join(self.slots)} do not cover the same "
                             "parameters")
        for slot, values in loaded.items():
            setattr(self, slot, values)

    def state_dict(self):
        """``{"hyper": {...JSON scalars}, "arrays": {"m.3": ndarray, ...}}``: everything
        `step()` reads besides the parameters, so that a resumed run continues bit for bit.
        Array names are ``<slot>.<parameter index>``; a slot entry a parameter never got
        (no gradient yet) is left out."""
        return {"hyper": self._hyper(), "arrays": self._slot_arrays()}


def _check(who, **values):
    """Each hyper-parameter given as name=(value, ok): one clear line for the first bad one."""
    for name, (value, ok, need) in values.items():
        if not ok:
            raise ValueError(f"{who}: {name} must be {need}, got {value!r}")


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's options (``torch.optim.SGD``). Per step:

        g = g + weight_decay * p                               (weight_decay > 0)
        b = g at the parameter's first step, then b = momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b                (momentum > 0)
        p -= lr * g

    With the defaults (no momentum, no weight decay) it is the book's ``p -= lr * g``.
    """

    slots = ("momentum_buffer",)

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params)
        _check("SGD", lr=(lr, lr >= 0, ">= 0"), momentum=(momentum, momentum >= 0, ">= 0"),
               weight_decay=(weight_decay, weight_decay >= 0, ">= 0"))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov needs momentum > 0 and dampening 0, got "
                             f"momentum={momentum}, dampening={dampening}")
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)
        self.momentum_buffer = [None] * len(self.params)

    def update(self, k, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            b = self.momentum_buffer[k]
            if b is None:
                b = self.momentum_buffer[k] = np.array(g, copy=True)
            else:
                b *= self.momentum
                b += (1.0 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g

    def _hyper(self):
        return {"type": "SGD", "lr": self.lr, "momentum": self.momentum,
                "dampening": self.dampening, "weight_decay": self.weight_decay,
                "nesterov": self.nesterov}

    def _load_hyper(self, hyper):
        self.lr = float(hyper["lr"])
        self.momentum = float(hyper.get("momentum", 0.0))      # files from before the options
        self.dampening = float(hyper.get("dampening", 0.0))
        self.weight_decay = float(hyper.get("weight_decay", 0.0))
        self.nesterov = bool(hyper.get("nesterov", False))


class Adam(Optimizer):
    """The book's Adam. At step t (counting from 1):

        lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        m += (1 - beta1) * (g - m)
        v += (1 - beta2) * (g^2 - v)
        p -= lr_t * m / (sqrt(v) + 1e-7)

    ``m`` and ``v`` start at zero, in the parameter's dtype.
    """

    eps = 1e-7
    slots = ("m", "v")

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, **others):
        if others:
            raise TypeError(
                f"Adam (the book's: eps 1e-7 inside the bias correction, no weight decay) "
                f"takes lr, beta1, beta2; got {', '.join(sorted(others))}. PyTorch's Adam "
                "with eps, weight_decay, amsgrad is optim.TorchAdam (decoupled weight decay: "
                "optim.AdamW)")
        super().__init__(params)
        self.lr, self.beta1, self.beta2 = float(lr), float(beta1), float(beta2)
        self.t = 0
        self.m = [None] * len(self.params)
        self.v = [None] * len(self.params)

    def _begin_step(self):
        self.t += 1
        self._lr_t = self.lr * math.sqrt(1.0 - self.beta2 ** self.t) / (1.0 - self.beta1 ** self.t)

    def update(self, k, p, g):
        if self.m[k] is None:
            self.m[k] = np.zeros_like(p)
            self.v[k] = np.zeros_like(p)
        m, v = self.m[k], self.v[k]
        m += (1.0 - self.beta1) * (g - m)
        v += (1.0 - self.beta2) * (g ** 2 - v)
        p -= self._lr_t * m / (np.sqrt(v) + self.eps)

    def _hyper(self):
        return {"type": "Adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "t": self.t}

    def _load_hyper(self, hyper):
        self.lr, self.beta1, self.beta2 = (float(hyper[k]) for k in ("lr", "beta1", "beta2"))
        self.t = int(hyper["t"])


class TorchAdam(Optimizer):
    """PyTorch's Adam (``torch.optim.Adam``), its operations in its order. Per parameter,
    at that parameter's own step t (a step it had no gradient in does not count):

        g = g + weight_decay * p                                  (L2; weight_decay > 0)
        m = lerp(m, g, 1 - beta1)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v), used for v below                   (amsgrad)
        p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``m``, ``v`` start at zero in the parameter's dtype. See the module docstring for how
    it differs from the book's `Adam`.
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params)
        who = type(self).__name__
        b1, b2 = betas
        _check(who, lr=(lr, lr >= 0, ">= 0"), eps=(eps, eps >= 0, ">= 0"),
               beta1=(b1, 0 <= b1 < 1, "in [0, 1)"), beta2=(b2, 0 <= b2 < 1, "in [0, 1)"),
               weight_decay=(weight_decay, weight_decay >= 0, ">= 0"))
        self.lr, self.beta1, self.beta2 = float(lr), float(b1), float(b2)
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        self.amsgrad = bool(amsgrad)
        n = len(self.params)
        self.exp_avg, self.exp_avg_sq = [None] * n, [None] * n
        self.max_exp_avg_sq = [None] * n
        self.steps = [0] * n

    @property
    def slots(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    @property
    def betas(self):
        return (self.beta1, self.beta2)

    def update(self, k, p, g):
        if self.exp_avg[k] is None:
            self.exp_avg[k], self.exp_avg_sq[k] = np.zeros_like(p), np.zeros_like(p)
            if self.amsgrad:
                self.max_exp_avg_sq[k] = np.zeros_like(p)
        self.steps[k] += 1
        t, lr = self.steps[k], self.lr
        if self.weight_decay:
            if self.decoupled:
                p *= 1 - lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m, v = self.exp_avg[k], self.exp_avg_sq[k]
        w = 1 - self.beta1                     # torch.lerp: two forms, by the weight's size
        if w < 0.5:
            m += w * (g - m)
        else:
            m[...] = g - (g - m) * (1 - w)
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        if self.amsgrad:
            np.maximum(self.max_exp_avg_sq[k], v, out=self.max_exp_avg_sq[k])
            v = self.max_exp_avg_sq[k]
        step_size = lr / (1 - self.beta1 ** t)
        denom = np.sqrt(v) / (1 - self.beta2 ** t) ** 0.5
        denom += self.eps
        p += -step_size * m / denom

    def _hyper(self):
        return {"type": type(self).__name__, "lr": self.lr, "beta1": self.beta1,
                "beta2": self.beta2, "eps": self.eps, "weight_decay": self.weight_decay,
                "amsgrad": self.amsgrad, "steps": list(self.steps)}

    def _load_hyper(self, hyper):
        who = f"{type(self).__name__}.load_state_dict"
        self.lr, self.beta1, self.beta2, self.eps, self.weight_decay = (
            float(hyper[k]) for k in ("lr", "beta1", "beta2", "eps", "weight_decay"))
        self.amsgrad = bool(hyper["amsgrad"])
        steps = [int(s) for s in hyper["steps"]]
        if len(steps) != len(self.params):
            raise ValueError(f"{who}: the state has steps of {len(steps)} parameters, the "
                             f"optimiser {len(self.params)}")
        self.steps = steps

    def _load_arrays(self, arrays):
        super()._load_arrays(arrays)
        if not self.amsgrad:
            self.max_exp_avg_sq = [None] * len(self.params)
        started = [m is not None for m in self.exp_avg]
        if started != [s > 0 for s in self.steps]:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the moment arrays and "
                             "the step counts disagree on which parameters have started")


class AdamW(TorchAdam):
    """PyTorch's AdamW (``torch.optim.AdamW``, Loshchilov & Hutter 2019): `TorchAdam` with
    the weight decay decoupled from the gradient, ``p *= 1 - lr * weight_decay`` before
    the Adam step (default weight_decay 0.01, as PyTorch's)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """PyTorch's RMSprop (``torch.optim.RMSprop``, centered=False), the optimiser of the
    Neural Turing Machine paper and of its copy-task recipes (lr 1e-4, alpha 0.95,
    momentum 0.9). Per step:

        s = alpha * s + (1 - alpha) * g^2                (s starts at zero)
        d = g / (sqrt(s) + eps)
        b = momentum * b + d;  p -= lr * b               (momentum > 0; b starts at zero)
        p -= lr * d                                      (momentum == 0)
    """

    slots = ("square_avg", "momentum_buffer")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0):
        super().__init__(params)
        if not 0.0 <= alpha < 1.0 or not 0.0 <= momentum < 1.0 or lr <= 0 or eps <= 0:
            raise ValueError(f"RMSprop: need lr > 0, eps > 0, 0 <= alpha < 1 and "
                             f"0 <= momentum < 1; got lr={lr}, alpha={alpha}, eps={eps}, "
                             f"momentum={momentum}")
        self.lr, self.alpha, self.eps = float(lr), float(alpha), float(eps)
        self.momentum = float(momentum)
        self.square_avg = [None] * len(self.params)
        self.momentum_buffer = [None] * len(self.params)

    def update(self, k, p, g):
        if self.square_avg[k] is None:
            self.square_avg[k] = np.zeros_like(p)
            self.momentum_buffer[k] = np.zeros_like(p)
        s, b = self.square_avg[k], self.momentum_buffer[k]
        s *= self.alpha
        s += (1.0 - self.alpha) * g * g
        d = g / (np.sqrt(s) + self.eps)
        if self.momentum:
            b *= self.momentum
            b += d
            d = b
        p -= self.lr * d

    def _hyper(self):
        return {"type": "RMSprop", "lr": self.lr, "alpha": self.alpha, "eps": self.eps,
                "momentum": self.momentum}

    def _load_hyper(self, hyper):
        self.lr, self.alpha, self.eps, self.momentum = (
            float(hyper[k]) for k in ("lr", "alpha", "eps", "momentum"))
