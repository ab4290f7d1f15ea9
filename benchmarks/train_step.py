"""One training step (forward, backward, clip, Adam) of each model at the book's sizes:
the forward-only models on autograd against the book's hand-written backward (the oracles
in tinygrad_attn.book), same weights, same batch, measured side by side in one run.

    python benchmarks/train_step.py [--models attention,peeky,seq2seq] [--steps 15]

Prints the median step time of each path, their ratio (ours / hand-written: below 1 is
faster), and the share of each path's time spent in matrix products (the products a step
runs, recorded once and replayed alone). Machines are noisy: compare the ratios of one run.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_attn_models as models
from tinygrad_attn import optim
from tinygrad_attn.book import models as book_models
from tinygrad_attn.book.optim import Adam as BookAdam
from tinygrad_attn.book.optim import clip_grads
from tinygrad_attn.ops import linalg

SIZES = dict(N=128, D=16, H=256, Te=29, Td=10, V=59)
PAIRS = {
    "attention": (models.AttentionSeq2seq, book_models.AttentionSeq2seq),
    "peeky": (models.PeekySeq2seq, book_models.PeekySeq2seq),
    "seq2seq": (models.Seq2seq, book_models.Seq2seq),
}


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, SIZES["V"], size=(SIZES["N"], SIZES["Te"]))
    ts = rng.integers(0, SIZES["V"], size=(SIZES["N"], SIZES["Td"] + 1))
    return xs, ts


def our_step(model, opt):
    def step(xs, ts):
        model.zero_grad()
        loss = model.loss(xs, ts)
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss
    return step


def book_step(model, opt):
    def step(xs, ts):
        loss = model.forward(xs, ts)
        model.backward()
        clip_grads(model.grads, 5.0)
        opt.update(model.params, model.grads)
        return loss
    return step


def median_times(steps, batch, n):
    """Median seconds per call of each step function, calls interleaved (a, b, a, b, ...)
    so that a slow spell of the machine hits every path alike."""
    for step in steps:
        step(*batch)  # warm up: first touch of every buffer
    times = [[] for _ in steps]
    for _ in range(n):
        for step, ts in zip(steps, times):
            t0 = time.perf_counter()
            step(*batch)
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


class MatmulRecorder:
    """Record the operand shapes of every matrix product one step runs."""

    def __init__(self):
        self.shapes = []

    def __enter__(self):
        self._our_forward = linalg.Matmul.forward
        self._np_dot = np.dot
        rec = self.shapes
        our_forward = self._our_forward
        np_dot = self._np_dot

        def forward(fn_self, a, b):
            rec.append((a.shape, b.shape, a.dtype))
            return our_forward(fn_self, a, b)

        def dot(a, b, *args, **kwargs):
            rec.append((np.shape(a), np.shape(b), np.asarray(a).dtype))
            return np_dot(a, b, *args, **kwargs)

        linalg.Matmul.forward = forward
        np.dot = dot
        return self

    def __exit__(self, *exc):
        linalg.Matmul.forward = self._our_forward
        np.dot = self._np_dot

    def replay_time(self, repeat=5):
        rng = np.random.default_rng(0)
        ops = [(rng.standard_normal(sa).astype(dt), rng.standard_normal(sb).astype(dt))
               for sa, sb, dt in self.shapes]
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for a, b in ops:
                np.matmul(a, b) if a.ndim != 2 or b.ndim != 2 else np.dot(a, b)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def main():
    # as the CLI and the Trainer do (TGA_MALLOC_TOP_PAD=0 measures without it)
    from tinygrad_attn import memory
    memory.configure_from_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="attention,peeky,seq2seq",
                        help="comma-separated subset of attention, peeky, seq2seq")
    parser.add_argument("--steps", type=int, default=21, help="timed steps per path")
    args = parser.parse_args()
    batch = make_batch()
    V, D, H = SIZES["V"], SIZES["D"], SIZES["H"]
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in SIZES.items()) + ", float32")
    print(f"{'model':<10} {'autograd':>10} {'by hand':>10} {'ratio':>7}   "
          f"{'matmul share (ours / book)':>26}")
    for name in args.models.split(","):
        Ours, Book = PAIRS[name]
        ours = Ours(V, D, H, seed=0)
        book = Book(V, D, H, params=[p.copy() for p in ours.book_params()])
        ours_step = our_step(ours, optim.Adam(ours.parameters()))
        hand_step = book_step(book, BookAdam())
        t_ours, t_book = median_times([ours_step, hand_step], batch, args.steps)
        with MatmulRecorder() as rec_ours:
            ours_step(*batch)
        with MatmulRecorder() as rec_book:
            hand_step(*batch)
        share_ours = rec_ours.replay_time() / t_ours
        share_book = rec_book.replay_time() / t_book
        print(f"{name:<10} {t_ours * 1e3:>8.1f}ms {t_book * 1e3:>8.1f}ms {t_ours / t_book:>6.2f}x"
              f"   {share_ours:>12.0%} / {share_book:.0%}"
              f"   ({len(rec_ours.shapes)} / {len(rec_book.shapes)} products)")


if __name__ == "__main__":
    main()
