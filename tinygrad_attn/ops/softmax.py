"""softmax, log_softmax, softmax_cross_entropy: stable for inputs of any magnitude
(the max is subtracted before exp)."""
import numpy as np

from ..tape import Function, Variable
from ._axes import normalize_axis
from .elementwise import exp
from .reduction import sum as _sum


class Softmax(Function):
    def forward(self, x):
        y = np.exp(x - x.max(axis=self.axis, keepdims=True))
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):
        y = self.output()
        return y * (gy - _sum(gy * y, self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x):
        return _log_softmax_array(x, self.axis)

    def backward(self, gy):
        y = self.output()
        return gy - exp(y) * _sum(gy, self.axis, keepdims=True)


def _log_softmax_array(x, axis):
    # (x - m) - log(sum(exp(x - m))), not x - (m + log(...)): x - m is exact for the entries
    # that matter, while m + log(...) would round to the spacing of |m| (~1e-3 in float32
    # around 1e4).
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


class SoftmaxCrossEntropy(Function):
    """Mean over counted positions of -log softmax(logits)[target]."""

    def forward(self, x):
        # targets are data, not an input: what the rule needs of them is worked out here
        t, ii = self.targets, self.ignore_index
        self.counted = None if ii is None else t != ii
        t = t if self.counted is None else np.where(self.counted, t, 0)
        self.picked = t.reshape(t.shape[:self.axis] + (1,) + t.shape[self.axis:])
        self.count = t.size if self.counted is None else int(self.counted.sum())
        logp = np.take_along_axis(_log_softmax_array(x, self.axis), self.picked, self.axis)
        logp = logp.squeeze(self.axis)
        if self.counted is not None:
            logp = logp * self.counted
        # an all-ignored batch has loss 0 (and gradient 0), not 0/0
        return np.asarray(-logp.sum() / max(self.count, 1), dtype=x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        # the one-hot targets by one broadcast comparison (put_along_axis builds index
        # arrays in Python: most of this rule's time on a small batch)
        classes = np.arange(x.shape[self.axis]).reshape(
            [-1 if a == self.axis else 1 for a in range(x.ndim)])
        onehot = (classes == self.picked).astype(x.dtype)
        weight = np.full(self.picked.shape, 1.0 / max(self.count, 1), dtype=x.dtype)
        if self.counted is not None:
            weight *= np.expand_dims(self.counted, self.axis)
        return (softmax(x, self.axis) - onehot) * (gy * weight)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`; finite for any finite input."""
    (axis,) = normalize_axis(axis, x.ndim, "softmax")
    return Softmax(axis=axis)(x)


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed as x - logsumexp(x): finite for any finite input."""
    (axis,) = normalize_axis(axis, x.ndim, "log_softmax")
    return LogSoftmax(axis=axis)(x)


def softmax_cross_entropy(logits, targets, axis=-1, ignore_index=None):
    """Mean cross-entropy of integer `targets` under softmax(logits) along `axis`.

    `targets` has logits' shape without `axis`. Positions whose target is `ignore_index`
    count neither in the sum nor in the mean; if every position is ignored the loss is 0.
    """
    (axis,) = normalize_axis(axis, logits.ndim, "softmax_cross_entropy")
    t = targets.data if isinstance(targets, Variable) else np.asarray(targets)
    expected = logits.shape[:axis] + logits.shape[axis + 1:]
    if t.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: targets must be integers, got dtype {t.dtype}")
    if t.shape != expected:
        raise ValueError(f"softmax_cross_entropy: logits {logits.shape} (classes on axis {axis})"
                         f" need targets of shape {expected}, got {t.shape}")
    C = logits.shape[axis]
    live = t if ignore_index is None else t[t != ignore_index]
    if live.size and (live.min() < 0 or live.max() >= C):
        bad = live.min() if live.min() < 0 else live.max()
        raise IndexError(f"softmax_cross_entropy: target {bad} is outside [0, {C}) classes")
    return SoftmaxCrossEntropy(targets=t, axis=axis, ignore_index=ignore_index)(logits)

