"""The `copy` task: the NTM copy task (Graves et al. 2014, section 4.1), scored by bits wrong.

    task = CopyTask(max_length=20, epoch_steps=100)
    model = task.build_model(model_class("ntm"), seed=0)
    evaluate(model, [1, 2, 20, 50], n=64)      # {length: mean bits wrong per sequence}

Data (data/copy_task.py): random 8-bit vectors, a delimiter, then silence while the model
writes them back; each batch draws one length uniformly from min_length..max_length (from
a `numpy.random.default_rng(seed + 1)` of its own). There is no data set to pass over, so
an epoch is `epoch_steps` batches: one history row, progress line and checkpoint each, its
``bits_wrong`` the mean over those batches (the paper's "cost per sequence").

A curriculum (`curriculum=START`) draws lengths from min_length..START at first and raises
START by one after each epoch whose mean bits wrong is below `curriculum_threshold`, up
to max_length (short sequences first: cheaper steps, and the heads learn to move one row
a step before long sequences make the gradients long). The best checkpoint is the epoch
with the fewest bits wrong over the full range of lengths, the lower loss between equals
(at 0 bits wrong the loss decides).
"""
from __future__ import annotations

import numpy as np

from ..callbacks import StopAt
from ..data.copy_task import BITS, bits_wrong, copy_batch
from ..training import Callback
from . import EvalReport, Task, TaskError, model_keywords

__all__ = ["CopyTask", "CopyBatches", "Curriculum", "evaluate", "parse_lengths"]


def parse_lengths(text):
    """'1-20,30,50,80' -> [1, 2, ..., 20, 30, 50, 80]; ValueError naming the bad part."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            elif part:
                out.append(int(part))
        except ValueError:
            raise ValueError(f"{part!r} in {text!r} is not a length or a range like "
                             "1-20") from None
    if not out:
        raise ValueError(f"{text!r} names no length (e.g. 1-20,30,50)")
    if min(out) < 1:
        raise ValueError(f"lengths must be at least 1, got {min(out)} in {text!r}")
    return out


class CopyBatches:
    """The copy task's stream: per batch a length drawn from min_length..top, then a batch
    of that length (data/copy_task.copy_batch), all from one generator. `top` is
    max_length, or the curriculum's current end."""

    def __init__(self, batch_size, seed, *, min_length, max_length, top=None,
                 bits=BITS, epoch_steps=100):
        self.batch_size, self.bits = int(batch_size), int(bits)
        self.min_length, self.max_length = int(min_length), int(max_length)
        self.top = self.max_length if top is None else max(self.min_length,
                                                           min(int(top), self.max_length))
        self.rng = np.random.default_rng(seed + 1)
        self.steps_per_epoch = int(epoch_steps)

    def next(self):
        L = int(self.rng.integers(self.min_length, self.top + 1))
        return copy_batch(self.rng, self.batch_size, L, self.bits)

    def state_dict(self):
        return {"hyper": {"type": "CopyBatches", "top": self.top,
                          "generator": self.rng.bit_generator.state}, "arrays": {}}

    def load_state_dict(self, state):
        hyper = state["hyper"]
        if hyper.get("type") != "CopyBatches":
            raise ValueError(f"CopyBatches.load_state_dict: the state is of a "
                             f"{hyper.get('type')!r}")
        top = hyper.get("top")
        if not isinstance(top, int) or not self.min_length <= top <= self.max_length:
            raise ValueError(f"top length {top!r} is outside {self.min_length}.."
                             f"{self.max_length}")
        self.rng.bit_generator.state = hyper["generator"]
        self.top = top


class Curriculum(Callback):
    """Records each epoch's longest length (``max_length`` in its row) and, with a
    curriculum, raises it after an epoch whose mean bits wrong is below `threshold`."""

    def __init__(self, batches, threshold=1.0, active=False):
        self.batches, self.threshold, self.active = batches, float(threshold), active

    def on_epoch_end(self, trainer, row):
        b = self.batches
        row["max_length"] = b.top
        if self.active and b.top < b.max_length and row["bits_wrong"] < self.threshold:
            b.top += 1


class _StopAtFullLength(StopAt):
    def __init__(self, value, max_length):
        super().__init__("bits_wrong", value, higher_is_better=False)
        self.max_length = max_length

    def reached(self, row):
        return row.get("max_length") == self.max_length and super().reached(row)


class CopyTask(Task):
    name = "copy"
    summary = "the NTM copy task: random 8-bit sequences written back, scored by bits wrong"
    metric = "bits_wrong"
    higher_is_better = False
    default_model = "ntm"
    model_inputs = ("input_size", "output_size")
    # the NTM paper's optimiser as pytorch-ntm runs it, at batch 16 (docs/results.md)
    defaults = {"epochs": 40, "batch_size": 16, "optimizer": "rmsprop", "max_grad": 10.0,
                "clip_mode": "value", "seed": 0, "epoch_steps": 100, "min_length": 1,
                "max_length": 20, "curriculum_threshold": 1.0}
    train_options = frozenset({"epoch_steps", "min_length", "max_length", "curriculum",
                               "curriculum_threshold"})
    eval_options = frozenset({"lengths", "examples", "seed"})

    def __init__(self, *, min_length=1, max_length=20, curriculum=None,
                 curriculum_threshold=1.0, epoch_steps=100, bits=BITS):
        if not 1 <= min_length <= max_length:
            raise TaskError(f"--min-length {min_length} and --max-length {max_length}: "
                            "need 1 <= min <= max")
        if curriculum is not None and not min_length <= curriculum <= max_length:
            raise TaskError(f"--curriculum {curriculum}: the first longest length must be "
                            f"within --min-length {min_length} .. --max-length {max_length}")
        self.min_length, self.max_length = int(min_length), int(max_length)
        self.curriculum = None if curriculum is None else int(curriculum)
        self.curriculum_threshold = float(curriculum_threshold)
        self.epoch_steps, self.bits = int(epoch_steps), int(bits)

    @classmethod
    def from_metadata(cls, meta, where="the checkpoint", **ignored):
        try:
            return cls(**{k: meta[k] for k in ("min_length", "max_length", "curriculum",
                                               "curriculum_threshold", "epoch_steps", "bits")})
        except (KeyError, TypeError, ValueError) as e:
            raise TaskError(f"{where}: its copy-task metadata is broken "
                            f"({type(e).__name__}: {e})") from None

    def metadata(self):
        return {"name": self.name, "bits": self.bits, "min_length": self.min_length,
                "max_length": self.max_length, "curriculum": self.curriculum,
                "curriculum_threshold": self.curriculum_threshold,
                "epoch_steps": self.epoch_steps}

    def options(self):
        return {k: v for k, v in self.metadata().items() if k in self.train_options}

    def describe(self):
        lengths = (f"{self.min_length}-{self.max_length}" if self.curriculum is None else
                   f"{self.min_length}-{self.curriculum}, raised to {self.max_length}")
        return (f"copy task: {self.bits}-bit vectors, lengths {lengths}, an epoch is "
                f"{self.epoch_steps} batches")

    def build_model(self, Model, *, seed=0, **options):
        return Model(input_size=self.bits + 1, output_size=self.bits, seed=seed,
                     **model_keywords(Model, options))

    def batches(self, batch_size, seed):
        return CopyBatches(batch_size, seed, min_length=self.min_length,
                           max_length=self.max_length, top=self.curriculum, bits=self.bits,
                           epoch_steps=self.epoch_steps)

    def loss(self, model, batch):
        import tinygrad_attn.functions as F
        xs, targets, mask = batch
        logits, _ = model(xs)
        loss = F.binary_cross_entropy_with_logits(logits[:, mask], targets[:, mask])
        return loss, {"bits_wrong": float(bits_wrong(logits.data, targets, mask).mean())}

    def callbacks(self, batches):
        return [Curriculum(batches, self.curriculum_threshold,
                           active=self.curriculum is not None)]

    def stopper(self, value):
        return _StopAtFullLength(value, self.max_length)

    @classmethod
    def report(cls, model, ckpt, *, lengths=None, examples=None, seed=None):
        """Mean bits wrong per sequence at each length (default 1-20,30,50,80) over
        `examples` fresh sequences each (default 64), drawn from `seed` (default 1234)."""
        lengths = parse_lengths(lengths or "1-20,30,50,80")
        n, seed = examples or 64, 1234 if seed is None else seed
        task = ckpt.meta.get("task", {})
        bits = task.get("bits", BITS) if isinstance(task, dict) else BITS
        table = evaluate(model, lengths, n=n, seed=seed, bits=bits)
        p = ckpt.meta.get("trainer", {}).get("progress", {})
        lines = [f"{ckpt.path}: {ckpt.kind} after {p.get('step', '?')} steps, mean bits "
                 f"wrong per sequence ({n} sequences per length, seed {seed})"]
        lines += [f"  length {L:3d}: {v:7.2f} of {bits * L} bits" for L, v in table.items()]
        return EvalReport(lines, {"checkpoint": str(ckpt.path), "kind": ckpt.kind,
                                  "step": p.get("step"), "n": n, "seed": seed,
                                  "bits_wrong": {str(k): v for k, v in table.items()}})

    def objective(self, row):
        if row.get("max_length") != self.max_length:
            return None             # only over the full range of lengths
        return (row["bits_wrong"], row["loss"])


def evaluate(model, lengths, *, n=64, seed=1234, batch_size=32, bits=BITS):
    """{length: mean bits wrong per sequence over `n` fresh sequences} (under no_grad, the
    model in evaluation mode)."""
    import tinygrad_attn as tga
    from tinygrad_attn.decoding import evaluating
    rng = np.random.default_rng(seed)
    result = {}
    with tga.no_grad(), evaluating(model):
        for L in lengths:
            wrong = []
            for start in range(0, n, batch_size):
                xs, ts, mask = copy_batch(rng, min(batch_size, n - start), L, bits)
                logits, _ = model(xs)
                wrong.append(bits_wrong(logits.data, ts, mask))
            result[L] = float(np.concatenate(wrong).mean())
    return result
