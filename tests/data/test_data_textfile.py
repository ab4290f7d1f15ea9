"""Writing and loading the book's file format: the loader equals a restatement of the book's
load_data (global RNG) on generated and random files, the local RandomState reproduces the
global seed(1984) + shuffle, reversal, line endings, atomic writes."""
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_attn.data import (DataFileError, Examples, book_split, format_line, generate,
                                load_dataset, write_examples, write_lines)
from tinygrad_attn.data import textfile


def book_load_data(path, seed=1984):
    """The book's load_data (ch. 7, section 7.2.4), with the GLOBAL RNG (state
    restored afterwards). Returns (char_to_id, x_train, t_train, x_test, t_test)."""
    questions, answers = [], []
    with open(path, encoding="utf-8") as f:  # text mode, universal newlines, like the book
        for line in f:
            idx = line.find("_")
            questions.append(line[:idx])
            answers.append(line[idx:-1])  # the book drops the last character, the '\n'
    char_to_id = {}
    for q, a in zip(questions, answers):  # each line's question, then its answer
        for text in (q, a):
            for ch in text:
                if ch not in char_to_id:
                    char_to_id[ch] = len(char_to_id)
    x = np.array([[char_to_id[c] for c in q] for q in questions], dtype=int)
    t = np.array([[char_to_id[c] for c in a] for a in answers], dtype=int)
    indices = np.arange(len(x))
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        np.random.shuffle(indices)
    finally:
        np.random.set_state(state)
    x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    return char_to_id, x[:split_at], t[:split_at], x[split_at:], t[split_at:]


def assert_same_as_book(path, **kw):
    before = np.random.get_state()
    ds = load_dataset(path, **kw)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "touched the global RNG"
    char_to_id, x_train, t_train, x_test, t_test = book_load_data(path)
    assert list(ds.vocab.char_to_id.items()) == list(char_to_id.items())  # same ids, order
    for ours, book in [(ds.x_train, x_train), (ds.t_train, t_train), (ds.x_test, x_test),
                       (ds.t_test, t_test)]:
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours, book)
    return ds


@settings(max_examples=12)
@given(st.sampled_from(["dates", "addition"]), st.integers(1, 2500), st.integers(0, 2**32 - 1))
def test_generated_files_load_exactly_as_the_book(tmp_path_factory, kind, n, seed):
    path = tmp_path_factory.mktemp("f") / "data.txt"
    write_examples(path, generate(kind, n, seed))
    ds = assert_same_as_book(path)
    assert ds.start_id == ds.vocab.char_to_id["_"]
    assert (ds.t_train[:, 0] == ds.start_id).all() and (ds.t_test[:, 0] == ds.start_id).all()


chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="_\ufeff")


@st.composite
def examples(draw):
    qs = draw(st.lists(st.text(chars, max_size=12), min_size=1, max_size=60))
    ans = draw(st.lists(st.text(chars, max_size=6), min_size=len(qs), max_size=len(qs)))
    qw = max(map(len, qs)) + draw(st.integers(0, 3))
    aw = max(map(len, ans)) + 1 + draw(st.integers(0, 3))
    return Examples(qs, ans, qw, aw)


@settings(max_examples=25)
@given(examples())
def test_any_characters_load_exactly_as_the_book(tmp_path_factory, ex):
    path = tmp_path_factory.mktemp("f") / "any.txt"
    write_examples(path, ex)
    ds = assert_same_as_book(path)
    assert (ds.question_width, ds.answer_width) == (ex.question_width, ex.answer_width)
    # every row is its line: x/t rows come from line train_index / test_index
    lines = path.read_text(encoding="utf-8").split("\n")
    for x, t, i in [(ds.x_train, ds.t_train, ds.train_index), (ds.x_test, ds.t_test,
                                                               ds.test_index)]:
        for row_x, row_t, k in zip(x, t, i):
            assert ds.vocab.decode(row_x) + ds.vocab.decode(row_t) == lines[k]


@pytest.mark.parametrize("n", [0, 1, 9, 10, 11, 99, 1000, 50_000])
def test_the_local_random_state_is_the_global_seed_and_shuffle(n):
    state = np.random.get_state()
    try:
        np.random.seed(1984)
        idx = np.arange(n)
        np.random.shuffle(idx)
    finally:
        np.random.set_state(state)
    train, test = book_split(n)
    np.testing.assert_array_equal(np.concatenate([train, test]), idx)
    assert len(test) == n // 10


@given(st.integers(0, 5000), st.integers(0, 2**32 - 1))
def test_book_split_any_size_and_seed(n, seed):
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        idx = np.arange(n)
        np.random.shuffle(idx)
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(np.concatenate(book_split(n, seed)), idx)


def test_reversal_reverses_questions_only(tmp_path):
    write_examples(tmp_path / "d.txt", generate("dates", 500, 1))
    plain = load_dataset(tmp_path / "d.txt")
    rev = load_dataset(tmp_path / "d.txt", reverse=True)
    np.testing.assert_array_equal(rev.x_train, plain.x_train[:, ::-1])
    np.testing.assert_array_equal(rev.x_test, plain.x_test[:, ::-1])
    np.testing.assert_array_equal(rev.t_train, plain.t_train)
    assert rev.reverse and not plain.reverse and rev.vocab == plain.vocab
    assert rev.x_train.flags.c_contiguous


@pytest.mark.parametrize("transform", [
    lambda b: b[:-1],                        # no final newline
    lambda b: b.replace(b"\n", b"\r\n"),     # CRLF
    lambda b: b.replace(b"\n", b"\r\n")[:-2],  # CRLF, no final newline
    lambda b: b.replace(b"\n", b"\r\n", 7),  # mixed endings
])
def test_line_endings_and_the_final_newline_do_not_matter(tmp_path, transform):
    write_examples(tmp_path / "a.txt", generate("dates", 300, 2))
    data = (tmp_path / "a.txt").read_bytes()
    (tmp_path / "b.txt").write_bytes(transform(data))
    a, b = load_dataset(tmp_path / "a.txt"), load_dataset(tmp_path / "b.txt")
    assert a.vocab == b.vocab
    for name in ("x_train", "t_train", "x_test", "t_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_users_questions_are_encoded_like_the_training_rows(tmp_path):
    ex = generate("dates", 400, 4)
    write_examples(tmp_path / "d.txt", ex)
    for reverse in (False, True):
        ds = load_dataset(tmp_path / "d.txt", reverse=reverse)
        for row, k in zip(ds.x_train, ds.train_index):
            np.testing.assert_array_equal(ds.encode_question(ex.questions[k]), row)
            assert ds.decode_question(row).rstrip() == ex.questions[k]


def test_the_vocabulary_travels_as_json(tmp_path):
    write_examples(tmp_path / "d.txt", generate("dates", 300, 4))
    ds = load_dataset(tmp_path / "d.txt")
    back = type(ds.vocab).from_dict(json.loads(json.dumps(ds.vocab.to_dict())))
    assert back == ds.vocab and list(back.char_to_id.items()) == list(ds.vocab.char_to_id.items())
    rev = load_dataset(tmp_path / "d.txt", reverse=True)
    meta = json.loads(json.dumps(rev.metadata()))
    assert meta["question_width"] == 29 and meta["answer_width"] == 11 and meta["reverse"]
    vocab = type(ds.vocab).from_dict(meta["vocab"])
    assert vocab.char_to_id["_"] == meta["start_id"] == rev.start_id
    np.testing.assert_array_equal(
        vocab.encode_question("sep 27, 1994", meta["question_width"], meta["reverse"]),
        rev.encode_question("sep 27, 1994"))


def test_loading_a_bad_file_raises_before_any_work(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ab_cd\nabcd\nab_cd\n")
    with pytest.raises(DataFileError, match=r"bad.txt: cannot load, 1 problem") as e:
        load_dataset(tmp_path / "bad.txt")
    assert "line 2: no '_'" in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(TypeError, match="seed"):
        load_dataset(tmp_path / "bad.txt", seed=None)


# --- writing -------------------------------------------------------------------------------
@pytest.mark.parametrize("q,a,qw,aw,match", [
    ("a_b", "1", 5, 3, "contains '_'"),
    ("ab", "1\n", 5, 3, "answer contains '\\\\n'"),
    ("a\x00", "1", 5, 3, "question contains '\\\\x00'"),
    ("abcdef", "1", 5, 3, "question is 6 characters, wider than 5"),
    ("ab", "123", 5, 3, "'_' \\+ answer is 4 characters, wider than 3"),
])
def test_format_line_refuses_what_would_not_load_back(q, a, qw, aw, match):
    with pytest.raises(ValueError, match=match):
        format_line(q, a, qw, aw)


def test_examples_lines_name_every_bad_example():
    with pytest.raises(ValueError, match="example 2: .*; example 3: "):
        Examples(["ab", "a_b", "abcdef"], ["1", "2", "3"], 5, 3).lines()


def test_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "data.txt"
    write_lines(target, ["old_1"])
    assert target.read_text() == "old_1\n"

    def boom(*a, **k):
        raise OSError("disk full")
    for name in ("fsync", "replace"):
        with monkeypatch.context() as m:
            m.setattr(textfile.os, name, boom)
            with pytest.raises(OSError, match="disk full"):
                write_examples(target, generate("addition", 10, 0))
        assert target.read_text() == "old_1\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt"]
    write_lines(target, ["new_2"])
    assert target.read_text() == "new_2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_creates_folders(tmp_path):
    write_lines(tmp_path / "a" / "b" / "c.txt", ["x_1"])
    assert (tmp_path / "a" / "b" / "c.txt").read_bytes() == b"x_1\n"
