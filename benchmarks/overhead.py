"""Per-op overhead and a small MLP training step: tinygrad_attn against the same computation
written by hand in plain NumPy, measured side by side in one run.

    python benchmarks/overhead.py [--repeat 7]

Prints medians (over `--repeat` rounds) and ratios. Machines are noisy: compare ratios
from one run, not absolute times across runs.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import Variable


def timeit(fn, number, repeat):
    """Median seconds per call over `repeat` rounds of `number` calls."""
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)


def tiny_add(repeat):
    a_np, b_np = np.ones(3, np.float32), np.full(3, 2.0, np.float32)
    a, b = Variable(a_np), Variable(b_np)

    def ours_fwd():
        return a + b

    def numpy_fwd():
        return a_np + b_np

    def ours_fwd_bwd():
        a.grad = b.grad = None
        (a + b).backward(np.ones(3, np.float32))

    def numpy_fwd_bwd():
        y = a_np + b_np
        gy = np.ones_like(y)
        return gy.copy(), gy.copy()

    def ours_nograd():
        with tga.no_grad():
            return a + b

    n = 20000
    return [
        ("add, forward only (recorded)", timeit(ours_fwd, n, repeat), timeit(numpy_fwd, n, repeat)),
        ("add, forward under no_grad", timeit(ours_nograd, n, repeat), timeit(numpy_fwd, n, repeat)),
        ("add, forward + backward", timeit(ours_fwd_bwd, n // 4, repeat),
         timeit(numpy_fwd_bwd, n // 4, repeat)),
    ]


def mlp_step(repeat, N=64, D=32, H=64, C=10):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D)).astype(np.float32)
    t = rng.integers(0, C, N)
    W1_np = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(np.float32)
    b1_np = np.zeros(H, np.float32)
    W2_np = (rng.standard_normal((H, C)) / np.sqrt(H)).astype(np.float32)
    b2_np = np.zeros(C, np.float32)
    W1, b1, W2, b2 = (Variable(p.copy()) for p in (W1_np, b1_np, W2_np, b2_np))
    lr = 0.01

    def ours():
        h = F.tanh(x @ W1 + b1)
        loss = F.softmax_cross_entropy(h @ W2 + b2, t)
        for p in (W1, b1, W2, b2):
            p.grad = None
        loss.backward()
        for p in (W1, b1, W2, b2):
            p.data -= lr * p.grad.data

    def by_hand():
        a = x @ W1_np + b1_np
        h = np.tanh(a)
        z = h @ W2_np + b2_np
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        _ = -np.log(p[np.arange(N), t]).mean()
        dz = p
        dz[np.arange(N), t] -= 1
        dz /= N
        dW2 = h.T @ dz
        db2 = dz.sum(axis=0)
        dh = dz @ W2_np.T
        da = dh * (1 - h * h)
        dW1 = x.T @ da
        db1 = da.sum(axis=0)
        for p_, g in ((W1_np, dW1), (b1_np, db1), (W2_np, dW2), (b2_np, db2)):
            p_ -= lr * g

    return [(f"MLP step ({N}x{D} -> {H} -> {C}, fwd+bwd+SGD)", timeit(ours, 500, repeat),
             timeit(by_hand, 500, repeat))]


def main():
    # as the CLI and the Trainer do (TGA_MALLOC_TOP_PAD=0 measures without it)
    from tinygrad_attn import memory
    memory.configure_from_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds per measurement")
    args = parser.parse_args()
    rows = tiny_add(args.repeat) + mlp_step(args.repeat)
    print(f"{'what':<48} {'ours':>10} {'numpy':>10} {'ratio':>7} {'+us':>7}")
    for name, ours, ref in rows:
        print(f"{name:<48} {ours * 1e6:>8.2f}us {ref * 1e6:>8.2f}us {ours / ref:>6.1f}x "
              f"{(ours - ref) * 1e6:>7.2f}")


if __name__ == "__main__":
    main()
