"""Graph diagrams (tinygrad_attn.viz): the DOT source is checked structurally without the
Graphviz binary; rendering is checked where `dot` is installed; the missing-binary path is
checked by hiding `dot`."""
import html
import re
import shutil

import numpy as np
import pytest

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import viz
from tinygrad_attn.cli import example_expression
from tinygrad_attn.viz import GraphvizNotFoundError, make_dot, render

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz `dot` program is not "
                               "installed (apt-get install graphviz / brew install graphviz)")


# --- a small reader for the diagrams make_dot writes: the DOT for labels and looks, the
# typed picture (dot.picture) for kinds and clusters ----------------------------------------
_NODE = re.compile(r"^\s*(n\d+) \[(.*)\]$")
_KINDS = {"v": ("value", "grad"), "f": ("op", "rule"), "m": ("box",)}


def cluster_name(place):
    """A readable name for a cluster path: scopes by name, a rolled block "roll<k>", the
    backward pass "backward" (tests only: the picture's parts are typed)."""
    from tinygrad_attn.viz.model import Backward, Roll
    if not place:
        return None
    names = ["backward" if isinstance(p, Backward) else f"roll{p.block}" if isinstance(p, Roll)
             else p.name for p in place]
    return "cluster_" + ".".join(names)


class Graph:
    def __init__(self, dot):
        from tinygrad_attn.viz.model import Backward, EdgeKind, Roll
        self.source = dot.source
        pic = self.picture = dot.picture
        self.nodes = {}      # key -> (attribute text, innermost cluster or None)
        self.kind = {}
        for line in self.source.splitlines():
            if m := _NODE.match(line):
                self.nodes[m[1]] = [m[2], None]
        self.parent, self.cluster_label = {}, {}
        for n in pic.nodes:
            self.nodes[n.key][1] = cluster_name(n.place)
            self.kind[n.key] = n.kind.value
            for k in range(1, len(n.place) + 1):
                name = cluster_name(n.place[:k])
                self.parent[name] = cluster_name(n.place[:k - 1])
                last = n.place[k - 1]
                self.cluster_label[name] = ("backward" if isinstance(last, Backward) else
                                            f"× {last.copies}" if isinstance(last, Roll)
                                            else last.name)
        if not pic.options["group"]:
            self.parent, self.cluster_label = {}, {}
        self.edges = [(pic.nodes[e.tail].key, pic.nodes[e.head].key) for e in pic.edges
                      if e.kind is not EdgeKind.LINK]

    def of_kind(self, prefix):
        return [n for n in self.nodes if self.kind[n] in _KINDS[prefix]]

    def attr(self, node, name):
        m = re.search(rf'\b{name}="([^"]*)"', self.nodes[node][0])
        return m and m[1]

    def label(self, node):
        m = re.search(r"label=<(.*)> tooltip=", self.nodes[node][0])
        return _text(m[1]) if m else ""     # label="" : an unlabelled intermediate

    def cluster(self, node):
        return self.nodes[node][1]

    def find(self, head, prefix=""):
        """The nodes whose label's first line is `head`."""
        return [n for n in self.nodes
                if (not prefix or self.kind[n] in _KINDS[prefix])
                and self.label(n).split(" | ")[0] == head]

    def one(self, text, prefix=""):
        found = self.find(text, prefix)
        assert len(found) == 1, (text, [self.label(n) for n in found])
        return found[0]


def _text(label):
    """The visible text of an HTML-like label, lines joined by ' | '."""
    return html.unescape(re.sub(r"<[^>]+>", "", label.replace("<BR/>", " | ")))


def leaf(shape, name=None, seed=0, **kw):
    return tga.Variable(np.random.default_rng(seed).standard_normal(shape), name=name, **kw)


def affine_tanh_sum():
    x, W, b = leaf((2, 3), "x"), leaf((3, 4), "W", 1), leaf((4,), "b", 2)
    return F.tanh(x @ W + b).sum(), (x, W, b)


# --- structure -----------------------------------------------------------------------------
def test_known_expression_has_its_nodes_and_edges():
    y, _ = affine_tanh_sum()
    g = Graph(make_dot(y))
    assert len(g.of_kind("v")) == 7          # x, W, b, x@W, +b, tanh, sum
    assert len(g.of_kind("f")) == 4          # matmul, add, tanh, sum
    assert len(g.edges) == 10
    assert sorted(g.label(f).split(" | ")[0] for f in g.of_kind("f")) == \
        ["add", "matmul", "sum", "tanh"]
    # every edge joins a Variable and a Function, in the right direction
    for a, b in g.edges:
        assert {g.kind[a], g.kind[b]} == {"value", "op"}
    mm = g.one("matmul", "f")
    assert {g.label(a) for a, b in g.edges if b == mm} == {"x | (2, 3)", "W | (3, 4)"}


def test_example_expression_broadcasts_and_is_drawn():
    y = example_expression()
    g = Graph(make_dot(y))
    assert len(g.of_kind("v")) == 9 and len(g.of_kind("f")) == 5 and len(g.edges) == 13
    add = g.one("add", "f")
    shapes = sorted(g.label(a).split(" | ")[-1] for a, b in g.edges if b == add)
    assert shapes == ["(2,)", "(4, 2)"]       # b (2,) broadcast over rows of (4, 2)
    assert g.attr(g.one("W"), "fillcolor") == g.attr(g.one("b"), "fillcolor")  # params
    assert g.attr(g.one("W"), "fillcolor") != g.attr(g.one("x"), "fillcolor")    # input


def test_labels_carry_shapes_dtypes_and_attributes():
    x = tga.Variable(np.ones((2, 3, 4), np.float32), name="x")
    y = F.sum(F.softmax(x, axis=1) * 2.0, axis=2, keepdims=True)[:, 1:3]
    g = Graph(make_dot(y))
    labels = [g.label(n) for n in g.nodes]
    assert "x | (2, 3, 4)" in labels and "(2, 3, 4)" in labels   # the leaf and softmax's out
    assert g.label(g.one("softmax", "f")) == "softmax | axis=1"
    assert g.label(g.one("sum", "f")) == "sum | axis=(2,), keepdims=True"
    assert g.label(g.one("getitem", "f")) == "getitem | index=[:, 1:3]"
    assert g.label(g.one("output", "v")) == "output | (2, 2, 1)"
    assert g.label(g.one("2", "v")) == "2"    # the constant shows its value
    assert not any("float32" in lb for lb in labels)
    gd = Graph(make_dot(y, show_dtypes=True))
    assert gd.label(gd.one("output", "v")) == "output | (2, 2, 1) float32"
    gs = Graph(make_dot(y, show_shapes=False))
    assert not any("(2, 3, 4)" in gs.label(n) for n in gs.nodes)
    assert gs.label(gs.one("x")) == "x" and len(gs.find("", "v")) == 3   # 3 unlabelled
    assert gs.label(gs.one("output", "v")) == "output"


def test_parameters_inputs_constants_and_outputs_look_different():
    x, W = leaf((2, 3), "x"), leaf((3, 3), "weight", 1)
    y = (x @ W * 0.5).sum()
    g = Graph(make_dot(y, {"layer.W": W}))
    param, inp, const, out = g.one("layer.W"), g.one("x"), g.one("0.5"), g.one("output")
    inter = g.find("(2, 3)", "v")[0]             # an intermediate
    fills = {g.attr(n, "fillcolor") for n in (param, inp, const, out, inter)}
    assert len(fills) == 5
    styles = {n: g.attr(n, "style") for n in (param, inp, const)}
    assert "dashed" in styles[const] and "dashed" not in styles[param] + styles[inp]
    assert float(g.attr(const, "fontsize")) < float(g.attr(inp, "fontsize"))
    assert g.attr(out, "penwidth") == "2"
    # without `params` the same W is just an input
    plain = Graph(make_dot(y))
    assert plain.attr(plain.one("weight"), "fillcolor") == plain.attr(plain.one("x"),
                                                                      "fillcolor")


def test_parameter_detected_by_class_or_attribute():
    class Parameter(tga.Variable):      # the name is what counts (nn.Parameter, lazily)
        pass

    class Marked(tga.Variable):
        is_parameter = True

    x = leaf((2,), "x")
    a, b = Parameter(np.ones(2), name="a"), Marked(np.ones(2), name="b")
    g = Graph(make_dot(x * a + b))
    assert g.attr(g.one("a"), "fillcolor") == g.attr(g.one("b"), "fillcolor") == \
        viz.STYLES["param"]["fillcolor"]
    assert g.attr(g.one("x"), "fillcolor") == viz.STYLES["input"]["fillcolor"]


def scoped_graph():
    """encoder / decoder / decoder.attention, with leaves shared in different ways."""
    xs, ys = leaf((2, 5, 4), "xs"), leaf((2, 3, 4), "ys", 1)
    shared = leaf((4, 4), "shared", 2)            # used in encoder and decoder
    Wa = leaf((4, 4), "Wa", 3)                    # used only in decoder.attention
    Wd = leaf((4, 4), "Wd", 4)                    # used in decoder and decoder.attention
    with tga.name_scope("encoder"):
        hs = F.tanh(xs @ shared)
        hs.name = "hs"
    with tga.name_scope("decoder"):
        hd = F.tanh(ys @ shared @ Wd)
        with tga.name_scope("attention"):
            a = F.softmax(hd @ Wa @ Wd @ F.swapaxes(hs, 1, 2), axis=2)
            c = a @ hs
            c.name = "context"
        out = F.concat([c, hd], axis=2)
    return F.sum(out), dict(shared=shared, Wa=Wa, Wd=Wd)


def test_scopes_become_nested_clusters():
    y, _ = scoped_graph()
    g = Graph(make_dot(y))
    assert g.parent == {"cluster_encoder": None, "cluster_decoder": None,
                        "cluster_decoder.attention": "cluster_decoder"}
    assert g.cluster_label == {"cluster_encoder": "encoder", "cluster_decoder": "decoder",
                               "cluster_decoder.attention": "attention"}
    assert g.cluster(g.one("softmax", "f")) == "cluster_decoder.attention"
    assert g.cluster(g.one("concat", "f")) == "cluster_decoder"
    assert g.cluster(g.one("sum", "f")) is None
    # a Variable sits with its creator; a leaf with all of its consumers
    assert g.cluster(g.one("hs")) == "cluster_encoder"
    assert g.cluster(g.one("context")) == "cluster_decoder.attention"
    assert g.cluster(g.one("Wa")) == "cluster_decoder.attention"
    assert g.cluster(g.one("Wd")) == "cluster_decoder"
    assert g.cluster(g.one("shared")) is None
    assert g.cluster(g.one("xs")) == "cluster_encoder"
    # the DOT really nests: the attention subgraph opens inside the decoder's
    src = g.source
    lines = src.splitlines()
    opened = [k for k, line in enumerate(lines) if line.strip().startswith("subgraph cluster_")]
    label = {k: re.search(r"<B>(.*?)</B>", lines[k + 1])[1] for k in opened}
    dec = next(k for k in opened if label[k] == "decoder")
    att = next(k for k in opened if label[k] == "attention")
    depth = 0
    for line in lines[dec + 1:att]:
        depth += line.strip().startswith("subgraph") - (line.strip() == "}")
    assert dec < att and depth == 0     # opened inside the decoder's, not after it closed
    flat = Graph(make_dot(y, group=False))
    assert flat.parent == {} and "subgraph" not in flat.source
    assert len(flat.nodes) == len(g.nodes) and sorted(flat.edges) == sorted(g.edges)


def test_max_depth_folds_deep_clusters_into_boxes():
    y, params = scoped_graph()
    full = Graph(make_dot(y, params))
    g1 = Graph(make_dot(y, params, max_depth=1))
    assert g1.parent == {"cluster_encoder": None, "cluster_decoder": None}
    box = g1.one("decoder.attention", "m")
    assert g1.cluster(box) == "cluster_decoder"
    head, ins, outs, count = g1.label(box).split(" | ")
    assert sorted(re.findall(r"\(\d+(?:, \d+)*\)", ins)) == ["(2, 3, 4)", "(2, 5, 4)", "(4, 4)"]
    assert outs == "out (2, 3, 4)" and count == "6 ops · 1 param"   # hs, Wd, hd in; Wa hidden
    assert not g1.find("softmax", "f") and not g1.find("Wa")      # folded away
    assert g1.find("Wd") and g1.find("concat", "f")               # still outside the box
    # hs feeds the box twice (scores and weighted sum) but is drawn as one edge
    hs = g1.one("hs")
    assert g1.edges.count((hs, box)) == 1
    assert len(g1.nodes) < len(full.nodes)

    g0 = Graph(make_dot(y, params, max_depth=0))
    assert g0.parent == {} and not g0.of_kind("f")[1:]            # only the top-level sum
    boxes = {g0.label(m).split(" | ")[0] for m in g0.of_kind("m")}
    assert boxes == {"encoder", "decoder"}
    enc, dec = g0.one("encoder", "m"), g0.one("decoder", "m")
    hs0 = g0.one("hs")
    assert (enc, hs0) in g0.edges and (hs0, dec) in g0.edges
    assert "out (2, 5, 4)" in g0.label(enc)
    assert make_dot(y, max_depth=5).source == make_dot(y).source  # nothing that deep


def test_folding_keeps_a_state_used_inside_and_outside_its_box_acyclic():
    x = leaf((2, 3), "x")
    with tga.name_scope("lstm"):
        h1 = F.tanh(x)
        h2 = F.tanh(h1)                    # the last state: stacked *and* returned
        hs = F.stack([h1, h2], axis=1)
    y = F.sum(hs) + F.sum(h2 * 2.0)
    g = Graph(make_dot(y, max_depth=0))
    box = g.one("lstm", "m")
    h2_nodes = [b for a, b in g.edges if a == box and g.label(b) == "(2, 3)"]
    assert len(h2_nodes) == 1
    assert (h2_nodes[0], box) not in g.edges
    assert "3 ops" in g.label(box)


def test_ten_thousand_node_chain_is_drawn():
    x = leaf((3,), "x")
    y = x
    for _ in range(10_000):            # far deeper than Python's recursion limit
        y = F.tanh(y)
    dot = make_dot(y, roll=False)      # every op: rolled, the chain is one "× 10000" op
    source = dot.source
    g = Graph(dot)
    assert len(g.of_kind("f")) == 10_000 and len(g.of_kind("v")) == 10_001
    assert len(g.edges) == 20_000
    assert source.count("->") == 20_000


def test_second_order_graph_is_drawable():
    x = leaf((3,), "x")
    with tga.name_scope("forward"):
        y = F.sum(F.tanh(x))
    with tga.name_scope("backward"):
        gx, = tga.grad(y, [x], create_graph=True)
    g = Graph(make_dot(gx))
    ops = {g.label(f).split(" | ")[0]: g.cluster(f) for f in g.of_kind("f")}
    assert ops["tanh"] == "cluster_forward"          # the forward op the rule reuses
    assert ops["tanh_grad"] == "cluster_backward"     # tanh's rule: gy * (1 - y²), one op
    assert g.attr(g.one("output"), "fillcolor") == viz.STYLES["output"]["fillcolor"]
    assert g.attr(g.one("x"), "fillcolor") == viz.STYLES["input"]["fillcolor"]
    ggx, = tga.grad(F.sum(gx), [x], create_graph=True)
    g2 = Graph(make_dot([gx, ggx]))
    assert len(g2.find("output")) == 2 and len(g2.of_kind("f")) > len(g.of_kind("f"))


def test_outputs_and_options_are_checked():
    y, (x, W, b) = affine_tanh_sum()
    g = Graph(make_dot([y, y, x]))              # repeats drawn once; a leaf may be an output
    assert len(g.of_kind("v")) == 7
    assert g.attr(g.one("x"), "fillcolor") == viz.STYLES["output"]["fillcolor"]
    assert "rankdir=LR" in make_dot(y, rankdir="LR").source
    lone = Graph(make_dot(x))
    assert len(lone.nodes) == 1 and lone.of_kind("v") and not lone.edges
    g = Graph(make_dot(y, [("W", W)]))          # named_parameters() pairs work too
    assert g.attr(g.one("W"), "fillcolor") == viz.STYLES["param"]["fillcolor"]
    with pytest.raises(ValueError, match="rankdir"):
        make_dot(y, rankdir="UP")
    with pytest.raises(ValueError, match="max_depth"):
        make_dot(y, max_depth=-1)
    with pytest.raises(TypeError, match="Variable"):
        make_dot(np.ones(3))
    with pytest.raises(TypeError, match=r"outputs\[1\]"):
        make_dot([y, 3.0])
    with pytest.raises(TypeError, match="params"):
        make_dot(y, params={"W": W.data})
    with pytest.raises(TypeError, match="params"):
        make_dot(y, params=3)


# --- rendering -----------------------------------------------------------------------------
@needs_dot
def test_render_svg_png_pdf(tmp_path):
    y = example_expression()
    svg = render(y, tmp_path / "g.svg")
    assert svg == tmp_path / "g.svg"
    text = svg.read_text()
    assert "<svg" in text and "matmul" in text and "loss" in text
    assert render(y, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render(y, tmp_path / "sub" / "g.pdf").read_bytes()[:5] == b"%PDF-"
    out = render(y, tmp_path / "graph.txt", format="svg")
    assert "<svg" in out.read_text()


@needs_dot
def test_render_folded_model_svg(tmp_path):
    y, params = scoped_graph()
    text = render(y, tmp_path / "m.svg", params=params, max_depth=1).read_text()
    assert "decoder.attention" in text and "softmax" not in text


def test_render_dot_source_needs_no_binary(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    y = example_expression()
    path = render(y, tmp_path / "g.dot")
    assert path.read_text() == make_dot(y).source


def test_render_rejects_unknown_formats(tmp_path):
    y = example_expression()
    with pytest.raises(ValueError, match=r"\.jpgx.*\.svg"):
        render(y, tmp_path / "g.jpgx")
    with pytest.raises(ValueError, match="suffix"):
        render(y, tmp_path / "graph")
    with pytest.raises(ValueError, match="format='bmp'"):
        render(y, tmp_path / "g.svg", format="bmp")
    assert list(tmp_path.iterdir()) == []


def _check_missing(excinfo, tmp_path):
    err = excinfo.value
    assert isinstance(err, RuntimeError)
    text = str(err)
    assert "apt-get install graphviz" in text and "brew install graphviz" in text
    assert str(tmp_path / "g.dot") in text
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.svg").exists()


def test_missing_dot_writes_source_and_explains(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(GraphvizNotFoundError) as excinfo:
        render(example_expression(), tmp_path / "g.svg")
    _check_missing(excinfo, tmp_path)


def test_missing_dot_on_path_is_caught_from_graphviz_too(tmp_path, monkeypatch):
    # `which` says yes but the PATH is empty: graphviz itself raises ExecutableNotFound
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(shutil, "which", lambda *a, **k: "/usr/bin/dot")
    with pytest.raises(GraphvizNotFoundError) as excinfo:
        render(example_expression(), tmp_path / "g.svg")
    _check_missing(excinfo, tmp_path)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_missing_dot_with_an_empty_path(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GraphvizNotFoundError) as excinfo:
        render(example_expression(), tmp_path / "g.svg")
    _check_missing(excinfo, tmp_path)


def test_attention_model_folds_to_its_modules():
    models = pytest.importorskip("models")
    model = models.AttentionSeq2seq(13, 4, 8, seed=0)
    rng = np.random.default_rng(0)
    loss = model.loss(rng.integers(0, 13, (2, 6)), rng.integers(0, 13, (2, 5)))
    params = dict(model.named_parameters())
    g = Graph(make_dot(loss, params, max_depth=1))
    assert set(g.parent) == {"cluster_encoder", "cluster_decoder"}
    boxes = {g.label(m).split(" | ")[0]: g.cluster(m) for m in g.of_kind("m")}
    assert boxes["decoder.attention"] == boxes["decoder.lstm"] == "cluster_decoder"
    assert boxes["encoder.lstm"] == "cluster_encoder"
    assert len(g.nodes) < 40
    full = Graph(make_dot(loss, params))
    wx = [n for n in full.nodes if full.label(n).startswith("Wx | ")]
    assert sorted(full.cluster(n) for n in wx) == ["cluster_decoder.lstm",
                                                    "cluster_encoder.lstm"]


def unrolled_rnn(T=30, H=8):
    """A hand-written RNN unrolled in one scope: Wx, Wh and xs read by every step, edges
    that span the whole picture (dot took 8-23 s on it, docs/graphs.md)."""
    rng = np.random.default_rng(0)
    Wx = tga.Variable(rng.standard_normal((4, H)), name="Wx")
    Wh = tga.Variable(rng.standard_normal((H, H)), name="Wh")
    xs = tga.Variable(rng.standard_normal((2, T, 4)), name="xs")
    h = tga.Variable(np.zeros((2, H)), name="h0")
    for t in range(T):
        with tga.name_scope("rnn"):
            h = F.tanh(xs[:, t] @ Wx + h @ Wh)
    return F.sum(h)


def test_render_folds_before_a_layout_that_would_take_minutes(tmp_path, monkeypatch):
    # dot itself is replaced: only the decision to fold is under test, not Graphviz's speed
    import importlib
    rendering = importlib.import_module("tinygrad_attn.viz.render")
    laid = []
    monkeypatch.setattr(rendering, "_run", lambda cmd, source, path, timeout:
                        laid.append(source) or b"<svg/>")
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    y = unrolled_rnn()
    assert viz.layout_cost(make_dot(y, roll=False)) > viz.LAYOUT_BUDGET
    with pytest.warns(viz.LargeGraphWarning, match="max_depth=0"):
        render(y, tmp_path / "big.svg", roll=False)     # rolled, it is one small cluster
    assert "folded to max_depth=0" in laid[-1] and "rnn" in laid[-1]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render(y, tmp_path / "rolled.svg")              # rolled: within the budget
        render(F.tanh(leaf((2,), "x")), tmp_path / "small.svg")
    x = leaf((2,), "x")
    for _ in range(3000):
        x = F.tanh(x)
    with pytest.warns(viz.LargeGraphWarning, match="no scope left to fold"):
        render(x, tmp_path / "chain.svg", roll=False)   # nothing to fold: said, and drawn
