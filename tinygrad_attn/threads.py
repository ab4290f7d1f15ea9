"""Intra-op threads: one pool per process, and BLAS kept to one thread while it runs.

Why: at the book's sizes an LSTM step is one ``(128, 256) @ (256, 1024)`` product and a
few NumPy passes of gate math. OpenBLAS's own threads speed up the product alone (its
second thread then spins, waiting for the next product, while the gate math runs on one
core); rows of a batch are independent through the whole recurrence, so splitting the
batch over our own threads runs the products *and* the gate math on every core, with one
hand-over per sequence instead of one per product. NumPy releases the GIL inside its
loops and BLAS calls, so Python threads are enough. Two pools on the same cores (ours and
BLAS's) would fight, so while ours has more than one thread the BLAS library is set to one
thread (process-wide: that is where BLAS keeps it), and set back when ours goes back to
one.

Importing changes nothing (one thread, BLAS untouched): the `tinygrad-attn` command and
the benchmarks call `configure_from_environment()`; a library user (of the `Trainer` too)
calls `set_num_threads(n)` once. Without a BLAS whose thread count we can set (OpenBLAS, found
among the loaded libraries on Linux) we stay at one thread rather than oversubscribe.

Results do not depend on timing: each row block is computed by exactly one thread in a
fixed split, so a given thread count gives the same bits every run. Different thread
counts may differ in the last bits (a product over 64 rows may round unlike one over 128).
docs/performance.md has the measurements.
"""
from __future__ import annotations

import ctypes
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "configure_from_environment",
           "split_rows", "matmul", "blas_threads"]

MIN_ROWS = 16              # a block smaller than this is not worth a hand-over
# Products of fewer FLOP than this (2^25, ~34 million) run on the caller alone: waking a
# worker costs tens of microseconds, so splitting (64, 784) @ (784, 256) (26 MFLOP) over two threads took
# 302 us against 269 us on one; (128, 256) @ (256, 1024) (67 MFLOP) 514 against 700 us
# (a quiet 2-core machine, docs/performance.md). An MLP step at batch 64: 1.82 ms split,
# 1.28 ms with this threshold.
MIN_FLOPS = 1 << 25

_num_threads = 1
_pool = None
_pool_size = 0             # its workers (our thread count less the caller)
_pool_pid = None           # the process that started the pool (a forked child has no workers)
_blas_before = None        # BLAS's thread count before we set it to one
_inside = threading.local()  # set in our workers (and the caller's share): no nesting
_lock = threading.Lock()
_chosen = False            # set_num_threads was called: the environment does not override


# --- the BLAS library's thread count ----------------------------------------------------
_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads", "openblas_set_num_threads64_")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads", "openblas_get_num_threads64_")
_blas = None


def _find_blas():
    """(get, set) of the loaded OpenBLAS's thread count, or None (not Linux, or another
    BLAS)."""
    global _blas
    if _blas is not None:
        return _blas or None
    _blas = False
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f
                     if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in zip(_GETTERS, _SETTERS):
            get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and put is not None:
                get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                _blas = (get, put)
                return _blas
    return None


def blas_threads():
    """The BLAS library's current thread count, or None if it cannot be read."""
    blas = _find_blas()
    return None if blas is None else int(blas[0]())


# --- our pool -----------------------------------------------------------------------------
def get_num_threads():
    """Threads our ops split their work over (1: everything runs on the caller)."""
    return _num_threads


def set_num_threads(n, *, hold_blas=False):
    """Split large products and batch-parallel loops (the LSTM's recurrence) over `n`
    threads; BLAS runs one thread meanwhile. ``set_num_threads(1)`` gives BLAS its thread
    count back, unless `hold_blas`: then one thread means one, BLAS's too (the command's
    ``--threads 1``; on a busy machine BLAS's own second thread, waiting for a core, made
    small products 10x slower). Process-wide, like BLAS's own setting; after this call
    `configure_from_environment` leaves the choice alone. Returns the number in effect."""
    global _chosen
    _chosen = True
    return _set(n, hold_blas)


def _set(n, hold_blas=False):
    global _num_threads, _pool, _blas_before
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    with _lock:
        if n > 1 and _find_blas() is None:
            warnings.warn("tinygrad_attn.threads: the BLAS library's thread count cannot be "
                          "set (not OpenBLAS on Linux); staying at one thread so the two "
                          "pools do not fight", RuntimeWarning, stacklevel=2)
            n = 1
        get, put = _find_blas() or (None, None)
        if (n > 1 or hold_blas) and get is not None and _blas_before is None:
            _blas_before = int(get())
            put(1)
        elif n == 1 and not hold_blas and _blas_before is not None:
            put(_blas_before)
            _blas_before = None
        if n > 1 and _pool_size != n - 1:
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=True)
            _start_pool(n)
        _num_threads = n
    return n


def _start_pool(n):
    global _pool, _pool_size, _pool_pid
    _pool = ThreadPoolExecutor(n - 1, thread_name_prefix="tinygrad_attn")
    _pool_size, _pool_pid = n - 1, os.getpid()


def configure_from_environment(*, hold_blas=False):
    """The thread count from the environment, unless `set_num_threads` chose already:
    ``TGA_NUM_THREADS`` if set; else the ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``
    the user gave BLAS (the cores they granted this process); else the CPUs this process
    may run on. `hold_blas` as in `set_num_threads`. Returns the number in effect."""
    if _chosen:
        return _num_threads
    for key in ("TGA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        raw = os.environ.get(key, "").strip()
        if raw:
            try:
                n = int(raw)
            except ValueError:
                n = 0
            if n < 1:
                raise ValueError(f"{key} must be a positive whole number of threads, got "
                                 f"{raw!r}")
            break
    else:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:
            n = os.cpu_count() or 1
    return _set(n, hold_blas)


# --- splitting work -----------------------------------------------------------------------
def _blocks(n, parts):
    # integer arithmetic: this runs a few hundred times a training step (np.linspace
    # showed at ~1% of a profiled step)
    edges = [n * k // parts for k in range(parts + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _run_inside(fn, rows):
    _inside.active = True
    try:
        return fn(rows)
    finally:
        _inside.active = False


def split_rows(fn, n, min_rows=MIN_ROWS):
    """Call ``fn(rows)`` for contiguous row blocks covering ``range(n)``, one block per
    thread, and wait for all (the caller computes the first block). `fn` must only write
    its own rows. Runs ``fn(slice(0, n))`` alone with one thread, for fewer than
    2 * `min_rows` rows, or when called from inside a block."""
    parts = min(_num_threads, n // max(1, min_rows))
    if parts < 2 or getattr(_inside, "active", False):
        fn(slice(0, n))
        return
    if _pool_pid != os.getpid():   # forked after the pool started: its workers stayed behind
        with _lock:
            if _pool_pid != os.getpid():
                _start_pool(_num_threads)
    first, *rest = _blocks(n, parts)
    futures = [_pool.submit(_run_inside, fn, rows) for rows in rest]
    try:
        _run_inside(fn, first)
    finally:
        for f in futures:
            f.result()


def _split_inner(a, b, out):
    """``a @ b`` as a sum over blocks of the inner dimension, one block per thread (for a
    weight gradient ``hs^T @ dA``: `a` is a transposed view, so its rows are strided, and
    each thread reads only its share of both operands). Measured as fast as BLAS's own two
    threads on the LSTM's ``dWh`` (256 x 3712 x 1024), where a row split was 1.3x slower."""
    parts = {}

    def block(r):
        if r.start == 0:
            np.dot(a[:, r], b[r], out=out)
        else:
            parts[r.start] = np.dot(a[:, r], b[r])
    split_rows(block, a.shape[1])
    for key in sorted(parts):     # a fixed order: the same bits every run
        out += parts[key]


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)`` split over the threads for large operands: the rows of a
    2-D `a`, or its inner dimension when `a` is a transposed view (`_split_inner`); the
    batch of a 3-D product. Each block is one BLAS call on one thread; 2-D blocks go through
    ``np.dot`` (two threads of independent products: 1.76-1.93x with ``np.dot``, 1.66-1.78x
    with ``np.matmul``, benchmarks/threads.py)."""
    if _num_threads < 2 or getattr(_inside, "active", False) or a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b, out=out)
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if 2 * int(np.prod(lead)) * M * K * N < MIN_FLOPS:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(lead + (M, N), np.result_type(a.dtype, b.dtype))
    if a.ndim == b.ndim == 2 and a.dtype == b.dtype == out.dtype and out.flags.c_contiguous:
        if a.strides[1] == a.itemsize and M >= 2 * MIN_ROWS:
            split_rows(lambda r: np.dot(a[r], b, out=out[r]), M)
        elif K >= 2 * MIN_ROWS:
            _split_inner(a, b, out)
        else:
            np.dot(a, b, out=out)
    elif a.ndim == b.ndim == 3 and a.shape[0] == b.shape[0] and out.ndim == 3:
        split_rows(lambda r: np.matmul(a[r], b[r], out=out[r]), a.shape[0], min_rows=1)
    else:
        np.matmul(a, b, out=out)
    return out
