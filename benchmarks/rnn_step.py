"""One training step (forward, backward, clip, Adam) of the further RNN structures beside the
book's attention model, at the book's date-task sizes, interleaved (round robin) so that a
noisy machine treats them alike.

    OMP_NUM_THREADS=1 python benchmarks/rnn_step.py [--steps 5] [--hidden 256]

Prints each model's median CPU seconds per step and its ratio to `attention`. The question
it answers first: what input feeding costs, since it turns the decoder's training into a
per-step loop (attention-feed) where `attention` attends to all steps in one product.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_attn_models as models
from tinygrad_attn import optim

MODELS = {"attention": models.AttentionSeq2seq, "attention-feed": models.AttentionFeedSeq2seq,
          "bilstm": models.BiLSTMSeq2seq, "deep": models.DeepSeq2seq,
          "gnmt": models.GNMTSeq2seq}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args()
    N, D, H, Te, Td, V = 128, 16, args.hidden, 29, 10, 59
    rng = np.random.default_rng(0)
    xs, ts = rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1))
    nets = {k: M(V, D, H, seed=0) for k, M in MODELS.items()}
    opts = {k: optim.Adam(m.parameters()) for k, m in nets.items()}
    times = {k: [] for k in nets}
    for r in range(args.steps + 1):                 # the first round warms up, not counted
        for k, m in nets.items():
            t0 = time.process_time()
            m.zero_grad()
            m.loss(xs, ts).backward()
            optim.clip_grad_norm_(m.parameters(), 5.0)
            opts[k].step()
            if r:
                times[k].append(time.process_time() - t0)
    base = statistics.median(times["attention"])
    print(f"N={N} D={D} H={H} Te={Te} Td={Td} V={V}, median of {args.steps} steps (CPU s)")
    print("| model | CPU s / step | vs attention |")
    print("|---|---:|---:|")
    for k, t in times.items():
        med = statistics.median(t)
        print(f"| {k} | {med:.3f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
