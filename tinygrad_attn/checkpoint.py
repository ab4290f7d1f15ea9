"""Checkpoints: a module's arrays in one `.npz` file, written atomically, never pickled.

    from tinygrad_attn import checkpoint
    checkpoint.save("model.npz", model.state_dict(), step=1200, vocab="0123456789-_")
    state, meta = checkpoint.load("model.npz")
    model.load_state_dict(state)

`save` writes through `files.atomic_file` (a temporary file renamed over the target once
it is on disk), so a crash mid-write leaves the old checkpoint intact. `load` reads with
`allow_pickle=False`: a checkpoint holds arrays and JSON metadata, never code.

Training checkpoints (what `tinygrad-attn train` writes and `eval`, `translate` and
`train --resume` read) are `save` files with one layout for every task and model:

    save_training(path, model, slots={"optimizer": opt.state_dict(),
                                      "batches": batches.state_dict()}, task={...}, step=..)
    ckpt = read(path)              # Checkpoint: .meta, .params, .slots; validated
    model, ckpt = load_model(path) # rebuilt through the `tinygrad_attn.models` registry

arrays   ``param/<dotted name>``      the model's state_dict
         ``<slot>/<key>``             each slot's arrays (``optimizer/m.3``, ``batches/key``)
metadata ``format``, ``format_version``, ``kind`` (the model's registry name), ``config``
         (its constructor keywords), ``slots`` ({slot: its JSON part}) and whatever the
         caller adds (the task, the step, the history, the options...)

A slot is anything with PyTorch's ``state_dict()`` / ``load_state_dict()`` pair in the
shape ``{"hyper": {JSON}, "arrays": {name: ndarray}}``: the optimiser and the batch stream
today; a learning-rate scheduler is one more slot. A file of another program, a newer
format, a truncated or hand-broken file is refused with an error naming the file and what
is wrong. Format 1 files (one optimiser, no slots) still load for `eval` and `translate`.
"""
from __future__ import annotations

import json
import pathlib
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .files import atomic_file

_META_KEY = "__meta__"
FORMAT = "tinygrad_attn.checkpoint"
FORMAT_VERSION = 2
_PARAM = "param/"
_V1_OPTIM = "optim/"

__all__ = ["save", "load", "save_training", "read", "build_model", "load_model",
           "Checkpoint", "CheckpointError", "FORMAT_VERSION"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as one (names the file and what is wrong)."""


def save(path, state, **meta):
    """Write `state` (name -> array) and JSON-serialisable `meta` to `path` atomically."""
    arrays = {}
    for name, value in state.items():
        if name == _META_KEY:
            raise ValueError(f"save: {_META_KEY!r} is reserved for the metadata")
        arr = np.asarray(value.data if hasattr(value, "data") else value)
        if arr.dtype == object:
            raise TypeError(f"save: {name!r} is not a numeric array (dtype object)")
        arrays[name] = arr
    try:
        meta_text = json.dumps(meta, allow_nan=False)
    except TypeError as e:
        raise TypeError(f"save: metadata must be JSON-serialisable: {e}") from None
    except ValueError as e:
        raise ValueError(f"save: metadata must be finite numbers: {e}") from None
    arrays[_META_KEY] = np.array(meta_text)
    with atomic_file(path) as f:
        np.savez(f, **arrays)
    return pathlib.Path(path)


def load(path):
    """Read a checkpoint written by `save`: returns `(state, meta)`."""
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {name: npz[name] for name in npz.files if name != _META_KEY}
            meta_text = str(npz[_META_KEY]) if _META_KEY in npz.files else "{}"
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({e})") from None
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({e})") from None
    return state, meta


# --- training checkpoints ------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A validated training checkpoint. `meta` holds every JSON field (kind, config, the
    caller's own); `params` the model's arrays by dotted name; `slots` each saved state
    (``{"hyper": .., "arrays": ..}``) by slot name; `version` its format version."""

    path: pathlib.Path
    meta: dict
    params: dict
    slots: dict = field(default_factory=dict)
    version: int = FORMAT_VERSION

    @property
    def kind(self):
        return self.meta["kind"]

    @property
    def config(self):
        return self.meta["config"]

    def field(self, name, kind, default=...):
        """``meta[name]``, checked to be a `kind` (a type or tuple of types); CheckpointError
        naming the file and the field otherwise (a hand-edited file). `default`, if given,
        when the field is absent."""
        if name not in self.meta:
            if default is not ...:
                return default
            raise CheckpointError(f"{self.path}: the metadata lacks {name!r}")
        value = self.meta[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            want = " or ".join(k.__name__ for k in kinds)
            raise CheckpointError(f"{self.path}: {name} is {value!r}, not a {want}")
        return value


def save_training(path, model, *, slots=None, **meta):
    """Save `model` (its ``kind``, ``config()`` and parameters) and the states in `slots`
    (name -> ``{"hyper": JSON, "arrays": {name: ndarray}}``, e.g. an optimiser's
    ``state_dict()``), with JSON `meta`, atomically. Returns the path."""
    for key in ("format", "format_version", "kind", "config", "slots"):
        if key in meta:
            raise ValueError(f"save_training: {key!r} is written by save_training itself")
    kind = getattr(type(model), "kind", None)
    if not kind or not hasattr(model, "config"):
        raise TypeError(f"save_training: {type(model).__name__} does not follow the model "
                        "protocol (a class attribute `kind` and a `config()` method)")
    arrays = {_PARAM + name: value for name, value in model.state_dict().items()}
    head = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "config": model.config(), "slots": {}}
    for slot, state in (slots or {}).items():
        if not slot.isidentifier() or slot == "param":
            raise ValueError(f"save_training: slot name {slot!r} must be an identifier, "
                             "not 'param'")
        head["slots"][slot] = state.get("hyper", {})
        arrays.update({f"{slot}/{k}": a for k, a in state.get("arrays", {}).items()})
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
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: format_version is {version!r}, not a positive integer")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written in checkpoint format {version}, newer than "
                              f"this version of tinygrad_attn reads (up to {FORMAT_VERSION}); "
                              "upgrade tinygrad_attn to read it")
    missing = [k for k in ("kind", "config") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: the metadata lacks {', '.join(missing)}")
    if not isinstance(meta["kind"], str):
        raise CheckpointError(f"{path}: kind is {meta['kind']!r}, not a name")
    if not isinstance(meta["config"], dict):
        raise CheckpointError(f"{path}: config is {type(meta['config']).__name__}, not a dict")
    params = {k[len(_PARAM):]: a for k, a in arrays.items() if k.startswith(_PARAM)}
    if not params:
        raise CheckpointError(f"{path}: holds no parameters (no {_PARAM}* arrays)")
    slots = {}
    if version == 1:            # one optimiser under optim/, a generator under rng/
        if isinstance(meta.get("optimizer"), dict):
            slots["optimizer"] = {"hyper": meta["optimizer"], "arrays": {
                k[len(_V1_OPTIM):]: a for k, a in arrays.items() if k.startswith(_V1_OPTIM)}}
    else:
        declared = meta.get("slots", {})
        if not isinstance(declared, dict) or not all(isinstance(v, dict)
                                                     for v in declared.values()):
            raise CheckpointError(f"{path}: slots is {declared!r}, not {{name: {{...}}}}")
        for slot, hyper in declared.items():
            prefix = f"{slot}/"
            slots[slot] = {"hyper": hyper, "arrays": {k[len(prefix):]: a for k, a in
                                                      arrays.items() if k.startswith(prefix)}}
    return Checkpoint(path=path, meta=meta, params=params, slots=slots, version=version)


def build_model(ckpt):
    """The model a `Checkpoint` holds: its class found by ``kind`` in the model registry,
    built from ``config`` in the parameters' dtype, the parameters loaded."""
    from .plugins import UnknownModelError, model_class
    try:
        cls = model_class(ckpt.kind)
    except UnknownModelError as e:
        raise CheckpointError(f"{ckpt.path}: {e}") from None
    # the parameters' dtype: the first floating array (buffers such as a step counter are
    # integers)
    dtype = next((a.dtype for a in ckpt.params.values() if a.dtype.kind == "f"), np.float32)
    if not all(isinstance(k, str) and k.isidentifier() for k in ckpt.config):
        raise CheckpointError(f"{ckpt.path}: config {ckpt.config} has keys that are not "
                              "keyword names")
    try:
        model = cls(**ckpt.config, dtype=dtype)
        model.load_state_dict(ckpt.params)
    except (TypeError, ValueError, KeyError, OverflowError, MemoryError) as e:
        raise CheckpointError(f"{ckpt.path}: does not fit a {ckpt.kind!r} model built from "
                              f"its config {ckpt.config}: {type(e).__name__}: {e}") from None
    return model


def load_model(path):
    """`read` then `build_model`: ``(model, checkpoint)``."""
    ckpt = read(path)
    return build_model(ckpt), ckpt
