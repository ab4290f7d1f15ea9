"""Tasks: what a model is trained on and how it is scored, one class per task, in a registry.

    from tinygrad_attn.plugins import task_class
    task = task_class("qa").load("date.txt")      # the book's data files: exact match
    task = task_class("copy")(max_length=20)      # the NTM copy task: bits wrong

A task (`Task`) knows how to

    make its data           `load(...)` (qa: a data file) or its constructor (copy: generated)
    build a model           `build_model(Model, seed=0, **options)`; `fits(Model)` says
                            whether a registered model takes this task's inputs
    batch it                `batches(batch_size, seed)`: a resumable stream (batches.py)
    compute a step's loss   `loss(model, batch) -> (loss, {step metric: float})`
    score a model           `callbacks(...)`: the evaluation after each epoch; `metric` and
                            `objective(row)` pick the best checkpoint; `evaluate(model, ...)`
                            is what `tinygrad-attn eval` prints
    be saved and rebuilt    `metadata()` goes into every checkpoint (key ``task``) and
                            `options()` into the run's options; `from_metadata(meta, ...)`
                            rebuilds it for a resume
    report on a checkpoint  `report(model, ckpt, **eval_options) -> EvalReport`

Tasks register under the ``tinygrad_attn.tasks`` entry points (pyproject.toml), models
under ``tinygrad_attn.models``; the training loop (training.py) and the run folder
(runs.py) know a task only through this protocol. docs/protocol.md has the whole of it.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

__all__ = ["Task", "TaskError", "EvalReport", "MODEL_OPTIONS", "model_keywords"]


class TaskError(ValueError):
    """A request a task cannot carry out: a data file it cannot use, an option that does
    not apply, a model that does not fit (the message names which and why)."""


# A command-line option of the model -> the constructor keywords it fills (first match in
# the model's signature): `--hidden` is a seq2seq model's hidden_size and the NTM's
# controller_size.
MODEL_OPTIONS = {
    "wordvec": ("wordvec_size",),
    "hidden": ("hidden_size", "controller_size"),
    "layers": ("num_layers",),
    "memory_size": ("memory_size",),
    "memory_width": ("memory_width",),
    "memory_init": ("memory_init",),
    "weights_init": ("weights_init",),
    "controller": ("controller",),
}


def _option(name):
    return "--" + name.replace("_", "-")


def model_keywords(Model, options):
    """The constructor keywords of `Model` that the given model options (MODEL_OPTIONS
    names; None = not given, the model's default) fill. TaskError for an option the model
    does not take."""
    params = inspect.signature(Model).parameters
    out = {}
    for name, value in options.items():
        if value is None:
            continue
        targets = MODEL_OPTIONS[name]
        keyword = next((k for k in targets if k in params), None)
        if keyword is None:
            raise TaskError(f"{_option(name)}: the {Model.kind!r} model takes no "
                            f"{' or '.join(targets)}")
        out[keyword] = value
    return out


@dataclass
class EvalReport:
    """What `Task.report` found: `lines` to print, `result` as JSON, the data's `warnings`."""
    lines: list
    result: dict
    warnings: list = field(default_factory=list)


class Task:
    """The task protocol (see the module docstring); subclasses fill in the rest.

    name              the registry name ("qa", "copy")
    summary           one line for --help
    metric            the epoch row's main metric ("accuracy", "bits_wrong")
    higher_is_better  its direction
    default_model     the model trained when none is named
    model_inputs      constructor parameters a model of this task takes (`fits`)
    defaults          training defaults (epochs, batch_size, optimizer, ...)
    train_options     the task's own training options (CLI dests), refused elsewhere
    eval_options      the task's own `eval` options
    """

    name = None
    summary = ""
    metric = None
    higher_is_better = True
    default_model = None
    model_inputs = ()
    defaults = {}
    train_options = frozenset()
    eval_options = frozenset()

    @classmethod
    def fits(cls, Model):
        try:
            params = inspect.signature(Model).parameters
        except (TypeError, ValueError):
            return False
        return all(p in params for p in cls.model_inputs)

    def metadata(self):
        raise NotImplementedError

    def options(self):
        """This task's own training options as resolved ({name: value}, JSON): a resume
        compares what it is asked against them."""
        raise NotImplementedError

    warnings = ()       # what the data checker said, one printable line each

    def build_model(self, Model, *, seed=0, **options):
        raise NotImplementedError

    def batches(self, batch_size, seed):
        raise NotImplementedError

    def loss(self, model, batch):
        return model.loss(*batch), {}

    def callbacks(self, batches):
        """Callbacks the loop runs for this task (its evaluation, a curriculum over
        `batches`), before the history and the saver."""
        return []

    def stopper(self, value):
        """The callback that stops training once the metric reaches `value`."""
        from ..callbacks import StopAt
        return StopAt(self.metric, value, self.higher_is_better)

    @classmethod
    def report(cls, model, ckpt, **eval_options):
        """Score a checkpoint's model (`tinygrad-attn eval`): an `EvalReport`."""
        raise NotImplementedError

    def objective(self, row):
        """A key to minimise over epoch rows (the best checkpoint), or None when the row
        cannot be the best."""
        v = row.get(self.metric)
        if v is None:
            return None
        return (-v,) if self.higher_is_better else (v,)
