"""The dataset checker: every problem of a question_answer text file, with its line number.

    report = check_file("date.txt")
    print(report)            # summary, then every problem "line 7: ..." (1-based)
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
- Warnings (loading still works): fewer than 10 examples (empty test set), a question that
  appears again with a different answer. Exact duplicate lines are counted.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SEPARATOR = "_"
PRINT_LIMIT = 100  # problems shown by str(report) / DataFileError; all are in .problems


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
    """Check the bytes of a data file. Returns (report, lines): the decoded lines without
    their line endings (a '\r\n' ending is removed like '\n'), one per physical line."""
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

    lines, crlf, offset = [], 0, 0
    for i, raw in enumerate(pieces):
        lineno, start = i + 1, offset
        offset += len(raw) + 1
        if i < n_terminated and raw.endswith(b"\r"):
            raw = raw[:-1]
            crlf += 1
        pos = raw.find(b"\x00")
        while pos != -1:
            problems.append(Problem(lineno, "NUL byte", _column(raw, pos), start + pos))
            pos = raw.find(b"\x00", pos + 1)
        pos = raw.find(b"\r")
        while pos != -1:
            problems.append(Problem(lineno, "carriage return ('\\r') inside the line "
                                    "(only a '\\r\\n' line ending is accepted)",
                                    _column(raw, pos), start + pos))
            pos = raw.find(b"\r", pos + 1)
        text = _decode_line(raw, lineno, start, problems)
        if i == 0 and text.startswith("\ufeff"):
            problems.append(Problem(1, "UTF-8 byte-order mark (U+FEFF) at the start of the "
                                    "file; save it without one", 1, 0))
        lines.append(text)
    report.line_ending = ("none" if n_terminated == 0 else "CRLF" if crlf == n_terminated
                          else "LF" if crlf == 0 else "mixed")

    # structure: blank lines, the separator, widths
    q_widths, a_widths, rows = Counter(), Counter(), []
    for i, text in enumerate(lines):
        if i == 0:
            text = text.removeprefix("\ufeff")  # reported above; do not also call it ragged
        if not text.strip():
            where = " at the end of the file" if all(
                not t.strip() for t in lines[i:]) else ""
            problems.append(Problem(i + 1, "blank line" + where))
            continue
        k = text.find(SEPARATOR)
        if k < 0:
            problems.append(Problem(i + 1, f"no {SEPARATOR!r} between question and answer "
                                    f"(each line is question, '_', answer)"))
            continue
        q, a = text[:k], text[k:]
        rows.append((i + 1, text, q, a))
        q_widths[len(q)] += 1
        a_widths[len(a)] += 1
    report.n_examples = len(rows)
    if rows:
        report.question_width, nq = q_widths.most_common(1)[0]
        report.answer_width, na = a_widths.most_common(1)[0]
    n = len(rows)
    seen_lines, seen_questions, chars = set(), {}, set()
    for lineno, text, q, a in rows:
        if len(q) != report.question_width:
            problems.append(Problem(lineno, f"question is {len(q)} characters wide, the "
                                    f"file's questions are {report.question_width} "
                                    f"({nq} of {n} lines)"))
        if len(a) != report.answer_width:
            problems.append(Problem(lineno, f"answer is {len(a)} characters wide (with its "
                                    f"'_'), the file's answers are {report.answer_width} "
                                    f"({na} of {n} lines)"))
        if text in seen_lines:
            report.duplicates += 1
        seen_lines.add(text)
        first = seen_questions.setdefault(q, (lineno, a))
        if first[1] != a:
            report.warnings.append(Problem(lineno, f"the same question is on line {first[0]} "
                                           f"with a different answer"))
        chars.update(text)
    report.vocab_size = len(chars)
    problems.sort(key=lambda p: (p.line is not None, p.line or 0,
                                 float("inf") if p.offset is None else p.offset))
    if 0 < n < 10:
        report.warnings.insert(0, Problem(None, f"only {n} examples: the test set "
                                          f"(the last len // 10 after the shuffle) is empty"))
    return report, lines


def check_file(path) -> CheckReport:
    """Read and check a data file (see the module docstring for the rules)."""
    path = Path(path)
    return scan(path.read_bytes(), str(path))[0]
