"""Time one NTM copy-task training step and count the ops it records (re-runnable).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/ntm_step_time.py

A step = forward + loss + backward + clip + Adam, as `tinygrad-attn train --task copy`
does it, at one fixed length (default 20, i.e. 41 time steps) on random bits. Prints the median of
--repeats steps (after one warm-up) per batch size, in wall seconds and in this process's
CPU seconds (less disturbed by other work on a shared machine), and the recorded ops of one
step's forward graph by type (walking `creator.inputs` from the loss).
"""
from __future__ import annotations

import argparse
import collections
import statistics
import time

import numpy as np

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import optim
from tinygrad_attn.data.copy_task import copy_batch
import tinygrad_attn_models as models


def count_ops(loss):
    seen, stack, kinds = set(), [loss.creator], collections.Counter()
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        kinds[type(f).__name__] += 1
        stack.extend(v.creator for v in f.inputs)
    return kinds


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-sizes", default="16,32")
    ap.add_argument("--length", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    print("tinygrad_attn from", tga.__file__)
    for B in (int(b) for b in args.batch_sizes.split(",")):
        model = models.NTM(seed=0)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        rng = np.random.default_rng(0)
        times, cpu = [], []
        for rep in range(args.repeats + 1):
            xs, ts, mask = copy_batch(rng, B, args.length)
            t0, c0 = time.perf_counter(), time.process_time()
            loss = model.loss(xs, ts, mask)
            if rep == 0:
                kinds = count_ops(loss)
            model.zero_grad()
            loss.backward()
            optim.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            if rep:
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        T = 2 * args.length + 1
        n = sum(kinds.values())
        print(f"batch {B:3d} length {args.length}: median {statistics.median(times):.3f} s/step "
              f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeats} steps), CPU median "
              f"{statistics.median(cpu):.3f} s; "
              f"{n} recorded ops, {n / T:.1f} per time step")
    print("ops by type:", dict(kinds.most_common()))


if __name__ == "__main__":
    main()
