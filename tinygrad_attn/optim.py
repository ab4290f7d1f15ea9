"""Optimisers and gradient clipping, exactly as *Deep Learning from Scratch 2* updates.

Each optimiser holds a list of parameters (Variables with ``requires_grad``); `step()`
updates every parameter that has a gradient, in place on ``p.data`` and in its own dtype
(a float32 parameter stays float32: scalars are Python floats, never float64 arrays), so
the same weights and gradients follow the book's trajectory bit for bit. A parameter
whose ``grad`` is None (unused in the last backward) is skipped.

    opt = Adam(model.parameters())
    model.zero_grad(); loss = model.loss(xs, ts); loss.backward()
    clip_grad_norm_(model.parameters(), 5.0)
    opt.step()

Beyond the book: `RMSprop` (PyTorch's update, with momentum: the Neural Turing Machine
paper's optimiser) and `clip_grad_value_` (each entry clipped on its own, as the NTM
implementations clip).
"""
from __future__ import annotations

import math

import numpy as np

from .tape import Variable

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "clip_grad_norm_", "clip_grad_value_"]


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


class SGD(Optimizer):
    """``p -= lr * g``."""

    def __init__(self, params, lr=0.01):
        super().__init__(params)
        self.lr = float(lr)

    def update(self, k, p, g):
        p -= self.lr * g

    def _hyper(self):
        return {"type": "SGD", "lr": self.lr}

    def _load_hyper(self, hyper):
        self.lr = float(hyper["lr"])


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

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999):
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


def clip_grad_norm_(params, max_norm):
    """The book's global-norm clipping; returns the total norm (a float).

    ``total = sqrt(sum of every squared gradient entry)``, ``rate = max_norm / (total +
    1e-6)``; if ``rate < 1`` every gradient is multiplied by ``rate``. The sum runs in the
    gradients' dtype, as the book's does. Each scaled gradient becomes a new array (a
    gradient may be a read-only view, or shared by two tensors, and must be scaled once).
    """
    grads = [p for p in params if p.grad is not None]
    total = 0
    for p in grads:
        total += np.sum(p.grad.data ** 2)
    total = np.sqrt(total)
    rate = max_norm / (total + 1e-6)
    if rate < 1:
        for p in grads:
            p.grad = Variable(p.grad.data * rate, requires_grad=False)
    return float(total)


def clip_grad_value_(params, clip_value):
    """Clip every gradient entry to [-clip_value, clip_value] (``torch.nn.utils.
    clip_grad_value_``); returns the largest absolute entry before clipping (a float).
    Clipped gradients become new arrays, as in `clip_grad_norm_`."""
    if not clip_value > 0:
        raise ValueError(f"clip_grad_value_: clip_value must be > 0, got {clip_value}")
    largest = 0.0
    for p in params:
        if p.grad is None:
            continue
        g = p.grad.data
        top = float(np.max(np.abs(g))) if g.size else 0.0
        largest = max(largest, top)
        if top > clip_value:
            p.grad = Variable(np.clip(g, -clip_value, clip_value), requires_grad=False)
    return largest
