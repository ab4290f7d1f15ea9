"""The book's optimisers and gradient clipping (NumPy only, updates in place)."""

import math

import numpy as np

__all__ = ["SGD", "Adam", "clip_grads"]


class SGD:
    """``p -= lr * g`` for every parameter, in place."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


class Adam:
    """Adam as in the book: at step t,
    ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m += (1 - beta1) (g - m)``, ``v += (1 - beta2) (g^2 - v)``,
    ``p -= lr_t * m / (sqrt(v) + 1e-7)`` (in place)."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]

        self.iter += 1
        # Python floats (not NumPy float64 scalars) so float32 arrays stay float32.
        lr_t = self.lr * math.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        b1 = 1.0 - self.beta1
        b2 = 1.0 - self.beta2

        for p, g, m, v in zip(params, grads, self.m, self.v):
            m += b1 * (g - m)
            v += b2 * (g ** 2 - v)
            p -= lr_t * m / (np.sqrt(v) + 1e-7)


def clip_grads(grads, max_norm):
    """Global-norm clipping: ``total = sqrt(sum of all squared grads)``,
    ``rate = max_norm / (total + 1e-6)``; if ``rate < 1`` every grad is
    multiplied by ``rate`` in place.  Returns the total norm (float)."""
    # Accumulated in the gradients' own dtype, as the book does.
    total_norm = 0
    for g in grads:
        total_norm += np.sum(g ** 2)
    total_norm = np.sqrt(total_norm)

    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for g in grads:
            g *= rate
    return float(total_norm)
