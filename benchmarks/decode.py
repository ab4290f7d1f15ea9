"""Greedy decoding of 5 000 questions (Te 29, 10 steps, H 256, V 59, float32): ours
(`generate`, fused LSTM, no tape) against the book's batched `generate`, calls interleaved,
and the floor: the same matrix products replayed alone.

    python benchmarks/decode.py [--n 5000] [--runs 3] [--batch-size 256]

The questions are random ids of the date task's shape (the time of a greedy decode does not
depend on which ids they are).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import (MatmulRecorder, add_threads_option, blas_info,  # noqa: E402
                        our_threads)

import tinygrad_attn_models as models  # noqa: E402
from tinygrad_attn.book import models as book_models  # noqa: E402

V, D, H, TE, LENGTH = 59, 16, 256, 29, 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    add_threads_option(parser)
    args = parser.parse_args()
    from tinygrad_attn import memory, threads
    memory.configure_from_environment()
    k = our_threads(args)
    ours = models.AttentionSeq2seq(V, D, H, seed=0)
    book = book_models.AttentionSeq2seq(V, D, H, params=ours.book_params())
    xs = np.random.default_rng(0).integers(0, V, (args.n, TE))
    print("BLAS: " + blas_info())
    print(f"{args.n} questions, Te {TE}, {LENGTH} steps, H {H}; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"ours: {k} threads of tinygrad_attn.threads (BLAS 1 meanwhile); the book and the "
          "floor: NumPy's BLAS as it comes; 0.2 s untimed before each call")

    def ours_call():
        threads.set_num_threads(k)
        time.sleep(0.2)          # the book's idle BLAS threads stop spinning
        t0 = time.perf_counter()
        out = ours.generate(xs, 0, LENGTH, batch_size=args.batch_size)
        ours_call.seconds = time.perf_counter() - t0
        threads.set_num_threads(1)
        return out

    def book_call():
        t0 = time.perf_counter()
        out = book.generate(xs, 0, LENGTH)
        book_call.seconds = time.perf_counter() - t0
        return out
    assert (ours_call() == book_call()).all(), "ours and the book's decode differ"
    with MatmulRecorder() as rec:
        ours_call()
    flops = sum(2 * np.prod(a[:-1]) * a[-1] * b[-1] for a, b, _ in rec.shapes)
    t_ours, t_book, t_floor = [], [], []
    for _ in range(args.runs):
        for call, ts in ((ours_call, t_ours), (book_call, t_book)):
            call()
            ts.append(call.seconds)
        t_floor.append(rec.replay_time(repeat=1))
    med = [statistics.median(t) for t in (t_ours, t_book, t_floor)]
    print("ours  " + " / ".join(f"{t:.3f}" for t in t_ours) + f" s, median {med[0]:.3f} s")
    print("book  " + " / ".join(f"{t:.3f}" for t in t_book) + f" s, median {med[1]:.3f} s "
          f"(all rows as one batch)")
    print(f"products alone (the floor): median {med[2]:.3f} s for {flops / 1e9:.1f} GFLOP "
          f"({flops / med[2] / 1e9:.0f} GFLOP/s); ours / book {med[0] / med[1]:.2f}x, "
          f"ours / floor {med[0] / med[2]:.2f}x (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
