"""The book's addition task (chapter 7): `16+75  _91  `.

Operands are drawn uniformly from 0 .. 10**digits - 1 (3 digits in the book). The question
'a+b' is padded to 2 * digits + 1 characters (7), the answer '_' + str(a + b) to digits + 2
(5: '_91  ', the sum has at most digits + 1 digits). `unique=True` draws distinct (a, b)
pairs, i.e. distinct questions.
"""
from __future__ import annotations

import numpy as np

from .textfile import Examples, check_count

MAX_DIGITS = 9  # (10**9)**2 pairs still index in int64


def generate_addition(n: int, seed: int, *, digits: int = 3, unique: bool = True) -> Examples:
    """`n` examples 'a+b' -> 'a+b's value, reproducible from `seed`."""
    n = check_count(n, seed)
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) \
            or not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be an integer in 1..{MAX_DIGITS}, got {digits!r}")
    base = 10 ** int(digits)
    rng = np.random.default_rng(seed)
    if unique:
        if n > base * base:
            raise ValueError(f"cannot draw {n} distinct questions: {digits}-digit operands "
                             f"give only {base * base}")
        pairs = rng.choice(base * base, size=n, replace=False)
    else:
        pairs = rng.integers(0, base * base, size=n)
    a, b = (pairs // base).tolist(), (pairs % base).tolist()
    return Examples([f"{x}+{y}" for x, y in zip(a, b)], [str(x + y) for x, y in zip(a, b)],
                    question_width=2 * digits + 1, answer_width=digits + 2, kind="addition",
                    options=dict(digits=int(digits), unique=unique))
