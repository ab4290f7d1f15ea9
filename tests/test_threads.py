"""tinygrad_attn.threads: work split over our own threads, BLAS held to one meanwhile.

What must hold: every row is computed once and by one block; a split product equals the
unsplit one (bit for bit for row and batch splits, to rounding for inner splits); the fused
LSTM gives the same values and gradients on 1, 2 or 3 threads and the same bits every run
on a given count; BLAS gets its thread count back; bad settings are refused by name."""
import subprocess
import sys
import threading

import numpy as np
import pytest

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad, threads
from tinygrad_attn.ops import lstm_kernels


@pytest.fixture
def num_threads():
    """Set the thread count for one test; restore everything after."""
    before, chosen = threads.get_num_threads(), threads._chosen

    def use(n):
        threads.set_num_threads(n)
        return threads.get_num_threads()
    yield use
    threads.set_num_threads(before)
    threads._chosen = chosen


needs_blas = pytest.mark.skipif(threads.blas_threads() is None,
                                reason="no OpenBLAS whose thread count can be set")


@needs_blas
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("n, min_rows", [(128, 16), (33, 16), (31, 16), (5, 1), (0, 1)])
def test_split_rows_covers_every_row_once(num_threads, k, n, min_rows):
    num_threads(k)
    seen, who = np.zeros(n, int), {}

    def block(rows):
        seen[rows] += 1
        who[(rows.start, rows.stop)] = threading.get_ident()
    threads.split_rows(block, n, min_rows=min_rows)
    assert (seen == 1).all()
    blocks = sorted(who)
    assert len(blocks) == max(1, min(k, n // min_rows))
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))   # contiguous, in order
    if len(blocks) > 1:   # the caller takes the first block, a worker the others
        assert who[blocks[0]] == threading.get_ident()
        assert all(who[b] != who[blocks[0]] for b in blocks[1:])


@needs_blas
def test_errors_in_a_block_reach_the_caller_and_nesting_runs_inline(num_threads):
    num_threads(2)

    def fail(rows):
        if rows.start > 0:
            raise RuntimeError(f"block {rows}")
    with pytest.raises(RuntimeError, match="block slice"):
        threads.split_rows(fail, 64)
    inner = []
    threads.split_rows(lambda r: threads.split_rows(lambda s: inner.append(s), 64), 64)
    assert inner == [slice(0, 64), slice(0, 64)]     # no nested hand-over, no deadlock


# BLAS may round a block of rows unlike the same rows inside a larger product (its kernels
# and its own threads split the work by shape): 2-D splits equal one product to rounding
PRODUCTS = {   # name: (shape of a, shape of b, transpose a first, bit-exact)
    "rows (3712 x 17 @ 17 x 1024, the input projection)": ((3712, 17), (17, 1024), False, False),
    "rows (3712 x 1024 @ 1024 x 16, dxs)": ((3712, 1024), (1024, 16), False, False),
    "inner (h^T @ dA, dWh)": ((3712, 256), (3712, 1024), True, False),
    "inner (x^T @ dA, dWx)": ((3712, 17), (3712, 1024), True, False),
    "batch (attention scores)": ((64, 10, 128), (64, 128, 29), False, True),
    "small (left alone)": ((8, 8), (8, 8), False, True),
    "vector (left alone)": ((300, 300), (300,), False, True),
}


@needs_blas
@pytest.mark.parametrize("case", list(PRODUCTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_product_equals_one_product(num_threads, case, dtype):
    sa, sb, transpose, exact = PRODUCTS[case]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    a = a.T if transpose else a
    want = np.matmul(a, b)
    num_threads(2)
    got = threads.matmul(a, b)
    assert got.dtype == dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        # a few units in the last place of the largest entry
        tol = dict(rtol=0, atol=64 * np.finfo(dtype).eps * np.abs(want).max())
        np.testing.assert_allclose(got, want, **tol)
        assert not np.array_equal(got, np.zeros_like(got))
    out = np.empty_like(want)
    assert threads.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, got)        # the same bits every time


def _lstm_values_and_grads(dtype, N=70, T=6, D=5, H=8, seed=0):
    rng = np.random.default_rng(seed)
    xs, Wx, Wh, b, h0, c0 = (Variable(a.astype(dtype)) for a in (
        rng.standard_normal((N, T, D)), rng.standard_normal((D, 4 * H)) / np.sqrt(D),
        rng.standard_normal((H, 4 * H)) / np.sqrt(H), rng.standard_normal(4 * H),
        rng.standard_normal((N, H)), rng.standard_normal((N, H))))
    hs, h, c = F.lstm(xs, Wx, Wh, b, h0, c0)
    us = [rng.standard_normal(y.shape).astype(dtype) for y in (hs, h, c)]
    loss = (hs * us[0]).sum() + (h * us[1]).sum() + (c * us[2]).sum()
    gs = grad(loss, [xs, Wx, Wh, b, h0, c0])
    return [y.data for y in (hs, h, c)] + [g.data for g in gs]


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3])
def test_fused_lstm_is_the_same_on_any_thread_count(num_threads, dtype, k):
    num_threads(1)
    one = _lstm_values_and_grads(dtype)
    num_threads(k)
    many = _lstm_values_and_grads(dtype)
    again = _lstm_values_and_grads(dtype)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for a, b, c in zip(one, many, again):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(b, a, **tol)
        np.testing.assert_array_equal(b, c)


@needs_blas
def test_fused_decode_is_the_same_on_any_thread_count(num_threads):
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(s).astype(np.float32) for s in
            ((64, 5, 4), (4, 32), (8, 32), (32,))]
    num_threads(1)
    with lstm_kernels.frozen_weights():
        one = [a.copy() for a in lstm_kernels.forward_arrays(*args, keep=False)[:3]]
    num_threads(2)
    with lstm_kernels.frozen_weights():
        two = lstm_kernels.forward_arrays(*args, keep=False)[:3]
    for a, b in zip(one, two):
        np.testing.assert_allclose(b, a, rtol=2e-6, atol=2e-6)


@needs_blas
def test_blas_gets_its_thread_count_back(num_threads):
    num_threads(1)
    before = threads.blas_threads()
    assert num_threads(2) == 2
    assert threads.blas_threads() == 1          # one pool at a time: ours
    num_threads(1)
    assert threads.blas_threads() == before


@pytest.mark.parametrize("env, want", [
    ({"TGA_NUM_THREADS": "1"}, 1),
    ({"OPENBLAS_NUM_THREADS": "1", "TGA_NUM_THREADS": ""}, 1),
    ({"OMP_NUM_THREADS": "1"}, 1),
])
def test_environment_gives_the_count(monkeypatch, num_threads, env, want):
    for key in ("TGA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    threads._chosen = False
    assert threads.configure_from_environment() == want


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_bad_environment_is_refused_by_name(monkeypatch, num_threads, value):
    monkeypatch.setenv("TGA_NUM_THREADS", value)
    threads._chosen = False
    with pytest.raises(ValueError, match=f"TGA_NUM_THREADS .*{value!r}"):
        threads.configure_from_environment()


def test_an_explicit_choice_is_kept(monkeypatch, num_threads):
    num_threads(1)
    monkeypatch.setenv("TGA_NUM_THREADS", "3")
    assert threads.configure_from_environment() == 1


def test_bad_count_is_refused(num_threads):
    with pytest.raises(ValueError, match="set_num_threads: .* got 0"):
        threads.set_num_threads(0)


def test_importing_changes_nothing():
    """A fresh process: importing every module leaves one thread and BLAS untouched."""
    code = ("import tinygrad_attn, tinygrad_attn.cli, tinygrad_attn.training; "
            "from tinygrad_attn import threads; "
            "print(threads.get_num_threads(), threads.blas_threads(), threads._blas_before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "1" and out[2] == "None"


def test_cli_threads_option(num_threads, tmp_path, capsys):
    """`tinygrad-attn --threads N` sets our count before the command runs; 0 is refused."""
    from tinygrad_attn import cli
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--threads", "0", "data", "dates", "-n", "3",
                  "--out", str(tmp_path / "d.txt")])
    assert exit_.value.code == 2
    assert "argument --threads: must be a thread count" in capsys.readouterr().err
    assert not (tmp_path / "d.txt").exists()
    cli.main(["--threads", "1", "data", "dates", "-n", "3",
              "--out", str(tmp_path / "d.txt")])
    assert threads.get_num_threads() == 1 and (tmp_path / "d.txt").exists()
    assert threads.blas_threads() in (None, 1)      # one thread means one: BLAS's too


@needs_blas
def test_one_thread_holds_blas_to_one_only_when_asked(num_threads):
    """The library's set_num_threads(1) gives BLAS its own count back; the command's
    choice (hold_blas) keeps it at one."""
    num_threads(1)
    own = threads.blas_threads()
    threads.set_num_threads(1, hold_blas=True)
    assert threads.blas_threads() == 1
    threads.set_num_threads(2)
    assert threads.blas_threads() == 1
    threads.set_num_threads(1)
    assert threads.blas_threads() == own


@needs_blas
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork here")
def test_a_forked_child_gets_workers_of_its_own(num_threads):
    """A child forked after the pool started has none of its worker threads: it must start
    its own instead of waiting forever on a queue nobody reads."""
    import os
    num_threads(2)
    threads.split_rows(lambda r: None, 64)           # the parent's pool is running
    pid = os.fork()
    if pid == 0:   # the child: split work, exit 0 if it all ran
        seen = np.zeros(64, int)

        def block(rows):
            seen[rows] += 1
        t = threading.Thread(target=threads.split_rows, args=(block, 64))
        t.start()
        t.join(20)
        os._exit(0 if not t.is_alive() and (seen == 1).all() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
