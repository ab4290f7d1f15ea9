"""benchmarks/ run on a plain install: every script starts (`--help`) and the BLAS line
they all print is written, with the optional threadpoolctl and torch made unimportable."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name != "machine.py")
# a None in sys.modules makes `import name` raise ImportError, as on a plain install
WITHOUT = "import sys; sys.modules.update(threadpoolctl=None, torch=None); "


def run(code):
    return subprocess.run([sys.executable, "-c", WITHOUT + code], cwd=BENCH,
                          capture_output=True, text=True, timeout=120)


def test_every_benchmark_is_covered():
    assert {"train_step.py", "compare.py", "decode.py", "overhead.py",
            "user_models.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_starts_without_the_optional_packages(script):
    done = run(f"import runpy; sys.path.insert(0, '.'); sys.argv = [{script!r}, '--help']; "
               f"runpy.run_path({script!r}, run_name='__main__')")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    assert "Traceback" not in done.stderr


def test_the_blas_line_says_what_is_missing():
    done = run("sys.path.insert(0, '.'); import machine; print(machine.blas_info())")
    assert done.returncode == 0, done.stderr
    assert "threadpoolctl not installed" in done.stdout
