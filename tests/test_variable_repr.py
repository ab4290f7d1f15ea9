"""A Variable in Jupyter (`_repr_html_`): well-formed HTML that states the Variable's name,
shape, dtype and origin (a leaf, or the op that made it and its scope) and whether it holds a
gradient, above its values as NumPy prints them, bounded in size for large arrays; every
piece of user text escaped."""
import html
import re
from html.parser import HTMLParser

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import Variable


class _Tree(HTMLParser):
    """Checks that tags nest and close, and collects the text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.pre = [], [], []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"</{tag}> closes nothing open"

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1] == "pre":
            self.pre.append(data)


def parsed(v):
    out = v._repr_html_()
    tree = _Tree()
    tree.feed(out)
    tree.close()
    assert tree.stack == [], f"unclosed tags {tree.stack}"
    return out, "".join(tree.text), "".join(tree.pre)


dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_])
names = st.one_of(st.none(), st.text(min_size=1, max_size=12))


@given(hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)), names)
def test_a_leaf_shows_its_facts_and_values(data, name):
    v = Variable(data, name=name)
    out, text, pre = parsed(v)
    assert pre == np.array2string(data, threshold=200, edgeitems=3)
    assert f"shape {data.shape}" in text and str(data.dtype) in text
    if name:
        assert repr(name) in text          # shown, and escaped: the parsed text gives it back
    floating = data.dtype.kind == "f"
    assert ("leaf, requires grad" in text) == floating
    assert ("leaf, data" in text) == (not floating)


@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from(["", "encoder", "a.b<c>"]))
def test_a_result_names_its_op_and_scope_and_its_gradient(n, t, scope):
    x = Variable(np.random.default_rng(n * t).standard_normal((n, t)), name="x")
    with tga.name_scope(scope) if scope else _nothing():
        y = F.softmax(x, axis=1)
    _, text, _ = parsed(y)
    where = f" in {scope}" if scope else ""
    assert f"made by softmax(axis=1){where}" in text
    assert "has .grad" not in parsed(x)[1]
    (y * y).sum().backward()
    assert f"has .grad {(n, t)}" in parsed(x)[1]


def test_large_arrays_are_elided():
    v = Variable(np.arange(1_000_000.0).reshape(1000, 1000))
    out, _, pre = parsed(v)
    assert "..." in pre and len(out) < 2_000


def test_user_text_is_escaped():
    out, text, _ = parsed(Variable(np.zeros(2), name="<script>alert(1)</script>"))
    assert "<script>" not in out and html.escape("<script>") in out
    assert "'<script>alert(1)</script>'" in text
    assert not re.search(r"<(?!/?(div|b|span|pre|code)\b)", out)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
