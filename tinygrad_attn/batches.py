"""Batch streams the training loop draws from, resumable at any step.

A stream has `steps_per_epoch`, `next()` (the next batch: a tuple of arrays that the task's
loss takes) and PyTorch's `state_dict()` / `load_state_dict()` pair in the checkpoint slot
shape ``{"hyper": {JSON}, "arrays": {name: ndarray}}``: a stream restored from the state
taken after step k yields exactly the batches an uninterrupted stream yields after step k,
mid-epoch too. The copy task's stream is in tasks/copy.py; this is the book's.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ShuffledRows"]


class ShuffledRows:
    """The book's batching (`Trainer.fit`, chapter 8): every epoch a permutation of the
    rows, ``np.random.permutation`` drawn from a `numpy.random.RandomState(seed)` of our own
    (NumPy's global generator is neither used nor touched), then ``len // batch_size``
    batches in that order; the remainder is skipped, as in the book.

    `arrays` are indexed along axis 0 together (``(x, t)``); `next()` returns the tuple
    of their rows for one batch."""

    def __init__(self, arrays, batch_size, seed=0):
        self.arrays = tuple(arrays)
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            raise ValueError(f"ShuffledRows: arrays of {[len(a) for a in self.arrays]} rows; "
                             "they must have the same number")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"ShuffledRows: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        if n < batch_size:
            raise ValueError(f"ShuffledRows: {n} rows, fewer than one batch of {batch_size}")
        self.n, self.batch_size = n, int(batch_size)
        self.rng = np.random.RandomState(seed)
        self._perm = None            # the current epoch's permutation (None between epochs)
        self._epoch_start = None     # the generator's state before it was drawn
        self._position = 0           # batches of the current epoch already drawn

    @property
    def steps_per_epoch(self):
        return self.n // self.batch_size

    def next(self):
        if self._perm is None:
            self._epoch_start = self.rng.get_state(legacy=False)
            self._perm = self.rng.permutation(self.n)     # the book's np.random.permutation
            self._position = 0
        B, i = self.batch_size, self._position
        rows = self._perm[i * B:(i + 1) * B]
        self._position += 1
        if self._position == self.steps_per_epoch:
            self._perm = None
        return tuple(a[rows] for a in self.arrays)

    # --- resuming -----------------------------------------------------------------------
    def state_dict(self):
        """Between epochs: the generator's state. Mid-epoch: its state before this epoch's
        permutation and how many batches of it were drawn."""
        if self._perm is None:
            st, position = self.rng.get_state(legacy=False), 0
        else:
            st, position = self._epoch_start, self._position
        return {"hyper": {"type": "ShuffledRows", "rows": self.n,
                          "batch_size": self.batch_size, "position": position,
                          "bit_generator": st["bit_generator"], "pos": int(st["state"]["pos"]),
                          "has_gauss": int(st["has_gauss"]), "gauss": float(st["gauss"])},
                "arrays": {"key": np.array(st["state"]["key"], dtype=np.uint32)}}

    def load_state_dict(self, state):
        hyper, arrays = state["hyper"], state["arrays"]
        if hyper.get("type") != "ShuffledRows":
            raise ValueError(f"ShuffledRows.load_state_dict: the state is of a "
                             f"{hyper.get('type')!r}")
        for key, mine in (("rows", self.n), ("batch_size", self.batch_size)):
            if hyper.get(key) != mine:
                raise ValueError(f"ShuffledRows.load_state_dict: saved for {key} "
                                 f"{hyper.get(key)!r}, this stream has {mine}")
        position = hyper.get("position")
        if not isinstance(position, int) or not 0 <= position < self.steps_per_epoch:
            raise ValueError(f"ShuffledRows.load_state_dict: position {position!r} is not "
                             f"a batch of an epoch of {self.steps_per_epoch}")
        key = arrays.get("key")
        if key is None or key.shape != (624,):
            raise ValueError("ShuffledRows.load_state_dict: the generator's key (624 words) "
                             "is missing")
        self.rng.set_state({"bit_generator": hyper["bit_generator"],
                            "state": {"key": key.astype(np.uint32), "pos": hyper["pos"]},
                            "has_gauss": hyper["has_gauss"], "gauss": hyper["gauss"]})
        self._perm, self._position = None, 0
        if position:
            self._epoch_start = self.rng.get_state(legacy=False)
            self._perm = self.rng.permutation(self.n)
            self._position = position
