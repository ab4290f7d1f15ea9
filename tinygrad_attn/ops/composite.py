"""Ops written as compositions of the primitives: no new gradient rule.

layer_norm (its normalisation is the one measured primitive, ops/normalization.py)
masked_softmax  softplus  gelu  cosine_similarity  roll  circular_convolution
dropout  binary_cross_entropy_with_logits, and the mask builders causal_mask, padding_mask
(plain NumPy).

Each is a few lines of forward code over existing ops, so its first and second derivatives
come from rules that are already proved (tests/ops/test_composite.py checks them again
against finite differences, first and second order). An op becomes a primitive only when a
measurement says so (docs/autograd.md, "Compositions and the primitives"); here one
did: layer_norm's normalisation, proved equal to `layer_norm_composed`.
"""
from __future__ import annotations

import numpy as np

from ..tape import Variable, as_operand, as_variable
from ._axes import normalize_axis
from ._operands import operands
from .arithmetic import mul
from .elementwise import exp, log, relu, tanh
from .indexing import check_mask_shape, getitem, masked_fill, where
from .normalization import normalize
from .reduction import mean, sum as _sum
from .shape import concat, expand_dims, stack
from .softmax import softmax

__all__ = ["layer_norm", "layer_norm_composed", "masked_softmax", "softplus", "gelu", "cosine_similarity", "roll",
           "circular_convolution", "dropout", "binary_cross_entropy_with_logits",
           "causal_mask", "padding_mask"]


_pair = operands   # two operands as Variables, dtypes as in `a * b`


def layer_norm(x, gamma=None, beta=None, axis=-1, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over `axis` (biased variance, as Ba et al. and PyTorch),
    then ``* gamma + beta`` when given (shape: x's along `axis`, broadcasting).

    The normalisation is the primitive `normalize` (ops/normalization.py: measured, and
    proved equal to `layer_norm_composed`); the affine part is ordinary ops.
    """
    y = normalize(x, axis, eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def layer_norm_composed(x, gamma=None, beta=None, axis=-1, eps=1e-5):
    """`layer_norm` as a composition of mean, sub, mul, pow: the reference the primitive is
    proved against (and what layer_norm was before the measurement)."""
    (axis,) = normalize_axis(axis, x.ndim, "layer_norm")
    d = x - mean(x, axis, keepdims=True)
    var = mean(d * d, axis, keepdims=True)
    y = d * (var + eps) ** -0.5
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def masked_softmax(x, mask, axis=-1):
    """softmax over `axis` of the entries where `mask` is False; exactly 0 where it is True.

    `mask` (bool, broadcasting to x.shape) marks what to leave out, as in `masked_fill`.
    Masked scores are replaced by a finite very negative number (half the dtype's most
    negative, so that subtracting the row max cannot overflow) and the result is multiplied
    out with `where`, so masked entries are exactly 0 and get exactly 0 gradient whatever
    the scores. A row whose every entry is masked is defined as all zeros (it attends to
    nothing; its context vector is 0) with zero gradient, never NaN.
    """
    mask = mask.data if isinstance(mask, Variable) else np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_softmax: mask must be a bool array, got dtype {mask.dtype}")
    check_mask_shape(mask, x.shape, "masked_softmax", "scores")
    fill = -np.finfo(x.dtype).max / 2
    return where(mask, 0.0, softmax(masked_fill(x, mask, fill), axis))


def softplus(x):
    """log(1 + e^x) as relu(x) + log(1 + e^-|x|): no overflow for any |x|.

    -|x| is written x - 2 relu(x), whose derivative at 0 (relu'(0) = 0) is 1, so the
    composition's derivative at 0 is sigmoid(0) = 1/2, the true one. For x below about
    -37 (float64) the result is 0 instead of e^x (absolute error under 1e-16).
    """
    return relu(x) + log(1.0 + exp(x - 2.0 * relu(x)))


def binary_cross_entropy_with_logits(logits, targets):
    """mean(-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))) = mean(softplus(z) - t z):
    the bit-wise loss, finite for logits of any size. Targets in [0, 1] are usually data
    (an array), but a Variable works too (the loss is linear in them)."""
    t = targets if isinstance(targets, Variable) else as_operand(targets, logits)
    if t.shape != logits.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: logits {logits.shape} and "
                         f"targets {t.shape} differ in shape")
    return mean(softplus(logits) - logits * t)


def gelu(x):
    """GELU, tanh form (Hendrycks & Gimpel): x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)))


def cosine_similarity(a, b, axis=-1, eps=1e-8):
    """a . b / (sqrt(|a|^2 + eps) sqrt(|b|^2 + eps)) along `axis`, broadcasting a and b.

    The eps inside each root keeps the value and every derivative finite for a zero vector
    (which then has similarity 0); for |a|^2, |b|^2 >> eps it is the exact cosine up to a
    relative O(eps / |a|^2).
    """
    a, b = _pair(a, b)
    dot = _sum(a * b, axis)
    na = _sum(a * a, axis) + eps
    nb = _sum(b * b, axis) + eps
    return dot * (na * nb) ** -0.5


def roll(x, shift, axis=-1):
    """np.roll along one axis: out[i] = x[(i - shift) mod n]; a concat of two slices."""
    (axis,) = normalize_axis(axis, x.ndim, "roll")
    n = x.shape[axis]
    k = int(shift) % n if n else 0
    if k == 0:
        return as_variable(x)
    head = (slice(None),) * axis
    return concat([getitem(x, head + (slice(n - k, None),)),
                   getitem(x, head + (slice(0, n - k),))], axis)


def circular_convolution(w, s):
    """out[..., i] = sum_j s[..., j] * w[..., (i - (j - K//2)) mod n] over the last axis.

    `s` (..., K), K odd, weighs the shifts -K//2 .. K//2 in that order (the NTM's shift
    weighting: with K = 3, s = (s_-1, s_0, s_+1), and s_+1 = 1 moves the focus one slot
    forward). The K shifted copies are stacked and weighted in one product.
    """
    w, s = _pair(w, s)
    K = s.shape[-1]
    if K % 2 != 1:
        raise ValueError(f"circular_convolution: the shift kernel must have an odd length, "
                         f"got s of shape {s.shape}")
    shifted = stack([roll(w, j - K // 2, -1) for j in range(K)], -2)   # (..., K, n)
    return _sum(expand_dims(s, -1) * shifted, -2)


def dropout(x, p, rng, training=True):
    """x with each entry zeroed with probability `p` and the rest scaled by 1/(1-p).

    `rng` (a numpy Generator) draws the mask, so a run is reproducible from its seed.
    `training` False makes it the identity (no mask is drawn): evaluation. As in PyTorch,
    the default is True whether or not ops are being recorded; `nn.Dropout` passes its
    module's mode (``module.train()`` / ``module.eval()``). The mask is a constant: the
    gradient is gy * mask / (1 - p).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"dropout: training must be True or False, got {training!r}")
    if not training or p == 0.0:
        return x
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout: rng must be a numpy.random.Generator, got "
                        f"{type(rng).__name__}")
    keep = rng.random(x.shape) >= p
    return mul(x, as_operand(keep / (1.0 - p), x))


def causal_mask(T_query, T_key=None):
    """(T_query, T_key) bool, True above the diagonal: query step t may not see key steps
    after t (the masked-out entries, as `masked_softmax` takes them)."""
    T_key = T_query if T_key is None else T_key
    return np.triu(np.ones((T_query, T_key), dtype=bool), k=1 + T_key - T_query)


def padding_mask(ids, pad_id):
    """(N, 1, 1, T) bool, True where `ids` (N, T) is `pad_id` (None: nothing padded, all
    False): broadcasts against attention scores (N, heads, T_query, T)."""
    ids = ids.data if isinstance(ids, Variable) else np.asarray(ids)
    if pad_id is None:
        return np.zeros((ids.shape[0], 1, 1, ids.shape[1]), dtype=bool)
    return (ids == pad_id)[:, None, None, :]
