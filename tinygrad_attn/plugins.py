"""Model plug-ins: the `tinygrad_attn.models` entry-point group, name -> model class.

The framework never imports the repository's `models/` package; it finds the models the
installed project registers (pyproject.toml, ``[project.entry-points."tinygrad_attn.models"]``)
by the name a model records as its ``kind``, so a checkpoint can be rebuilt from the name it
holds, and a user's package can add models of its own.
"""
from __future__ import annotations

from importlib.metadata import entry_points

GROUP = "tinygrad_attn.models"

__all__ = ["GROUP", "model_plugins", "model_class", "UnknownModelError"]


class UnknownModelError(LookupError):
    """No installed plug-in has that name (the message lists those there are)."""


def model_plugins():
    """name -> entry point of every installed model (e.g. seq2seq, peeky, attention)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def model_class(name):
    """The class registered under `name`; UnknownModelError listing the known names."""
    plugins = model_plugins()
    if name not in plugins:
        known = ", ".join(sorted(plugins)) or "none (is the project installed? pip install -e .)"
        raise UnknownModelError(f"unknown model {name!r}; installed models: {known}")
    cls = plugins[name].load()
    if getattr(cls, "kind", name) != name:
        raise UnknownModelError(f"the plug-in {name!r} loads {cls.__qualname__}, whose kind is "
                                f"{cls.kind!r}")
    return cls
