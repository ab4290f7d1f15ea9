"""Decoding a seq2seq model that follows the model protocol (docs/protocol.md).

The framework knows a model only through two calls:

    memory = model.encode(xs)                                   # e.g. (hs_enc, h)
    scores, state, extras = model.decode_step(ids, memory, state)

`ids (N, 1)` are the previous tokens, `scores (N, 1, V)` the next token's scores, `state`
None at the first step and then whatever the model returned, `extras` a dict of per-step
maps the model produced (``{"attention": (N, 1, Te)}``). Everything here runs under
`no_grad()`; rows are decoded in blocks of `batch_size` (arrays that stay cache-sized make
5 000 rows about 1.5x faster than one batch; the result does not depend on it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tape import Variable, no_grad

__all__ = ["Decoded", "greedy"]


@dataclass
class Decoded:
    """What a decode produced, row for row.

    ids        (N, length) int64: the generated tokens (the start token not included).
    attention  (N, length, Te) or None: what each output step attended to, in the model's
               own decode (its ``extras["attention"]``), for heatmaps.
    extras     every per-step map the model returned, by name, each (N, length, ...).
    logprob    (N,): the log-probability the model gives the generated sequence.
    """

    ids: np.ndarray
    attention: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    logprob: np.ndarray | None = None


def _ids(xs, what):
    arr = xs.data if isinstance(xs, Variable) else np.asarray(xs)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what}: token ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{what}: expected token ids of shape (N, T), got {arr.shape}")
    return arr


def _log_softmax(scores):
    z = scores - scores.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def greedy(model, xs, start_id, length, *, batch_size=256):
    """Greedy decoding: each step's argmax is fed back as the next input. -> `Decoded`."""
    xs = _ids(xs, "generate: xs")
    if batch_size < 1:
        raise ValueError(f"generate: batch_size must be at least 1, got {batch_size}")
    if length < 0:
        raise ValueError(f"generate: length must be at least 0, got {length}")
    blocks = [_greedy_rows(model, xs[i:i + batch_size], start_id, length)
              for i in range(0, len(xs), batch_size)]
    if not blocks:  # no rows: still the right shapes
        blocks = [_greedy_rows(model, xs[:0], start_id, length)]
    return join(blocks)


def join(blocks):
    """One `Decoded` from row blocks (in order)."""
    extras = {k: np.concatenate([b.extras[k] for b in blocks]) for k in blocks[0].extras}
    return Decoded(ids=np.concatenate([b.ids for b in blocks]),
                   attention=extras.get("attention"), extras=extras,
                   logprob=np.concatenate([b.logprob for b in blocks]))


def _greedy_rows(model, xs, start_id, length):
    N = xs.shape[0]
    out = np.empty((N, length), dtype=np.int64)
    logprob = np.zeros(N)
    maps = {}
    with no_grad():
        memory = model.encode(xs)
        ids = np.full((N, 1), start_id, dtype=np.int64)
        state = None
        # at length 0 one step still runs, so the extras have their shapes (with 0 steps)
        for k in range(max(length, 1)):
            scores, state, extras = model.decode_step(ids, memory, state)
            s = scores.data[:, -1]
            ids = s.argmax(axis=-1)[:, None]
            for name, v in extras.items():
                maps.setdefault(name, []).append(v.data if isinstance(v, Variable) else v)
            if k < length:
                out[:, k] = ids[:, 0]
                logprob += np.take_along_axis(_log_softmax(s), ids, axis=-1)[:, 0]
    extras = {name: np.concatenate(v, axis=1)[:, :length] for name, v in maps.items()}
    return Decoded(ids=out, attention=extras.get("attention"), extras=extras,
                   logprob=logprob)
