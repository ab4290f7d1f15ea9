"""Checkpoints: written atomically, read without pickle, errors name the file."""
import numpy as np
import pytest

import tinygrad_attn_models as models
from tinygrad_attn import checkpoint
from tinygrad_attn.checkpoint import CheckpointError


def test_a_model_round_trips_with_its_metadata(tmp_path):
    model = models.AttentionSeq2seq(11, 4, 6, seed=0)
    path = checkpoint.save(tmp_path / "m.npz", model.state_dict(), step=7, vocab="ab_")
    other = models.AttentionSeq2seq(11, 4, 6, seed=1)
    state, meta = checkpoint.load(path)
    other.load_state_dict(state)
    assert meta == {"step": 7, "vocab": "ab_"}
    for (name, p), (_, q) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
        assert p.dtype == q.dtype == np.float32


def test_a_failed_write_leaves_the_old_checkpoint_and_no_debris(tmp_path, monkeypatch):
    path = checkpoint.save(tmp_path / "m.npz", {"w": np.ones(3)}, step=1)

    def crash(f, **arrays):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"w": np.zeros(3)}, step=2)
    monkeypatch.undo()
    state, meta = checkpoint.load(path)
    np.testing.assert_array_equal(state["w"], np.ones(3))
    assert meta == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_pickled_content_is_refused_on_both_sides(tmp_path):
    with pytest.raises(TypeError, match="'w' is not a numeric array"):
        checkpoint.save(tmp_path / "m.npz", {"w": np.array([{"code": 1}], dtype=object)})
    evil = tmp_path / "evil.npz"
    np.savez(evil, w=np.array([{"code": 1}], dtype=object))       # a pickle inside
    with pytest.raises(CheckpointError, match="evil.npz: not a readable checkpoint"):
        checkpoint.load(evil)


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="bad.npz"):
        checkpoint.load(bad)
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "nope.npz")


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        checkpoint.save(tmp_path / "m.npz", {"w": np.ones(1)}, when=object())
