"""Rolled time steps, the layout budget, values on nodes and Jupyter display.

The DOT is read structurally (no Graphviz needed) except where a test says it renders."""
import re
import shutil
import warnings

import numpy as np
import pytest

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import viz
from tinygrad_attn.viz import make_dot, within_budget
from tinygrad_attn.ops.recurrent import step_by_step

from test_viz import Graph, leaf


@pytest.fixture(autouse=True)
def lstm_op_by_op():
    """These diagrams show the LSTM cell's steps: record it op by op (`F.lstm` records one
    fused node by default)."""
    with step_by_step():
        yield

models = pytest.importorskip("tinygrad_attn_models")
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz `dot` program is not "
                               "installed (apt-get install graphviz)")

_ATTR_EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")


def edges_with_attrs(dot):
    """(tail, head, attribute text) for every edge, with or without attributes."""
    found = []
    for line in dot.source.splitlines():
        if m := _ATTR_EDGE.match(line):
            found.append((m[1], m[2], m[3] or ""))
    return found


def rnn_chain(T, h0=True):
    """A plain RNN written as a loop, no modules, no scopes: h = tanh(x_t @ Wx + h @ Wh),
    each x_t its own leaf."""
    rng = np.random.default_rng(0)
    Wx = tga.Variable(rng.standard_normal((3, 4)), name="Wx")
    Wh = tga.Variable(rng.standard_normal((4, 4)), name="Wh")
    h = tga.Variable(np.zeros((2, 4)), name="h0")
    for t in range(T):
        x = tga.Variable(rng.standard_normal((2, 3)), name="x_t")
        h = F.tanh(x @ Wx + h @ Wh)
    return F.sum(h), (Wx, Wh)


# --- rolling: a plain chain -----------------------------------------------------------------
def test_plain_rnn_chain_rolls_into_one_cluster_with_its_recurrent_edge():
    y, (Wx, Wh) = rnn_chain(7)
    dot = make_dot(y, {"Wx": Wx, "Wh": Wh})
    assert dot.rolled == [((), 7, 4)]                    # 7 copies of matmul, matmul, add, tanh
    g = Graph(dot)
    assert g.cluster_label == {"cluster_roll0": "× 7"}
    ops = sorted(g.label(f).split(" | ")[0] for f in g.of_kind("f"))
    assert ops == ["add", "matmul", "matmul", "sum", "tanh"]  # one copy + the final sum
    assert all(g.cluster(f) == "cluster_roll0" for f in g.of_kind("f")
               if not g.label(f).startswith("sum"))
    # the seven x_t leaves are one node "×7"; Wx and Wh, shared, one node each
    xs = g.find("x_t")
    assert len(xs) == 1 and g.label(xs[0]) == "x_t | (2, 3) ×7"
    assert len(g.find("Wx")) == len(g.find("Wh")) == 1
    # the recurrent edge: the tanh's output feeds the next copy's matmul with Wh
    edges = edges_with_attrs(dot)
    recurrent = [(a, b) for a, b, at in edges if 'label="next step"' in at]
    assert len(recurrent) == 1
    h_node, mm = recurrent[0]
    assert g.label(mm) == "matmul" and g.cluster(h_node) == "cluster_roll0"
    tanh = g.one("tanh", "f")
    assert (tanh, h_node) in g.edges
    assert any(a == h_node and b == g.one("sum", "f") for a, b, _ in edges)
    # h0 feeds the first copy only: a plain edge into the block
    assert any(a == g.one("h0") and b == mm for a, b, _ in edges)
    # unrolled: every copy
    full = Graph(make_dot(y, roll=False))
    assert len(full.of_kind("f")) == 4 * 7 + 1 and not full.parent


def test_a_chain_of_one_op_rolls_and_stays_fast():
    x = leaf((3,), "x")
    y = x
    for _ in range(10_000):
        y = F.tanh(y)
    dot = make_dot([y])
    g = Graph(dot)
    assert dot.rolled == [((), 10_000, 1)]
    assert g.cluster_label == {"cluster_roll0": "× 10000"}
    assert len(g.of_kind("f")) == 1
    # x feeds the first copy, the last copy makes the output: both outside the cluster
    assert g.cluster(g.one("x")) is None and g.cluster(g.one("output")) is None
    assert (g.one("x"), g.one("tanh", "f")) in g.edges
    assert (g.one("tanh", "f"), g.one("output")) in g.edges


def test_different_parameters_per_copy_are_layers_not_steps():
    x = leaf((2, 4), "x")
    h = x
    for k in range(4):
        h = F.tanh(h @ leaf((4, 4), f"W{k}", k))
    g = Graph(make_dot(F.sum(h), roll=True))
    assert not make_dot(F.sum(h)).rolled
    assert len(g.of_kind("f")) == 9
    h = x                           # the same, with one W per step: a loop after all
    W = leaf((4, 4), "W", 1)
    for k in range(4):
        h = F.tanh(h @ W)
    assert make_dot(F.sum(h)).rolled == [((), 4, 2)]


def test_two_equal_ops_in_a_row_are_not_a_loop():
    x, W1, W2 = leaf((2, 4), "x"), leaf((4, 4), seed=1), leaf((4, 4), seed=2)
    assert make_dot(F.sum(x @ W1 @ W2)).rolled == []


# --- rolling: the three models --------------------------------------------------------------
def model_loss(name, N=2, Te=7, Td=5, V=13, D=4, H=8):
    Model = {"seq2seq": models.Seq2seq, "peeky": models.PeekySeq2seq,
             "attention": models.AttentionSeq2seq}[name]
    model = Model(V, D, H, seed=0)
    rng = np.random.default_rng(0)
    loss = model.loss(rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1)))
    return loss, dict(model.named_parameters())


@pytest.mark.parametrize("name", ["seq2seq", "peeky", "attention"])
def test_the_models_lstm_steps_roll(name):
    loss, params = model_loss(name, Te=7, Td=5)
    dot = make_dot(loss, params)
    # step 1 differs (h0 = 0 or c0 = 0: fewer ops) and is drawn unrolled; the other steps
    # are one cluster each: 12 ops (h @ Wh, the gates, c and h)
    assert dot.rolled == [(("encoder", "lstm"), 6, 12), (("decoder", "lstm"), 4, 12)]
    g = Graph(dot)
    assert g.cluster_label["cluster_encoder.lstm.roll0"] == "× 6"
    assert g.cluster_label["cluster_decoder.lstm.roll1"] == "× 4"
    assert g.parent["cluster_encoder.lstm.roll0"] == "cluster_encoder.lstm"
    for cluster in ("cluster_encoder.lstm.roll0", "cluster_decoder.lstm.roll1"):
        ops = sorted(g.label(f).split(" | ")[0] for f in g.of_kind("f")
                     if g.cluster(f) == cluster)
        assert ops == ["add", "add", "matmul", "mul", "mul", "mul", "sigmoid", "sigmoid",
                       "sigmoid", "split", "tanh", "tanh"]
        inside = {n for n in g.nodes if g.cluster(n) == cluster}
        recurrent = [(a, b) for a, b, at in edges_with_attrs(dot)
                     if 'label="next step"' in at and b in inside]
        assert len(recurrent) == 2                      # h and c, nothing else
        assert {g.label(b).split(" | ")[0] for a, b in recurrent} == {"matmul", "mul"}
    # the stacked hidden states leave the block along one edge carrying all copies
    stacks = {g.cluster(f): f for f in g.of_kind("f") if g.label(f).startswith("stack")}
    into = {at for a, b, at in edges_with_attrs(dot) if b == stacks["cluster_decoder.lstm"]}
    assert any('label="×4"' in at for at in into)
    if name == "attention":        # the only model that reads every encoder state
        into = {at for a, b, at in edges_with_attrs(dot) if b == stacks["cluster_encoder.lstm"]}
        assert any('label="×6"' in at for at in into)
    unrolled = make_dot(loss, params, roll=False)
    assert unrolled.rolled == [] and unrolled.counts["nodes"] > 1.7 * dot.counts["nodes"]


def test_rolling_stays_out_of_folded_modules():
    loss, params = model_loss("attention")
    assert make_dot(loss, params, max_depth=1).rolled == []
    assert len(make_dot(loss, params, max_depth=2).rolled) == 2


def test_book_sizes_roll_under_the_layout_budget_and_unrolled_folds():
    """AttentionSeq2seq at the book's sizes (batch 128, Te 29, Td 10, H 256, D 16, V 59):
    rolled it fits the budget render lays out; unrolled, render folds it and says so."""
    loss, params = model_loss("attention", N=128, Te=29, Td=10, V=59, D=16, H=256)
    rolled = make_dot(loss, params)
    assert rolled.rolled == [(("encoder", "lstm"), 28, 12), (("decoder", "lstm"), 9, 12)]
    assert viz.layout_cost(rolled) <= viz.LAYOUT_BUDGET
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert within_budget(loss, params=params).source == rolled.source
    assert viz.layout_cost(make_dot(loss, params, roll=False)) > viz.LAYOUT_BUDGET
    with pytest.warns(viz.LargeGraphWarning, match=r"folded to max_depth=1"):
        folded = within_budget(loss, params=params, roll=False)
    assert viz.layout_cost(folded) <= viz.LAYOUT_BUDGET
    assert "folded to max_depth=1" in folded.graph_attr["label"]
    assert f"budget of {viz.LAYOUT_BUDGET}" in folded.graph_attr["label"]


def test_budget_folds_to_the_deepest_level_that_fits():
    loss, params = model_loss("attention")
    full = viz.layout_cost(make_dot(loss, params, roll=False))
    one = viz.layout_cost(make_dot(loss, params, roll=False, max_depth=1))
    zero = make_dot(loss, params, roll=False, max_depth=0)
    assert viz.layout_cost(zero) < one < full
    with pytest.warns(viz.LargeGraphWarning, match="max_depth=0"):
        dot = within_budget(loss, budget=one - 1, params=params, roll=False)
    assert dot.counts == zero.counts
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert viz.layout_cost(within_budget(loss, budget=None, params=params,
                                             roll=False)) == full


@needs_dot
def test_render_folds_above_the_budget_and_captions_the_picture(tmp_path):
    loss, params = model_loss("attention")
    with pytest.warns(viz.LargeGraphWarning):
        path = viz.render(loss, tmp_path / "g.svg", params=params, roll=False, budget=100)
    text = path.read_text()
    assert "folded to max_depth=" in text and "budget of 100" in text


# --- values on nodes ------------------------------------------------------------------------
def test_show_values_puts_values_then_gradients_and_says_which():
    x = tga.Variable(np.array([0.5, -1.0]), name="x")
    y = F.sum(F.tanh(x))
    before = make_dot(y, show_values=True)
    assert "backward has not run" in before.graph_attr["label"]
    g = Graph(before)
    assert g.label(g.one("x")) == "x | (2,) | = [0.5, -1] mean -0.25 ‖·‖ 1.12"
    assert "grad" not in g.label(g.one("x"))
    y.backward()
    after = Graph(make_dot(y, show_values=True))
    assert "backward has run" in make_dot(y, show_values=True).graph_attr["label"]
    gx = 1 - np.tanh(np.array([0.5, -1.0])) ** 2
    label = after.label(after.one("x"))
    assert label.endswith(f"grad [{gx[0]:.3g}, {gx[1]:.3g}] mean {gx.mean():.3g} "
                          f"‖·‖ {np.linalg.norm(gx):.3g}")
    assert "label" not in make_dot(y).graph_attr        # no caption unless asked


# --- Jupyter --------------------------------------------------------------------------------
@needs_dot
def test_a_diagram_displays_itself_as_svg():
    y, _ = rnn_chain(5)
    dot = make_dot(y)
    assert isinstance(dot, viz.Diagram)
    svg = dot._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "× 5" in svg
    assert dot._repr_mimebundle_() == {"image/svg+xml": svg}
    assert "<svg" in dot._repr_html_()
