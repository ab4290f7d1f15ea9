"""The checker: every malformed-file case, with its line (and column / byte offset) asserted;
the loader raises the same messages."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_attn.data import (DataFileError, check_file, generate, load_dataset,
                                write_examples)
from tinygrad_attn.data.check import PRINT_LIMIT

# name, file bytes, expected problems: (line, column, byte offset, text in the message)
MALFORMED = [
    ("empty", b"", [(None, None, None, "empty file (0 bytes)")]),
    ("no separator", b"ab_cd\nabcd\nab_cd\n", [(2, None, None, "no '_' between")]),
    ("ragged question", b"ab_cd\nab_cd\nabc_cd\n",
     [(3, None, None, "question is 3 characters wide, the file's questions are 2 (2 of 3")]),
    ("ragged answer", b"ab_cd\nab_c\nab_cd\n",
     [(2, None, None, "answer is 2 characters wide (with its '_'), the file's answers are 3")]),
    ("blank line", b"ab_cd\n\nab_cd\n", [(2, None, None, "blank line")]),
    ("whitespace line", b"ab_cd\n  \t\nab_cd\n", [(2, None, None, "blank line")]),
    ("blank lines at the end", b"ab_cd\nab_cd\n\n\n",
     [(3, None, None, "blank line at the end of the file"),
      (4, None, None, "blank line at the end of the file")]),
    ("NUL byte", b"ab_cd\na\x00_cd\n", [(2, 2, 7, "NUL byte")]),
    ("two NUL bytes", b"ab_cd\n\x00b_c\x00\n", [(2, 1, 6, "NUL byte"), (2, 5, 10, "NUL byte")]),
    ("invalid UTF-8", b"ab_cd\nab_c\xff\n", [(2, 5, 10, "invalid UTF-8 (invalid start byte): "
                                              "byte(s) 0xff")]),
    ("invalid UTF-8 after a wide character", "é_cd\né_c".encode() + b"\xfe\n",
     [(2, 4, 10, "byte(s) 0xfe")]),
    ("truncated UTF-8 sequence", b"ab_cd\nab_\xe2\x82\n",
     [(2, 4, 9, "invalid UTF-8 (unexpected end of data): byte(s) 0xe2 0x82"),
      (2, None, None, "answer is 2 characters wide")]),
    ("stray carriage return", b"ab_cd\na\r_cd\n", [(2, 2, 7, "carriage return ('\\r')")]),
    ("carriage return ending the last line", b"ab_cd\nab_c\r",
     [(2, 5, 10, "carriage return")]),
    ("byte-order mark", b"\xef\xbb\xbfab_cd\nab_cd\n", [(1, 1, 0, "byte-order mark")]),
    ("several problems, in file order", b"ab_cd\nabcd\n\nabc_cd\nab_c\xff\nab_\n",
     [(2, None, None, "no '_'"), (3, None, None, "blank line"),
      (4, None, None, "question is 3"), (5, 5, 23, "0xff"), (6, None, None, "answer is 1")]),
]


@pytest.mark.parametrize("name,data,expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_every_problem_with_its_line(tmp_path, name, data, expected):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    report = check_file(path)
    assert not report.ok
    got = [(p.line, p.column, p.offset) for p in report.problems]
    assert got == [e[:3] for e in expected]
    for p, e in zip(report.problems, expected):
        assert e[3] in p.message
    printed = str(report)
    assert f"{path}: {len(expected)} problem(s), cannot be loaded" in printed
    with pytest.raises(DataFileError) as err:
        load_dataset(path)
    assert err.value.problems == report.problems
    assert str(err.value).startswith(f"{path}: cannot load, {len(expected)} problem(s):")
    for p in report.problems:
        assert str(p) in printed and str(p) in str(err.value)


def test_problem_text_names_line_column_and_offset(tmp_path):
    (tmp_path / "f.txt").write_bytes(b"ab_cd\na\x00_cd\n")
    assert str(check_file(tmp_path / "f.txt").problems[0]) == \
        "line 2, column 2 (byte offset 7): NUL byte"


# name, file bytes, expected summary (examples, q width, a width, vocab, duplicates,
#                                     line endings, final newline, warnings' lines)
GOOD = [
    ("plain", b"ab_cd\nba_ce\n", (2, 2, 3, 6, 0, "LF", True, [None])),
    ("no final newline", b"ab_cd\nba_ce", (2, 2, 3, 6, 0, "LF", False, [None])),
    ("one line, unterminated", b"ab_cd", (1, 2, 3, 5, 0, "none", False, [None])),
    ("CRLF", b"ab_cd\r\nba_ce\r\n", (2, 2, 3, 6, 0, "CRLF", True, [None])),
    ("mixed", b"ab_cd\r\nba_ce\n", (2, 2, 3, 6, 0, "mixed", True, [None])),
    ("duplicates", b"ab_cd\nab_cd\nab_cd\n", (3, 2, 3, 5, 2, "LF", True, [None])),
    ("conflicting answers", b"ab_cd\nab_ce\nab_cd\n", (3, 2, 3, 6, 1, "LF", True, [None, 2])),
    ("ten examples", b"ab_cd\n" * 10, (10, 2, 3, 5, 9, "LF", True, [None])),  # shared rows
]


@pytest.mark.parametrize("name,data,summary", GOOD, ids=[g[0] for g in GOOD])
def test_good_files_and_their_counts(tmp_path, name, data, summary):
    (tmp_path / "f.txt").write_bytes(data)
    r = check_file(tmp_path / "f.txt")
    assert r.ok and r.problems == []
    assert (r.n_examples, r.question_width, r.answer_width, r.vocab_size, r.duplicates,
            r.line_ending, r.final_newline, [w.line for w in r.warnings]) == summary
    assert str(r).startswith(f"{tmp_path / 'f.txt'}: OK")
    load_dataset(tmp_path / "f.txt")


def test_the_expected_width_is_the_most_common_one(tmp_path):
    # the first line is the odd one: it alone is reported, not the other three
    (tmp_path / "f.txt").write_bytes(b"abc_d\nab_d\nab_d\nab_d\n")
    assert [p.line for p in check_file(tmp_path / "f.txt").problems] == [1]


def test_long_reports_say_how_many_are_not_printed(tmp_path):
    n = PRINT_LIMIT + 50
    (tmp_path / "f.txt").write_bytes(b"ab_cd\n" * 200 + b"abcd\n" * n)
    r = check_file(tmp_path / "f.txt")
    assert len(r.problems) == n and [p.line for p in r.problems] == list(range(201, 201 + n))
    assert "... and 50 more" in str(r)
    assert len(r.format(limit=None).splitlines()) == len(str(r).splitlines()) + 49
    with pytest.raises(DataFileError, match="and 50 more") as e:
        load_dataset(tmp_path / "f.txt")
    assert len(e.value.problems) == n


CORRUPTIONS = {
    "drop the '_'": lambda line: line.replace("_", ""),
    "widen the question": lambda line: "x" + line,
    "widen the answer": lambda line: line + "x",
    "NUL byte": lambda line: line[:3] + "\x00" + line[4:],
    "blank": lambda line: "",
}


@settings(max_examples=30)
@given(st.integers(20, 300), st.integers(0, 2**16), st.data())
def test_one_corrupted_line_is_found_exactly(tmp_path_factory, n, seed, data):
    path = tmp_path_factory.mktemp("c") / "f.txt"
    write_examples(path, generate(data.draw(st.sampled_from(["dates", "addition"])), n, seed))
    lines = path.read_text().split("\n")[:-1]
    k = data.draw(st.integers(0, n - 1))
    how = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
    lines[k] = CORRUPTIONS[how](lines[k])
    path.write_text("\n".join(lines) + "\n")
    r = check_file(path)
    assert [p.line for p in r.problems] == [k + 1], how
    assert r.n_examples == n - (how in ("drop the '_'", "blank"))
