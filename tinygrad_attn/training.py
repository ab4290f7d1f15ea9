"""Training a model that follows the model protocol: the book's loop, checkpoints, resume.

    from tinygrad_attn.training import Trainer, exact_match
    trainer = Trainer(model, x_train, t_train,
                      evaluate=exact_match(x_test, t_test, start_id),   # model -> {"accuracy": ..}
                      batch_size=128, lr=1e-3, max_grad=5.0, seed=0, out_dir="runs/attention",
                      metadata={"task": {...}})                         # JSON, kept in checkpoints
    history = trainer.fit(epochs=10)            # trains until trainer.epoch == 10
    trainer = Trainer(model, x_train, t_train, ..., out_dir="runs/attention")
    trainer.restore("runs/attention/last.npz"); trainer.fit(epochs=12)  # bit-exact continuation

The Trainer knows a model only through the protocol (`loss(xs, ts)`, `parameters()`,
`kind`, `config()`, `state_dict()`/`load_state_dict()`; `decode` through `exact_match`), the
optimiser (`optim.Adam`, the book's, with `clip_grad_norm_`) and `checkpoint`; never the
models package. Each epoch, as the book's `Trainer.fit`: a permutation of the training rows
from a `numpy.random.RandomState(seed)` the Trainer owns (`np.random.permutation`, the
book's call, on our own generator), then ``len // batch_size`` batches in that order (the
remainder is skipped, as in the book); per batch: loss, backward, clip by global norm,
Adam step. After each epoch: `evaluate(model)` (any callable returning a dict of floats;
`exact_match` decodes the test set, batched, greedy or beam), then, with `out_dir`:

    out_dir/last.npz       newest checkpoint: parameters, Adam state, RNG state, epoch, step,
                           history, settings and your metadata (checkpoint.save_training)
    out_dir/best.npz       the checkpoint of the best epoch by `best_metric` (higher is better)
    out_dir/history.json   {"loss": [per step], "epochs": [{epoch, step, loss, seconds,
                           cpu_seconds, eval_seconds, <metrics>}], ...}
    out_dir/history.csv    one row per epoch;   out_dir/loss.csv  one row per step

A per-epoch tqdm bar shows the running loss, steps/s and the ETA on a terminal (none when
stderr is not a terminal, or with quiet=True); one summary line per epoch is printed unless
quiet. Everything that decides the next step (parameters, Adam's m, v and t, the generator,
the epoch) is in the checkpoint, so `restore` + `fit` gives the same parameters, bit for
bit, as an uninterrupted run (a test proves it).
"""
from __future__ import annotations

import csv
import io
import json
import math
import pathlib
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import checkpoint
from .checkpoint import CheckpointError
from .files import write_atomic
from . import threads
from .memory import configure_from_environment
from .optim import Adam, clip_grad_norm_

__all__ = ["Trainer", "History", "exact_match", "LAST", "BEST"]

LAST, BEST = "last.npz", "best.npz"


def exact_match(x, t, start_id, *, beam=1, batch_size=256, name="accuracy"):
    """An evaluation: the share of rows of `x` whose decoded answer equals ``t[:, 1:]``
    exactly, every character (the book's measure). ``t[:, 0]`` is the start token; the
    answer length is ``t.shape[1] - 1``. Returns ``model -> {name: float}``."""
    x, t = np.asarray(x), np.asarray(t)
    if len(x) != len(t):
        raise ValueError(f"exact_match: {len(x)} inputs but {len(t)} answers")

    def evaluate(model):
        if len(x) == 0:
            return {name: float("nan")}
        ids = model.decode(x, start_id, t.shape[1] - 1, beam=beam, batch_size=batch_size).ids
        return {name: float((ids == t[:, 1:]).all(axis=1).mean())}

    return evaluate


@dataclass
class History:
    """`loss`: the loss of every step; `epochs`: one dict per epoch with epoch, step, loss
    (the epoch's mean), seconds (training, wall clock), cpu_seconds (training, this
    process's CPU time: on a shared machine the fairer measure), eval_seconds and the
    evaluation's metrics."""

    loss: list = field(default_factory=list)
    epochs: list = field(default_factory=list)

    def to_dict(self):
        return {"loss": list(self.loss), "epochs": [dict(e) for e in self.epochs]}

    @classmethod
    def from_dict(cls, d):
        return cls(loss=[float(v) for v in d["loss"]], epochs=[dict(e) for e in d["epochs"]])

    def metric(self, name):
        """The metric `name` per epoch (a list, epoch 1 first)."""
        return [e.get(name) for e in self.epochs]

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
        return "step,loss\n" + "".join(f"{i + 1},{v!r}\n" for i, v in enumerate(self.loss))


class Trainer:
    """The book's training loop for any protocol model; see the module docstring.

    model        has `loss(xs, ts)`, `parameters()`, `kind`, `config()`, `state_dict()`
    x, t         training inputs (N, Te) and targets (N, Td + 1) (integer arrays; any
                 arrays `loss` accepts, indexed along axis 0)
    evaluate     None or ``model -> {metric: float}``, run after each epoch
    best_metric  the metric (higher is better) that picks best.npz
    optimizer    default ``Adam(model.parameters(), lr)``
    metadata     JSON-able dict stored in every checkpoint (e.g. the task's vocabulary)
    out_dir      where checkpoints and history go (None: nowhere)
    quiet        no progress bar and no summary lines
    """

    def __init__(self, model, x, t, *, evaluate=None, best_metric="accuracy", batch_size=128,
                 lr=1e-3, max_grad=5.0, seed=0, optimizer=None, metadata=None, out_dir=None,
                 quiet=False):
        configure_from_environment()     # recycle freed arrays between steps (memory.py)
        threads.configure_from_environment()   # products and recurrences on every core
        if len(x) != len(t):
            raise ValueError(f"Trainer: {len(x)} inputs but {len(t)} targets")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"Trainer: batch_size must be a positive integer, got {batch_size!r}")
        if len(x) < batch_size:
            raise ValueError(f"Trainer: {len(x)} training examples, fewer than one batch of "
                             f"{batch_size}")
        self.model, self.x, self.t = model, x, t
        self.evaluate, self.best_metric = evaluate, best_metric
        self.batch_size, self.max_grad, self.seed = int(batch_size), max_grad, int(seed)
        self.optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
        self.metadata = dict(metadata or {})
        self.out_dir = None if out_dir is None else pathlib.Path(out_dir)
        self.quiet = quiet
        self.rng = np.random.RandomState(self.seed)
        self.epoch = 0
        self.step = 0
        self.history = History()
        self.best = None            # {"epoch": .., best_metric: ..} of the best epoch so far

    # --- the loop -----------------------------------------------------------------------
    @property
    def steps_per_epoch(self):
        return len(self.x) // self.batch_size

    def fit(self, epochs, *, stop_at=None):
        """Train until `epochs` epochs are done in all (a restored trainer continues from its
        epoch). `stop_at`: stop after the first epoch whose `best_metric` reaches it.
        Returns the `History`."""
        while self.epoch < epochs:
            metrics = self.train_epoch(epochs)
            if stop_at is not None and metrics.get(self.best_metric, -math.inf) >= stop_at:
                break
        return self.history

    def train_epoch(self, epochs=None):
        """One epoch, its evaluation, its checkpoints; returns the epoch's history row."""
        from tqdm import tqdm

        model, B, n_steps = self.model, self.batch_size, self.steps_per_epoch
        idx = self.rng.permutation(len(self.x))           # the book's np.random.permutation
        label = f"epoch {self.epoch + 1}" + (f"/{epochs}" if epochs else "")
        bar = tqdm(total=n_steps, desc=label, unit="step", leave=False, file=sys.stderr,
                   disable=self.quiet or not sys.stderr.isatty(), dynamic_ncols=True)
        losses = []
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            for i in range(n_steps):
                rows = idx[i * B:(i + 1) * B]
                model.zero_grad()
                loss = model.loss(self.x[rows], self.t[rows])
                loss.backward()
                if self.max_grad is not None:
                    clip_grad_norm_(model.parameters(), self.max_grad)
                self.optimizer.step()
                value = float(loss.data)
                losses.append(value)
                self.step += 1
                bar.update(1)
                if not bar.disable:
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", refresh=False)
        finally:
            bar.close()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.epoch += 1
        row = {"epoch": self.epoch, "step": self.step,
               "loss": float(np.mean(losses)) if losses else float("nan"),
               "seconds": seconds, "cpu_seconds": cpu}
        t1 = time.perf_counter()
        metrics = dict(self.evaluate(self.model)) if self.evaluate else {}
        row["eval_seconds"] = time.perf_counter() - t1
        row.update({k: float(v) for k, v in metrics.items()})
        self.history.loss.extend(losses)
        self.history.epochs.append(row)
        improved = self.best_metric in metrics and (
            self.best is None or metrics[self.best_metric] > self.best[self.best_metric])
        if improved:
            self.best = {"epoch": self.epoch, self.best_metric: row[self.best_metric]}
        if self.out_dir is not None:
            self.save(self.out_dir / LAST)
            if improved:
                self.save(self.out_dir / BEST)
            self.write_history()
        if not self.quiet:
            shown = "  ".join(f"{k} {v:.2%}" if k == "accuracy" else f"{k} {v:.4g}"
                              for k, v in metrics.items())
            print(f"{label}: loss {row['loss']:.4f}  {shown}  train {seconds:.1f} s "
                  f"(CPU {cpu:.1f} s, {n_steps / seconds if seconds else 0:.1f} steps/s)  "
                  f"eval {row['eval_seconds']:.1f} s", flush=True)
        return row

    # --- files --------------------------------------------------------------------------
    def settings(self):
        return {"batch_size": self.batch_size, "max_grad": self.max_grad, "seed": self.seed,
                "n_train": len(self.x), "best_metric": self.best_metric}

    def save(self, path):
        """A checkpoint of everything a bit-exact resume needs, atomically."""
        return checkpoint.save_training(
            path, self.model, optimizer=self.optimizer, rng=self.rng, epoch=self.epoch,
            step=self.step, history=self.history.to_dict(), best=self.best,
            trainer=self.settings(), **self.metadata)

    def write_history(self):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.out_dir / "history.json",
                     json.dumps({**self.history.to_dict(), "best": self.best,
                                 "kind": self.model.kind, "config": self.model.config(),
                                 "trainer": self.settings()}, indent=1))
        write_atomic(self.out_dir / "history.csv", self.history.epochs_csv())
        write_atomic(self.out_dir / "loss.csv", self.history.loss_csv())

    def restore(self, source):
        """Continue from a checkpoint (a path or a `checkpoint.Checkpoint`): parameters,
        optimiser, generator, epoch, step, history. The model must be of the checkpoint's
        kind and config, and the training settings the same (CheckpointError otherwise)."""
        ckpt = source if isinstance(source, checkpoint.Checkpoint) else checkpoint.read(source)
        where = ckpt.path
        if ckpt.kind != self.model.kind or ckpt.config != self.model.config():
            raise CheckpointError(f"{where}: holds a {ckpt.kind!r} model {ckpt.config}, not "
                                  f"this {self.model.kind!r} model {self.model.config()}")
        missing = [k for k in ("epoch", "step", "history", "trainer") if k not in ckpt.meta]
        if missing or ckpt.optimizer is None or ckpt.rng is None:
            missing += [k for k, v in (("optimizer", ckpt.optimizer), ("rng", ckpt.rng))
                        if v is None]
            raise CheckpointError(f"{where}: cannot resume training from it (it lacks "
                                  f"{', '.join(missing)})")
        saved = ckpt.meta["trainer"]
        differ = [f"{k} {saved.get(k)!r} there, {v!r} here" for k, v in self.settings().items()
                  if saved.get(k) != v]
        if differ:
            raise CheckpointError(f"{where}: was trained with other settings, a resume would "
                                  f"not continue it: {'; '.join(differ)}")
        self.model.load_state_dict(ckpt.params)
        try:
            self.optimizer.load_state_dict(ckpt.optimizer)
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{where}: optimizer state does not fit: {e}") from None
        self.rng.set_state(ckpt.rng)
        self.epoch, self.step = int(ckpt.meta["epoch"]), int(ckpt.meta["step"])
        self.history = History.from_dict(ckpt.meta["history"])
        self.best = ckpt.meta.get("best")
        return ckpt
