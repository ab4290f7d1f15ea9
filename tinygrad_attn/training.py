"""The training loop: one small loop for every task; its other jobs are callbacks.

    from tinygrad_attn.training import Trainer
    from tinygrad_attn.callbacks import History, Progress
    trainer = Trainer(model, batches, optimizer=Adam(model.parameters(), lr=1e-3),
                      clip_mode="norm", max_grad=5.0,
                      callbacks=[evaluation, History(), Progress()])
    trainer.fit(epochs=10)

Per step (the book's loop): a batch from `batches` (a resumable stream: batches.py), the
loss (``loss_fn(model, batch) -> (loss, {metric: float})``, by default ``model.loss(*batch)``),
a check that it is finite (`NonFiniteLoss` names the step; the step changes nothing),
backward, clipping (by global norm, the book's, or by value), the optimiser's step, the
scheduler's if there is one. Every `batches.steps_per_epoch` steps an epoch ends: the loop
makes its row (epoch, step, mean loss and step metrics, seconds, CPU seconds) and hands it
to each callback's `on_epoch_end` in order, where an evaluation adds its metrics, a
history records it, a saver writes checkpoints and a report prints it (OpenNMT-py's model
saver and report manager are the shape; callbacks.py, runs.py and tasks/ hold ours).

Stopping. `fit` ends when `epochs` epochs are done, or when a callback asks
(`trainer.request_stop(reason)`: a metric reached, a time limit) at the next step boundary.
Ctrl-C (SIGINT) and SIGTERM, while `fit` runs in the main thread, also ask at the next step
boundary instead of breaking a step in half: the callbacks' `on_stop` see a consistent
state at that step (a saver writes a resumable mid-epoch checkpoint) and `fit` then raises
`Interrupted` (a KeyboardInterrupt). A second Ctrl-C interrupts at once.

`state_dict()` holds everything the next step depends on (the optimiser's, the stream's
and the scheduler's states as checkpoint slots, the position in the epoch, the callbacks'
states), so a trainer restored from it continues bit for bit as if never stopped.
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time

import numpy as np

from .optim import Adam, clip_grad_norm_, clip_grad_value_

__all__ = ["Trainer", "Callback", "NonFiniteLoss", "Interrupted", "CLIP_MODES"]

CLIP_MODES = ("norm", "value")


class NonFiniteLoss(FloatingPointError):
    """The loss of a step is NaN or infinite: training stops there, before that step
    changes anything (`step`, `epoch`, `value`)."""

    def __init__(self, value, step, epoch):
        self.value, self.step, self.epoch = value, step, epoch
        super().__init__(f"the loss is {value} at step {step} (epoch {epoch}); training "
                         "stopped before that step changed anything (a smaller learning "
                         "rate or gradient clipping may help)")


class Interrupted(KeyboardInterrupt):
    """`fit` was interrupted (Ctrl-C or SIGTERM) and stopped cleanly after `step` (epoch
    `epoch` had `epoch_step` of its steps done); the callbacks' `on_stop` have run."""

    def __init__(self, step, epoch, epoch_step, signal_name="SIGINT"):
        self.step, self.epoch, self.epoch_step = step, epoch, epoch_step
        self.signal_name = signal_name
        super().__init__(f"interrupted ({signal_name}) after step {step}")


class Callback:
    """A job of the loop. Every hook is optional. A callback with state to keep across a
    resume has a `state_key` and `state_dict()` / `load_state_dict()` (JSON)."""

    state_key = None

    def on_fit_start(self, trainer):
        pass

    def on_step_end(self, trainer, loss, metrics):
        pass

    def on_epoch_end(self, trainer, row):
        """`row` is this epoch's dict; a callback may add to it (an evaluation does)."""

    def on_stop(self, trainer, reason):
        """The loop stops (`reason`: "done", "interrupted", what `request_stop` said, or
        "failed" when an exception ends it: then nothing of that state is to be kept)."""

    def state_dict(self):
        return None

    def load_state_dict(self, state):
        pass


class Trainer:
    """The loop; see the module docstring.

    model       has `parameters()` (and `loss(*batch)` unless `loss_fn` is given)
    batches     a resumable stream: `steps_per_epoch`, `next()`, `state_dict()`
    optimizer   default ``Adam(model.parameters(), lr)``
    clip_mode   "norm" (scale all gradients to a global norm <= max_grad, the book's) or
                "value" (clip each entry to [-max_grad, max_grad]); max_grad None: no clip
    scheduler   None, or an object with `step()` (called after each optimiser step) and
                `state_dict()` / `load_state_dict()` (saved as the slot "scheduler")
    callbacks   run in this order at every hook
    """

    def __init__(self, model, batches, *, optimizer=None, lr=1e-3, clip_mode="norm",
                 max_grad=5.0, loss_fn=None, scheduler=None, callbacks=()):
        if clip_mode not in CLIP_MODES:
            raise ValueError(f"Trainer: clip_mode must be one of {CLIP_MODES}, got "
                             f"{clip_mode!r}")
        if max_grad is not None and not (math.isfinite(max_grad) and max_grad > 0):
            raise ValueError(f"Trainer: max_grad must be a finite number > 0 (or None), "
                             f"got {max_grad!r}")
        if batches.steps_per_epoch < 1:
            raise ValueError("Trainer: the batch stream has no step in an epoch")
        self.model, self.batches = model, batches
        self.optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
        self.clip_mode, self.max_grad = clip_mode, max_grad
        self.loss_fn = loss_fn or (lambda m, batch: (m.loss(*batch), {}))
        self.scheduler = scheduler
        self.callbacks = list(callbacks)
        keys = [c.state_key for c in self.callbacks if c.state_key]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Trainer: two callbacks keep their state under one key ({keys})")
        self.step = 0             # optimiser steps done
        self.epoch = 0            # epochs completed
        self.epoch_step = 0       # steps of the current epoch done
        self._epoch = self._fresh_epoch()
        self._stop = None
        self._signal = None

    @property
    def steps_per_epoch(self):
        return self.batches.steps_per_epoch

    @staticmethod
    def _fresh_epoch():
        return {"losses": [], "metrics": {}, "seconds": 0.0, "cpu_seconds": 0.0}

    def request_stop(self, reason):
        """Ask the loop to stop at the next step boundary (or after this epoch's hooks)."""
        if self._stop is None:
            self._stop = reason

    # --- the loop -----------------------------------------------------------------------
    def fit(self, epochs):
        """Train until `epochs` epochs are done in all (a restored trainer continues from
        where it was), or a stop is asked for. Returns the reason it stopped ("done" or
        the callback's reason); raises `Interrupted` after a clean stop on Ctrl-C."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
        self._stop, self.epochs_target = None, int(epochs)
        if callable(getattr(self.model, "train", None)):
            self.model.train()    # training mode (dropout, batch norm); evaluations switch
                                  # to eval mode inside and restore it
        for cb in self.callbacks:
            cb.on_fit_start(self)
        with self._signals_stop_at_a_step_boundary():
            try:
                while self.epoch < epochs:
                    if self._stop is None and self._signal:
                        self._stop = "interrupted"
                    if self._stop is not None:
                        break
                    self._train_step()
                    if self.epoch_step == self.steps_per_epoch:
                        self._end_epoch()
            except BaseException:
                for cb in self.callbacks:       # "failed": nothing of this state is kept
                    with contextlib.suppress(Exception):
                        cb.on_stop(self, "failed")
                raise
            reason = self._stop or "done"
            for cb in self.callbacks:
                cb.on_stop(self, reason)
        if reason == "interrupted":
            raise Interrupted(self.step, self.epoch, self.epoch_step, self._signal)
        return reason

    def _train_step(self):
        t0, c0 = time.perf_counter(), time.process_time()
        batch = self.batches.next()
        loss, metrics = self.loss_fn(self.model, batch)
        value = float(loss.data)
        if not math.isfinite(value):
            raise NonFiniteLoss(value, self.step + 1, self.epoch + 1)
        self.model.zero_grad()
        loss.backward()
        if self.max_grad is not None:
            clip = clip_grad_norm_ if self.clip_mode == "norm" else clip_grad_value_
            clip(self.model.parameters(), self.max_grad)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        self.epoch_step += 1
        ep = self._epoch
        ep["losses"].append(value)
        for k, v in metrics.items():
            ep["metrics"].setdefault(k, []).append(float(v))
        ep["seconds"] += time.perf_counter() - t0
        ep["cpu_seconds"] += time.process_time() - c0
        for cb in self.callbacks:
            cb.on_step_end(self, value, metrics)

    def _end_epoch(self):
        ep = self._epoch
        self.epoch += 1
        self.epoch_step = 0
        self._epoch = self._fresh_epoch()
        row = {"epoch": self.epoch, "step": self.step, "loss": float(np.mean(ep["losses"]))}
        row.update({k: float(np.mean(v)) for k, v in ep["metrics"].items()})
        row.update(seconds=ep["seconds"], cpu_seconds=ep["cpu_seconds"])
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)

    @contextlib.contextmanager
    def _signals_stop_at_a_step_boundary(self):
        self._signal = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {}

        def ask(signum, frame):
            self._signal = signal.Signals(signum).name
            for s, handler in previous.items():    # a second signal acts at once
                signal.signal(s, handler)

        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[s] = signal.signal(s, ask)
            except (ValueError, OSError):       # not settable here (embedded interpreter)
                pass
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    # --- resuming -----------------------------------------------------------------------
    def slots(self):
        """The checkpoint slots: the optimiser's, the stream's, the scheduler's states."""
        out = {"optimizer": self.optimizer.state_dict(), "batches": self.batches.state_dict()}
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler.state_dict()
        return out

    def state_dict(self):
        """``{"progress": JSON, "callbacks": JSON, "slots": {name: slot state}}``."""
        ep = self._epoch
        return {"progress": {"step": self.step, "epoch": self.epoch,
                             "epoch_step": self.epoch_step,
                             "epoch_losses": list(ep["losses"]),
                             "epoch_metrics": {k: list(v) for k, v in ep["metrics"].items()},
                             "epoch_seconds": ep["seconds"],
                             "epoch_cpu_seconds": ep["cpu_seconds"]},
                "callbacks": {c.state_key: c.state_dict() for c in self.callbacks
                              if c.state_key},
                "slots": self.slots()}

    def load_state_dict(self, state):
        """Restore what `state_dict` returned; ValueError naming what does not fit."""
        p = state["progress"]
        for key in ("step", "epoch", "epoch_step"):
            if isinstance(p.get(key), bool) or not isinstance(p.get(key), int) or p[key] < 0:
                raise ValueError(f"progress {key} is {p.get(key)!r}, not a count")
        if p["epoch_step"] >= self.steps_per_epoch or \
                p["step"] != p["epoch"] * self.steps_per_epoch + p["epoch_step"]:
            raise ValueError(f"progress (step {p['step']}, epoch {p['epoch']}, epoch_step "
                             f"{p['epoch_step']}) does not fit epochs of "
                             f"{self.steps_per_epoch} steps")
        losses, metrics = p.get("epoch_losses"), p.get("epoch_metrics")
        if not isinstance(losses, list) or len(losses) != p["epoch_step"] or \
                not isinstance(metrics, dict):
            raise ValueError("progress: the current epoch's losses do not match its steps")
        slots = state["slots"]
        for name, obj in (("optimizer", self.optimizer), ("batches", self.batches),
                          ("scheduler", self.scheduler)):
            if obj is None:
                if name in slots:
                    raise ValueError(f"it holds a {name} state and this trainer has no {name}")
                continue
            if name not in slots:
                raise ValueError(f"it holds no {name} state")
            try:
                obj.load_state_dict(slots[name])
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"the {name} state does not fit: {e}") from None
        saved = state.get("callbacks", {})
        for c in self.callbacks:
            if c.state_key:
                if c.state_key not in saved:
                    raise ValueError(f"it holds no {c.state_key} state")
                c.load_state_dict(saved[c.state_key])
        self.step, self.epoch, self.epoch_step = p["step"], p["epoch"], p["epoch_step"]
        self._epoch = {"losses": [float(v) for v in losses],
                       "metrics": {k: [float(x) for x in v] for k, v in metrics.items()},
                       "seconds": float(p.get("epoch_seconds", 0.0)),
                       "cpu_seconds": float(p.get("epoch_cpu_seconds", 0.0))}
