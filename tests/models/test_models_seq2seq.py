"""The models' API: construction, parameter order and shapes (the book's), loss, generate,
float32 end to end, module scopes, and that models/ holds forward code only."""
import ast
import pathlib

import numpy as np
import pytest

import tinygrad_attn_models as models
import tinygrad_attn as tga
from tinygrad_attn.book.models import init_params

MODELS = {"seq2seq": models.Seq2seq, "peeky": models.PeekySeq2seq,
          "attention": models.AttentionSeq2seq}
# the further RNN structures (ch. 8, sections 8.4 and 8.5.1): not the book's parameters,
# the same protocol
FURTHER = {"bilstm": models.BiLSTMSeq2seq, "attention-feed": models.AttentionFeedSeq2seq,
           "deep": models.DeepSeq2seq, "gnmt": models.GNMTSeq2seq}
V, D, H = 11, 3, 5
BOOK_NAMES = ["encoder.embed.W", "encoder.lstm.Wx", "encoder.lstm.Wh", "encoder.lstm.b",
              "decoder.embed.W", "decoder.lstm.Wx", "decoder.lstm.Wh", "decoder.lstm.b",
              "decoder.affine.W", "decoder.affine.b"]


def book_shapes(kind):
    enc = [(V, D), (D, 4 * H), (H, 4 * H), (4 * H,)]
    wx = (H + D, 4 * H) if kind == "peeky" else (D, 4 * H)
    affine_in = H if kind == "seq2seq" else 2 * H
    return enc + [(V, D), wx, (H, 4 * H), (4 * H,), (affine_in, V), (V,)]


@pytest.mark.parametrize("kind", list(MODELS))
def test_parameters_in_the_books_order_and_shapes(kind):
    model = MODELS[kind](V, D, H, seed=0)
    assert [n for n, _ in model.named_parameters()] == BOOK_NAMES
    assert [p.shape for p in model.parameters()] == book_shapes(kind)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.kind == kind
    assert [n for n, _ in model.named_children()] == ["encoder", "decoder"]
    if kind == "attention":
        assert isinstance(model.decoder.attention, tga.nn.Attention)


@pytest.mark.parametrize("kind", list(MODELS))
def test_seeded_init_is_the_books(kind):
    for got, want in zip(MODELS[kind](V, D, H, seed=42).book_params(),
                         init_params(kind, V, D, H, seed=42)):
        np.testing.assert_array_equal(got, want)
    a, b = MODELS[kind](V, D, H, seed=1), MODELS[kind](V, D, H, seed=2)
    assert not np.array_equal(a.encoder.lstm.Wx.data, b.encoder.lstm.Wx.data)


@pytest.mark.parametrize("kind", list(MODELS) + list(FURTHER))
def test_defaults_match_the_books_experiment(kind):
    model = {**MODELS, **FURTHER}[kind](V)
    assert (model.wordvec_size, model.hidden_size) == (16, 256)


@pytest.mark.parametrize("kind", list(MODELS) + list(FURTHER))
def test_loss_generate_float32_end_to_end(kind):
    rng = np.random.default_rng(0)
    model = {**MODELS, **FURTHER}[kind](V, D, H, seed=0)
    xs, ts = rng.integers(0, V, (4, 7)), rng.integers(0, V, (4, 6))
    loss = model.loss(xs, ts)
    assert loss.shape == () and loss.dtype == np.float32
    assert loss.item() == pytest.approx(np.log(V), rel=0.05)   # near uniform at init
    scores, _ = model(xs, ts[:, :-1])
    assert scores.shape == (4, 5, V) and scores.dtype == np.float32
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in model.parameters())
    model.zero_grad()
    out = model.generate(xs, 0, 4)
    assert out.shape == (4, 4) and out.dtype == np.int64 and out.min() >= 0 and out.max() < V
    assert model.generate(xs, 0, 0).shape == (4, 0)
    assert all(p.grad is None for p in model.parameters())     # generate records nothing
    assert model.loss(tga.Variable(xs), tga.Variable(ts)).item() == loss.item()


def test_generate_is_batched_row_by_row():
    rng = np.random.default_rng(3)
    model = models.AttentionSeq2seq(V, D, H, seed=3)
    model.load_book_params([rng.standard_normal(p.shape).astype(np.float32)
                            for p in model.parameters()])
    xs = rng.integers(0, V, (5, 6))
    together = model.generate(xs, 1, 7)
    alone = np.concatenate([model.generate(xs[i:i + 1], 1, 7) for i in range(5)])
    np.testing.assert_array_equal(together, alone)


def test_token_ids_are_checked():
    model = models.Seq2seq(V, D, H, seed=0)
    with pytest.raises(TypeError, match="integers"):
        model.loss(np.zeros((2, 3)), np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        model.generate(np.zeros(3, np.int64), 0, 2)


def test_load_book_params_errors_name_the_parameter():
    model = models.PeekySeq2seq(V, D, H, seed=0)
    arrays = model.book_params()
    with pytest.raises(ValueError, match="expected 10 arrays"):
        model.load_book_params(arrays[:-1])
    arrays[5] = np.zeros((D, 4 * H), np.float32)               # a plain decoder's Wx
    with pytest.raises(ValueError, match=r"decoder.lstm.Wx: shape \(3, 20\) in the state"):
        model.load_book_params(arrays)
    arrays = [a.astype(np.float64) for a in model.book_params()]
    with pytest.raises(ValueError, match="dtype float64 in the state, float32"):
        model.load_book_params(arrays)


def test_ops_are_recorded_under_module_scopes():
    rng = np.random.default_rng(0)
    model = models.AttentionSeq2seq(V, D, H, seed=0)
    loss = model.loss(rng.integers(0, V, (2, 4)), rng.integers(0, V, (2, 3)))
    scopes, stack, seen = {}, [loss.creator], set()
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        scopes.setdefault(f.scope, set()).add(f.name)
        stack.extend(x.creator for x in f.inputs)
    assert "softmax" in scopes[("decoder", "attention")]
    assert "embedding" in scopes[("encoder", "embed")]
    assert "matmul" in scopes[("decoder", "affine")]
    assert "lstm" in scopes[("decoder", "lstm")]
    assert "softmax_cross_entropy" in scopes[()]
    assert set(scopes) <= {(), ("encoder",), ("decoder",), ("encoder", "embed"),
                           ("encoder", "lstm"), ("decoder", "embed"), ("decoder", "lstm"),
                           ("decoder", "attention"), ("decoder", "affine")}


def test_no_backward_is_written_under_models():
    """The models are forward code only: no `backward` method or function, no Function
    subclass, no use of the book's hand-written layers."""
    root = pathlib.Path(models.__file__).parent
    files = sorted(root.glob("**/*.py"))
    assert len(files) >= 4
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert "backward" not in node.name.lower(), f"{path}:{node.lineno}"
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                assert not any(b.split(".")[-1] == "Function" for b in bases), \
                    f"{path}:{node.lineno}: {node.name} subclasses Function"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = getattr(node, "module", None) or ""
                names = [a.name for a in node.names]
                assert "book" not in mod and not any("book" in n for n in names), \
                    f"{path}:{node.lineno} imports the book's layers"
            if isinstance(node, ast.Attribute):
                assert node.attr != "backward", f"{path}:{node.lineno} calls backward"


ENTRY_POINTS = {"seq2seq": "tinygrad_attn_models:Seq2seq",
                "peeky": "tinygrad_attn_models:PeekySeq2seq",
                "attention": "tinygrad_attn_models:AttentionSeq2seq",
                "bilstm": "tinygrad_attn_models:BiLSTMSeq2seq",
                "attention-feed": "tinygrad_attn_models:AttentionFeedSeq2seq",
                "deep": "tinygrad_attn_models:DeepSeq2seq",
                "gnmt": "tinygrad_attn_models:GNMTSeq2seq"}


def test_entry_points_name_the_models():
    """The `tinygrad_attn.models` plug-ins (pyproject.toml) load these classes; where the
    project is installed with them, the installed ones must agree."""
    from importlib.metadata import EntryPoint, entry_points

    for name, value in ENTRY_POINTS.items():
        ep = EntryPoint(name=name, value=value, group="tinygrad_attn.models")
        assert ep.load() is {**MODELS, **FURTHER}[name]
    installed = {ep.name: ep.value for ep in entry_points(group="tinygrad_attn.models")}
    for name, value in installed.items():
        if name in ENTRY_POINTS:
            assert value == ENTRY_POINTS[name]


def test_the_framework_never_imports_models():
    root = pathlib.Path(tga.__file__).parent
    for path in sorted(root.glob("**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] in ("models", "tinygrad_attn_models")
                           for m in mods), \
                f"{path}:{node.lineno} imports the models package"
