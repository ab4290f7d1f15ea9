"""A run folder holds one training run; `train` starts or resumes one.

    from tinygrad_attn import runs
    result = runs.train("runs/attention", task="qa", data="date.txt", epochs=10)
    result = runs.train("runs/attention", resume=True, epochs=12)     # bit for bit
    result = runs.train("runs/ntm", task="copy", model="ntm", epochs=40)

The folder:

    last.npz        the newest checkpoint: after every epoch, and mid-epoch when training
                    stops early (Ctrl-C, a time limit); everything a resume needs
    best.npz        the checkpoint of the best epoch by the task's objective
    history.json    {"loss": [per step], "epochs": [rows], "best": ..., ...}; history.csv
                    one row per epoch; loss.csv one row per step
    .lock           held (flock) while a process trains here

What it promises. A fresh run into a folder that holds a run is refused (`RunError`, naming
what is there) unless `overwrite=True`; a second process training in a locked folder is
refused. Every file is written atomically (files.py): last.npz, then best.npz (a hard link
to the same file when the epoch is the best), then the history. So at every instant,
`kill -9` included, last.npz (once there is one) is whole and resumable and best.npz is
whole; a kill between the two leaves best.npz one best epoch behind, which the resume
repairs before it trains, and the temporary files a killed process left are removed by the
next run in the folder. A resume refuses any option that differs from the
checkpoint's (it would not continue the run) and says when nothing is left to do.

The saver is a callback of the training loop (`ModelSaver`, OpenNMT-py's model saver); the
task (tasks/) brings its data, batches, evaluation and objective.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
from dataclasses import dataclass

from . import checkpoint
from .callbacks import History, Progress, TimeLimit
from .checkpoint import CheckpointError
from .files import WriteError, check_writable, link_atomic, remove_temporaries, write_atomic
from .plugins import model_class, task_class
from .tasks import MODEL_OPTIONS, TaskError, model_keywords
from .training import Callback, Trainer

__all__ = ["train", "RunFolder", "ModelSaver", "RunError", "RunResult", "LAST", "BEST",
           "SETTINGS", "make_optimizer", "find_checkpoint", "recorded_threads"]

LAST, BEST, LOCK = "last.npz", "best.npz", ".lock"
HISTORY_FILES = ("history.json", "history.csv", "loss.csv")
RUN_FILES = (LAST, BEST) + HISTORY_FILES

# the training settings every task has (None: the task's default, or on resume the run's)
SETTINGS = ("batch_size", "optimizer", "lr", "momentum", "alpha", "max_grad", "clip_mode",
            "seed")
OPTIMIZERS = ("adam", "rmsprop")
LR = {"adam": 1e-3, "rmsprop": 1e-4}
RMSPROP = {"momentum": 0.9, "alpha": 0.95}   # the NTM paper's, as pytorch-ntm runs it


class RunError(ValueError):
    """A request about a run folder that cannot be carried out: it holds a run already, is in
    use, cannot be written, has nothing to resume, or the resume would not continue it."""


def _option(name):
    return "--" + name.replace("_", "-")


class RunFolder:
    """The folder of one run (see the module docstring)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __str__(self):
        return str(self.path)

    def file(self, name):
        return self.path / name

    def run_files(self):
        """The run's files present in the folder."""
        return [n for n in RUN_FILES if (self.path / n).exists()] if self.path.is_dir() else []

    def check_writable(self):
        """RunError unless the folder is (or can be made) a folder we can write in;
        creates nothing."""
        try:
            check_writable(self.path, folder=True)
        except WriteError as e:
            raise RunError(f"{self.path}: cannot be the run folder: {e.strerror}") from None

    def describe(self):
        """What the folder holds, for messages: 'last.npz (epoch 3, step 1053), ...'."""
        parts = []
        for name in self.run_files():
            if name in (LAST, BEST):
                try:
                    meta = checkpoint.load(self.path / name)[1]
                    p = meta.get("trainer", {}).get("progress", {})
                    where = (f"epoch {p['epoch']}" + (f" + {p['epoch_step']} steps"
                                                      if p.get("epoch_step") else "")
                             if "epoch" in p else f"epoch {meta.get('epoch', '?')}")
                    parts.append(f"{name} ({meta.get('kind', '?')}, {where})")
                except (CheckpointError, OSError, AttributeError, KeyError, TypeError):
                    parts.append(f"{name} (unreadable)")
            else:
                parts.append(name)
        return ", ".join(parts)

    @contextlib.contextmanager
    def lock(self):
        """Create the folder and hold its lock while the block runs (RunError if another
        process holds it); temporary files left by a killed run are removed first."""
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"{self.path}: cannot create the folder: {e.strerror}") from None
        fd = self._acquire()
        try:
            remove_temporaries(self.path, RUN_FILES)
            yield self
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.path / LOCK)
            os.close(fd)
            if created:                 # a run that wrote nothing leaves no folder behind
                with contextlib.suppress(OSError):
                    self.path.rmdir()

    def _acquire(self):
        try:
            import fcntl
        except ImportError:         # not POSIX: no lock (documented)
            return os.open(os.devnull, os.O_RDONLY)
        lock = self.path / LOCK
        while True:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as e:
                raise RunError(f"{self.path}: cannot write in it: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise RunError(f"{self.path}: another training runs in this folder (process "
                               f"{holder}); wait for it to end, or train into another "
                               "folder") from None
            try:     # the file locked may have been unlinked by a run ending meanwhile
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                return fd
            os.close(fd)

    def clear(self):
        """Remove the run's files (for `overwrite`)."""
        for name in self.run_files():
            (self.path / name).unlink()

    def write_history(self, history, **extra):
        write_atomic(self.path / "history.json",
                     json.dumps({**history.to_dict(), **extra}, indent=1, allow_nan=False))
        write_atomic(self.path / "history.csv", history.epochs_csv())
        write_atomic(self.path / "loss.csv", history.loss_csv())


def recorded_threads(folder):
    """The thread count the run in `folder` was trained with (None if unknown)."""
    try:
        meta = checkpoint.load(RunFolder(folder).file(LAST))[1]
    except (OSError, CheckpointError):
        return None
    run = meta.get("run") if isinstance(meta, dict) else None
    n = run.get("threads") if isinstance(run, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else None


def find_checkpoint(path):
    """A checkpoint file, or a run folder's best.npz (else its last.npz)."""
    path = pathlib.Path(path)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).exists():
                return path / name
        raise RunError(f"{path}: a folder without a checkpoint (no {BEST} or {LAST})")
    return path


class ModelSaver(Callback):
    """Writes the run folder: after each epoch best.npz (when the task's objective
    improves), then last.npz, then the history files; on a stop between epochs (Ctrl-C,
    a time limit) last.npz at that step. `best` ({"epoch", "step", metric...}) is its
    state, kept in every checkpoint."""

    state_key = "best"

    def __init__(self, folder, task, history, meta):
        self.folder, self.task, self.history, self.meta = folder, task, history, meta
        self.best, self.saved_step = None, None

    def state_dict(self):
        return self.best

    def load_state_dict(self, state):
        if state is not None and not (isinstance(state, dict) and "key" in state):
            raise ValueError(f"best is {state!r}, not a record of an epoch")
        self.best = state

    def on_fit_start(self, trainer):
        self.saved_step = trainer.step

    def _save(self, trainer, name):
        state = trainer.state_dict()
        checkpoint.save_training(self.folder.file(name), trainer.model, slots=state.pop("slots"),
                                 trainer=state, **self.meta)

    def write_history(self, trainer):
        self.folder.write_history(self.history, best=self.best, kind=trainer.model.kind,
                                  config=trainer.model.config(), task=self.task.name,
                                  options=self.meta["run"]["options"],
                                  progress={"step": trainer.step, "epoch": trainer.epoch,
                                            "epoch_step": trainer.epoch_step})

    def on_epoch_end(self, trainer, row):
        key = self.task.objective(row)
        improved = key is not None and (self.best is None or list(key) < self.best["key"])
        if improved:
            self.best = {"epoch": row["epoch"], "step": row["step"],
                         self.task.metric: row[self.task.metric], "key": list(key)}
        self._save(trainer, LAST)
        if improved:      # the same file (a link): a kill in between is repaired on resume
            link_atomic(self.folder.file(LAST), self.folder.file(BEST))
        self.write_history(trainer)
        self.saved_step = trainer.step

    def repair(self, trainer, warn):
        """After a kill between last.npz and best.npz: make best.npz the best epoch that
        last.npz names (it is last.npz itself then)."""
        if self.best is None:
            return
        best = self.folder.file(BEST)
        try:
            step = checkpoint.load(best)[1]["trainer"]["progress"]["step"]
        except (OSError, CheckpointError, KeyError, TypeError):
            step = None
        if step == self.best["step"]:
            return
        if self.best["step"] == trainer.step:
            link_atomic(self.folder.file(LAST), best)
        else:
            warn(f"{best} does not hold epoch {self.best['epoch']}, the best one "
                 f"{self.folder.file(LAST)} names (was it replaced by hand?)")

    def on_stop(self, trainer, reason):
        if reason != "failed" and trainer.step != self.saved_step:
            self._save(trainer, LAST)
            self.write_history(trainer)
            self.saved_step = trainer.step


@dataclass
class RunResult:
    folder: RunFolder
    trainer: Trainer
    task: object
    history: History
    best: dict | None
    reason: str             # why training stopped: "done", a stop reason, "nothing to do"
    resumed_from: int       # the step the run continued from (0: a fresh run)
    warnings: list


def make_optimizer(params, settings):
    from .optim import Adam, RMSprop
    if settings["optimizer"] == "adam":
        return Adam(params, lr=settings["lr"])
    return RMSprop(params, lr=settings["lr"], alpha=settings["alpha"],
                   momentum=settings["momentum"])


def _whole(v, low, high=None):
    return (isinstance(v, int) and not isinstance(v, bool) and v >= low
            and (high is None or v <= high))


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _settings(task, asked):
    """The training settings: asked, else the task's defaults; TaskError for a mix that does
    not make sense."""
    s = {k: asked.get(k) if asked.get(k) is not None else task.defaults.get(k)
         for k in SETTINGS}
    if s["optimizer"] not in OPTIMIZERS:
        raise TaskError(f"--optimizer {s['optimizer']!r}: choose one of {', '.join(OPTIMIZERS)}")
    if s["optimizer"] == "rmsprop":
        for k, v in RMSPROP.items():
            s[k] = v if s[k] is None else s[k]
    else:
        given = [k for k in RMSPROP if asked.get(k) is not None]
        if given:
            raise TaskError(f"{', '.join(map(_option, given))}: only --optimizer rmsprop "
                            "takes it")
        s.update(momentum=None, alpha=None)
    if s["lr"] is None:
        s["lr"] = LR[s["optimizer"]]
    bad = []
    if not _whole(s["batch_size"], 1):
        bad.append(f"--batch-size {s['batch_size']!r} (a whole number >= 1)")
    if not _whole(s["seed"], 0, 2**32 - 1):
        bad.append(f"--seed {s['seed']!r} (a whole number from 0 to 2**32 - 1)")
    bad += [f"{_option(k)} {s[k]!r} (a finite number > 0)" for k in ("lr", "max_grad")
            if not (_finite(s[k]) and s[k] > 0)]
    bad += [f"{_option(k)} {s[k]!r} (a number in [0, 1))" for k in RMSPROP
            if s[k] is not None and not (_finite(s[k]) and 0 <= s[k] < 1)]
    if s["clip_mode"] not in ("norm", "value"):
        bad.append(f"--clip-mode {s['clip_mode']!r} (norm or value)")
    if bad:
        raise TaskError("bad settings: " + "; ".join(bad))
    return s


def _check_stop_at(task, stop_at):
    if stop_at is None:
        return
    if task.metric == "accuracy" and not 0 < stop_at <= 1:
        raise TaskError(f"--stop-at {stop_at:g}: the test accuracy is a share in (0, 1], e.g. "
                        "0.995 for 99.5%")
    if stop_at < 0:
        raise TaskError(f"--stop-at {stop_at:g}: {task.metric} is never negative")


def _resolved_model_options(config):
    """The model options (MODEL_OPTIONS names) a config fills, e.g. {'hidden': 256}."""
    out = {}
    for name, keywords in MODEL_OPTIONS.items():
        for k in keywords:
            if k in config:
                out[name] = config[k]
                break
    return out


TASK_OPTIONS = ("data", "reverse", "beam", "epoch_steps", "min_length", "max_length",
                "curriculum", "curriculum_threshold")


def train(folder, *, task=None, model=None, epochs=None, resume=False, overwrite=False,
          stop_at=None, time_limit=None, quiet=False, print_fn=None, warn=None,
          threads=None, origin="train", **options):
    """Train a model on a task in `folder` (fresh, or `resume` its last.npz); returns a
    `RunResult`. `options`: the task's own (TASK_OPTIONS: data, reverse, beam for qa;
    epoch_steps, min_length, max_length, curriculum, curriculum_threshold for copy), the
    model's (tasks.MODEL_OPTIONS: hidden, wordvec, layers, memory_size, ...) and the
    training settings (SETTINGS); None means the default, or on resume the run's own.
    `epochs` counts every epoch of the run (default: the task's, or on resume the run's
    target); `stop_at` ends it early once the task's metric reaches it. `warn(text)`
    receives warnings (the data checker's; a thread count that differs from the run's);
    `threads` is the thread count in effect, recorded in the checkpoints.

    Raises RunError, TaskError, CheckpointError, DataFileError, UnknownModelError,
    UnknownTaskError for a request that cannot be carried out, before anything is written;
    `training.NonFiniteLoss` or `files.WriteError` during training; `training.Interrupted`
    after a clean stop on Ctrl-C (last.npz then holds that step)."""
    warn = warn or (lambda text: None)
    folder = RunFolder(folder)
    unknown = set(options) - set(SETTINGS) - set(MODEL_OPTIONS) - set(TASK_OPTIONS)
    if unknown:
        raise TypeError(f"train: unknown options {sorted(unknown)}")
    folder.check_writable()
    if resume:
        if overwrite:
            raise RunError("--resume continues the run in the folder and --overwrite "
                           "replaces it: choose one")
        return _resume(folder, task, model, epochs, stop_at, time_limit, quiet, print_fn,
                       warn, threads, options)
    if folder.run_files() and not overwrite:
        raise RunError(_holds_a_run(folder))
    Task = task_class(task or "qa")
    foreign = sorted(k for k, v in options.items() if v is not None and k in TASK_OPTIONS
                     and k not in Task.train_options)
    if foreign:
        raise TaskError(f"{', '.join(map(_option, foreign))}: not an option of the "
                        f"{Task.name!r} task")
    the_task = _make_task(Task, options)
    for w in the_task.warnings:
        warn(w)
    Model = model_class(model or Task.default_model)
    if not Task.fits(Model):
        raise TaskError(f"the {Model.kind!r} model does not fit the {Task.name!r} task "
                        f"(its constructor takes no {', '.join(Task.model_inputs)})")
    settings = _settings(Task, options)
    _check_stop_at(Task, stop_at)
    epochs = Task.defaults["epochs"] if epochs is None else epochs
    if not _whole(epochs, 1):
        raise TaskError(f"--epochs {epochs!r}: a whole number >= 1")
    batches = the_task.batches(settings["batch_size"], settings["seed"])
    try:
        net = the_task.build_model(Model, seed=settings["seed"],
                                   **{k: options.get(k) for k in MODEL_OPTIONS})
    except (TypeError, ValueError, MemoryError) as e:
        if isinstance(e, TaskError):
            raise
        raise TaskError(f"the {Model.kind!r} model refuses these options: "
                        f"{type(e).__name__}: {e}") from None
    recorded = {"task": Task.name, "model": Model.kind, **settings, **the_task.options(),
                **_resolved_model_options(net.config())}
    run = {"options": recorded, "epochs": epochs, "stop_at": stop_at, "threads": threads,
           "origin": origin}
    meta = {"task": the_task.metadata(), "run": run}
    with folder.lock():
        if folder.run_files():
            if not overwrite:      # a run appeared while we were checking
                raise RunError(_holds_a_run(folder))
            folder.clear()
        trainer, history, saver = _trainer(the_task, net, batches, settings, folder, meta,
                                           stop_at, time_limit, quiet, print_fn)
        reason = trainer.fit(epochs)
    return RunResult(folder, trainer, the_task, history, saver.best, reason, 0,
                     list(the_task.warnings))


def _holds_a_run(folder):
    return (f"{folder} holds a run already ({folder.describe()}): continue it with "
            "--resume, or replace it with --overwrite")


def _make_task(Task, options):
    kwargs = {k: options[k] for k in Task.train_options - {"data"}
              if options.get(k) is not None}
    if "data" in Task.train_options:
        if options.get("data") is None:
            raise TaskError(f"the {Task.name} task trains on a data file: give --data FILE "
                            "(make one with `tinygrad-attn data dates --out FILE`)")
        return Task.load(options["data"], **kwargs)
    return Task(**kwargs)


def _trainer(task, net, batches, settings, folder, meta, stop_at, time_limit, quiet,
             print_fn):
    history = History()
    saver = ModelSaver(folder, task, history, meta)
    callbacks = task.callbacks(batches) + [history]
    if stop_at is not None:
        callbacks.append(task.stopper(stop_at))
    if time_limit is not None:
        callbacks.append(TimeLimit(time_limit))
    callbacks += [saver, Progress(quiet=quiet, print_fn=print_fn)]
    trainer = Trainer(net, batches, optimizer=make_optimizer(net.parameters(), settings),
                      clip_mode=settings["clip_mode"], max_grad=settings["max_grad"],
                      loss_fn=task.loss, callbacks=callbacks)
    return trainer, history, saver


def _differences(saved, asked):
    out = []
    for k, v in asked.items():
        if v is not None and k != "data" and v != saved.get(k):
            out.append(f"{_option(k)} {v!r} (the run has {saved.get(k)!r})")
    return out


def _resume(folder, task, model, epochs, stop_at, time_limit, quiet, print_fn, warn,
            threads, options):
    last = folder.file(LAST)
    if not last.exists():
        raise RunError(f"nothing to resume in {folder}: it has no {LAST}"
                       + (f" (it holds {folder.describe()})" if folder.run_files() else ""))
    with folder.lock():
        ckpt = checkpoint.read(last)
        if ckpt.version < 2 or "run" not in ckpt.meta:
            raise RunError(f"{last}: written by an earlier tinygrad_attn (checkpoint format "
                           f"{ckpt.version}); eval and translate read it, --resume does not")
        run = ckpt.field("run", dict)
        saved = run.get("options")
        if not isinstance(saved, dict) or not isinstance(ckpt.meta.get("task"), dict):
            raise CheckpointError(f"{last}: its run options or its task are missing")
        Task = task_class(saved.get("task", "qa"))
        Model = model_class(ckpt.kind)
        model_options = {k: options.get(k) for k in MODEL_OPTIONS}
        asked = {"task": task, "model": model,
                 **{k: v for k, v in options.items() if k not in MODEL_OPTIONS},
                 **_resolved_model_options(model_keywords(Model, model_options))}
        differ = _differences(saved, asked)
        if differ:
            raise RunError(f"--resume: {last} was trained with other settings, so this would "
                           f"not continue it: {'; '.join(differ)}. Drop them, or start a new "
                           "run in another folder (or with --overwrite)")
        the_task = Task.from_metadata(ckpt.meta["task"], data=options.get("data"),
                                      beam=saved.get("beam", 1), where=str(last))
        for w in the_task.warnings:
            warn(w)
        stop_at = run.get("stop_at") if stop_at is None else stop_at
        _check_stop_at(Task, stop_at)
        epochs = run.get("epochs") if epochs is None else epochs
        net = checkpoint.build_model(ckpt)
        settings = {k: saved.get(k) for k in SETTINGS}
        try:
            batches = the_task.batches(settings["batch_size"], settings["seed"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{last}: its settings do not fit its data: {e}") from None
        meta = {"task": ckpt.meta["task"],
                "run": dict(run, epochs=epochs, stop_at=stop_at, threads=threads)}
        trainer, history, saver = _trainer(the_task, net, batches, settings, folder, meta,
                                           stop_at, time_limit, quiet, print_fn)
        try:
            trainer.load_state_dict({**ckpt.field("trainer", dict), "slots": ckpt.slots})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{last}: cannot resume from it: {e}") from None
        saver.repair(trainer, warn)
        if threads is not None and run.get("threads") not in (None, threads):
            warn(f"{last} was trained with {run['threads']} threads and this resume runs "
                 f"{threads}: the result can differ in its last bits from an uninterrupted "
                 "run")
        where = f"epoch {trainer.epoch}" + (f" + {trainer.epoch_step} steps"
                                            if trainer.epoch_step else "")
        if not isinstance(epochs, int) or epochs < trainer.epoch or (
                epochs == trainer.epoch and trainer.epoch_step):
            raise RunError(f"--epochs {epochs}: {last} is at {where} already; give a larger "
                           "--epochs to train on")
        reached = [r["epoch"] for r in history.epochs
                   if stop_at is not None and the_task.stopper(stop_at).reached(r)]
        if epochs == trainer.epoch or reached:
            saver.write_history(trainer)        # repair what a kill may have left behind
            why = (f"epoch {reached[0]} reached --stop-at {stop_at:g}" if reached
                   else f"it is at {where} of --epochs {epochs}")
            return RunResult(folder, trainer, the_task, history, saver.best,
                             f"nothing to do: {why}", trainer.step, list(the_task.warnings))
        start = trainer.step
        reason = trainer.fit(epochs)
    return RunResult(folder, trainer, the_task, history, saver.best, reason, start,
                     list(the_task.warnings))
