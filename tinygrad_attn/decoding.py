"""Decoding a seq2seq model that follows the model protocol (docs/protocol.md).

The framework knows a model only through two calls:

    memory = model.encode(xs)                                   # e.g. (hs_enc, h)
    scores, state, extras = model.decode_step(ids, memory, state)

`ids (N, 1)` are the previous tokens, `scores (N, 1, V)` the next token's scores, `state`
None at the first step and then whatever the model returned, `extras` a dict of per-step
maps the model produced (``{"attention": (N, 1, Te)}``). Everything here runs under
`no_grad()` (no tape) and `ops.recurrent.frozen_weights()` (fused LSTMs lay their weights
out once per decode and reuse their step buffers), with a `Module` model in evaluation
mode (``model.eval()``: no dropout, batch norm on its running statistics; each module's
own mode is restored afterwards, whatever it was); rows are decoded in blocks of
`batch_size` (arrays that stay cache-sized make 5 000 rows about 1.5x faster than one batch;
the result does not depend on it).

`greedy` feeds each step's argmax back in. `beam_search` keeps the `beam` best partial
sequences per row (by summed log-probability) and returns the best one; it knows nothing of
the model either: the memory and the state are re-indexed along axis 0 (`take_rows`) to
follow the surviving hypotheses. Both compute each step's log-softmax in the scores' dtype
and sum it in float64; beam search breaks ties of the summed log-probability by the raw
score (log-softmax rounds monotonically, so it can only merge, never swap, two scores), which
makes a beam of 1 pick exactly greedy's argmax tokens (a test proves it).

Floating-point sums in BLAS depend on how many rows a matmul has (one row takes another
code path than several), so `logprob` and the attention maps can differ in their last bits
with `batch_size`; the tokens do not, short of an exact near-tie.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from .nn.module import Module
from .ops.recurrent import frozen_weights
from .tape import Variable, no_grad

__all__ = ["Decoded", "greedy", "beam_search", "take_rows", "evaluating"]


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


@contextlib.contextmanager
def evaluating(model):
    """`model` (a `Module`; anything else is left alone) in evaluation mode inside the
    block; afterwards every module has the mode it had before (a model with some modules
    in training and some in evaluation gets exactly that back)."""
    modules = [m for _, m in model.named_modules()] if isinstance(model, Module) else []
    before = [m.training for m in modules]
    for m in modules:
        m.training = False
    try:
        yield model
    finally:
        for m, mode in zip(modules, before):
            m.training = mode


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
    with frozen_weights(), evaluating(model):
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


def take_rows(tree, rows):
    """`tree` (a model's memory or state: Variables, arrays and None nested in tuples, lists
    and dicts) with every array re-indexed along axis 0 by `rows`."""
    if tree is None:
        return None
    if isinstance(tree, Variable):
        return Variable(tree.data[rows], requires_grad=False)
    if isinstance(tree, np.ndarray):
        return tree[rows]
    if isinstance(tree, (tuple, list)):
        return type(tree)(take_rows(t, rows) for t in tree)
    if isinstance(tree, dict):
        return {k: take_rows(v, rows) for k, v in tree.items()}
    raise TypeError(f"beam search: cannot re-index a {type(tree).__name__} in the model's "
                    "memory or state along axis 0 (expected Variables, arrays, None, and "
                    "tuples / lists / dicts of them)")


def beam_search(model, xs, start_id, length, *, beam=4, batch_size=256, end_id=None,
                length_norm=0.0):
    """Beam search: per row, the `beam` most probable partial sequences are extended by
    every token and the `beam` best of those kept; the best after `length` steps is returned
    as a `Decoded` (ids, attention and extras along its own path, logprob its summed
    log-probability). Ties go to the larger raw score, then the earlier hypothesis, then the
    smaller token id. Unlike an exhaustive search, a beam can lose the greedy sequence (a
    prefix can fall out of the beam while its continuation would have won), so its answer is
    not guaranteed to be as probable as greedy's; with ``beam >= V ** (length - 1)`` it is
    exhaustive and finds the most probable sequence (a test proves it).

    end_id       a token that ends a sequence (None: every sequence has `length` tokens, as
                 in the book's tasks). An ended hypothesis continues with `end_id` at no cost.
    length_norm  alpha of the final ranking ``logprob / length ** alpha`` (GNMT's length
                 normalisation; lengths count up to and including `end_id`). Off (0.0) by
                 default: without `end_id` all hypotheses have the same length and it could
                 not change the answer anyway.
    Rows are decoded `batch_size` at a time (each with `beam` hypotheses); the result does
    not depend on `batch_size`.
    """
    xs = _ids(xs, "beam_search: xs")
    if not isinstance(beam, (int, np.integer)) or isinstance(beam, bool) or beam < 1:
        raise ValueError(f"beam_search: beam must be an integer of at least 1, got {beam!r}")
    if batch_size < 1:
        raise ValueError(f"beam_search: batch_size must be at least 1, got {batch_size}")
    if length < 0:
        raise ValueError(f"beam_search: length must be at least 0, got {length}")
    if length_norm < 0:
        raise ValueError(f"beam_search: length_norm must be at least 0, got {length_norm}")
    if length == 0:      # nothing to search; greedy gives the empty answer with its shapes
        return greedy(model, xs, start_id, 0, batch_size=batch_size)
    with frozen_weights(), evaluating(model):   # as in greedy (weights laid out once)
        blocks = [_beam_rows(model, xs[i:i + batch_size], start_id, length, int(beam),
                             end_id, float(length_norm))
                  for i in range(0, len(xs), batch_size)]
        if not blocks:
            blocks = [_beam_rows(model, xs[:0], start_id, length, int(beam), end_id,
                                 float(length_norm))]
    return join(blocks)


def _beam_rows(model, xs, start_id, length, K, end_id, alpha):
    N = xs.shape[0]
    with no_grad():
        # hypothesis j of row n lives in row n*K + j; all start as the start token, and only
        # hypothesis 0 is alive at first (the others at -inf), so step 1 draws K distinct ones
        memory = take_rows(model.encode(xs), np.repeat(np.arange(N), K))
        ids = np.full((N * K, 1), start_id, dtype=np.int64)
        score = np.full((N, K), -np.inf)
        score[:, 0] = 0.0
        done = np.zeros(N * K, dtype=bool)
        lengths = np.zeros(N * K, dtype=np.int64)
        state = None
        history = []        # per step: (source row of each survivor, its token, the step's maps)
        for _ in range(length):
            scores, state, extras = model.decode_step(ids, memory, state)
            lp = _log_softmax(scores.data[:, -1])                      # (N*K, V)
            V = lp.shape[-1]
            if end_id is not None and done.any():
                lp[done] = -np.inf
                lp[done, end_id] = 0.0
            cand = (score.reshape(N * K, 1) + lp).reshape(N, K * V)
            raw = scores.data[:, -1].reshape(N, K * V)
            # best first: by summed logprob, ties by raw score, then hypothesis and token
            order = np.lexsort((-raw, -cand), axis=-1)[:, :K]          # (N, K)
            src = (np.arange(N)[:, None] * K + order // V).reshape(-1)
            token = (order % V).reshape(-1)
            score = np.take_along_axis(cand, order, axis=1)
            lengths = lengths[src] + ~done[src]
            done = done[src] | ((token == end_id) if end_id is not None else False)
            maps = {name: (v.data if isinstance(v, Variable) else np.asarray(v))
                    for name, v in extras.items()}
            history.append((src, token, maps))
            state = take_rows(state, src)
            ids = token[:, None]
        best = np.zeros(N, dtype=np.int64)
        if alpha and N:
            best = np.argmax(score / lengths.reshape(N, K).astype(np.float64) ** alpha, axis=1)
        row = np.arange(N) * K + best
        out = np.empty((N, length), dtype=np.int64)
        steps = {name: [] for name in history[0][2]}
        for t in range(length - 1, -1, -1):        # follow the winner's path back
            src, token, maps = history[t]
            out[:, t] = token[row]
            row = src[row]
            for name, m in maps.items():
                steps[name].append(m[row])        # step t's maps of the row that entered it
        extras = {name: np.concatenate(v[::-1], axis=1) for name, v in steps.items()}
        logprob = np.take_along_axis(score, best[:, None], axis=1)[:, 0]
    return Decoded(ids=out, attention=extras.get("attention"), extras=extras,
                   logprob=logprob)
