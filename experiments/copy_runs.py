"""Copy-task runs for the report scripts: a run folder of `tinygrad-attn train --task copy`
(its last.npz, or a named .npz of it), or a single .npz of the earlier `copy train`, whose
runs docs/results.md quotes.

    model, meta = load("experiments/out/ntm_rmsprop_b16_s0")      # or ...s0.npz (earlier)
    meta["curve"], meta["step"], meta["batch_size"], meta["optimizer"], meta["config"]

`meta["curve"]` is one row per logged point (step, seconds, cpu_seconds, loss, bits_wrong,
max_length): the history's epochs of a run folder, the `curve` of an earlier file.
"""
from __future__ import annotations

import importlib
import os

from tinygrad_attn import checkpoint
from tinygrad_attn.plugins import model_class

EARLIER_NAMES = {"lstm": "lstm_copy"}        # `copy train --model lstm` is lstm_copy now


def _path(path):
    return os.path.join(path, "last.npz") if os.path.isdir(path) else path


def _new_layout(meta):
    return meta.get("format") == checkpoint.FORMAT and meta.get("format_version", 1) >= 2


def info(path):
    """The run's meta (see the module docstring), without building the model."""
    meta = checkpoint.load(_path(path))[1]
    if _new_layout(meta):
        options = meta["run"]["options"]
        return {"kind": meta["kind"], "config": meta["config"],
                "step": meta["trainer"]["progress"]["step"],
                "curve": meta["trainer"]["callbacks"]["history"]["epochs"],
                "batch_size": options["batch_size"], "optimizer": options["optimizer"],
                "lr": options["lr"], "seed": options["seed"]}
    return meta                            # the earlier layout: these keys at the top


def load(path):
    """(model, meta) of a copy-task run of either layout."""
    path = _path(path)
    state, meta = checkpoint.load(path)
    if _new_layout(meta):
        return checkpoint.load_model(path)[0], info(path)
    kind = meta["kind"]
    if ":" in kind:
        module, cls = kind.split(":", 1)
        Model = getattr(importlib.import_module(module), cls)
    else:
        Model = model_class(EARLIER_NAMES.get(kind, kind))
    model = Model(**meta["config"])
    model.load_state_dict(state)
    return model, meta
