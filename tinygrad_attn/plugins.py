"""The registries: models and tasks, found through entry points, by name.

    model_class("attention")     # a class of the ``tinygrad_attn.models`` group
    task_class("copy")           # a class of the ``tinygrad_attn.tasks`` group

The framework never imports the repository's `models/` package; it finds what an installed
project registers (pyproject.toml, ``[project.entry-points."tinygrad_attn.models"]`` and
``."tinygrad_attn.tasks"``), so a checkpoint is rebuilt from the name it holds and a user's
package adds models and tasks of its own (docs/protocol.md). A model registers under the
name it records as its ``kind``; a task under its ``name``.
"""
from __future__ import annotations

from importlib.metadata import entry_points

MODELS = "tinygrad_attn.models"
TASKS = "tinygrad_attn.tasks"
GROUP = MODELS

__all__ = ["MODELS", "TASKS", "model_plugins", "model_class", "task_plugins", "task_class",
           "UnknownModelError", "UnknownTaskError"]


class UnknownModelError(LookupError):
    """No installed model has that name, or its entry point does not load (the message
    lists the names there are)."""


class UnknownTaskError(LookupError):
    """No installed task has that name, or its entry point does not load."""


def _plugins(group):
    return {ep.name: ep for ep in entry_points(group=group)}


def model_plugins():
    """name -> entry point of every installed model (seq2seq, peeky, attention, ntm, ...)."""
    return _plugins(MODELS)


def task_plugins():
    """name -> entry point of every installed task (qa, copy, ...)."""
    return _plugins(TASKS)


def _load(group, name, what, error, attribute):
    plugins = _plugins(group)
    if name not in plugins:
        known = ", ".join(sorted(plugins)) or "none (is the project installed? pip install -e .)"
        raise error(f"unknown {what} {name!r}; installed {what}s: {known}")
    try:
        cls = plugins[name].load()
    except Exception as e:   # a broken plug-in of someone else's package: say which
        raise error(f"the {what} plug-in {name!r} ({plugins[name].value}) does not load: "
                    f"{type(e).__name__}: {e}") from None
    if getattr(cls, attribute, name) != name:
        raise error(f"the {what} plug-in {name!r} loads {cls.__qualname__}, whose "
                    f"{attribute} is {getattr(cls, attribute)!r}")
    return cls


def model_class(name):
    """The model class registered under `name`; UnknownModelError listing the known names."""
    return _load(MODELS, name, "model", UnknownModelError, "kind")


def task_class(name):
    """The task class registered under `name`; UnknownTaskError listing the known names."""
    return _load(TASKS, name, "task", UnknownTaskError, "name")
