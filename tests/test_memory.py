"""tinygrad_attn.memory: malloc keeps freed memory between steps (glibc), opt-out works."""
import subprocess
import sys

import pytest

from tinygrad_attn import memory


def test_a_zero_pad_leaves_malloc_alone():
    assert memory.keep_freed_memory(0) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_the_pad_is_applied_on_glibc():
    assert memory.keep_freed_memory(memory.DEFAULT_TOP_PAD) is True


def _cli_with(env_value, *args):
    """`tinygrad-attn ARGS` with TGA_MALLOC_TOP_PAD set: the CLI applies the setting."""
    env = {"TGA_MALLOC_TOP_PAD": env_value, "PATH": ""}
    return subprocess.run([sys.executable, "-m", "tinygrad_attn", *(args or ["--version"])],
                          env=env, capture_output=True, text=True)


def test_a_bad_environment_value_is_a_clear_error_and_help_still_works(tmp_path):
    run = _cli_with("lots", "data", "dates", "-n", "3", "--out", str(tmp_path / "d.txt"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        "tinygrad-attn data: environment: TGA_MALLOC_TOP_PAD must be a number of bytes "
        "(0 to disable), got 'lots'"]
    assert not (tmp_path / "d.txt").exists()
    for args in (["--version"], ["--help"], ["train", "--help"]):
        assert _cli_with("lots", *args).returncode == 0


def test_the_environment_can_turn_it_off(monkeypatch):
    monkeypatch.setenv("TGA_MALLOC_TOP_PAD", "0")
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    assert memory.configure_from_environment() is False
    assert _cli_with("0").returncode == 0
