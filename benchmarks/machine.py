"""What every benchmark prints about the machine: the BLAS NumPy runs."""
import ctypes
import os

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
