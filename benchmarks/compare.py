"""The training step of benchmarks/train_step.py in three implementations, side by side in one
run: ours (autograd), the book's hand-written NumPy code, and PyTorch (its fused `nn.LSTM`),
all with the same weights (the book's) and the same batch.

    python benchmarks/compare.py [--models attention,peeky,seq2seq] [--steps 15] [--runs 3]

PyTorch is optional and never a dependency of the project: without it the script says so
and stops. Thread pools: PyTorch gets as many threads as NumPy's BLAS has, and its OpenMP
threads sleep when idle (OMP_WAIT_POLICY=PASSIVE, set before torch is imported) so they
do not spin on the cores NumPy is using between PyTorch's steps.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import add_clock_option, clock_of, import_torch  # noqa: E402
from train_step import (SIZES, add_threads_option, blas_info, book_step, build,  # noqa: E402
                        make_batch, our_step, our_threads)

from tinygrad_attn import optim  # noqa: E402
from tinygrad_attn.book.optim import Adam as BookAdam  # noqa: E402


def torch_model(torch, kind, params):
    """The book's model in PyTorch, loaded with the book's arrays (book parameter order)."""
    nn = torch.nn
    V, D, H = SIZES["V"], SIZES["D"], SIZES["H"]
    ew, ewx, ewh, eb, dw, dwx, dwh, db, aw, ab = params

    def lstm(Wx, Wh, b):
        # book gate blocks f, g, i, o (columns); PyTorch's i, f, g, o (rows)
        order = np.concatenate([np.arange(2 * H, 3 * H), np.arange(0, H),
                                np.arange(H, 2 * H), np.arange(3 * H, 4 * H)])
        m = nn.LSTM(Wx.shape[0], H, batch_first=True)
        with torch.no_grad():
            m.weight_ih_l0.copy_(torch.from_numpy(Wx[:, order].T.copy()))
            m.weight_hh_l0.copy_(torch.from_numpy(Wh[:, order].T.copy()))
            m.bias_ih_l0.copy_(torch.from_numpy(b[order].copy()))
            m.bias_hh_l0.zero_()
        return m

    class Seq2seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc_embed = nn.Embedding.from_pretrained(torch.from_numpy(ew), freeze=False)
            self.enc_lstm = lstm(ewx, ewh, eb)
            self.dec_embed = nn.Embedding.from_pretrained(torch.from_numpy(dw), freeze=False)
            self.dec_lstm = lstm(dwx, dwh, db)
            self.affine = nn.Linear(aw.shape[0], V)
            with torch.no_grad():
                self.affine.weight.copy_(torch.from_numpy(aw.T.copy()))
                self.affine.bias.copy_(torch.from_numpy(ab))

        def forward(self, xs, ts):
            hs_enc, (h, _) = self.enc_lstm(self.enc_embed(xs))
            ts_in, ts_out = ts[:, :-1], ts[:, 1:]
            e = self.dec_embed(ts_in)
            N, T = ts_in.shape
            h_rep = h[0][:, None].expand(N, T, H)
            if kind == "peeky":
                e = torch.cat([h_rep, e], dim=-1)
            hs, _ = self.dec_lstm(e, (h, torch.zeros_like(h)))
            if kind == "attention":
                a = torch.softmax(hs @ hs_enc.transpose(1, 2), dim=-1)
                hs = torch.cat([a @ hs_enc, hs], dim=-1)
            elif kind == "peeky":
                hs = torch.cat([h_rep, hs], dim=-1)
            scores = self.affine(hs)
            return nn.functional.cross_entropy(scores.reshape(-1, V), ts_out.reshape(-1))

    return Seq2seq()


def torch_step(torch, model):
    opt = torch.optim.Adam(model.parameters(), lr=0.001)

    def step(xs, ts):
        opt.zero_grad(set_to_none=True)
        loss = model(xs, ts)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss
    return step


def median_times(steps, batches, n, enters, settle, clock=time.perf_counter):
    """Alternated; before each step (untimed) ``enters[i]()`` and `settle` seconds (see
    train_step.median_times: idle BLAS threads spin after the book's products)."""
    for enter, step, batch in zip(enters, steps, batches):
        enter()
        step(*batch)
    times = [[] for _ in steps]
    for _ in range(n):
        for enter, step, batch, ts in zip(enters, steps, batches, times):
            enter()
            time.sleep(settle)
            t0 = clock()
            step(*batch)
            ts.append(clock() - t0)
    return [statistics.median(ts) for ts in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="attention,peeky,seq2seq")
    parser.add_argument("--steps", type=int, default=15, help="timed steps per path and run")
    parser.add_argument("--runs", type=int, default=3)
    add_threads_option(parser)
    parser.add_argument("--settle", type=float, default=0.2,
                        help="untimed seconds before each step (default 0.2)")
    add_clock_option(parser)
    args = parser.parse_args()
    clock = clock_of(args)
    torch = import_torch()
    if torch is None:
        print("PyTorch is not installed: nothing to compare with (pip install torch; it is "
              "never a dependency of tinygrad_attn).")
        return
    from tinygrad_attn import memory, threads
    memory.configure_from_environment()
    k = our_threads(args)
    torch.set_num_threads(threads.blas_threads() or k)   # as many as NumPy's BLAS
    enters = [lambda: threads.set_num_threads(k), lambda: threads.set_num_threads(1),
              lambda: threads.set_num_threads(1)]
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in SIZES.items()) + ", float32")
    print("BLAS (NumPy): " + blas_info())
    print(f"ours: {k} threads of tinygrad_attn.threads (BLAS 1 meanwhile); the book: NumPy's "
          f"BLAS as it comes; {args.settle} s untimed before each step")
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; {args.clock} clock; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    xs, ts = make_batch()
    txs, tts = torch.from_numpy(xs), torch.from_numpy(ts)
    print(f"{'model':<10} {'run':>3} {'ours':>9} {'book':>9} {'torch':>9}   "
          f"ours/book  torch/book  ours/torch")
    for name in args.models.split(","):
        ours, book = build(name)
        tm = torch_model(torch, name, [p.copy() for p in book.params])
        loss = (ours.loss(xs, ts).item(), float(book.forward(xs, ts)),
                float(tm(txs, tts).detach()))
        assert np.allclose(loss, loss[0], rtol=1e-4), f"{name}: initial losses differ {loss}"
        steps = [our_step(ours, optim.Adam(ours.parameters())), book_step(book, BookAdam()),
                 torch_step(torch, tm)]
        r_ours, r_torch, r_vs = [], [], []
        for run in range(args.runs):
            t_o, t_b, t_t = median_times(steps, [(xs, ts), (xs, ts), (txs, tts)], args.steps,
                                         enters, args.settle, clock)
            r_ours.append(t_o / t_b)
            r_torch.append(t_t / t_b)
            r_vs.append(t_o / t_t)
            print(f"{name:<10} {run + 1:>3} {t_o * 1e3:>7.1f}ms {t_b * 1e3:>7.1f}ms "
                  f"{t_t * 1e3:>7.1f}ms   {t_o / t_b:>8.2f}x  {t_t / t_b:>9.2f}x  "
                  f"{t_o / t_t:>9.2f}x")
        print(f"{name:<10} median ratios: ours {statistics.median(r_ours):.2f}x, torch "
              f"{statistics.median(r_torch):.2f}x of the book's step, ours / torch "
              f"{statistics.median(r_vs):.2f}x (initial loss "
              f"{loss[0]:.4f} in all three; load average {os.getloadavg()[0]:.1f})",
              flush=True)


if __name__ == "__main__":
    main()
