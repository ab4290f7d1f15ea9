"""Optimisers, learning-rate schedules and gradient clipping.

    opt = Adam(model.parameters())                  # the book's Adam, bit for bit
    model.zero_grad(); loss = model.loss(xs, ts); loss.backward()
    clip_grad_norm_(model.parameters(), 5.0)
    opt.step()

    optimizers.py    SGD (momentum, nesterov, weight_decay), Adam (the book's), TorchAdam and
                     AdamW (PyTorch's, eps and weight decay), RMSprop (PyTorch's)
    lr_scheduler.py  LambdaLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
                     PolynomialLR, CosineAnnealingLR, InverseSqrtLR (the Transformer's),
                     SequentialLR (warm-up, then decay)
    clip.py          clip_grad_norm_ (the book's), clip_grad_value_

Optimisers and schedulers save and resume bit for bit: `state_dict()` is ``{"hyper": {JSON
scalars}, "arrays": {name: ndarray}}`` for both. The reference: docs/nn.md.
"""
from .clip import clip_grad_norm_, clip_grad_value_
from .lr_scheduler import (ConstantLR, CosineAnnealingLR, ExponentialLR, InverseSqrtLR,
                           LambdaLR, LinearLR, LRScheduler, MultiStepLR, PolynomialLR,
                           SequentialLR, StepLR)
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop, TorchAdam

__all__ = ["Optimizer", "SGD", "Adam", "TorchAdam", "AdamW", "RMSprop", "clip_grad_norm_",
           "clip_grad_value_", "LRScheduler", "LambdaLR", "StepLR", "MultiStepLR",
           "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "InverseSqrtLR", "SequentialLR"]
