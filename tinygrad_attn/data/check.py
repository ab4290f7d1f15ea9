r"""The dataset checker: every problem of a question_answer text file, with its line number.

    report = check_file("date.txt")
    print(report)            # summary, then the problems "line 7: ..." (1-based; the first
                             # 100, report.format(limit=None) prints all)
    report.ok                # True when `load_dataset` would accept the file

The same scan runs first inside `textfile.load_dataset`, which raises `DataFileError` (a
ValueError) listing the same messages before doing any work: nothing is silently dropped.

Rules (see docs/data.md):
- UTF-8 text, one example per line: question, then '_' (the first one), then the answer.
- Lines end in '\n'; '\r\n' is accepted too and loads exactly like '\n' (the book's loader
  opens the file in text mode, whose universal newlines do the same). A '\r' anywhere else
  is a problem. A missing final newline is fine (it loads the same).
- Every question has the same width, every answer too (answer = the text from '_' on,
  so the '_' counts). The expected width is the most common one (ties: the earliest line's),
  so one odd line is reported, not all the others.
- Problems: empty file, blank line, line without '_', ragged question or answer width, NUL
  byte, invalid UTF-8 (with column and byte offset), a stray '\r', a byte-order mark.
- Warnings (loading still works, as the book's loader would; `tinygrad-attn train` refuses
  what it cannot train on): fewer than 10 examples (empty test set), a question that
  appears again with a different answer, a line whose question or answer is only padding,
  a file whose every question (or answer) is empty, rows of the test split that are also
  in the training split (the book's split: the accuracy on them measures memory). Exact
  duplicate lines are counted.
"""
from __future__ import annotations

from collections import Counter
from itertools import accumulate
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEPARATOR = "_"
PRINT_LIMIT = 100  # problems shown by str(report) / DataFileError; all are in .problems
BOOK_SEED = 1984
WARN_LINES = 20    # lines named per kind of warning (the count says how many there are)


def book_split(n: int, seed: int = BOOK_SEED):
    """The book's shuffle: a permutation of range(n) equal to
    `np.random.seed(seed); idx = np.arange(n); np.random.shuffle(idx)`, drawn from a local
    RandomState so NumPy's global state is untouched. Returns (train_idx, test_idx); the test
    set is the last n // 10."""
    idx = np.arange(n)
    np.random.RandomState(seed).shuffle(idx)
    split_at = n - n // 10
    return idx[:split_at], idx[split_at:]


@dataclass(frozen=True)
class Problem:
    """One finding. `line` and `column` are 1-based (column counts characters), `offset` is
    the 0-based byte offset in the file; each is None when it does not apply."""
    line: int | None
    message: str
    column: int | None = None
    offset: int | None = None

    def __str__(self):
        where = "file" if self.line is None else f"line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        if self.offset is not None:
            where += f" (byte offset {self.offset})"
        return f"{where}: {self.message}"


def _format_list(title, items, limit):
    if not items:
        return []
    shown = items if limit is None else items[:limit]
    out = [f"{title} ({len(items)}):"] + [f"  {p}" for p in shown]
    if len(shown) < len(items):
        out.append(f"  ... and {len(items) - len(shown)} more (CheckReport.problems has all)")
    return out


@dataclass
class CheckReport:
    """What `check_file` found. `str(report)` is ready to print."""
    path: str
    n_bytes: int = 0
    n_lines: int = 0            # physical lines
    n_examples: int = 0         # lines with a '_' (all lines, in a good file)
    question_width: int | None = None
    answer_width: int | None = None   # including the '_'
    vocab_size: int = 0
    duplicates: int = 0         # lines identical to an earlier line
    line_ending: str = "none"   # "LF", "CRLF", "mixed" or "none" (a single unterminated line)
    final_newline: bool = False
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def n_test(self) -> int:
        return self.n_examples // 10

    @property
    def n_train(self) -> int:
        return self.n_examples - self.n_test

    def messages(self):
        """Every problem as a printable string, in file order."""
        return [str(p) for p in self.problems]

    def format(self, limit: int | None = PRINT_LIMIT) -> str:
        status = "OK" if self.ok else f"{len(self.problems)} problem(s), cannot be loaded"
        qw = "-" if self.question_width is None else self.question_width
        aw = "-" if self.answer_width is None else f"{self.answer_width} (with its '_')"
        lines = [
            f"{self.path}: {status}",
            f"  examples        {self.n_examples} ({self.n_train} train / {self.n_test} test)",
            f"  lines           {self.n_lines} ({self.n_bytes} bytes, line endings "
            f"{self.line_ending}, {'a' if self.final_newline else 'no'} final newline)",
            f"  question width  {qw}",
            f"  answer width    {aw}",
            f"  vocabulary      {self.vocab_size} characters",
            f"  duplicates      {self.duplicates} lines repeat an earlier line",
        ]
        lines += _format_list("problems", self.problems, limit)
        lines += _format_list("warnings", self.warnings, limit)
        return "\n".join(lines)

    def __str__(self):
        return self.format()


class DataFileError(ValueError):
    """A data file that cannot be loaded; the message names the file and lists every problem
    (`.report` and `.problems` hold them all)."""

    def __init__(self, report: CheckReport):
        self.report = report
        self.problems = list(report.problems)
        self.path = report.path
        lines = [f"{report.path}: cannot load, {len(self.problems)} problem(s):"]
        lines += [f"  {p}" for p in self.problems[:PRINT_LIMIT]]
        if len(self.problems) > PRINT_LIMIT:
            lines.append(f"  ... and {len(self.problems) - PRINT_LIMIT} more "
                         f"(`tinygrad-attn data --check {report.path}` lists all)")
        super().__init__("\n".join(lines))


def _column(raw: bytes, pos: int) -> int:
    """1-based character column of byte `pos` in a line (bad bytes count one each)."""
    return len(raw[:pos].decode("utf-8", "replace")) + 1


def _decode_line(raw: bytes, lineno: int, start: int, problems: list) -> str:
    """Decode one line, recording every invalid UTF-8 sequence; returns text with U+FFFD
    in their place so that the structural checks still run on the line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    pos = 0
    while pos < len(raw):
        try:
            raw[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as e:
            a, b = pos + e.start, pos + e.end
            bad = " ".join(f"0x{c:02x}" for c in raw[a:b])
            problems.append(Problem(lineno, f"invalid UTF-8 ({e.reason}): byte(s) {bad}",
                                    _column(raw, a), start + a))
            pos = b
    return raw.decode("utf-8", "replace")


def scan(data: bytes, path: str = "<bytes>"):
    r"""Check the bytes of a data file. Returns (report, lines): the decoded lines without
    their line endings (a '\r\n' ending is removed like '\n'), one per physical line.

    Written for whole files at once (a 50 000-line file is a few list comprehensions);
    the byte-level searches run line by line only when the byte occurs in the file."""
    report = CheckReport(path=str(path), n_bytes=len(data))
    problems = report.problems
    if not data:
        problems.append(Problem(None, "empty file (0 bytes)"))
        return report, []
    pieces = data.split(b"\n")
    report.final_newline = data.endswith(b"\n")
    if report.final_newline:
        pieces.pop()  # the empty text after the last '\n' is not a line
    n_terminated = len(pieces) if report.final_newline else len(pieces) - 1
    report.n_lines = len(pieces)
    starts = list(accumulate((len(p) + 1 for p in pieces[:-1]), initial=0))
    crlf = 0
    if b"\r" in data:
        crlf = sum(p.endswith(b"\r") for p in pieces[:n_terminated])
        pieces = [p[:-1] if i < n_terminated and p.endswith(b"\r") else p
                  for i, p in enumerate(pieces)]
    report.line_ending = ("none" if n_terminated == 0 else "CRLF" if crlf == n_terminated
                          else "LF" if crlf == 0 else "mixed")
    for byte, message in ((b"\x00", "NUL byte"),
                          (b"\r", "carriage return ('\\r') inside the line "
                                  "(only a '\\r\\n' line ending is accepted)")):
        if byte not in data:
            continue
        for i, raw in enumerate(pieces):
            pos = raw.find(byte)
            while pos != -1:
                problems.append(Problem(i + 1, message, _column(raw, pos), starts[i] + pos))
                pos = raw.find(byte, pos + 1)
    try:
        lines = b"\n".join(pieces).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = [_decode_line(raw, i + 1, starts[i], problems) for i, raw in enumerate(pieces)]
    if lines[0].startswith("\ufeff"):
        problems.append(Problem(1, "UTF-8 byte-order mark (U+FEFF) at the start of the "
                                "file; save it without one", 1, 0))
    _check_structure(report, [lines[0].removeprefix("\ufeff")] + lines[1:])
    problems.sort(key=lambda p: (p.line is not None, p.line or 0,
                                 float("inf") if p.offset is None else p.offset))
    return report, lines


def _check_structure(report, lines):
    """Blank lines, the separator, widths (most common = expected), duplicates, conflicts."""
    problems = report.problems
    seps = [t.find(SEPARATOR) for t in lines]
    rows, last_text = [], None  # indices of the example lines; of the last non-blank line
    for i, k in enumerate(seps):
        if k >= 0:
            rows.append(i)
        elif not lines[i].strip():  # a line with a '_' is never blank
            if last_text is None:
                last_text = max((j for j, t in enumerate(lines) if t.strip()), default=-1)
            where = " at the end of the file" if i > last_text else ""
            problems.append(Problem(i + 1, "blank line" + where))
        else:
            problems.append(Problem(i + 1, f"no {SEPARATOR!r} between question and answer "
                                    f"(each line is question, '_', answer)"))
    n = report.n_examples = len(rows)
    if not rows:
        return
    q_widths = [seps[i] for i in rows]
    a_widths = [len(lines[i]) - seps[i] for i in rows]
    # most_common keeps first-seen order among equal counts: ties go to the earliest line
    (qw, nq), = Counter(q_widths).most_common(1)
    (aw, na), = Counter(a_widths).most_common(1)
    report.question_width, report.answer_width = qw, aw
    for i, q, a in zip(rows, q_widths, a_widths):
        if q != qw:
            problems.append(Problem(i + 1, f"question is {q} characters wide, the file's "
                                    f"questions are {qw} ({nq} of {n} lines)"))
        if a != aw:
            problems.append(Problem(i + 1, f"answer is {a} characters wide (with its '_'), "
                                    f"the file's answers are {aw} ({na} of {n} lines)"))
    examples = [lines[i] for i in rows]
    distinct = set(examples)
    report.duplicates = n - len(distinct)
    report.vocab_size = len(set("".join(examples)))
    warnings = report.warnings
    if qw == 0:
        warnings.append(Problem(None, "every question is empty (each line starts with "
                                "'_'): a model has nothing to read"))
    if aw <= 1:
        warnings.append(Problem(None, "every answer is empty (nothing after the '_'): a "
                                "model has nothing to learn"))
    if 0 < n < 10:
        warnings.append(Problem(None, f"only {n} examples: the test set (the last "
                                f"len // 10 after the shuffle) is empty"))
    if len({t[:seps[i]] for i, t in zip(rows, examples)}) < len(distinct):
        first = {}  # some question has two answers: find where
        for i, t in zip(rows, examples):
            q, a = t[:seps[i]], t[seps[i]:]
            line, answer = first.setdefault(q, (i + 1, a))
            if answer != a:
                warnings.append(Problem(i + 1, f"the same question is on line {line} "
                                        f"with a different answer"))
    for what, empty in (("question", lambda t, k: k > 0 and not t[:k].strip()),
                        ("answer", lambda t, k: len(t) - k > 1 and not t[k + 1:].strip())):
        lines_empty = [i + 1 for i, t in zip(rows, examples) if empty(t, seps[i])]
        warnings += [Problem(line, f"the {what} is empty (only padding)")
                     for line in lines_empty[:WARN_LINES]]
        if len(lines_empty) > WARN_LINES:
            warnings.append(Problem(None, f"... and {len(lines_empty) - WARN_LINES} more "
                                    f"lines with an empty {what}"))
    if report.duplicates and len(rows) == len(lines):
        train, test = book_split(n)
        seen = {}
        for i in train:
            seen.setdefault(examples[i], i + 1)
        shared = [(int(i) + 1, seen[examples[i]]) for i in test if examples[i] in seen]
        if shared:
            shown = ", ".join(f"line {a} = line {b}" for a, b in sorted(shared)[:3])
            warnings.append(Problem(None, f"{len(shared)} of the {len(test)} rows of the test "
                                    f"split are also in the training split ({shown}"
                                    f"{', ...' if len(shared) > 3 else ''}): the test "
                                    "accuracy on them measures memory"))


def check_file(path) -> CheckReport:
    """Read and check a data file (see the module docstring for the rules)."""
    path = Path(path)
    return scan(path.read_bytes(), str(path))[0]
