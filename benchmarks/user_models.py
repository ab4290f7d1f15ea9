"""Models a user writes themselves, forward-only, timed against PyTorch eager (the same code
with torch ops) and against NumPy by hand (forward and backward written out) where that
exists: one training step each, the same weights and data, side by side in one run.

    python benchmarks/user_models.py [--cases chain,mlp,gru,transformer,ntm] [--rounds 7]
                                     [--reps 5] [--threads N] [--settle 0.2]

Cases (float32):
  chain        1 000 small ops on 64 floats: 250 x (tanh, * a, + b, * 0.9), then sum; fwd+bwd
  mlp          3-layer MLP 784-256-256-10 (relu), batch 64, softmax cross-entropy, SGD step
  gru          a GRU cell written with ops, looped over 29 steps (N 128, D 16, H 256), fwd+bwd
  transformer  2 pre-norm encoder layers (d 128, 4 heads, FF 512, T 29, N 64), fwd+bwd
  ntm          NTM-like addressing loop, 20 steps (memory 128 x 20, batch 8; cosine
               similarity, softplus, softmax, weighted read, a tanh controller), fwd+bwd

Blocked rounds: in each round every path runs `--reps` steps in a row (after `--settle`
untimed seconds: idle BLAS / OpenMP threads of the previous path spin for a while); a
round's time is the median of its steps. Printed: each path's per-round times, the median
over rounds, and the ratios ours / PyTorch and ours / NumPy per round and their median.
Before timing, each case checks that the paths compute the same loss and gradients.

Threads: ours runs on tinygrad_attn.threads as the CLI configures it (BLAS one meanwhile);
NumPy by hand runs NumPy as it comes (BLAS's own threads); PyTorch gets as many threads as
ours, its OpenMP threads sleeping when idle (OMP_WAIT_POLICY=PASSIVE, set before import).
PyTorch is optional: without it that column is skipped with a message.
Machines are noisy: compare the ratios of one run, not absolute times across runs.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import add_clock_option, blas_info, clock_of, import_torch  # noqa: E402

import tinygrad_attn.functions as F  # noqa: E402
from tinygrad_attn import Variable, memory, optim, threads  # noqa: E402

DT = np.float32


def params(rng, shapes, scale=None):
    """Float32 arrays of the given shapes, drawn once: every path starts from copies."""
    out = {}
    for name, shape in shapes.items():
        if name.startswith("b") or name.startswith("beta"):
            out[name] = np.zeros(shape, DT)
        elif name.startswith("gamma"):
            out[name] = np.ones(shape, DT)
        else:
            fan_in = shape[0] if len(shape) > 1 else 1
            s = scale if scale is not None else 1 / np.sqrt(fan_in)
            out[name] = (rng.standard_normal(shape) * s).astype(DT)
    return out


class Case:
    """One workload: `steps` maps a path name to a zero-argument callable doing one training
    step (forward, backward, and the update where the case has one), `check` to a callable
    returning (loss, {parameter: gradient}) as arrays, from the same starting weights."""

    def __init__(self, name, what):
        self.name, self.what = name, what
        self.steps, self.check = {}, {}


# --- chain: per-op overhead ---------------------------------------------------------------
def chain(torch, n_cycles=250, width=64):
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(width).astype(DT)
    a0 = (1 + 0.1 * rng.standard_normal(width)).astype(DT)
    b0 = (0.1 * rng.standard_normal(width)).astype(DT)
    case = Case("chain", f"{4 * n_cycles} ops (tanh, * a, + b, * 0.9) on {width} floats, "
                "then sum; forward + backward")

    x, a, b = Variable(x0.copy()), Variable(a0.copy()), Variable(b0.copy())

    def ours():
        x.grad = a.grad = b.grad = None
        h = x
        for _ in range(n_cycles):
            h = F.tanh(h) * a + b
            h = h * 0.9
        loss = h.sum()
        loss.backward()
        return loss.item(), {"x": x.grad.data, "a": a.grad.data, "b": b.grad.data}

    case.steps["ours"] = ours
    case.check["ours"] = ours

    def by_hand():
        hs = []                       # the tanh outputs and the values multiplied by a
        h = x0
        for _ in range(n_cycles):
            y = np.tanh(h)
            hs.append(y)
            h = y * a0
            h = h + b0
            h = h * DT(0.9)
        loss = h.sum()
        g = np.ones_like(h)
        ga, gb = np.zeros_like(a0), np.zeros_like(b0)
        for y in reversed(hs):
            g = g * DT(0.9)
            gb += g
            ga += g * y
            g = g * a0
            g = g * (1 - y * y)
        return float(loss), {"x": g, "a": ga, "b": gb}

    case.steps["numpy"] = by_hand
    case.check["numpy"] = by_hand

    if torch is not None:
        tx, ta, tb = (torch.tensor(v, requires_grad=True) for v in (x0, a0, b0))

        def eager():
            tx.grad = ta.grad = tb.grad = None
            h = tx
            for _ in range(n_cycles):
                h = torch.tanh(h) * ta + tb
                h = h * 0.9
            loss = h.sum()
            loss.backward()
            return loss.item(), {"x": tx.grad.numpy(), "a": ta.grad.numpy(),
                                 "b": tb.grad.numpy()}

        case.steps["torch"] = eager
        case.check["torch"] = eager
    return case


# --- MLP ------------------------------------------------------------------------------------
def mlp(torch, N=64, sizes=(784, 256, 256, 10), lr=0.01):
    rng = np.random.default_rng(1)
    shapes = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"W{i}"], shapes[f"b{i}"] = (m, n), (n,)
    p0 = params(rng, shapes)
    x = rng.standard_normal((N, sizes[0])).astype(DT)
    t = rng.integers(0, sizes[-1], N)
    L = len(sizes) - 1
    case = Case("mlp", f"MLP {'-'.join(map(str, sizes))} (relu), batch {N}, softmax "
                "cross-entropy, SGD step")

    def ours_build():
        ps = {k: Variable(v.copy()) for k, v in p0.items()}
        opt = optim.SGD(list(ps.values()), lr=lr)

        def forward():
            h = x
            for i in range(L):
                h = h @ ps[f"W{i}"] + ps[f"b{i}"]
                if i < L - 1:
                    h = F.relu(h)
            return F.softmax_cross_entropy(h, t)

        def step():
            opt.zero_grad()
            loss = forward()
            loss.backward()
            opt.step()

        def check():
            loss = forward()
            loss.backward()
            out = loss.item(), {k: p.grad.data.copy() for k, p in ps.items()}
            for p in ps.values():
                p.grad = None
            return out
        return step, check

    case.steps["ours"], case.check["ours"] = ours_build()

    def hand_build():
        ps = {k: v.copy() for k, v in p0.items()}
        rows = np.arange(N)

        def fwd_bwd():
            hs = [x]
            for i in range(L):
                z = hs[-1] @ ps[f"W{i}"] + ps[f"b{i}"]
                hs.append(np.maximum(z, 0) if i < L - 1 else z)
            z = hs[-1]
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            s = e.sum(axis=1, keepdims=True)
            loss = -(z[rows, t] - np.log(s[:, 0])).mean()
            g = e / s
            g[rows, t] -= 1
            g /= N
            grads = {}
            for i in reversed(range(L)):
                grads[f"W{i}"] = hs[i].T @ g
                grads[f"b{i}"] = g.sum(axis=0)
                if i:
                    g = (g @ ps[f"W{i}"].T) * (hs[i] > 0)
            return float(loss), grads

        def step():
            _, grads = fwd_bwd()
            for k, gk in grads.items():
                ps[k] -= lr * gk
        return step, fwd_bwd

    case.steps["numpy"], case.check["numpy"] = hand_build()

    if torch is not None:
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
        tx, tt = torch.from_numpy(x), torch.from_numpy(t)
        opt = torch.optim.SGD(list(tp.values()), lr=lr)

        def forward():
            h = tx
            for i in range(L):
                h = h @ tp[f"W{i}"] + tp[f"b{i}"]
                if i < L - 1:
                    h = torch.relu(h)
            return torch.nn.functional.cross_entropy(h, tt)

        def step():
            opt.zero_grad(set_to_none=True)
            forward().backward()
            opt.step()

        def check():
            loss = forward()
            loss.backward()
            out = loss.item(), {k: p.grad.numpy().copy() for k, p in tp.items()}
            for p in tp.values():
                p.grad = None
            return out
        case.steps["torch"], case.check["torch"] = step, check
    return case


# --- the ops the three looped cases use, in each library --------------------------------------
class OurOps:
    sigmoid, tanh, relu, softplus = (staticmethod(F.sigmoid), staticmethod(F.tanh),
                                     staticmethod(F.relu), staticmethod(F.softplus))
    stack = staticmethod(F.stack)
    transpose, reshape = staticmethod(F.transpose), staticmethod(F.reshape)
    softmax = staticmethod(F.softmax)
    sum = staticmethod(F.sum)
    layer_norm = staticmethod(lambda v, g, b: F.layer_norm(v, g, b))
    cosine = staticmethod(lambda a, b: F.cosine_similarity(a, b, -1))


def torch_ops(torch):
    nnf = torch.nn.functional

    class TorchOps:
        sigmoid, tanh, relu = (staticmethod(torch.sigmoid), staticmethod(torch.tanh),
                               staticmethod(torch.relu))
        softplus = staticmethod(nnf.softplus)
        stack = staticmethod(torch.stack)
        transpose = staticmethod(lambda v, axes: v.permute(*axes))
        reshape = staticmethod(lambda v, shape: v.reshape(shape))
        softmax = staticmethod(torch.softmax)
        sum = staticmethod(lambda v, axis: v.sum(axis))
        layer_norm = staticmethod(lambda v, g, b: nnf.layer_norm(v, (v.shape[-1],), g, b))
        cosine = staticmethod(lambda a, b: nnf.cosine_similarity(a, b, -1, 1e-8))
    return TorchOps


def taped(case, torch, p0, data, loss_fn):
    """Steps (one forward + backward, no update) and checks of ours and PyTorch for a case
    written once as `loss_fn(ops, *data, params)`."""
    ps = {k: Variable(v.copy()) for k, v in p0.items()}

    def ours():
        for p in ps.values():
            p.grad = None
        loss = loss_fn(OurOps, *data, ps)
        loss.backward()
        return loss.item(), {k: p.grad.data for k, p in ps.items()}
    case.steps["ours"] = case.check["ours"] = ours
    if torch is not None:
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
        tdata = [torch.from_numpy(d) for d in data]
        ops = torch_ops(torch)

        def eager():
            for p in tp.values():
                p.grad = None
            loss = loss_fn(ops, *tdata, tp)
            loss.backward()
            return loss.item(), {k: p.grad.numpy() for k, p in tp.items()}
        case.steps["torch"] = case.check["torch"] = eager
    return case


# --- GRU --------------------------------------------------------------------------------------
def gru_loss(ops, xs, ys, p, T, H):
    """A GRU cell written by hand (Cho et al. 2014; r applied after the product, as in
    PyTorch), looped over T steps from h = 0; loss = mean squared error of the stacked hidden
    states."""
    h = None
    hs = []
    for t in range(T):
        xw = xs[:, t] @ p["Wx"] + p["b"]              # (N, 3H): z, r, n
        if h is None:
            z = ops.sigmoid(xw[:, :H])
            h = (1 - z) * ops.tanh(xw[:, 2 * H:])
        else:
            hw = h @ p["Wh"]
            z = ops.sigmoid(xw[:, :H] + hw[:, :H])
            r = ops.sigmoid(xw[:, H:2 * H] + hw[:, H:2 * H])
            n = ops.tanh(xw[:, 2 * H:] + r * hw[:, 2 * H:])
            h = (1 - z) * n + z * h
        hs.append(h)
    d = ops.stack(hs, 1) - ys
    return (d * d).mean()


def gru(torch, N=128, T=29, D=16, H=256):
    rng = np.random.default_rng(2)
    p0 = params(rng, {"Wx": (D, 3 * H), "Wh": (H, 3 * H), "b": (3 * H,)})
    xs = rng.standard_normal((N, T, D)).astype(DT)
    ys = (0.5 * rng.standard_normal((N, T, H))).astype(DT)
    case = Case("gru", f"GRU cell by hand, {T} steps, N {N}, D {D}, H {H}; forward + backward")
    return taped(case, torch, p0, (xs, ys), lambda ops, xs, ys, p: gru_loss(ops, xs, ys, p, T, H))


# --- Transformer ----------------------------------------------------------------------------
def transformer_loss(ops, x, y, p, layers, heads):
    """Pre-norm encoder layers (x + attention(LN(x)), then x + FF(LN(x))) written with ops;
    loss = mean squared error of the output."""
    N, T, d = x.shape
    dk = d // heads

    def split_heads(v):                                   # (N, T, d) -> (N, h, T, dk)
        return ops.transpose(ops.reshape(v, (N, T, heads, dk)), (0, 2, 1, 3))

    for i in range(layers):
        h = ops.layer_norm(x, p[f"gamma1_{i}"], p[f"beta1_{i}"])
        q = split_heads(h @ p[f"Wq{i}"] + p[f"bq{i}"])
        k = split_heads(h @ p[f"Wk{i}"] + p[f"bk{i}"])
        v = split_heads(h @ p[f"Wv{i}"] + p[f"bv{i}"])
        a = ops.softmax((q @ ops.transpose(k, (0, 1, 3, 2))) * (1.0 / np.sqrt(dk)), -1)
        o = ops.reshape(ops.transpose(a @ v, (0, 2, 1, 3)), (N, T, d))
        x = x + (o @ p[f"Wo{i}"] + p[f"bo{i}"])
        h = ops.layer_norm(x, p[f"gamma2_{i}"], p[f"beta2_{i}"])
        x = x + (ops.relu(h @ p[f"W1{i}"] + p[f"b1{i}"]) @ p[f"W2{i}"] + p[f"b2{i}"])
    d_ = x - y
    return (d_ * d_).mean()


def transformer(torch, N=64, T=29, d=128, heads=4, ff=512, layers=2):
    rng = np.random.default_rng(3)
    shapes = {}
    for i in range(layers):
        for n in "qkvo":
            shapes[f"W{n}{i}"], shapes[f"b{n}{i}"] = (d, d), (d,)
        shapes[f"W1{i}"], shapes[f"b1{i}"] = (d, ff), (ff,)
        shapes[f"W2{i}"], shapes[f"b2{i}"] = (ff, d), (d,)
        for j in (1, 2):
            shapes[f"gamma{j}_{i}"], shapes[f"beta{j}_{i}"] = (d,), (d,)
    p0 = params(rng, shapes)
    x = rng.standard_normal((N, T, d)).astype(DT)
    y = rng.standard_normal((N, T, d)).astype(DT)
    case = Case("transformer", f"{layers} pre-norm encoder layers, d {d}, {heads} heads, FF "
                f"{ff}, T {T}, N {N}; forward + backward")
    return taped(case, torch, p0, (x, y),
                 lambda ops, x, y, p: transformer_loss(ops, x, y, p, layers, heads))


# --- NTM-like addressing loop -----------------------------------------------------------------
def ntm_loss(ops, xs, memory, p, steps):
    """A tanh controller that reads memory by content each step (NTM content addressing:
    cosine similarity sharpened by a softplus strength, softmax, weighted read)."""
    B = memory.shape[0]
    h = None
    reads = []
    for t in range(steps):
        u = xs[:, t] @ p["Wx"] + p["b"]
        h = ops.tanh(u if h is None else u + h @ p["Wh"])
        key = ops.tanh(h @ p["Wk"])                             # (B, M)
        beta = ops.softplus(h @ p["Wb"])                        # (B, 1)
        sim = ops.cosine(memory, ops.reshape(key, (B, 1, -1)))  # (B, slots)
        w = ops.softmax(beta * sim, -1)
        r = ops.sum(ops.reshape(w, (B, -1, 1)) * memory, 1)     # (B, M)
        reads.append(r)
        h = h + r @ p["Wr"]
    d = ops.stack(reads, 1)
    return (d * d).mean() + (h * h).mean()


def ntm(torch, B=8, slots=128, M=20, H=100, D=8, steps=20):
    rng = np.random.default_rng(4)
    p0 = params(rng, {"Wx": (D, H), "Wh": (H, H), "b": (H,), "Wk": (H, M), "Wb": (H, 1),
                      "Wr": (M, H)})
    xs = rng.standard_normal((B, steps, D)).astype(DT)
    mem = (0.5 * rng.standard_normal((B, slots, M))).astype(DT)
    case = Case("ntm", f"NTM-like addressing, {steps} steps, memory {slots} x {M}, batch {B}, "
                f"controller {H}; forward + backward")
    return taped(case, torch, p0, (xs, mem),
                 lambda ops, xs, mem, p: ntm_loss(ops, xs, mem, p, steps))


CASES = {"chain": chain, "mlp": mlp, "gru": gru, "transformer": transformer, "ntm": ntm}
CASES = {"chain": chain, "mlp": mlp, "gru": gru, "transformer": transformer, "ntm": ntm}
PATHS = ("ours", "torch", "numpy")


def agree(case):
    """Every path's loss and gradients against ours (the same function, same weights):
    the largest difference relative to the largest gradient entry of all parameters (one
    scale for all: some gradients are zero in exact arithmetic, e.g. the attention keys'
    bias)."""
    ref_loss, ref = case.check["ours"]()
    ref = {k: np.array(v) for k, v in ref.items()}
    scale = max(float(np.max(np.abs(g))) for g in ref.values()) or 1.0
    notes = []
    for path in PATHS[1:]:
        if path not in case.check:
            continue
        loss, grads = case.check[path]()
        err = max(float(np.max(np.abs(grads[k] - g))) for k, g in ref.items()) / scale
        if not (np.isclose(loss, ref_loss, rtol=1e-4, atol=1e-6) and err < 1e-3):
            raise SystemExit(f"{case.name}: {path} computes something else (loss {loss} vs "
                             f"{ref_loss}, gradients differ by {err:.1e} relative)")
        notes.append(f"{path} {err:.0e}")
    return f"loss {ref_loss:.5g}; gradients agree ({', '.join(notes)} relative)"


def count_ops(case):
    """Functions on our tape for one step (the graph walked from the loss, before backward)."""
    import tinygrad_attn.autodiff as autodiff
    seen = []
    original = autodiff.backward

    def counting(y, *args, **kwargs):
        found, stack = set(), [y.creator]
        while stack:
            f = stack.pop()
            if f is not None and id(f) not in found:
                found.add(id(f))
                stack.extend(x.creator for x in f.inputs)
        seen.append(len(found))
        return original(y, *args, **kwargs)
    Variable.backward = counting
    try:
        case.check["ours"]()
    finally:
        Variable.backward = original
    return seen[0]


def measure(case, rounds, reps, enters, settle, clock=time.perf_counter):
    """{path: [median seconds per step of each round]}: blocked rounds, paths in turn."""
    paths = [p for p in PATHS if p in case.steps]
    for p in paths:                 # warm up: first touch of every buffer, caches
        enters[p]()
        for _ in range(2):
            case.steps[p]()
    times = {p: [] for p in paths}
    for _ in range(rounds):
        for p in paths:
            enters[p]()
            time.sleep(settle)
            ts = []
            for _ in range(reps):
                t0 = clock()
                case.steps[p]()
                ts.append(clock() - t0)
            times[p].append(statistics.median(ts))
    return times


def fmt(seconds):
    return f"{seconds * 1e3:.3f} ms" if seconds < 0.1 else f"{seconds * 1e3:.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=7, help="blocked rounds (default 7)")
    parser.add_argument("--reps", type=int, default=5, help="steps per path and round")
    parser.add_argument("--threads", type=int, default=None,
                        help="our threads (default as the CLI: TGA_NUM_THREADS, else "
                        "OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else every CPU)")
    parser.add_argument("--settle", type=float, default=0.2,
                        help="untimed seconds before each path's block (default 0.2)")
    add_clock_option(parser)
    args = parser.parse_args()
    clock = clock_of(args)
    torch = import_torch()
    memory.configure_from_environment()   # as the CLI and the Trainer do
    k = threads.configure_from_environment() if args.threads is None else args.threads
    threads.set_num_threads(1)
    enters = {"ours": lambda: threads.set_num_threads(k),
              "numpy": lambda: threads.set_num_threads(1),
              "torch": lambda: threads.set_num_threads(1)}
    print("BLAS (NumPy): " + blas_info())
    print(f"ours: {k} thread(s) of tinygrad_attn.threads (BLAS 1 meanwhile); NumPy by hand: "
          "BLAS as it comes")
    if torch is None:
        print("PyTorch is not installed: its column is skipped (pip install torch; it is "
              "never a dependency of tinygrad_attn)")
    else:
        torch.set_num_threads(k)
        print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} thread(s), "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"NumPy {np.__version__}; {args.rounds} blocked rounds of {args.reps} steps per path, "
          f"{args.settle} s untimed before each block; {args.clock} clock; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    summary = []
    for name in args.cases.split(","):
        case = CASES[name](torch)
        print(f"\n{name}: {case.what}\n  {agree(case)}; ours records {count_ops(case)} ops")
        times = measure(case, args.rounds, args.reps, enters, args.settle, clock)
        for p, ts in times.items():
            print(f"  {p:<6} median {fmt(statistics.median(ts)):>10}   rounds: "
                  + " ".join(f"{t * 1e3:.3f}" for t in ts) + " ms")
        row = [name, statistics.median(times["ours"])]
        for ref in ("torch", "numpy"):
            if ref in times:
                rs = [o / r for o, r in zip(times["ours"], times[ref])]
                med = statistics.median(rs)
                print(f"  ours / {ref:<6} {med:.2f}x   rounds: "
                      + " ".join(f"{r:.2f}" for r in rs))
                row.append(med)
            else:
                row.append(None)
        if name == "chain":
            ops = int(case.what.split()[0])
            print("  per op (forward + backward): " + ", ".join(
                f"{p} {statistics.median(ts) / ops * 1e6:.2f} us" for p, ts in times.items()))
        summary.append(row)
    print(f"\nsummary (load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'case':<12} {'ours':>10} {'ours/torch':>11} {'ours/numpy':>11}")
    for name, t, rt, rn in summary:
        print(f"{name:<12} {fmt(t):>10} " + " ".join(
            f"{'-' if r is None else f'{r:.2f}x':>11}" for r in (rt, rn)))


if __name__ == "__main__":
    main()
