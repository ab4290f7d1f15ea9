"""The `qa` task: questions and answers of a data file in the book's format (dates, addition,
yours), scored by exact match, the book's measure (chapter 8).

    task = QATask.load("date.txt", reverse=True)   # the book's 90/10 split, reversed input
    model = task.build_model(model_class("attention"), seed=0, hidden=256)
    tr = Translator.load("runs/attention/best.npz")
    tr.translate(["september 27, 1994"]).answers    # ['1994-09-27']
    evaluate_file(tr, "date.txt")                   # its test split: accuracy, mistakes

A checkpoint carries the task under the metadata key ``task``: the vocabulary, the question
and answer widths, whether inputs were reversed, the start id and the data file (its path,
name and SHA-256), so a question typed at translate time is padded and reversed exactly as
the training data was, and a resume can tell that it reads the same data.
"""
from __future__ import annotations

import hashlib
import pathlib
from dataclasses import dataclass

import numpy as np

from ..batches import ShuffledRows
from ..callbacks import Evaluation
from ..data import DataFileError, EncodeError, Vocabulary, load_dataset
from . import EvalReport, Task, TaskError, model_keywords

__all__ = ["QATask", "exact_match", "read_data", "Translator", "Translation",
           "evaluate_file", "EvalResult"]


def exact_match(x, t, start_id, *, beam=1, batch_size=256, name="accuracy"):
    """An evaluation: the share of rows of `x` whose decoded answer equals ``t[:, 1:]``
    exactly, every character (the book's measure). ``t[:, 0]`` is the start token; the
    answer length is ``t.shape[1] - 1``. Returns ``model -> {name: float}``."""
    x, t = np.asarray(x), np.asarray(t)
    if len(x) != len(t):
        raise ValueError(f"exact_match: {len(x)} inputs but {len(t)} answers")
    if len(x) == 0:
        raise ValueError("exact_match: no rows to score (an empty test split)")

    def evaluate(model):
        ids = model.decode(x, start_id, t.shape[1] - 1, beam=beam, batch_size=batch_size).ids
        return {name: float((ids == t[:, 1:]).all(axis=1).mean())}

    return evaluate


def read_data(path, *, reverse=False):
    """`load_dataset(path)`, with a file that cannot be read as a TaskError naming it
    (DataFileError, listing the problems by line, passes through)."""
    try:
        return load_dataset(path, reverse=reverse)
    except FileNotFoundError:
        raise TaskError(f"{path}: no such data file") from None
    except IsADirectoryError:
        raise TaskError(f"{path}: is a folder, not a data file") from None
    except DataFileError:
        raise
    except OSError as e:
        raise TaskError(f"cannot read {path}: {e.strerror or e}") from None


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class QATask(Task):
    name = "qa"
    summary = ("questions and answers of a data file (dates, addition, yours), scored by "
               "exact match")
    metric = "accuracy"
    higher_is_better = True
    default_model = "attention"
    model_inputs = ("vocab_size",)
    defaults = {"epochs": 10, "batch_size": 128, "optimizer": "adam", "max_grad": 5.0,
                "clip_mode": "norm", "seed": 0, "reverse": True, "beam": 1}
    train_options = frozenset({"data", "reverse", "beam"})
    eval_options = frozenset({"data", "all", "beam", "show"})

    def __init__(self, dataset, *, sha256=None, beam=1):
        self.dataset, self.beam = dataset, beam
        self.sha256 = sha256 or _sha256(dataset.path)

    @classmethod
    def load(cls, data, *, reverse=True, beam=1):
        """The task of a data file, checked for training: readable, at least 10 examples
        (a non-empty test split), questions and answers at least one character wide."""
        ds = read_data(data, reverse=reverse)
        if ds.question_width < 1 or ds.answer_width < 2:
            what = "question" if ds.question_width < 1 else "answer"
            raise TaskError(f"{data}: every {what} is empty; there is nothing to train on")
        if len(ds.x_test) == 0:
            raise TaskError(f"{data}: {len(ds.x_train)} examples, so its test split (the "
                            "last 10% after the book's shuffle) is empty; training needs at "
                            "least 10")
        return cls(ds, beam=beam)

    @classmethod
    def from_metadata(cls, meta, *, data=None, beam=1, where="the checkpoint"):
        """The task a checkpoint was trained on, its data read again from `data` (default:
        the file it recorded); TaskError if that file is not the same data."""
        path = data if data is not None else meta.get("data")
        if not isinstance(path, str) and not isinstance(path, pathlib.Path):
            raise TaskError(f"{where} records no data file; give --data")
        task = cls.load(path, reverse=bool(meta.get("reverse", True)), beam=beam)
        if meta.get("data_sha256") not in (None, task.sha256):
            raise TaskError(f"{path} is not the data {where} was trained on (its contents "
                            f"differ from {meta.get('data_name', 'that file')}'s)")
        return task

    def metadata(self):
        ds = self.dataset
        return {"name": self.name, "vocab": ds.vocab.to_dict(),
                "question_width": ds.question_width, "answer_width": ds.answer_width,
                "reverse": ds.reverse, "start_id": ds.start_id,
                "data": str(pathlib.Path(ds.path).resolve()),
                "data_name": pathlib.Path(ds.path).name, "data_sha256": self.sha256,
                "examples": len(ds.x_train) + len(ds.x_test)}

    def options(self):
        return {"data": str(pathlib.Path(self.dataset.path).resolve()),
                "reverse": self.dataset.reverse, "beam": self.beam}

    @property
    def warnings(self):
        return [f"{self.dataset.path}: {w}" for w in self.dataset.warnings]

    def describe(self):
        return str(self.dataset)

    def build_model(self, Model, *, seed=0, **options):
        return Model(len(self.dataset.vocab), seed=seed, **model_keywords(Model, options))

    def batches(self, batch_size, seed):
        n = len(self.dataset.x_train)
        if n < batch_size:
            raise TaskError(f"{self.dataset.path}: {n} training examples, fewer than one "
                            f"batch of {batch_size} (--batch-size)")
        return ShuffledRows((self.dataset.x_train, self.dataset.t_train), batch_size, seed)

    @classmethod
    def report(cls, model, ckpt, *, data=None, all=False, beam=None, show=None):  # noqa: A002
        """Exact match of a checkpoint on a data file (default: the one it was trained on):
        its test split, or every row with `all`; the first `show` mistakes."""
        tr = Translator.from_checkpoint(model, ckpt)
        if data is None:
            data = tr.task.get("data")
            if not isinstance(data, str) or not pathlib.Path(data).is_file():
                raise TaskError(f"{ckpt.path}: give --data FILE (the file it was trained on, "
                                f"{data}, is not there)" if data else
                                f"{ckpt.path}: give --data FILE to evaluate it on")
        beam = beam or 1
        res = evaluate_file(tr, data, all_rows=all, beam=beam, show=5 if show is None else show)
        lines = [f"{ckpt.path} on the {res.split} of {data}: accuracy {res.accuracy:.2%} "
                 f"({res.correct}/{res.total}, {'greedy' if beam == 1 else f'beam {beam}'})"]
        if res.wrong:
            width = max(len(q) for q, _, _ in res.wrong)
            lines.append(f"first {len(res.wrong)} wrong answers (question | right | model):")
            lines += [f"  {q:<{width}} | {e} | {g}" for q, e, g in res.wrong]
        result = {"checkpoint": str(ckpt.path), "data": str(data), "beam": beam,
                  **res.to_dict()}
        return EvalReport(lines, result, [f"{data}: {w}" for w in res.warnings])

    def callbacks(self, batches):
        ds = self.dataset
        return [Evaluation(exact_match(ds.x_test, ds.t_test, ds.start_id, beam=self.beam))]


# --- using a trained model: translate and evaluate ----------------------------------------
@dataclass
class Translation:
    questions: list
    answers: list           # the decoded answers, trailing padding removed
    decoded: object         # decoding.Decoded (ids, attention, extras, logprob)


class Translator:
    """A trained model with its task: questions in, answers out (greedy or beam)."""

    def __init__(self, model, task, path=None):
        self.model, self.task, self.path = model, task, path
        try:
            self.vocab = Vocabulary.from_dict(task["vocab"])
            self.question_width = int(task["question_width"])
            self.answer_length = int(task["answer_width"]) - 1
            self.reverse = bool(task["reverse"])
            self.start_id = int(task["start_id"])
        except (KeyError, TypeError, ValueError) as e:
            raise TaskError(f"{path or 'the checkpoint'}: its task metadata is broken "
                            f"({type(e).__name__}: {e})") from None
        if self.question_width < 1 or self.answer_length < 1 or \
                not 0 <= self.start_id < len(self.vocab):
            raise TaskError(f"{path or 'the checkpoint'}: its task metadata is broken "
                            f"(question width {self.question_width}, answer length "
                            f"{self.answer_length}, start id {self.start_id})")

    @classmethod
    def load(cls, path):
        from ..checkpoint import load_model
        model, ckpt = load_model(path)
        return cls.from_checkpoint(model, ckpt)

    @classmethod
    def from_checkpoint(cls, model, ckpt):
        task = ckpt.meta.get("task")
        if not isinstance(task, dict) or task.get("name", "qa") != "qa":
            name = task.get("name") if isinstance(task, dict) else None
            raise TaskError(f"{ckpt.path}: holds a model of the {name!r} task, not of the qa "
                            "task (questions and answers)" if name else
                            f"{ckpt.path}: holds no task metadata (vocabulary, widths): not "
                            "written by `tinygrad-attn train`")
        return cls(model, task, pathlib.Path(ckpt.path))

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
    warnings: list       # the data checker's warnings about the file

    def to_dict(self):
        return {"accuracy": self.accuracy, "correct": self.correct, "total": self.total,
                "split": self.split,
                "wrong": [{"question": q, "expected": e, "got": g} for q, e, g in self.wrong]}


def evaluate_file(translator, path, *, all_rows=False, beam=1, show=5, batch_size=256):
    """Exact-match accuracy of a checkpoint on a data file: its test split (the book's
    seeded split), or every row with `all_rows`. The file's questions are re-encoded with the
    checkpoint's vocabulary (EncodeError for characters the model never saw)."""
    ds = read_data(path, reverse=False)
    if ds.answer_width - 1 != translator.answer_length:
        raise TaskError(f"{path}: answers are {ds.answer_width - 1} characters wide, "
                        f"the model writes {translator.answer_length}")
    if all_rows:
        x = np.concatenate([ds.x_train, ds.x_test])
        t = np.concatenate([ds.t_train, ds.t_test])
    else:
        x, t = ds.x_test, ds.t_test
        if len(x) == 0:
            raise TaskError(f"{path}: its test split is empty ({len(ds.x_train)} examples; "
                            "the test split is the last 10% after the book's shuffle); "
                            "--all scores every row")
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
    return EvalResult(accuracy=sum(ok) / len(ok), correct=sum(ok), total=len(ok),
                      split="all rows" if all_rows else "test split", wrong=wrong,
                      warnings=list(ds.warnings))
