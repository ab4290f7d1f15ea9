"""What our own threads (tinygrad_attn/threads.py) buy, measured in one process:

    python benchmarks/threads.py [--rounds 3] [--threads 2]

1. two independent products (64, 256) @ (256, 1024), one after the other and at once on two
   threads (np.dot and np.matmul; BLAS one thread each): do the cores run together?
2. an encoder-sized LSTM (N 128, T 29, D 16, H 256): the fused forward and first-order rule
   on one thread (BLAS's own two) and on ours;
3. the attention model's training step at the book's sizes: the book's (NumPy as it comes),
   ours on one thread, ours on `--threads`, in blocks of 5 steps.

Every switch of configuration is followed by 0.3 s untimed: idle OpenBLAS threads spin
about 0.1 s after their last product (docs/performance.md). Medians; machines are noisy.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_step as ts  # noqa: E402

from tinygrad_attn import memory, optim, threads  # noqa: E402
from tinygrad_attn.ops import lstm_kernels as recurrent  # noqa: E402

SETTLE = 0.3


def use(k):
    threads.set_num_threads(k)
    time.sleep(SETTLE)


def median_ms(fn, n):
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def products(k):
    rng = np.random.default_rng(0)
    h = rng.standard_normal((64, 256)).astype(np.float32)
    W = rng.standard_normal((256, 1024)).astype(np.float32)
    outs = [np.empty((64, 1024), np.float32) for _ in range(k)]
    use(k)
    for name, f in (("np.dot", np.dot), ("np.matmul", np.matmul)):
        def work(rows, f=f):
            for _ in range(200):
                f(h, W, out=outs[rows.start])
        seq = median_ms(lambda: [work(slice(i, i + 1)) for i in range(k)], 7)
        par = median_ms(lambda: threads.split_rows(work, k, min_rows=1), 7)
        print(f"  {k} x 200 products with {name:<9}: one after the other {seq:6.1f} ms, "
              f"at once {par:6.1f} ms ({seq / par:.2f}x)")


def lstm(k, rounds):
    rng = np.random.default_rng(0)
    N, T, D, H = 128, 29, 16, 256
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    Wx = (rng.standard_normal((D, 4 * H)) / 4).astype(np.float32)
    Wh = (rng.standard_normal((H, 4 * H)) / 16).astype(np.float32)
    b = np.zeros(4 * H, np.float32)
    dhs = (rng.standard_normal((N, T, H)) / 100).astype(np.float32)
    zero = np.zeros((N, H), np.float32)
    res = {}
    for _ in range(rounds):
        for n in (1, k):
            use(n)
            fwd = median_ms(lambda: recurrent.forward_arrays(xs, Wx, Wh, b), 15)
            rule = []
            for _ in range(15):
                ws = recurrent.forward_arrays(xs, Wx, Wh, b)[3]
                t0 = time.perf_counter()
                recurrent.backward_arrays(ws, Wx, Wh, False, None, dhs, zero, zero)
                rule.append(time.perf_counter() - t0)
            res.setdefault(n, []).append((fwd, 1e3 * statistics.median(rule)))
    for n, rows in res.items():
        print(f"  {n} thread(s): forward " + " / ".join(f"{f:.1f}" for f, _ in rows)
              + " ms, rule " + " / ".join(f"{r:.1f}" for _, r in rows) + " ms")


def step(k, rounds):
    ours, book = ts.build("attention")
    batch = ts.make_batch()
    ours_step = ts.our_step(ours, optim.Adam(ours.parameters()))
    paths = [("book", 1, ts.book_step(book, ts.BookAdam())),
             ("ours, 1 thread", 1, ours_step), (f"ours, {k} threads", k, ours_step)]
    res = {name: [] for name, _, _ in paths}
    for _ in range(rounds):
        for name, n, fn in paths:
            use(n)
            fn(*batch)
            for _ in range(5):
                t0 = time.perf_counter()
                fn(*batch)
                res[name].append(time.perf_counter() - t0)
    med = {name: 1e3 * statistics.median(v) for name, v in res.items()}
    for name, m in med.items():
        print(f"  {name:<16} {m:6.1f} ms  ({m / med['book']:.2f}x the book's)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    memory.configure_from_environment()
    print("BLAS: " + ts.blas_info() + f"; load average {os.getloadavg()[0]:.1f}")
    print("1. independent products on two threads")
    products(args.threads)
    print("2. the fused LSTM, N 128, T 29, D 16, H 256 (medians of 15 per round)")
    lstm(args.threads, args.rounds)
    print("3. the attention model's training step (blocks of 5)")
    step(args.threads, args.rounds * 2)
    threads.set_num_threads(1)


if __name__ == "__main__":
    main()
