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


def test_optimizer_and_rng_state_round_trip(tmp_path):
    model = models.Seq2seq(7, 4, 6, seed=0)
    opt = Adam(model.parameters())
    model.loss(np.ones((2, 3), int), np.ones((2, 3), int)).backward()
    opt.step()
    rng = np.random.RandomState(5)
    rng.permutation(10)
    checkpoint.save_training(tmp_path / "m.npz", model, optimizer=opt, rng=rng, epoch=1)
    ckpt = checkpoint.read(tmp_path / "m.npz")
    again = np.random.RandomState(0)
    again.set_state(ckpt.rng)
    np.testing.assert_array_equal(again.permutation(50), rng.permutation(50))
    assert ckpt.optimizer["hyper"]["t"] == 1
    np.testing.assert_array_equal(ckpt.optimizer["arrays"]["v.2"], opt.v[2])


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
     "checkpoint format 99, newer than this version of tinygrad_attn reads \\(up to 1\\)"),
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
