"""The book's experiment as functions: train on a data file, evaluate and use a checkpoint.

The `tinygrad-attn` sub-commands `train`, `eval`, `translate` and `demo` are thin wrappers
around these (cli.py parses arguments and prints). Nothing here knows a particular model:
models are built by their plug-in name (`plugins.model_class`) and rebuilt from checkpoints
(`checkpoint.load_model`).

    result = train_file("date.txt", "runs/attention", model="attention", epochs=10)
    tr = Translator.load("runs/attention/best.npz")
    tr.translate(["september 27, 1994"]).answers          # ['1994-09-27']
    evaluate_file(tr, "date.txt")                         # its test split: accuracy, mistakes

A checkpoint carries its task under the metadata key ``task``: the vocabulary, the question
and answer widths, whether inputs were reversed, the start id and the data file's name, so
a question typed at translate time is padded and reversed exactly as the training data was.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from . import checkpoint
from .checkpoint import CheckpointError
from .data import EncodeError, Vocabulary, load_dataset
from .plugins import model_class
from .training import BEST, LAST, Trainer, exact_match

__all__ = ["task_metadata", "train_file", "Translator", "Translation", "evaluate_file",
           "EvalResult", "TrainResult", "ExperimentError"]


class ExperimentError(ValueError):
    """A request that cannot be carried out (the message says why and what to do)."""


def task_metadata(ds):
    """What a model trained on dataset `ds` needs to read and answer questions (JSON)."""
    return {"vocab": ds.vocab.to_dict(), "question_width": ds.question_width,
            "answer_width": ds.answer_width, "reverse": ds.reverse, "start_id": ds.start_id,
            "data": pathlib.Path(ds.path).name}


@dataclass
class TrainResult:
    trainer: Trainer
    dataset: object
    out_dir: pathlib.Path
    resumed_from: int      # the epoch the run continued from (0: a fresh run)


DEFAULTS = {"model": "attention", "batch_size": 128, "wordvec": 16, "hidden": 256,
            "lr": 1e-3, "max_grad": 5.0, "seed": 0, "reverse": True}


def train_file(data, out_dir, *, model=None, epochs=10, batch_size=None, wordvec=None,
               hidden=None, lr=None, max_grad=None, seed=None, reverse=None, beam=1,
               resume=False, quiet=False, stop_at=None, eval_batch_size=256):
    """Train a `model` plug-in on a data file (its book split: 90% train, the test 10% only
    evaluated). None means the default (`DEFAULTS`: the book's settings) or, with
    `resume=True`, what the checkpoint ``out_dir/last.npz`` was trained with: a resume
    continues it bit for bit, so a different model, size, reversal, batch size, clip or seed
    is an error (the learning rate comes from the saved optimiser). `epochs` counts all
    epochs, those before a resume included."""
    out_dir = pathlib.Path(out_dir)
    if resume:
        last = out_dir / LAST
        if not last.exists():
            raise ExperimentError(f"--resume: there is no {last} to continue from")
        net, ckpt = checkpoint.load_model(last)
        task = ckpt.meta.get("task")
        if not isinstance(task, dict):
            raise CheckpointError(f"{last}: holds no task metadata (vocabulary, widths)")
        asked = {"model": model, "wordvec": wordvec, "hidden": hidden, "reverse": reverse}
        there = {"model": ckpt.kind, "wordvec": ckpt.config.get("wordvec_size"),
                 "hidden": ckpt.config.get("hidden_size"), "reverse": task["reverse"]}
        differ = [f"{k}: {asked[k]!r} asked, {there[k]!r} in the checkpoint"
                  for k in asked if asked[k] is not None and asked[k] != there[k]]
        if differ:
            raise ExperimentError(f"--resume from {last}: " + "; ".join(differ))
        saved = ckpt.meta.get("trainer", {})
        asked = {"batch_size": batch_size, "max_grad": max_grad, "seed": seed}
        differ = [f"{k}: {v!r} asked, {saved.get(k)!r} in the checkpoint"
                  for k, v in asked.items() if v is not None and v != saved.get(k)]
        if differ:
            raise ExperimentError(f"--resume from {last}: " + "; ".join(differ))
        batch_size, max_grad, seed = (saved.get(k) for k in asked)
        lr = DEFAULTS["lr"]        # replaced by the saved optimiser's on restore
        ds = load_dataset(data, reverse=task["reverse"])
        if ds.vocab != Vocabulary.from_dict(task["vocab"]) or \
                ds.question_width != task["question_width"]:
            raise ExperimentError(f"--resume from {last}: {data} is not the data it was "
                                  f"trained on (its vocabulary or question width differ)")
    else:
        given = {"model": model, "batch_size": batch_size, "wordvec": wordvec,
                 "hidden": hidden, "lr": lr, "max_grad": max_grad, "seed": seed,
                 "reverse": reverse}
        s = {k: DEFAULTS[k] if v is None else v for k, v in given.items()}
        model, batch_size, lr, max_grad, seed = (s[k] for k in
                                                 ("model", "batch_size", "lr", "max_grad", "seed"))
        ds = load_dataset(data, reverse=s["reverse"])
        Model = model_class(model)
        net = Model(len(ds.vocab), wordvec_size=s["wordvec"], hidden_size=s["hidden"],
                    seed=seed)
        ckpt = None
    trainer = Trainer(net, ds.x_train, ds.t_train,
                      evaluate=exact_match(ds.x_test, ds.t_test, ds.start_id, beam=beam,
                                           batch_size=eval_batch_size),
                      batch_size=batch_size, lr=lr, max_grad=max_grad, seed=seed,
                      metadata={"task": task_metadata(ds)}, out_dir=out_dir, quiet=quiet)
    start = 0
    if ckpt is not None:
        trainer.restore(ckpt)
        start = trainer.epoch
    trainer.fit(epochs, stop_at=stop_at)
    return TrainResult(trainer, ds, out_dir, start)


@dataclass
class Translation:
    questions: list
    answers: list           # the decoded answers, trailing padding removed
    decoded: object         # decoding.Decoded (ids, attention, extras, logprob)


class Translator:
    """A trained model with its task: questions in, answers out (greedy or beam)."""

    def __init__(self, model, task, path=None):
        self.model, self.task, self.path = model, task, path
        self.vocab = Vocabulary.from_dict(task["vocab"])
        self.question_width = int(task["question_width"])
        self.answer_length = int(task["answer_width"]) - 1
        self.reverse = bool(task["reverse"])
        self.start_id = int(task["start_id"])

    @classmethod
    def load(cls, path):
        model, ckpt = checkpoint.load_model(path)
        task = ckpt.meta.get("task")
        if not isinstance(task, dict):
            raise CheckpointError(f"{path}: holds no task metadata (vocabulary, widths): not "
                                  "written by `tinygrad-attn train`")
        return cls(model, task, pathlib.Path(path))

    def encode(self, questions):
        """Questions -> (N, question_width) ids, padded (and reversed) as in training.
        EncodeError names every unseen character with its column, and too-long questions
        with both widths."""
        return self.vocab.encode_questions(questions, self.question_width, self.reverse)

    def decode_answer(self, ids):
        return self.vocab.decode(ids).rstrip(" ")

    def translate(self, questions, *, beam=1, batch_size=256):
        questions = list(questions)
        xs = self.encode(questions)
        out = self.model.decode(xs, self.start_id, self.answer_length, beam=beam,
                                batch_size=batch_size)
        return Translation(questions, [self.decode_answer(r) for r in out.ids], out)

    def reading_order(self, weights, question):
        """One input's attention (length, question_width) as columns in reading order:
        the question's characters, then one column summing the weight on the padding."""
        w = np.asarray(weights)
        if self.reverse:
            w = w[:, ::-1]
        n = len(question)
        return np.concatenate([w[:, :n], w[:, n:].sum(axis=1, keepdims=True)], axis=1)


@dataclass
class EvalResult:
    accuracy: float
    correct: int
    total: int
    split: str
    wrong: list          # (question, expected, got) of the first mistakes


def evaluate_file(translator, path, *, all_rows=False, beam=1, show=5, batch_size=256):
    """Exact-match accuracy of a checkpoint on a data file: its test split (the book's
    seeded split), or every row with `all_rows`. The file's questions are re-encoded with the
    checkpoint's vocabulary (EncodeError for characters the model never saw)."""
    ds = load_dataset(path, reverse=False)
    if ds.answer_width - 1 != translator.answer_length:
        raise ExperimentError(f"{path}: answers are {ds.answer_width - 1} characters wide, "
                              f"the model writes {translator.answer_length}")
    if all_rows:
        x = np.concatenate([ds.x_train, ds.x_test])
        t = np.concatenate([ds.t_train, ds.t_test])
    else:
        x, t = ds.x_test, ds.t_test
    questions = [ds.vocab.decode(r).rstrip(" ") for r in x]
    expected = [ds.vocab.decode(r[1:]).rstrip(" ") for r in t]
    try:
        xs = translator.encode(questions)
    except EncodeError as e:
        raise EncodeError(f"{path}", e.problems[:20] + (
            [f"... {len(e.problems) - 20} more"] if len(e.problems) > 20 else [])) from None
    ids = translator.model.decode(xs, translator.start_id, translator.answer_length,
                                  beam=beam, batch_size=batch_size).ids
    got = [translator.decode_answer(r) for r in ids]
    ok = [g == e for g, e in zip(got, expected)]
    wrong = [(q, e, g) for q, e, g, k in zip(questions, expected, got, ok) if not k][:show]
    total = len(ok)
    return EvalResult(accuracy=sum(ok) / total if total else float("nan"), correct=sum(ok),
                      total=total, split="all rows" if all_rows else "test split",
                      wrong=wrong)


def best_or_last(out_dir):
    """out_dir/best.npz if it exists, else out_dir/last.npz."""
    out_dir = pathlib.Path(out_dir)
    return out_dir / BEST if (out_dir / BEST).exists() else out_dir / LAST
