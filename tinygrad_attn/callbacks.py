"""The training loop's jobs besides stepping, as callbacks (training.py runs them in order).

    History()                     every step's loss and step metrics, every epoch's row
    Evaluation(evaluate)          ``evaluate(model) -> {metric: float}`` after each epoch
    StopAt("accuracy", 0.99)      stop after the first epoch that reaches it
    TimeLimit(3600)               stop (resumably) after this much wall time
    Progress(quiet=False)         a tqdm bar on a terminal, one line per epoch

The model saver (last and best checkpoints, history files in a run folder) is in runs.py;
the task-specific ones (a curriculum) are with their task in tasks/.
"""
from __future__ import annotations

import csv
import io
import math
import sys
import time

import numpy as np

from .training import Callback

__all__ = ["History", "Evaluation", "StopAt", "TimeLimit", "Progress", "format_metric"]


class History(Callback):
    """Records every step's loss (and step metrics) and every epoch's row. `loss`,
    `epochs` (list of rows), `step_metrics` ({name: [per step]}); `to_dict()` is what
    history.json holds; `epochs_csv()` / `loss_csv()` the CSV files."""

    state_key = "history"

    def __init__(self):
        self.loss, self.epochs, self.step_metrics = [], [], {}

    def on_step_end(self, trainer, loss, metrics):
        self.loss.append(loss)
        for k, v in metrics.items():
            self.step_metrics.setdefault(k, []).append(float(v))

    def on_epoch_end(self, trainer, row):
        self.epochs.append(row)

    def metric(self, name):
        """The metric `name` per epoch (a list, epoch 1 first; None where absent)."""
        return [e.get(name) for e in self.epochs]

    def to_dict(self):
        return {"loss": list(self.loss), "epochs": [dict(e) for e in self.epochs],
                "step_metrics": {k: list(v) for k, v in self.step_metrics.items()}}

    state_dict = to_dict

    def load_state_dict(self, state):
        if not isinstance(state, dict) or not isinstance(state.get("loss"), list) or \
                not isinstance(state.get("epochs"), list) or \
                not all(isinstance(e, dict) for e in state["epochs"]):
            raise ValueError("history is not {loss: [...], epochs: [{...}]}")
        self.loss = [float(v) for v in state["loss"]]
        self.epochs = [dict(e) for e in state["epochs"]]
        self.step_metrics = {k: [float(x) for x in v]
                             for k, v in state.get("step_metrics", {}).items()}

    def epochs_csv(self):
        keys = []
        for e in self.epochs:
            keys += [k for k in e if k not in keys]
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        w.writerows(self.epochs)
        return out.getvalue()

    def loss_csv(self):
        names = list(self.step_metrics)
        head = ",".join(["step", "loss"] + names) + "\n"
        return head + "".join(
            ",".join([str(i + 1), repr(v)] + [repr(self.step_metrics[k][i]) for k in names])
            + "\n" for i, v in enumerate(self.loss))


class Evaluation(Callback):
    """Runs ``evaluate(model) -> {metric: float}`` after each epoch and adds the metrics
    and ``eval_seconds`` to the row. A metric that is not finite is an error (it would
    pick the best checkpoint by a NaN)."""

    def __init__(self, evaluate):
        self.evaluate = evaluate

    def on_epoch_end(self, trainer, row):
        t0 = time.perf_counter()
        metrics = dict(self.evaluate(trainer.model))
        row["eval_seconds"] = time.perf_counter() - t0
        for k, v in metrics.items():
            v = float(v)
            if not math.isfinite(v):
                raise FloatingPointError(f"the evaluation's {k} is {v} after epoch "
                                         f"{row['epoch']}")
            row[k] = v


class StopAt(Callback):
    """Stops after the first epoch whose `metric` reaches `value` (>= when higher is
    better, <= otherwise)."""

    def __init__(self, metric, value, higher_is_better=True):
        self.metric, self.value, self.higher = metric, float(value), higher_is_better

    def reached(self, row):
        v = row.get(self.metric)
        return v is not None and (v >= self.value if self.higher else v <= self.value)

    def on_epoch_end(self, trainer, row):
        if self.reached(row):
            trainer.request_stop(f"{self.metric} reached {self.value:g}")


class TimeLimit(Callback):
    """Asks the loop to stop (at a step boundary, resumably) once `seconds` of wall time
    have passed since `fit` started."""

    def __init__(self, seconds):
        self.seconds = float(seconds)

    def on_fit_start(self, trainer):
        self.t0 = time.perf_counter()

    def on_step_end(self, trainer, loss, metrics):
        if time.perf_counter() - self.t0 > self.seconds:
            trainer.request_stop(f"time limit of {self.seconds:g} s")


def format_metric(name, value):
    return f"{name} {value:.2%}" if name == "accuracy" else f"{name} {value:.4g}"


class Progress(Callback):
    """The report: a tqdm bar per epoch (running loss, steps/s, ETA) on a terminal, and one
    line per epoch (to `print_fn`, flushed). `quiet`: neither."""

    SKIP = {"epoch", "step", "loss", "seconds", "cpu_seconds", "eval_seconds"}

    def __init__(self, quiet=False, print_fn=None, stream=None):
        self.quiet = quiet
        self.print_fn = print_fn or (lambda text: print(text, flush=True))
        self.stream = stream
        self.bar = None

    def on_fit_start(self, trainer):
        if self.quiet:
            return
        n = sum(int(p.data.size) for p in trainer.model.parameters())
        start = (f"from step {trainer.step} (epoch {trainer.epoch + 1}, step "
                 f"{trainer.epoch_step + 1} of it)" if trainer.step else "from the start")
        self.print_fn(f"training {trainer.model.kind} ({n:,} parameters), "
                      f"{trainer.steps_per_epoch} steps per epoch, to epoch "
                      f"{trainer.epochs_target}, {start}")

    @staticmethod
    def _label(trainer, epoch):
        of = getattr(trainer, "epochs_target", None)
        return f"epoch {epoch}" + (f"/{of}" if of else "")

    def on_step_end(self, trainer, loss, metrics):
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm
            stream = self.stream or sys.stderr
            self.bar = tqdm(total=trainer.steps_per_epoch, initial=trainer.epoch_step - 1,
                            desc=self._label(trainer, trainer.epoch + 1), unit="step",
                            leave=False,
                            file=stream, dynamic_ncols=True,
                            disable=not getattr(stream, "isatty", lambda: False)())
            self.recent = []
        self.recent = (self.recent + [loss])[-50:]
        self.bar.update(1)
        if not self.bar.disable:
            self.bar.set_postfix(loss=f"{np.mean(self.recent):.4f}", refresh=False)

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, trainer, row):
        self._close()
        if self.quiet:
            return
        shown = "  ".join(format_metric(k, v) for k, v in row.items()
                          if k not in self.SKIP and isinstance(v, float))
        s = row["seconds"]
        steps = trainer.steps_per_epoch
        evaluated = f"  eval {row['eval_seconds']:.1f} s" if "eval_seconds" in row else ""
        self.print_fn(f"{self._label(trainer, row['epoch'])} (step {row['step']}): loss "
                      f"{row['loss']:.4f}  {shown}  train {s:.1f} s (CPU "
                      f"{row['cpu_seconds']:.1f} s, {steps / s if s else 0:.1f} steps/s)"
                      f"{evaluated}")

    def on_stop(self, trainer, reason):
        self._close()
