"""cumsum as a primitive or as a composition? (re-runnable)

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python experiments/cumsum_primitive.py

The composition (`ops/statistics.py: cumsum_composed`) is a product with an upper-triangular
matrix of ones, moved to the last axis and back: three recorded ops forward, O(n^2) work in
the axis length n. The primitive (`ops/reduction.py: CumSum`) is one np.cumsum forward and
one reversed scan backward. A forward + backward of each on x of shape (64, n), scanned
along n, is timed interleaved; the median of the repeats is printed (the machine is shared).
"""
import time

import numpy as np

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.ops.statistics import cumsum_composed

rng = np.random.default_rng(0)
REPEATS = 15


def timed(op, x, u, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        v = Variable(x)
        (g,) = grad(op(v, axis=1), [v], grad_outputs=u)
    return (time.perf_counter() - t0) / inner


print(f"{'n':>5} {'primitive (us)':>15} {'composition (us)':>17} {'ratio':>7}")
for n in (8, 64, 512, 2048):
    x = rng.standard_normal((64, n))
    u = Variable(rng.standard_normal((64, n)))
    inner = max(1, 20000 // (n * 8))
    prim, comp = [], []
    for _ in range(REPEATS):
        prim.append(timed(F.cumsum, x, u, inner))
        comp.append(timed(cumsum_composed, x, u, inner))
    p, c = np.median(prim) * 1e6, np.median(comp) * 1e6
    print(f"{n:>5} {p:>15.1f} {c:>17.1f} {c / p:>7.1f}")
