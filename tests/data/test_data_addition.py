"""The book's addition task: `16+75  _91  `, correct sums, reproducible, distinct."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_attn.data import format_line, generate_addition, load_dataset, make_file


def test_the_books_line():
    assert format_line("16+75", "91", 7, 5) == "16+75  _91  "
    ex = generate_addition(10, 0)
    assert (ex.question_width, ex.answer_width) == (7, 5)


@settings(max_examples=20)
@given(st.integers(1, 4), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_questions_and_sums(digits, n, seed):
    n = min(n, 100 ** digits)
    ex = generate_addition(n, seed, digits=digits)
    operand = rf"(0|[1-9]\d{{0,{digits - 1}}})"
    for q, a, line in zip(ex.questions, ex.answers, ex.lines()):
        m = re.fullmatch(rf"{operand}\+{operand}", q)
        assert m, q
        assert a == str(int(m.group(1)) + int(m.group(2)))
        assert len(line) == 2 * digits + 1 + digits + 2
        assert line[2 * digits + 1] == "_" and line.index("_") == 2 * digits + 1
    assert len(set(ex.questions)) == n
    assert generate_addition(n, seed, digits=digits).questions == ex.questions


def test_operands_cover_their_range():
    ex = generate_addition(5000, 1)
    ops = [int(x) for q in ex.questions for x in q.split("+")]
    assert min(ops) < 10 and max(ops) > 989
    assert any(len(a) == 4 for a in ex.answers)


def test_all_pairs_and_no_more():
    ex = generate_addition(100, 5, digits=1)
    assert sorted(ex.questions) == sorted(f"{a}+{b}" for a in range(10) for b in range(10))
    with pytest.raises(ValueError, match="only 100"):
        generate_addition(101, 5, digits=1)
    assert len(generate_addition(300, 5, digits=1, unique=False)) == 300


@pytest.mark.parametrize("digits", [0, 10, 2.0, True])
def test_bad_digits(digits):
    with pytest.raises(ValueError, match="digits"):
        generate_addition(5, 0, digits=digits)


def test_a_written_file_loads(tmp_path):
    make_file("addition", 2000, 0, tmp_path / "addition.txt")
    ds = load_dataset(tmp_path / "addition.txt")
    assert ds.x_train.shape == (1800, 7) and ds.t_test.shape == (200, 5)
    assert set(ds.vocab.chars) == set("0123456789+ _")
