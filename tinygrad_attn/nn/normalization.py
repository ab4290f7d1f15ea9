"""Batch normalisation layers: BatchNorm1d ((N, C) or (N, C, L)) and BatchNorm2d
((N, C, H, W)), PyTorch's semantics on `F.batch_norm`.

In training mode (``module.train()``, the default) a layer normalises with the batch's
statistics and updates its running mean and variance (buffers, saved in `state_dict`);
in evaluation mode (``module.eval()``) it normalises with the running ones, so a single
example gives the same answer whatever batch it comes in. Whether ops are recorded
(`no_grad`) does not change which: the mode does.

The parameters are named ``gamma`` (scale, init 1) and ``beta`` (shift, init 0) as in
`LayerNorm` and the book (PyTorch: ``weight``, ``bias``). ``momentum`` is PyTorch's, the
weight of the new batch: ``running = (1 - momentum) running + momentum batch`` (the
book's first volume writes the same update with its momentum 0.9 on the old value);
``momentum=None`` averages every batch so far equally.
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        super().__init__()
        who = type(self).__name__
        if int(num_features) != num_features or num_features < 1:
            raise ValueError(f"{who}: num_features must be a positive integer, got "
                             f"{num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{who}: momentum must be in [0, 1] or None, got {momentum}")
        if not eps > 0:
            raise ValueError(f"{who}: eps must be > 0, got {eps}")
        C = self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.gamma = Parameter(np.ones(C, dtype)) if affine else None
        self.beta = Parameter(np.zeros(C, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(C, dtype))
            self.register_buffer("running_var", np.ones(C, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x):
        who = type(self).__name__
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            want = " or ".join(f"{d}-D" for d in self._ndims)
            raise ValueError(f"{who}({self.num_features}): expected a {want} input with "
                             f"{self.num_features} channels on axis 1, got shape {x.shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:     # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None,
                            self.running_var if track else None, self.gamma, self.beta,
                            training=batch_stats, momentum=momentum, eps=self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C (statistics over N, or
    over N and L). ``BatchNorm1d(C, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, dtype=float32)``."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C (statistics over N, H, W)."""

    _ndims = (4,)
