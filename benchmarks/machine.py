"""What the benchmarks share: the BLAS NumPy runs (printed by each), PyTorch when it is
installed, and the clock option."""
import ctypes
import os
import time

import numpy as np


def blas_info():
    """The BLAS NumPy runs (threadpoolctl): library, kernel, version and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return openblas_core()
    pools = threadpool_info()
    text = "; ".join(
        f"{p.get('internal_api')} {p.get('version')} kernel {p.get('architecture', '?')}, "
        f"{p.get('num_threads')} threads ({p.get('user_api')}, "
        f"{p.get('threading_layer', '?')})" for p in pools)
    env = ", ".join(f"{k}={os.environ[k]}" for k in (
        "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        if k in os.environ)
    return f"{len(pools)} thread pool(s): {text}" + (f" [{env}]" if env else "")


def openblas_core():
    """Without threadpoolctl: the kernel the loaded OpenBLAS chose, asked through ctypes."""
    np.dot(np.ones((2, 2)), np.ones((2, 2)))   # make sure the library is loaded
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        paths = []
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("openblas_get_corename", "scipy_openblas_get_corename64_",
                     "scipy_openblas_get_corename", "openblas_get_corename64_"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return f"OpenBLAS kernel {fn().decode()} ({os.path.basename(path)}; " \
                    "threadpoolctl not installed: thread counts not shown)"
    return "BLAS kernel unknown (not OpenBLAS, or not Linux; threadpoolctl not installed)"


def import_torch():
    """PyTorch if it is installed (never a dependency), else None. Its OpenMP threads sleep
    when idle (set before the import) so they do not spin on the cores NumPy is using."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        return None
    return torch


def add_clock_option(parser):
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time (default); cpu: this process's CPU time, "
                        "for one-thread runs (--threads 1, OMP_NUM_THREADS=1, "
                        "OPENBLAS_NUM_THREADS=1) on a machine others are using")


def clock_of(args):
    return time.process_time if args.clock == "cpu" else time.perf_counter
