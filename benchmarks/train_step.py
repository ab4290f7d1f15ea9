"""One training step (forward, backward, clip, Adam) of each model at the book's sizes:
the forward-only models on autograd against the book's hand-written backward (the oracles
in tinygrad_attn.book), same weights, same batch, measured side by side in one run.

    python benchmarks/train_step.py [--models attention,peeky,seq2seq] [--steps 21]
                                    [--order alternated|blocked] [--runs 3] [--no-memory]
                                    [--threads N] [--settle 0.2]

Prints the BLAS library, its kernel ("architecture") and thread count, then per model the
median step time of each path, their ratio (ours / hand-written: below 1 is faster), the
share of each path's time spent in matrix products (the products a step runs, recorded once
and replayed alone), and the peak memory of a step (see `peak_memory`).

--order alternated  one step of ours, one of the book's, and so on (a slow spell of the
                    machine hits both alike);
--order blocked     `--block` steps of ours, then as many of the book's, repeated (each
                    path runs with warm caches of its own).
--runs R            R runs of the whole measurement; each ratio is printed, then the
                    median ratio over the runs.
--threads N         our path on N threads of tinygrad_attn.threads (BLAS one meanwhile);
                    the book's path runs NumPy as it comes (BLAS's own threads). Each
                    switch of path is followed by --settle untimed seconds (idle BLAS
                    threads spin after their last product).
Machines are noisy: compare the ratios of one run, not absolute times across runs.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

import tinygrad_attn_models as models
from tinygrad_attn import optim, threads
from tinygrad_attn.book import models as book_models
from tinygrad_attn.book.optim import Adam as BookAdam
from tinygrad_attn.book.optim import clip_grads
from tinygrad_attn.ops import linalg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import blas_info  # noqa: E402,F401 (compare.py and threads.py import it from here)

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


def add_threads_option(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="our threads (tinygrad_attn.threads; BLAS runs one meanwhile); "
                        "default as the CLI: TGA_NUM_THREADS, else OPENBLAS_NUM_THREADS / "
                        "OMP_NUM_THREADS, else every CPU. The book's path always runs NumPy "
                        "as it comes: BLAS with its own threads")


def our_threads(args):
    """The thread count our path runs on (--threads, else as the CLI); the process is left
    on one thread of ours, i.e. NumPy's BLAS as it comes, until a path switches."""
    k = threads.configure_from_environment() if args.threads is None else args.threads
    threads.set_num_threads(1)
    return k


def median_times(steps, batch, n, order="alternated", block=5, enters=None, settle=0.0):
    """Median seconds per call of each step function, measured side by side.

    alternated: a, b, a, b, ...; blocked: `block` calls of a, then `block` of b, repeated
    until each ran `n` times. ``enters[i]()`` (untimed) puts the process in path i's
    configuration before each of its turns, then `settle` seconds pass untimed: the other
    path's idle BLAS threads spin for a while after its last product (OpenBLAS: about
    0.1 s) and would otherwise run on the cores this path's threads need."""
    enters = enters or [None] * len(steps)

    def enter(i):
        if enters[i] is not None:
            enters[i]()
        if settle:
            time.sleep(settle)
    for i, step in enumerate(steps):
        enter(i)
        step(*batch)  # warm up: first touch of every buffer
    times = [[] for _ in steps]
    per_turn = 1 if order == "alternated" else block
    while len(times[0]) < n:
        for i, (step, ts) in enumerate(zip(steps, times)):
            enter(i)
            for _ in range(min(per_turn, n - len(ts))):
                t0 = time.perf_counter()
                step(*batch)
                ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def build(name):
    Ours, Book = PAIRS[name]
    V, D, H = SIZES["V"], SIZES["D"], SIZES["H"]
    ours = Ours(V, D, H, seed=0)
    book = Book(V, D, H, params=[p.copy() for p in ours.book_params()])
    return ours, book


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_memory(name, path, steps=3):
    """Peak RSS of `steps` training steps above the RSS with the model, its optimizer and
    the batch built (MiB): run in a fresh process per path, so each high-water mark is
    its own (the kernel's VmHWM, reset before the steps where the kernel allows it)."""
    code = (f"import sys; sys.argv = ['train_step', '--probe', '{name}:{path}:{steps}']; "
            f"exec(open({__file__!r}).read())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy())
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout.split()[-1])


def _probe(spec):
    """In a fresh process: build one path, then print its peak memory above that (MiB)."""
    from tinygrad_attn import memory
    memory.configure_from_environment()
    name, path, steps = spec.split(":")
    batch = make_batch()
    ours, book = build(name)
    if path == "ours":
        threads.configure_from_environment()
        step, book = our_step(ours, optim.Adam(ours.parameters())), None
    else:
        step, ours = book_step(book, BookAdam()), None
    try:  # "5" resets the high-water mark (Linux >= 4.0); elsewhere it is the process's
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _rss_kib("VmRSS")
    for _ in range(int(steps)):
        step(*batch)
    print((_rss_kib("VmHWM") - before) / 1024)


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
    parser.add_argument("--steps", type=int, default=21, help="timed steps per path and run")
    parser.add_argument("--order", choices=["alternated", "blocked"], default="alternated")
    parser.add_argument("--block", type=int, default=5, help="steps per block (blocked)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median ratio is kept")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probe")
    add_threads_option(parser)
    parser.add_argument("--settle", type=float, default=0.2,
                        help="untimed seconds after switching paths (default 0.2)")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return _probe(args.probe)
    k = our_threads(args)
    enters = [lambda: threads.set_num_threads(k), lambda: threads.set_num_threads(1)]
    batch = make_batch()
    print("sizes: " + ", ".join(f"{n} {v}" for n, v in SIZES.items()) + ", float32")
    print("BLAS: " + blas_info())
    print(f"threads: ours {k} (BLAS 1 meanwhile), book: BLAS's own; {args.settle} s "
          "untimed after each switch")
    print(f"order: {args.order}" + (f" (blocks of {args.block})" if args.order == "blocked"
                                     else "") + f", {args.steps} steps per path, "
          f"{args.runs} run(s); load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'model':<10} {'run':>3} {'autograd':>10} {'by hand':>10} {'ratio':>7}   "
          f"{'matmul share (ours / book)':>26}")
    for name in args.models.split(","):
        ours, book = build(name)
        ours_step = our_step(ours, optim.Adam(ours.parameters()))
        hand_step = book_step(book, BookAdam())
        ratios = []
        for run in range(args.runs):
            t_ours, t_book = median_times([ours_step, hand_step], batch, args.steps,
                                          args.order, args.block, enters, args.settle)
            threads.set_num_threads(1)   # the products replayed alone: BLAS's threads
            ratios.append(t_ours / t_book)
            with MatmulRecorder() as rec_ours:
                ours_step(*batch)
            with MatmulRecorder() as rec_book:
                hand_step(*batch)
            share_ours = rec_ours.replay_time() / t_ours
            share_book = rec_book.replay_time() / t_book
            print(f"{name:<10} {run + 1:>3} {t_ours * 1e3:>8.1f}ms {t_book * 1e3:>8.1f}ms "
                  f"{t_ours / t_book:>6.2f}x   {share_ours:>12.0%} / {share_book:.0%}"
                  f"   ({len(rec_ours.shapes)} / {len(rec_book.shapes)} products)")
        line = f"{name:<10} median ratio {statistics.median(ratios):.2f}x"
        if not args.no_memory:
            m_ours, m_book = peak_memory(name, "ours"), peak_memory(name, "book")
            line += (f"; peak memory of 3 steps above the model: ours {m_ours:.1f} MiB, "
                     f"book {m_book:.1f} MiB")
        print(line, f"(load average {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
