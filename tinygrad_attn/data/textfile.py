"""The book's data file format: writing it atomically, loading it into id arrays.

One example per line: the question padded with spaces to a fixed width, then '_' and the
answer, padded with spaces to a fixed width too:

    september 27, 1994           _1994-09-27
    16+75  _91  

Loading (the book's `load_data`, `dataset/sequence.py`, ch. 7, section 7.2.4):
- question = the text before the first '_'; answer = the rest of the line from the '_' on
  (so it starts with '_', the decoder's start symbol); line endings are not part of it.
- vocabulary: characters in order of first appearance, line by line, each line's question
  before its answer (which is simply reading order, since the question comes first).
- split: `numpy.random.seed(seed); numpy.random.shuffle(indices)` with seed 1984; the last
  `len // 10` shuffled examples are the test set. We use a local RandomState(seed), which
  draws exactly the same permutation without touching NumPy's global random state.
- `reverse=True` reverses every question row (the book's `x_train[:, ::-1]`).
The file is checked first (`check.scan`); a bad file raises `DataFileError` listing every
problem with its line number, before anything is built.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .check import BOOK_SEED, DataFileError, book_split, scan
from .vocab import ID_DTYPE, PAD, SEPARATOR, Vocabulary

__all__ = ["BOOK_SEED", "Dataset", "Examples", "book_split", "check_count", "format_line",
           "load_dataset", "write_examples", "write_lines"]


# --- writing --------------------------------------------------------------------------------
def format_line(question: str, answer: str, question_width: int, answer_width: int) -> str:
    """One line (without its newline): question padded to `question_width`, then '_' + answer
    padded to `answer_width` (which counts the '_'). Raises ValueError if it cannot fit."""
    problems = _line_problems(question, answer, question_width, answer_width)
    if problems:
        raise ValueError(f"format_line({question!r}, {answer!r}): " + "; ".join(problems))
    return question.ljust(question_width, PAD) + (SEPARATOR + answer).ljust(answer_width, PAD)


def _line_problems(question, answer, question_width, answer_width):
    problems = []
    if SEPARATOR in question:
        problems.append(f"the question contains {SEPARATOR!r}, the question/answer separator")
    for name, text in (("question", question), ("answer", answer)):
        bad = sorted({ch for ch in text if ch in "\n\r\x00"})
        if bad:
            problems.append(f"the {name} contains {', '.join(map(repr, bad))}")
    if len(question) > question_width:
        problems.append(f"the question is {len(question)} characters, wider than "
                        f"{question_width}")
    if 1 + len(answer) > answer_width:
        problems.append(f"'_' + answer is {1 + len(answer)} characters, wider than "
                        f"{answer_width}")
    return problems


@dataclass
class Examples:
    """Generated examples, not yet padded: `answers` are the values (without the '_').
    `answer_width` counts the '_' (11 for dates: '_1994-09-27')."""
    questions: list
    answers: list
    question_width: int
    answer_width: int
    kind: str = ""
    options: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.questions)

    def lines(self) -> list:
        """The padded lines (without newlines); ValueError listing every example that does
        not fit."""
        problems = []
        for n, (q, a) in enumerate(zip(self.questions, self.answers)):
            problems += [f"example {n + 1}: {p}" for p in
                         _line_problems(q, a, self.question_width, self.answer_width)]
        if problems:
            raise ValueError("Examples.lines: " + "; ".join(problems))
        qw, aw = self.question_width, self.answer_width
        return [q.ljust(qw, PAD) + (SEPARATOR + a).ljust(aw, PAD)
                for q, a in zip(self.questions, self.answers)]


def check_count(n, seed) -> int:
    """Validate a generator's example count and seed (ValueError naming the bad one)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(n)


def write_lines(path, lines: Iterable[str]) -> Path:
    r"""Write lines (each followed by '\n', UTF-8) atomically: a temporary file in the same
    folder, flushed and fsynced, then renamed over `path`; a failure leaves `path` as it was
    and removes the temporary file (an OSError names `path`, not the temporary file)."""
    path = Path(path)
    text = "".join(line + "\n" for line in lines)
    data = text.encode("utf-8")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open with 0o666 so the file gets the usual permissions (umask applied), unlike
        # mkstemp
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:      # name the file asked for, never the temporary one
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None
    return path


def write_examples(path, examples: Examples) -> Path:
    """Pad and write generated examples in the book's format (atomically)."""
    return write_lines(path, examples.lines())


# --- loading --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded data file. x_* (N, question_width) and t_* (N, answer_width) are int64 ids;
    t rows start with `start_id` (the '_'). x rows are reversed when `reverse` is True.
    `train_index` / `test_index` are the 0-based file line of each row (line number - 1)."""
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    vocab: Vocabulary
    question_width: int
    answer_width: int   # including the '_'
    reverse: bool
    start_id: int
    path: str
    train_index: np.ndarray
    test_index: np.ndarray
    warnings: tuple = ()    # the checker's warnings (check.Problem), loading went on

    def __str__(self):
        return (f"{self.path}: {len(self.x_train)} train / {len(self.x_test)} test examples, "
                f"vocabulary {len(self.vocab)}, question width {self.question_width}, "
                f"answer width {self.answer_width} (start id {self.start_id}), "
                f"input {'reversed' if self.reverse else 'not reversed'}")

    def encode_question(self, text: str) -> np.ndarray:
        """A user's question as this dataset's models see their input (padding, reversal)."""
        return self.vocab.encode_question(text, self.question_width, self.reverse)

    def decode_question(self, ids) -> str:
        return self.vocab.decode_question(ids, self.reverse)

    def metadata(self) -> dict:
        """What a checkpoint needs to encode questions like this data (JSON-able):
        `Vocabulary.from_dict(m["vocab"]).encode_question(text, m["question_width"],
        m["reverse"])`."""
        return {"vocab": self.vocab.to_dict(), "question_width": self.question_width,
                "answer_width": self.answer_width, "reverse": self.reverse,
                "start_id": self.start_id}


def load_dataset(path, *, reverse: bool = False, seed: int = BOOK_SEED) -> Dataset:
    """Load a data file exactly as the book's `load_data(file, seed)`, plus checking (raises
    DataFileError listing every problem) and optional input reversal."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"load_dataset: seed must be an int, got {seed!r}")
    path = Path(path)
    report, lines = scan(path.read_bytes(), str(path))
    if not report.ok:
        raise DataFileError(report)
    qw, aw, n = report.question_width, report.answer_width, len(lines)
    # Every line is question_width + answer_width characters: encode the whole text at once.
    # Ids in order of first appearance (the book's order; tests compare with its load_data):
    # np.unique gives each code point's first index; ranking those indices gives the ids.
    codes = np.frombuffer("".join(lines).encode("utf-32-le"), dtype=np.uint32)
    uniq, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    by_appearance = np.argsort(first, kind="stable")
    rank = np.empty(len(uniq), dtype=ID_DTYPE)
    rank[by_appearance] = np.arange(len(uniq))
    vocab = Vocabulary(chr(c) for c in uniq[by_appearance].tolist())
    ids = rank[inverse.reshape(-1)].reshape(n, qw + aw)
    x, t = ids[:, :qw], ids[:, qw:]
    train_idx, test_idx = book_split(n, seed)
    x_train, x_test = x[train_idx], x[test_idx]
    if reverse:
        x_train, x_test = x_train[:, ::-1].copy(), x_test[:, ::-1].copy()
    return Dataset(x_train=x_train, t_train=t[train_idx], x_test=x_test, t_test=t[test_idx],
                   vocab=vocab, question_width=qw, answer_width=aw, reverse=bool(reverse),
                   start_id=vocab.char_to_id[SEPARATOR], path=str(path),
                   train_index=train_idx, test_index=test_idx,
                   warnings=tuple(report.warnings))
