"""One call from (kind, n, seed) to a checked data file, for the CLI.

    result = make_file("dates", 50_000, seed=0, path="date.txt")
    print(result)   # wrote 50000 dates examples (seed 0) to date.txt: ...
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from .addition import generate_addition
from .check import CheckReport, check_file
from .dates import generate_dates
from .textfile import Examples, write_examples

# kind -> generator(n, seed, **options) -> Examples
KINDS = {
    "dates": generate_dates,        # options: start, end ('YYYY-MM-DD'), formats, unique
    "addition": generate_addition,  # options: digits, unique
}


def generate(kind: str, n: int, seed: int, **options) -> Examples:
    """Examples of a task (see KINDS for the options of each)."""
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r} (known: {', '.join(KINDS)})")
    generator = KINDS[kind]
    params = inspect.signature(generator).parameters
    unknown = [k for k in options if params.get(k) is None or
               params[k].kind is not inspect.Parameter.KEYWORD_ONLY]
    if unknown:
        known = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        raise ValueError(f"{kind}: unknown options {unknown} (known: {', '.join(known)})")
    return generator(n, seed, **options)


@dataclass(frozen=True)
class GeneratedFile:
    """What `make_file` wrote; `str()` is a one-line summary, `.report` the file's check."""
    path: Path
    kind: str
    n: int
    seed: int
    options: dict
    report: CheckReport

    def __str__(self):
        r = self.report
        return (f"wrote {self.n} {self.kind} examples (seed {self.seed}) to {self.path}: "
                f"question width {r.question_width}, answer width {r.answer_width}, "
                f"vocabulary {r.vocab_size}, {r.duplicates} duplicates")


def make_file(kind: str, n: int, seed: int, path, **options) -> GeneratedFile:
    """Generate `n` examples of `kind` from `seed` and write them atomically to `path`;
    the written file is checked (a failed check raises, which would be our bug)."""
    examples = generate(kind, n, seed, **options)
    path = write_examples(path, examples)
    report = check_file(path)
    if not report.ok:
        raise AssertionError(f"make_file wrote a file its own checker rejects:\n{report}")
    return GeneratedFile(path, kind, len(examples), seed, examples.options, report)
