"""Checkpoints: a module's arrays in one `.npz` file, written atomically, never pickled.

    from tinygrad_attn import checkpoint
    checkpoint.save("model.npz", model.state_dict(), step=1200, vocab="0123456789-_")
    state, meta = checkpoint.load("model.npz")
    model.load_state_dict(state)

`save` writes to a temporary file in the same folder and renames it over the target only
once everything is on disk, so a crash mid-write leaves the old checkpoint intact. `load`
reads with `allow_pickle=False`: a checkpoint can hold arrays and JSON metadata, never code.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

_META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as one (names the file and what is wrong)."""


def save(path, state, **meta):
    """Write `state` (name -> array) and JSON-serialisable `meta` to `path` atomically."""
    path = pathlib.Path(path)
    arrays = {}
    for name, value in state.items():
        if name == _META_KEY:
            raise ValueError(f"save: {_META_KEY!r} is reserved for the metadata")
        arr = np.asarray(value.data if hasattr(value, "data") else value)
        if arr.dtype == object:
            raise TypeError(f"save: {name!r} is not a numeric array (dtype object)")
        arrays[name] = arr
    try:
        meta_text = json.dumps(meta)
    except TypeError as e:
        raise TypeError(f"save: metadata must be JSON-serialisable: {e}") from None
    arrays[_META_KEY] = np.array(meta_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path):
    """Read a checkpoint written by `save`: returns `(state, meta)`."""
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {name: npz[name] for name in npz.files if name != _META_KEY}
            meta_text = str(npz[_META_KEY]) if _META_KEY in npz.files else "{}"
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({e})") from None
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({e})") from None
    return state, meta
