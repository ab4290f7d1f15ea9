"""Gradient clipping: the book's global-norm clipping and PyTorch's entry-wise clipping.

A clipped gradient becomes a new array (a gradient may be a read-only view, or shared by
two tensors, and must be changed once); parameters without a gradient are skipped.
"""
from __future__ import annotations

import numpy as np

from ..tape import Variable

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def clip_grad_norm_(params, max_norm):
    """The book's global-norm clipping; returns the total norm (a float).

    ``total = sqrt(sum of every squared gradient entry)``, ``rate = max_norm / (total +
    1e-6)``; if ``rate < 1`` every gradient is multiplied by ``rate``. The sum runs in the
    gradients' dtype, as the book's does. Each scaled gradient becomes a new array (a
    gradient may be a read-only view, or shared by two tensors, and must be scaled once).
    A `max_norm` that is not a number > 0 is refused (a negative one would flip every
    gradient's sign, NaN would switch clipping off).
    """
    if not max_norm > 0:      # (False for NaN too)
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm}")
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
