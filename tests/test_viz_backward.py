"""make_dot(..., backward=True): the backward pass drawn beside the forward graph, checked
against a small graph worked out by hand, and at second order."""
import numpy as np
import pytest

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import viz
from tinygrad_attn.viz import make_dot
from tinygrad_attn.viz.style import summary
from tinygrad_attn.ops.recurrent import step_by_step

from test_viz import Graph
from test_viz_roll import edges_with_attrs


@pytest.fixture(autouse=True)
def lstm_op_by_op():
    """These diagrams show the LSTM cell's steps: record it op by op (`F.lstm` records one
    fused node by default)."""
    with step_by_step():
        yield


def small():
    rng = np.random.default_rng(0)
    x = tga.Variable(rng.standard_normal((2, 3)), name="x")
    W = tga.Variable(rng.standard_normal((3, 4)), name="W")
    b = tga.Variable(rng.standard_normal(4), name="b")
    y = F.sum(F.tanh(x @ W + b))
    y.name = "y"
    return y, x, W, b


def head(g, n):
    return g.label(n).split(" | ")[0]


def test_backward_of_a_small_graph_as_worked_out_by_hand():
    """y = sum(tanh(x @ W + b)). By hand: sum's rule broadcasts the seed 1 (a constant, not
    recorded: nothing it depends on takes a gradient); tanh's rule is one op,
    tanh_grad(t, gy) = gy (1 - t²); add's rule passes the gradient to both inputs, and the
    pass reduces b's with sum_to((4,)); matmul's rule is gy @ Wᵀ and xᵀ @ gy (two transposes,
    two matmuls)."""
    y, x, W, b = small()
    dot = make_dot(y, backward="expanded", show_values=True)
    g = Graph(dot)
    forward = sorted(head(g, f) for f in g.of_kind("f") if g.cluster(f) is None)
    backward = sorted(head(g, f) for f in g.of_kind("f") if g.cluster(f) == "cluster_backward")
    assert forward == ["add", "matmul", "sum", "tanh"]
    assert backward == ["matmul", "matmul", "sum_to", "tanh_grad", "transpose", "transpose"]
    # each forward op linked (dashed) to its own rule
    rule = {}
    for a, b_, at in edges_with_attrs(dot):
        if 'style="dashed"' in at:
            rule.setdefault(head(g, a), []).append(head(g, b_))
    assert {k: sorted(v) for k, v in rule.items()} == {       # to the first op it recorded
        "tanh": ["tanh_grad"], "add": ["sum_to"], "matmul": ["transpose"]}
    # gradients are rose and labelled d y / d <name>, with the values worked out in NumPy
    t = np.tanh(x.data @ W.data + b.data)
    gz = 1 - t ** 2
    expect = {"d y / d x": gz @ W.data.T, "d y / d W": x.data.T @ gz, "d y / d b": gz.sum(0),
              "d y / d add": gz, "d y / d tanh": np.ones_like(t)}
    for name, value in expect.items():
        n = g.one(name)
        assert g.attr(n, "fillcolor") == viz.STYLES["grad"]["fillcolor"], name
        assert g.label(n).split(" | ")[2] == "= " + summary(value), name
    # wiring: tanh_grad reads the forward tanh output and d y / d tanh, makes d y / d add;
    # sum_to makes d y / d b from it; the two matmuls make d y / d x and d y / d W
    tg = g.one("tanh_grad", "f")
    fwd_t = [a for a, b_ in g.edges if b_ == g.one("sum", "f")][0]
    assert {a for a, b_ in g.edges if b_ == tg} == {fwd_t, g.one("d y / d tanh")}
    assert (tg, g.one("d y / d add")) in g.edges
    # a leaf's gradient: one labelled node, fed by the Variable the pass made for it
    def made_by(node):
        (value,) = [a for a, b_ in g.edges if b_ == node]
        return {head(g, a) for a, b_ in g.edges if b_ == value}
    assert made_by(g.one("d y / d b")) == {"sum_to"}
    assert made_by(g.one("d y / d x")) == made_by(g.one("d y / d W")) == {"matmul"}
    assert x.grad is None and W.grad is None      # drawing ran no .backward()
    assert "d y / d y" not in [head(g, n) for n in g.nodes]


def test_second_order_backward_is_drawn_too():
    x = tga.Variable(np.linspace(-1.0, 1.0, 3), name="x")
    y = F.sum(F.tanh(x))
    gx, = tga.grad(y, [x], create_graph=True)
    z = F.sum(gx)
    z.name = "z"
    dot = make_dot(z, backward="expanded", show_values=True)
    g = Graph(dot)
    forward = {head(g, f) for f in g.of_kind("f") if g.cluster(f) is None}
    assert forward == {"tanh", "tanh_grad", "sum"}
    # d z / d x = d/dx sum(1 - tanh²(x)) = -2 tanh(x) (1 - tanh²(x))
    t = np.tanh(x.data)
    n = g.one("d z / d x")
    assert g.label(n).split(" | ")[2] == "= " + summary(-2 * t * (1 - t ** 2))
    dashed = {head(g, a) for a, b_, at in edges_with_attrs(dot) if 'style="dashed"' in at}
    assert dashed == {"tanh_grad", "tanh"}   # tanh_grad's own rule, and tanh's again


def test_backward_needs_a_scalar():
    x = tga.Variable(np.ones(3), name="x")
    with pytest.raises(ValueError, match=r"make_dot\(backward=True\).*shape \(3,\).*F.sum"):
        make_dot(F.tanh(x), backward=True)


def test_backward_of_a_model_rolls_its_steps_too():
    from test_viz_roll import model_loss
    loss, params = model_loss("attention")
    dot = make_dot(loss, params, backward=True)
    scopes = {s for s, copies, period in dot.rolled}
    assert {("encoder", "lstm"), ("backward", "encoder", "lstm"),
            ("backward", "decoder", "lstm")} <= scopes
    assert dot.counts["edges"] < make_dot(loss, params, backward=True,
                                          roll=False).counts["edges"]
