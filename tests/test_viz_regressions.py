"""One test per way diagrams used to fail (crashes, wrong drawings, pictures nobody could
open), each checked with the same invariants the property tests hold random programs to
(viz_programs.check)."""
import importlib
import json
import re
import shutil
import struct
import warnings

import numpy as np
import pytest

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import viz
from tinygrad_attn.nn import Parameter
from tinygrad_attn.viz import make_dot, render
from tinygrad_attn.viz.model import BACKWARD, NodeKind, Scope

from viz_programs import check

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz `dot` program is not "
                               "installed (apt-get install graphviz)")
rendering = importlib.import_module("tinygrad_attn.viz.render")

ALL_OPTIONS = [dict(roll=r, max_depth=d, backward=b, show_values=v)
               for r in (True, False) for d in (None, 0, 1) for b in (False, True, "expanded")
               for v in (False, True)]


def leaf(shape, name=None, seed=0):
    return tga.Variable(np.random.default_rng(seed).standard_normal(shape), name=name)


def check_all_options(outputs, params=None):
    for options in ALL_OPTIONS:
        check(make_dot(outputs, params, **options), outputs, options)


# --- what used to crash (StopIteration in make_dot, and so in render, replay, the CLI) --------
def times_one():
    return F.sum(leaf((3,), "x") * 1.0 * 1.0 * 1.0)


def one_minus():
    h = leaf((3,), "h")
    for _ in range(5):
        h = 1.0 - h
    return F.sum(h)


def where_repeated():
    m = np.array([True, False, True])
    h = leaf((3,), "h")
    for _ in range(4):
        h = F.where(m, h, h)
    return F.sum(h)


def square_in_a_step(power):
    h = leaf((2, 3), "h0")
    for t in range(5):
        x_t = leaf((2, 3), "x_t", t)
        h = F.tanh((x_t ** 2 if power else x_t * x_t) + h)
    return F.sum(h)


def times_h_plus_half():
    h = tga.Variable(np.zeros((2, 3)), name="h0")
    for t in range(5):
        h = F.tanh(leaf((2, 3), "x_t", t) * h + 0.5)
    return F.sum(h)


CRASHES = {"x*1*1*1": times_one, "1-h": one_minus, "where(m,h,h)": where_repeated,
           "x_t*x_t": lambda: square_in_a_step(False), "x_t**2": lambda: square_in_a_step(True),
           "tanh(x_t*h+0.5)": times_h_plus_half}


@pytest.mark.parametrize("name", CRASHES)
def test_programs_that_crashed_are_drawn_right(name):
    check_all_options(CRASHES[name]())


@needs_dot
@pytest.mark.parametrize("name", ["x*1*1*1", "tanh(x_t*h+0.5)"])
def test_programs_that_crashed_render_and_replay(name, tmp_path):
    loss = CRASHES[name]()
    assert render(loss, tmp_path / "g.svg", backward=True, show_values=True).read_text()
    page = viz.replay(loss, tmp_path / "r.html")
    assert page.steps > 1


# --- loops drawn with their backward pass ----------------------------------------------------
def tanh_loop(T=6):
    W = Parameter(np.random.default_rng(1).standard_normal((3, 3)) / 2, name="W")
    h = tga.Variable(np.ones((2, 3)), name="h0")
    for _ in range(T):
        h = F.tanh(h @ W)
    return F.sum(h), W


@pytest.mark.parametrize("backward", [True, "expanded"])
def test_a_loop_drawn_with_its_backward_pass(backward):
    """Used to show bare internal ids (v11), h0 standing for every h_t, a cycle, and no
    d loss / d W."""
    loss, W = tanh_loop()
    for roll in (True, False):
        dot = make_dot(loss, backward=backward, roll=roll)
        check(dot, loss, dict(backward=backward, roll=roll))
        labels = re.findall(r"label=<<B>(d [^<]*)</B>", dot.source)
        assert labels.count("d loss / d W") == 1 and labels.count("d loss / d h0") == 1
        h0 = dot.picture.node(loss.creator.inputs[0])           # the last h
        assert h0.members[0].name is None
    if backward is True:       # compact: one node per rule run, the steps rolled
        dot = make_dot(loss, backward=True)
        rules = [n for n in dot.picture.nodes if n.kind is NodeKind.RULE]
        assert sorted(n.info["rules"][0].name for n in rules) == ["matmul", "sum", "tanh"]
        assert {n.copies for n in rules} == {1, 6}
        assert any(e.label == "previous step" for e in dot.picture.edges)


# --- unrelated tensors merged as one input per step --------------------------------------------
def test_layers_summed_are_not_merged_into_one_input():
    rng = np.random.default_rng(0)
    x = tga.Variable(rng.standard_normal((4, 3)), name="x")
    Ws = [Parameter(rng.standard_normal((3, 3)), name=f"W{k}") for k in range(3)]
    h1 = F.tanh(x @ Ws[0])
    h2 = F.tanh(h1 @ Ws[1])
    h3 = F.tanh(h2 @ Ws[2])
    loss = F.sum(h3 * h3) + F.sum(h1) + F.sum(h2) + F.sum(h3)
    for options in ALL_OPTIONS:
        dot = make_dot(loss, **options)
        check(dot, loss, options)
        if options["max_depth"] is None:
            nodes = {dot.picture.node_of[id(h)] for h in (h1, h2, h3)}
            assert len(nodes) == 3 and all(len(dot.picture.nodes[n].members) == 1
                                           for n in nodes)


# --- the drawing's own clusters never merge with a user's scope -------------------------------
@pytest.mark.parametrize("name", ["backward", "roll0", "cluster_0", "× 6"])
def test_a_user_scope_named_like_the_drawings_clusters(name):
    h = tga.Variable(np.zeros((2, 3)), name="h0")
    W = leaf((3, 3), "W")
    with tga.name_scope(name):
        for _ in range(6):
            h = F.tanh(h @ W)
    loss = F.sum(h)
    dot = make_dot(loss, backward=True)
    check(dot, loss, dict(backward=True))
    places = {n.place for n in dot.picture.nodes}
    assert any(p[:1] == (Scope(name),) for p in places)
    assert any(p[:2] == (BACKWARD, Scope(name)) for p in places)
    assert Scope("backward") != BACKWARD
    clusters = re.findall(r"subgraph (cluster_\d+)", dot.source)
    assert len(clusters) == len(set(clusters))


# --- scope names Graphviz used to reject ---------------------------------------------------------
@pytest.mark.parametrize("name", ["", "enc.", ".enc", "a..b", ".", "enc..attention."])
def test_a_scope_name_with_an_empty_part_is_refused_at_the_with_line(name):
    """A nameless level in a scope path (which Graphviz could not label) is refused where
    it is written, naming the name; the scope outside is left as it was."""
    x = leaf((2, 3), "x")
    with tga.name_scope("outer"):
        with pytest.raises(ValueError, match=re.escape(f"name_scope: {name!r} has an empty "
                                                       "name")) as info:
            with tga.name_scope(name):
                F.tanh(x)
        assert info.traceback[-1].name == "name_scope"      # raised by the call itself
        assert tga.current_scope() == ("outer",)
        assert F.tanh(x).creator.scope == ("outer",)
    assert tga.current_scope() == ()
    named = ".".join(p for p in name.split(".") if p)
    assert (f"did you mean {named!r}?" if named else "give the scope a name") in \
        str(info.value)


# every name a scope can have: any text without an empty part between dots
AWKWARD_SCOPES = ["<b>&", 'q"t\\', " ", "x y", "\u00e9t\u00e9", "cluster_0", "backward",
                  "a.b", "{}", "%s", "\\N", "\t", "\tx\ny", "\x00\x01\x1b", "\ud800", "-"]


@pytest.mark.parametrize("name", AWKWARD_SCOPES)
def test_every_scope_name_that_can_exist_is_drawn_rendered_and_replayed(name, tmp_path):
    from tinygrad_attn import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3, seed=0, dtype=np.float64)

    net = Net()
    x = leaf((2, 3), "x")
    h = tga.Variable(np.zeros((2, 3)), name="h0")
    with tga.name_scope(name):
        with tga.name_scope("inner"):
            y = F.tanh(net.lin(x))
        for _ in range(4):
            h = F.tanh(h + y)
    loss = F.sum(h)
    params = dict(net.named_parameters())
    assert loss.creator.scope == () and y.creator.scope == tuple(name.split(".")) + ("inner",)
    check_all_options(loss, params)
    dot = make_dot(loss, params, view="modules")
    check(dot, loss, dict(view="modules"))
    parts = {p for n in make_dot(loss).picture.nodes for p in n.place}
    assert all(Scope(part) in parts for part in name.split("."))
    if HAVE_DOT:
        for options in (dict(), dict(max_depth=0), dict(backward=True, max_depth=1),
                        dict(view="modules")):
            svg = render(loss, tmp_path / "g.svg", params=params, **options).read_text()
            assert "<svg" in svg
        assert render(loss, tmp_path / "g.png", params=params).read_bytes()[:4] == \
            b"\x89PNG"
    page = viz.replay(loss, tmp_path / "r.html", params)
    text = re.search(r'<script id="steps" type="application/json">(.*?)</script>',
                     page.html, re.S)[1]
    assert len(json.loads(text)) == page.steps


def test_graphviz_failures_are_one_clear_error(tmp_path, monkeypatch, failing_graphviz):
    """Whatever Graphviz says, render raises GraphvizError (not CalledProcessError), names
    the file the DOT source was kept in, and writes no picture."""
    failing_graphviz(b"Error: syntax error in line 3 near '<'\n")
    with pytest.raises(viz.GraphvizError, match=r"syntax error in line 3.*g\.dot") as info:
        render(times_one(), tmp_path / "g.svg")
    assert info.value.source_path.read_text().startswith("digraph")
    assert not (tmp_path / "g.svg").exists()

    def slow(command, input, capture_output, timeout):   # noqa: A002
        raise rendering.subprocess.TimeoutExpired(command, timeout)

    monkeypatch.setattr(rendering.subprocess, "run", slow)
    with pytest.raises(viz.GraphvizError, match=r"within 5 s"):
        render(times_one(), tmp_path / "g.svg", timeout=5)


# --- the replay page with an infinite gradient ---------------------------------------------------
@needs_dot
def test_replay_with_an_infinite_gradient_is_valid_json(tmp_path):
    x = tga.Variable(np.array([0.0, 1.0, 2.0]), name="x")
    with np.errstate(divide="ignore"):
        loss = F.sum(F.log(x))
        page = viz.replay(loss, tmp_path / "r.html")
    data = re.search(r'<script id="steps" type="application/json">(.*?)</script>', page.html,
                     re.S)[1]

    def no_constants(name):
        raise AssertionError(f"{name} in the page's JSON")
    steps = json.loads(data, parse_constant=no_constants)
    sent = steps[-1]["sent"][0]
    assert sent["values"][0] == "inf" and sent["norm"] == "inf"


# --- gradients that were not drawn, or drawn twice -----------------------------------------------
@pytest.mark.parametrize("backward", [True, "expanded"])
def test_every_leaf_gradient_is_drawn_once(backward):
    a, b = leaf((3,), "a"), leaf((3,), "b", 1)
    for loss in (F.sum(a + b), F.sum(a * 2.0), F.sum(a) * 3.0):
        for roll in (True, False):
            dot = make_dot(loss, backward=backward, roll=roll)
            check(dot, loss, dict(backward=backward, roll=roll))
            assert "d loss / d a" in dot.source
    assert "d loss / d b" in make_dot(F.sum(a + b), backward=backward).source


def test_rolled_weight_gradients_keep_their_labels():
    loss, W = tanh_loop()
    for backward in (True, "expanded"):
        dot = make_dot(loss, {"W": W}, backward=backward)
        (node,) = [n for n in dot.picture.nodes if n.kind is NodeKind.GRAD
                   and n.info["leaf"] is W]
        assert "<B>d loss / d W</B>" in dot.source


def test_an_lstm_gradient_is_labelled_once():
    models = pytest.importorskip("tinygrad_attn_models")
    model = models.AttentionSeq2seq(13, 4, 8, seed=0)
    rng = np.random.default_rng(0)
    loss = model.loss(rng.integers(0, 13, (2, 7)), rng.integers(0, 13, (2, 6)))
    params = dict(model.named_parameters())
    for backward in (True, "expanded"):
        dot = make_dot(loss, params, backward=backward)
        check(dot, loss, dict(backward=backward))
        # every gradient node says whose gradient it is, in full, once (inside its cluster
        # its label reads as the leaf does there: "d loss / d Wx" in encoder.lstm)
        full = re.findall(r'tooltip="the gradient of (\S+)', dot.source)
        assert sorted(full) == sorted(params), sorted(full)
        # an intermediate's gradient (expanded) is named only when the name says which
        inter = [line for line in dot.body if 'tooltip="grad:' in line and "<B>d " in line]
        names = [re.search(r"<B>(d [^<]*)</B>", line)[1] for line in inter]
        assert len(names) == len(set(names)), sorted(names)


# --- loops written by hand ------------------------------------------------------------------------
def gru_loop(T=6):
    rng = np.random.default_rng(0)
    N, D, H = 2, 3, 4
    xs = tga.Variable(rng.standard_normal((N, T, D)), name="xs")
    Wz, Wr, Wh = (Parameter(rng.standard_normal((D + H, H)), name=n) for n in ("Wz", "Wr", "Wh"))
    h = tga.Variable(np.zeros((N, H)), name="h0")
    for t in range(T):
        x_t = xs[:, t]
        hx = F.concat([h, x_t], axis=1)
        z, r = F.sigmoid(hx @ Wz), F.sigmoid(hx @ Wr)
        h = (1 - z) * h + z * F.tanh(F.concat([r * h, x_t], axis=1) @ Wh)
    return F.sum(h)


def test_a_hand_written_gru_over_xs_t_rolls():
    """getitem's index differs in every step (xs[:, 0], xs[:, 1], ...): the steps still
    roll, the first included, and the label says which steps."""
    loss = gru_loop()
    rolled, unrolled = make_dot(loss), make_dot(loss, roll=False)
    check(rolled, loss, {})
    assert rolled.rolled == [((), 6, 14)]
    assert rolled.counts["nodes"] * 4 < unrolled.counts["nodes"]
    assert "index=[:, 0…5]" in rolled.source


def test_loops_over_unstack_and_the_step_one_roll_whole():
    for T in (3, 7, 12):
        W = leaf((3, 3), "W")
        h = leaf((2, 3), "x")
        for _ in range(T):
            h = F.tanh(h @ W)
        assert make_dot(F.sum(h)).rolled == [((), T, 2)]      # not 1 + × T-2 + 1
        xs = leaf((2, T, 3), "xs")
        h = tga.Variable(np.zeros((2, 3)), name="h0")
        for x_t in F.unstack(xs, axis=1):
            h = F.tanh(x_t + h @ W)
        loss = F.sum(h)
        dot = make_dot(loss)
        check(dot, loss, {})
        assert dot.rolled == [((), T, 3)]


# --- pictures a person can open ------------------------------------------------------------
def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@needs_dot
def test_a_png_too_large_for_viewers_is_drawn_at_a_lower_dpi(tmp_path, monkeypatch):
    loss, _ = tanh_loop()
    natural = png_size(render(loss, tmp_path / "a.png", roll=False))
    cap = max(natural) // 2
    monkeypatch.setattr(rendering, "MAX_PIXELS", cap)
    with pytest.warns(viz.LargeGraphWarning, match=r"drawn at \d+ dpi"):
        small = png_size(render(loss, tmp_path / "b.png", roll=False))
    assert max(small) <= cap and max(small) > cap * 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monkeypatch.setattr(rendering, "MAX_PIXELS", 16000)
        assert png_size(render(loss, tmp_path / "c.png", roll=False)) == natural


@needs_dot
def test_the_cli_draws_the_attention_models_backward_pass_a_viewer_opens(tmp_path):
    pytest.importorskip("tinygrad_attn_models")
    from tinygrad_attn.cli import main
    for out in ("g.svg", "g.png"):
        assert main(["graph", "--model", "attention", "--backward", "--out",
                     str(tmp_path / out)]) == 0
    svg = (tmp_path / "g.svg").read_text()
    assert "<B>backward</B>" not in svg and ">backward<" in svg      # laid out
    assert "d loss / d decoder.affine.W" in svg or "d loss / d W" in svg
    w, h = png_size(tmp_path / "g.png")
    assert max(w, h) <= viz.MAX_PIXELS


def test_a_layout_past_its_time_is_folded_and_tried_again(tmp_path, monkeypatch):
    """Within the budget but slow all the same: stopped after `timeout`, folded one level
    more, laid out again, and the caption says why."""
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    tried = []

    def draw(dot, fmt, path, timeout):
        tried.append(dot.source)
        if len(tried) == 1:
            raise rendering.subprocess.TimeoutExpired("dot", timeout)
        return b"<svg/>"

    monkeypatch.setattr(rendering, "_draw", draw)
    loss, _ = tanh_loop()
    with tga.name_scope("outer"):
        with tga.name_scope("inner"):
            loss = loss * 2.0
    with pytest.warns(viz.LargeGraphWarning, match=r"did not finish laying it out within 7 s"):
        render(loss, tmp_path / "g.svg", timeout=7)
    assert len(tried) == 2 and "folded to max_depth=1" in tried[1]
    assert (tmp_path / "g.svg").read_bytes() == b"<svg/>"


def test_the_graph_command_says_what_is_wrong_in_one_line(tmp_path, capsys):
    pytest.importorskip("tinygrad_attn_models")
    from tinygrad_attn.cli import main
    for argv, code, said in [
            (["--out", str(tmp_path / "g.jpg")], 2, "has suffix '.jpg'"),
            (["--view", "modules", "--backward"], 2, "view='modules' draws the forward"),
    ]:
        try:
            got = main(["graph", *argv])
        except SystemExit as e:      # argparse's own refusal of an option's value
            got = e.code
        assert got == code
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # the options reach the picture
    assert main(["graph", "--view", "modules", "--out", str(tmp_path / "m.dot")]) == 0
    assert "3 params" in (tmp_path / "m.dot").read_text()
    assert main(["graph", "--backward", "--show-saved", "--out", str(tmp_path / "s.dot")]) == 0
    assert "saved for the backward pass" in (tmp_path / "s.dot").read_text()
    assert main(["graph", "--backward", "expanded", "--no-roll", "--max-depth", "1",
                 "--out", str(tmp_path / "e.dot")]) == 0
    assert 'style="dashed"' in (tmp_path / "e.dot").read_text()


def test_a_module_called_in_a_loop_is_one_box_saying_how_many_calls():
    from tinygrad_attn import nn

    class Cell(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3, seed=0, dtype=np.float64)

        def forward(self, h, x):
            return F.tanh(self.lin(h) + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = Cell()

    net = Net()
    xs = leaf((2, 6, 3), "xs")
    h = tga.Variable(np.zeros((2, 3)), name="h0")
    for t in range(6):
        h = net.cell(h, xs[:, t])
    loss = F.sum(h)
    params = dict(net.named_parameters())
    for options in (dict(view="modules"), dict(max_depth=0), dict(max_depth=1)):
        dot = make_dot(loss, params, **options)
        check(dot, loss, options)
        boxes = [n for n in dot.picture.nodes if n.kind is NodeKind.BOX]
        assert [n.copies for n in boxes] == [6], options         # every call, one box
        assert "6 calls" in dot.source


@pytest.mark.parametrize("name", ["Seq2seq", "PeekySeq2seq", "AttentionSeq2seq", "NTM"])
@pytest.mark.parametrize("cell_by_cell", [True, False])
def test_the_models_backward_passes_are_drawn_right(name, cell_by_cell):
    """Seq2seq, Peeky, the attention model and the NTM drawn with their backward pass used
    to show bare ids, h0 for every h_t, a cycle and no d loss / d W."""
    models = pytest.importorskip("tinygrad_attn_models")
    from contextlib import nullcontext
    from tinygrad_attn.ops.recurrent import step_by_step
    rng = np.random.default_rng(0)
    with step_by_step() if cell_by_cell else nullcontext():
        if name == "NTM":
            model = models.NTM(5, 4, 6, 8, 4, seed=0, dtype=np.float64)
            bits = (rng.random((2, 5, 5)) > 0.5).astype(np.float64)
            loss = model.loss(bits, bits[:, :, :4], np.ones(5, bool))
        else:
            model = getattr(models, name)(13, 4, 8, seed=0)
            loss = model.loss(rng.integers(0, 13, (2, 7)), rng.integers(0, 13, (2, 6)))
    params = dict(model.named_parameters())
    for options in (dict(backward=True), dict(backward=True, roll=False),
                    dict(backward=True, max_depth=1), dict(backward="expanded")):
        dot = make_dot(loss, params, **options)
        check(dot, loss, options)
        sinks = {n.info["leaf"].name or id(n) for n in dot.picture.nodes
                 if n.kind is NodeKind.GRAD}
        assert len(re.findall(r'tooltip="the gradient of ', dot.source)) == len(sinks)
        if options.get("max_depth") is None:
            assert sinks and len(sinks) == len(params)    # every weight's gradient, once


# --- boxes that feed each other ----------------------------------------------------------------
def boxes_feeding_each_other():
    """"enc" feeds "dec" and "dec" feeds "enc", though no path leaves either box and comes
    back: each box alone is fine, the two together drew a cycle."""
    x = leaf((2, 3), "x")
    with tga.name_scope("enc"):
        y = F.tanh(x)
    with tga.name_scope("dec"):
        a = F.exp(x)
    with tga.name_scope("enc"):
        b = F.sin(a)
    with tga.name_scope("dec"):
        c = F.cos(y)
    return F.sum(b + c)


def test_two_boxes_feeding_each_other_are_split_not_a_cycle():
    """Folded (max_depth=0, the module view, and the recorded backward pass) make_dot used
    to raise "a cycle without a rolled block" (found by the property tests)."""
    loss = boxes_feeding_each_other()
    check_all_options(loss)
    for options in (dict(view="modules"), dict(max_depth=0)):
        dot = make_dot(loss, **options)
        check(dot, loss, options)
        boxes = sorted((n.info["boxes"][0].path, n.info["boxes"][0].part,
                        n.info["boxes"][0].parts) for n in dot.picture.nodes
                       if n.kind is NodeKind.BOX)
        # one of the two is cut in two, the other stays whole
        assert boxes in ([(("dec",), 1, 1), (("enc",), 1, 2), (("enc",), 2, 2)],
                         [(("dec",), 1, 2), (("dec",), 2, 2), (("enc",), 1, 1)]), boxes
        assert "part 1 of 2" in dot.source and "part 2 of 2" in dot.source


def test_boxes_feeding_each_other_through_a_recorded_gradient():
    """The program the property tests found: second-order gradients recorded inside
    scopes, loops over xs[:, t], folded with the backward pass expanded."""
    x = leaf((2, 3), "x")
    with tga.name_scope("enc"):
        h = x
        for t in range(3):
            h = F.abs(leaf((2, 3, 3), "xs", 1)[:, t])
    with tga.name_scope("dec"):
        g, = tga.grad(F.sum(F.tanh(x) * x), [x], create_graph=True)
    with tga.name_scope("enc"):
        e = F.abs(g) + h
    with tga.name_scope("dec"):
        d = F.abs(h) * g
    loss = F.sum(e) + F.sum(d)
    check_all_options(loss)


# --- the module view: a rolled op reading one unit at two slots ---------------------------------
def test_module_view_edges_into_a_rolled_op_say_which_copies_each_slot_feeds():
    """In the module view the edges between units carried every slot of a rolled op at
    once, labelled with the copies of all of them ("×2") where one slot fed only the first
    copy (found by the property tests)."""
    x, other = leaf((2, 3), "x", 1), leaf((2, 3), None, 2)
    h = leaf((2, 3), "h0")
    hs = []
    for _ in range(3):
        h = F.abs(h)
        hs.append(h)
    g = h
    for prev in (x, other, hs[1]):          # a loop over a list of earlier values
        g = F.unstack(F.stack([g, prev], axis=0), axis=0)[0]
    loss = F.sum(g)
    for options in (dict(view="modules"), dict(view="modules", roll=False),
                    dict(view="modules", max_depth=0)):
        check(make_dot(loss, **options), loss, options)
    dot = make_dot(loss, view="modules")
    stack = dot.picture.node(g.creator.inputs[0].creator)
    labels = sorted(e.label for e in dot.picture.edges if e.head == stack.id
                    and not e.recurrent and e.label and e.label.startswith("(2, 3)"))
    assert labels == ["(2, 3) first", "(2, 3) last"], labels
