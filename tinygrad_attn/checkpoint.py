"""Checkpoints: a module's arrays in one `.npz` file, written atomically, never pickled.

    from tinygrad_attn import checkpoint
    checkpoint.save("model.npz", model.state_dict(), step=1200, vocab="0123456789-_")
    state, meta = checkpoint.load("model.npz")
    model.load_state_dict(state)

`save` writes to a temporary file in the same folder and renames it over the target only
once everything is on disk, so a crash mid-write leaves the old checkpoint intact. `load`
reads with `allow_pickle=False`: a checkpoint can hold arrays and JSON metadata, never code.

Training checkpoints (what `training.Trainer` writes, `tinygrad-attn eval/translate` read) are
`save` files with a fixed layout on top:

    save_training(path, model, optimizer=opt, rng=random_state, epoch=3, step=1056, task={...})
    ckpt = read(path)              # Checkpoint: .meta, .params, .optimizer, .rng; validated
    model, ckpt = load_model(path) # rebuilt through the `tinygrad_attn.models` plug-ins

arrays ``param/<dotted name>`` (the model's state_dict), ``optim/<slot>.<k>`` (the optimiser's
state), ``rng/key`` (the shuffle generator's MT19937 key); metadata ``format``,
``format_version``, ``kind`` (the model's plug-in name), ``config`` (its constructor keywords),
``optimizer`` (its scalars), ``rng`` (the rest of the generator state) and whatever the caller
adds (epoch, step, history, the task's vocabulary...). A file of another program, a newer
format, or a truncated file is refused with an error naming the file and what is wrong.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

_META_KEY = "__meta__"
FORMAT = "tinygrad_attn.checkpoint"
FORMAT_VERSION = 1
_PARAM, _OPTIM, _RNG = "param/", "optim/", "rng/"


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


# --- training checkpoints ------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A validated training checkpoint. `meta` holds every JSON field (kind, config, epoch,
    step, the caller's own); `params` the model's arrays by dotted name; `optimizer` a state
    for `Optimizer.load_state_dict` (or None); `rng` a state for
    ``numpy.random.RandomState.set_state`` (or None)."""

    path: pathlib.Path
    meta: dict
    params: dict
    optimizer: dict | None = None
    rng: dict | None = None

    @property
    def kind(self):
        return self.meta["kind"]

    @property
    def config(self):
        return self.meta["config"]


def save_training(path, model, *, optimizer=None, rng=None, **meta):
    """Save `model` (its ``kind``, ``config()`` and parameters), the optimiser's state and a
    `numpy.random.RandomState`'s state, with JSON `meta`, atomically. Returns the path."""
    for key in ("format", "format_version", "kind", "config", "optimizer", "rng"):
        if key in meta:
            raise ValueError(f"save_training: {key!r} is written by save_training itself")
    kind = getattr(type(model), "kind", None)
    if not kind or not hasattr(model, "config"):
        raise TypeError(f"save_training: {type(model).__name__} does not follow the model "
                        "protocol (a class attribute `kind` and a `config()` method)")
    arrays = {_PARAM + name: value for name, value in model.state_dict().items()}
    head = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "config": model.config()}
    if optimizer is not None:
        state = optimizer.state_dict()
        head["optimizer"] = state["hyper"]
        arrays.update({_OPTIM + name: a for name, a in state["arrays"].items()})
    if rng is not None:
        if not isinstance(rng, np.random.RandomState):
            raise TypeError(f"save_training: rng must be a numpy.random.RandomState, got "
                            f"{type(rng).__name__}")
        st = rng.get_state(legacy=False)
        arrays[_RNG + "key"] = st["state"]["key"]
        head["rng"] = {"bit_generator": st["bit_generator"], "pos": int(st["state"]["pos"]),
                       "has_gauss": int(st["has_gauss"]), "gauss": float(st["gauss"])}
    return save(path, arrays, **head, **meta)


def read(path):
    """Read and validate a training checkpoint -> `Checkpoint`. CheckpointError (naming the
    file) for a file that is not one, is truncated, incomplete, or of a newer format."""
    path = pathlib.Path(path)
    arrays, meta = load(path)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is a {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        what = (f"its format is {meta['format']!r}" if "format" in meta
                else "it has no tinygrad_attn metadata")
        raise CheckpointError(f"{path}: not a tinygrad_attn training checkpoint ({what}; "
                              f"arrays: {', '.join(sorted(arrays)[:5]) or 'none'})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: format_version is {version!r}, not an integer")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written in checkpoint format {version}, newer than "
                              f"this version of tinygrad_attn reads (up to {FORMAT_VERSION}); "
                              "upgrade tinygrad_attn to read it")
    missing = [k for k in ("kind", "config") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: the metadata lacks {', '.join(missing)}")
    if not isinstance(meta["config"], dict):
        raise CheckpointError(f"{path}: config is {type(meta['config']).__name__}, not a dict")
    params = {k[len(_PARAM):]: a for k, a in arrays.items() if k.startswith(_PARAM)}
    if not params:
        raise CheckpointError(f"{path}: holds no parameters (no {_PARAM}* arrays)")
    optimizer = None
    if "optimizer" in meta:
        optimizer = {"hyper": meta["optimizer"],
                     "arrays": {k[len(_OPTIM):]: a for k, a in arrays.items()
                                if k.startswith(_OPTIM)}}
    rng = None
    if "rng" in meta:
        if _RNG + "key" not in arrays:
            raise CheckpointError(f"{path}: the random state's key array is missing")
        r = meta["rng"]
        rng = {"bit_generator": r["bit_generator"],
               "state": {"key": arrays[_RNG + "key"], "pos": r["pos"]},
               "has_gauss": r["has_gauss"], "gauss": r["gauss"]}
    return Checkpoint(path=path, meta=meta, params=params, optimizer=optimizer, rng=rng)


def build_model(ckpt):
    """The model a `Checkpoint` holds: its class found by ``kind`` among the installed
    plug-ins, built from ``config`` in the parameters' dtype, the parameters loaded."""
    from .plugins import UnknownModelError, model_class
    try:
        cls = model_class(ckpt.kind)
    except UnknownModelError as e:
        raise CheckpointError(f"{ckpt.path}: {e}") from None
    dtype = next(iter(ckpt.params.values())).dtype
    try:
        model = cls(**ckpt.config, dtype=dtype)
        model.load_state_dict(ckpt.params)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: does not fit a {ckpt.kind!r} model built from "
                              f"its config {ckpt.config}: {e}") from None
    return model


def load_model(path):
    """`read` then `build_model`: ``(model, checkpoint)``."""
    ckpt = read(path)
    return build_model(ckpt), ckpt
