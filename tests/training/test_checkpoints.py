"""Training checkpoints: rebuilt through the plug-ins; atomic under a kill; every bad file is
refused with an error naming the file and what is wrong."""
import json
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import tinygrad_attn_models as models
from tinygrad_attn import checkpoint
from tinygrad_attn.checkpoint import CheckpointError
from tinygrad_attn.optim import Adam


@pytest.mark.parametrize("Model", [models.Seq2seq, models.PeekySeq2seq,
                                   models.AttentionSeq2seq])
def test_a_model_is_rebuilt_from_its_kind_and_config(Model, tmp_path):
    model = Model(11, 4, 6, seed=3)
    path = checkpoint.save_training(tmp_path / "m.npz", model, task={"vocab": "ab"})
    again, ckpt = checkpoint.load_model(path)
    assert type(again) is Model and ckpt.kind == Model.kind
    assert ckpt.meta["format_version"] == checkpoint.FORMAT_VERSION
    assert ckpt.meta["task"] == {"vocab": "ab"} and again.config() == model.config()
    for (k, p), (_, q) in zip(model.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)
        assert q.dtype == np.float32


def test_slots_round_trip_the_optimizer_and_the_stream(tmp_path):
    """Any state_dict-shaped state is one slot: arrays under <slot>/, the rest as JSON."""
    from tinygrad_attn.batches import ShuffledRows
    model = models.Seq2seq(7, 4, 6, seed=0)
    opt = Adam(model.parameters())
    model.loss(np.ones((2, 3), int), np.ones((2, 3), int)).backward()
    opt.step()
    x = np.arange(40).reshape(20, 2)
    stream = ShuffledRows((x,), 3, seed=5)
    for _ in range(8):
        stream.next()
    extra = {"hyper": {"n": 2, "lrs": [0.1, 0.05]}, "arrays": {"w": np.arange(3.0)}}
    checkpoint.save_training(tmp_path / "m.npz", model, slots={
        "optimizer": opt.state_dict(), "batches": stream.state_dict(), "scheduler": extra},
        step=8)
    ckpt = checkpoint.read(tmp_path / "m.npz")
    assert set(ckpt.slots) == {"optimizer", "batches", "scheduler"}
    assert ckpt.slots["optimizer"]["hyper"]["t"] == 1
    np.testing.assert_array_equal(ckpt.slots["optimizer"]["arrays"]["v.2"], opt.v[2])
    assert ckpt.slots["scheduler"]["hyper"] == extra["hyper"]
    np.testing.assert_array_equal(ckpt.slots["scheduler"]["arrays"]["w"], np.arange(3.0))
    again = ShuffledRows((x,), 3, seed=0)
    again.load_state_dict(ckpt.slots["batches"])
    for _ in range(10):
        np.testing.assert_array_equal(again.next()[0], stream.next()[0])
    with pytest.raises(ValueError, match="slot name 'param'"):
        checkpoint.save_training(tmp_path / "n.npz", model, slots={"param": extra})


def test_a_format_1_checkpoint_still_loads_its_model(tmp_path):
    """The layout before slots (optim/<k>, rng/key): eval and translate still read it."""
    model = models.Seq2seq(7, 4, 6, seed=2)
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    arrays["optim/m.0"] = np.zeros(3)
    meta = {"format": checkpoint.FORMAT, "format_version": 1, "kind": "seq2seq",
            "config": model.config(), "optimizer": {"type": "Adam", "t": 3}, "epoch": 2}
    np.savez(tmp_path / "old.npz", __meta__=np.array(json.dumps(meta)), **arrays)
    again, ckpt = checkpoint.load_model(tmp_path / "old.npz")
    assert ckpt.version == 1 and ckpt.slots["optimizer"]["hyper"]["t"] == 3
    for (k, p), (_, q) in zip(model.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)


def test_checkpoints_get_the_permissions_of_every_other_file(tmp_path):
    import os
    mask = os.umask(0o022)
    try:
        path = checkpoint.save_training(tmp_path / "m.npz", models.Seq2seq(7, 4, 6, seed=0))
        other = tmp_path / "other.txt"
        other.write_text("x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == other.stat().st_mode & 0o777 == 0o644


WRITER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from tinygrad_attn import checkpoint
big = {{f"w{{i}}": np.full(1 << 20, i, np.float32) for i in range(32)}}    # 128 MiB
print("writing", flush=True)
checkpoint.save({path!r}, big, step=2)
print("done", flush=True)
"""


def test_a_killed_writer_leaves_the_previous_checkpoint_intact(tmp_path):
    """A real process is killed (SIGKILL: no cleanup runs) while it writes over a checkpoint:
    the old file is still whole and readable, and the debris is only a dot-temporary file."""
    import tinygrad_attn
    root = str(__import__("pathlib").Path(tinygrad_attn.__file__).parents[1])
    path = tmp_path / "last.npz"
    checkpoint.save(path, {"w": np.arange(5.0)}, step=1)
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(
        WRITER.format(root=root, path=str(path)))], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    # kill once the temporary file has started to grow: mid-write
    while not any(p.name.endswith(".tmp") and p.stat().st_size > 0
                  for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "the writer finished"
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    assert path.read_bytes() == before
    state, meta = checkpoint.load(path)
    np.testing.assert_array_equal(state["w"], np.arange(5.0))
    assert meta == {"step": 1}
    assert all(p.name.startswith(".last.npz.") for p in tmp_path.iterdir() if p != path)


def _good(tmp_path):
    return checkpoint.save_training(tmp_path / "good.npz", models.Seq2seq(7, 4, 6, seed=0))


def _rewrite(src, dst, change_meta=None, drop=()):
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in drop}
    meta = json.loads(str(arrays.pop("__meta__")))
    if change_meta:
        change_meta(meta)
    np.savez(dst, __meta__=np.array(json.dumps(meta)), **arrays)
    return dst


BAD = [
    # name, how to make it from a good file, what the error says
    ("truncated", lambda good, p: p.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2]),
     "not a readable checkpoint"),
    ("empty", lambda good, p: p.write_bytes(b""), "not a readable checkpoint"),
    ("foreign npz", lambda good, p: np.savez(p, weights=np.ones(3)),
     r"not a tinygrad_attn training checkpoint \(it has no tinygrad_attn metadata; arrays: "
     "weights"),
    ("other format", lambda good, p: _rewrite(good, p, lambda m: m.update(format="keras")),
     "its format is 'keras'"),
    ("newer", lambda good, p: _rewrite(good, p, lambda m: m.update(format_version=99)),
     "checkpoint format 99, newer than this version of tinygrad_attn reads \\(up to 2\\)"),
    ("version not a number", lambda good, p: _rewrite(
        good, p, lambda m: m.update(format_version="2")), "format_version is '2', not a"),
    ("kind not a name", lambda good, p: _rewrite(good, p, lambda m: m.update(kind=[1])),
     "kind is \\[1\\], not a name"),
    ("config not a dict", lambda good, p: _rewrite(good, p, lambda m: m.update(config=3)),
     "config is int, not a dict"),
    ("config keys not keywords", lambda good, p: _rewrite(
        good, p, lambda m: m["config"].update({"1x": 2})), "keys that are not keyword names"),
    ("config of the wrong type", lambda good, p: _rewrite(
        good, p, lambda m: m["config"].update(hidden_size="big")),
     "does not fit a 'seq2seq' model built from its config"),
    ("slots not a dict", lambda good, p: _rewrite(good, p, lambda m: m.update(slots=[1])),
     "slots is \\[1\\]"),
    ("no kind", lambda good, p: _rewrite(good, p, lambda m: m.pop("kind")),
     "the metadata lacks kind"),
    ("no parameters", lambda good, p: _rewrite(
        good, p, drop=[f"param/{k}" for k in models.Seq2seq(7, 4, 6).state_dict()]),
     "holds no parameters"),
    ("unknown kind", lambda good, p: _rewrite(good, p, lambda m: m.update(kind="lstm9000")),
     "unknown model 'lstm9000'; installed models: .*attention"),
    ("wrong config", lambda good, p: _rewrite(
        good, p, lambda m: m["config"].update(hidden_size=7)),
     r"does not fit a 'seq2seq' model .*encoder.lstm.Wx: shape \(4, 24\) in the state"),
    ("a text file", lambda good, p: p.write_text("hello"), "not a readable checkpoint"),
]


@pytest.mark.parametrize("name, make, message", BAD, ids=[b[0] for b in BAD])
def test_bad_checkpoints_are_refused_naming_the_file(name, make, message, tmp_path):
    good = _good(tmp_path)
    bad = tmp_path / "bad.npz"
    make(good, bad)
    with pytest.raises(CheckpointError, match=f"bad.npz: .*{message}"):
        checkpoint.load_model(bad)


def test_a_corrupted_member_is_refused(tmp_path):
    """A flipped byte inside an array (the zip's CRC catches it)."""
    good = _good(tmp_path)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("param/decoder.affine.W.npy")
    at = info.header_offset + 30 + len(info.filename) + info.file_size // 2
    data[at] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="bad.npz: not a readable checkpoint"):
        checkpoint.load_model(bad)


def test_a_model_whose_state_starts_with_an_integer_buffer_keeps_its_float_dtype(
        tmp_path, monkeypatch):
    """The dtype a model is rebuilt in is its parameters', never a buffer's (a batch-norm
    step counter is int64)."""
    from tinygrad_attn import nn, plugins

    class Counted(nn.Module):
        kind = "counted"

        def __init__(self, hidden_size=3, dtype=np.float32):
            super().__init__()
            self.register_buffer("steps", np.zeros((), np.int64))
            self.lin = nn.Linear(hidden_size, hidden_size, seed=0, dtype=dtype)

        def config(self):
            return {"hidden_size": self.lin.W.shape[0]}

    real = plugins.model_class
    monkeypatch.setattr(plugins, "model_class",
                        lambda name: Counted if name == "counted" else real(name))
    for dtype in (np.float32, np.float64):
        model = Counted(dtype=dtype)
        assert next(iter(model.state_dict())) == "steps"
        path = checkpoint.save_training(tmp_path / f"{np.dtype(dtype).name}.npz", model)
        again, _ = checkpoint.load_model(path)
        assert again.lin.W.dtype == dtype and again.steps.dtype == np.int64
