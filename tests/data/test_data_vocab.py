"""The vocabulary: order, JSON round trip, and the errors users see at translate time."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_attn.data import EncodeError, Vocabulary

V = Vocabulary("ab c_12")


@given(st.lists(st.text(max_size=20), max_size=10))
def test_ids_in_order_of_first_appearance(texts):
    v = Vocabulary.from_texts(texts)
    order = []
    for text in texts:
        for ch in text:
            if ch not in order:
                order.append(ch)
    assert list(v.chars) == order
    assert dict(v.char_to_id) == {c: i for i, c in enumerate(order)}
    assert dict(v.id_to_char) == dict(enumerate(order))
    for text in texts:
        assert v.decode(v.encode(text)) == text
    assert Vocabulary.from_dict(json.loads(json.dumps(v.to_dict()))) == v


@pytest.mark.parametrize("d,match", [
    ({"chars": ["a", "a"]}, "'a' \\(U\\+0061\\) appears twice \\(ids 0 and 1\\)"),
    ({"chars": ["a", "bc"]}, "entry 1 is 'bc'"),
    ({"chars": ["a", 3]}, "entry 1 is 3"),
    ({"chars": "ab"}, "expected"),
    (["a"], "expected"),
])
def test_from_dict_refuses_bad_input(d, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary.from_dict(d)


def test_views_are_read_only():
    with pytest.raises(TypeError):
        V.char_to_id["z"] = 9


@pytest.mark.parametrize("text,width,reverse,expected", [
    ("ab", 4, False, "ab  "),
    ("ab", 4, True, "  ba"),
    ("c 1", 3, False, "c 1"),
    ("", 2, True, "  "),
])
def test_questions_are_padded_then_reversed(text, width, reverse, expected):
    ids = V.encode_question(text, width, reverse)
    assert ids.shape == (width,) and ids.dtype == np.int64
    assert V.decode(ids) == expected
    assert V.decode_question(ids, reverse) == text.ljust(width)
    np.testing.assert_array_equal(V.encode_questions([text, text], width, reverse), [ids, ids])


@pytest.mark.parametrize("text,width,messages", [
    ("axbyy", 9, ["character 'x' (U+0078) at column 2 is not in the vocabulary",
                  "character 'y' (U+0079) at column 4 is not in the vocabulary",
                  "character 'y' (U+0079) at column 5 is not in the vocabulary"]),
    ("abcab1", 4, ["the question is 6 characters long, longer than the model's question "
                   "width 4"]),
    ("ab_é", 3, ["the question is 4 characters long, longer than the model's question "
                 "width 3",
                 "'_' at column 3 separates question from answer in the data and never "
                 "appears in a question",
                 "character 'é' (U+00E9) at column 4 is not in the vocabulary"]),
])
def test_encode_question_names_every_problem(text, width, messages):
    with pytest.raises(EncodeError) as e:
        V.encode_question(text, width)
    assert e.value.problems == messages
    assert isinstance(e.value, ValueError)
    for m in messages:
        assert m in str(e.value)


def test_padding_needs_a_space_in_the_vocabulary():
    v = Vocabulary("ab_")
    assert v.decode(v.encode_question("ab", 2)) == "ab"
    with pytest.raises(EncodeError, match="padding character ' ' is not in the vocabulary"):
        v.encode_question("a", 2)


def test_encode_questions_names_each_question():
    with pytest.raises(EncodeError) as e:
        V.encode_questions(["ab", "aX", "abcabc"], 4)
    assert e.value.problems == [
        "question 2 'aX': character 'X' (U+0058) at column 2 is not in the vocabulary",
        "question 3 'abcabc': the question is 6 characters long, longer than the model's "
        "question width 4"]


def test_encode_and_decode_errors():
    with pytest.raises(EncodeError, match="'!' \\(U\\+0021\\) at column 3"):
        V.encode("ab!")
    with pytest.raises(ValueError, match=r"ids \[7, -1\] are outside the vocabulary \(0..6\)"):
        V.decode([0, 7, -1])
    with pytest.raises(ValueError, match="1-D"):
        V.decode([[0, 1]])
    assert V.decode([]) == "" and V.encode("").shape == (0,)
