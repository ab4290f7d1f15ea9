"""`tinygrad-attn copy train|eval`: the NTM copy task (data: tinygrad_attn/data/copy_task.py).

    tinygrad-attn copy train --out ntm.npz      # the NTM: RMSprop at batch 16, 4000 steps
    tinygrad-attn copy eval --checkpoint ntm.npz --lengths 1-20,30,50,80

Models are found through the ``tinygrad_attn.copy_models`` entry points (ntm, lstm), so the
framework never imports the repository's models package. The loop is a small one of its
own (by default the NTM paper's optimiser: RMSprop with momentum, each gradient entry
clipped to [-10, 10], here at batch 16; or the book's Adam and global-norm clipping; one
random length in 1..20 per batch, optionally a curriculum over the longest length): the
task has float inputs, a masked bit-wise loss and "bits wrong per sequence" as its measure,
which a token-level seq2seq Trainer does not know.
Checkpoints hold the weights, the model's kind and config, and the learning curve: `out`
every `save_every` steps, and beside it `<out>.best.npz`, the weights at the logged point
with the fewest bits wrong so far, the lower loss between equals (a run that later diverges
keeps its best state).
"""
from __future__ import annotations

import functools
import sys
import time

import numpy as np

from .files import write_json

__all__ = ["train", "evaluate", "load_model", "parse_lengths", "best_path", "add_parser",
           "OPTIMIZERS", "CLIP_MODES"]

OPTIMIZERS = ("adam", "rmsprop")
CLIP_MODES = ("norm", "value")


def best_path(out):
    """Where `train` keeps the best weights beside `out`: ntm.npz -> ntm.best.npz."""
    stem = out[:-4] if out.endswith(".npz") else out
    return stem + ".best.npz"


def _plugins():
    from importlib.metadata import entry_points
    return {ep.name: ep for ep in entry_points(group="tinygrad_attn.copy_models")}


def _model_class(name):
    """An entry-point name (ntm, lstm) or a "module:Class" path given by the user."""
    if ":" in name:
        import importlib
        module, cls = name.split(":", 1)
        return getattr(importlib.import_module(module), cls)
    plugins = _plugins()
    if name not in plugins:
        raise SystemExit(f"tinygrad-attn copy: unknown model {name!r}; known: "
                         f"{', '.join(sorted(plugins))}")
    return plugins[name].load()


def parse_lengths(text):
    """'1-20,30,50,80' -> [1, 2, ..., 20, 30, 50, 80]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(v) for v in part.split("-"))
            out.extend(range(lo, hi + 1))
        elif part:
            out.append(int(part))
    if not out or min(out) < 1:
        raise ValueError(f"copy: lengths must be positive integers, got {text!r}")
    return out


def _step(model, xs, targets, mask):
    import tinygrad_attn.functions as F
    logits, _ = model(xs)
    loss = F.binary_cross_entropy_with_logits(logits[:, mask], targets[:, mask])
    return loss, logits


def train(model_name="ntm", *, steps=4000, batch_size=16, lr=None, clip=10.0, seed=0,
          optimizer="rmsprop", momentum=0.9, alpha=0.95, clip_mode="value", min_length=1,
          max_length=20, curriculum=None, curriculum_threshold=1.0, out=None,
          save_every=100, time_limit=None, log_every=100, print_fn=None, **model_kwargs):
    """Train a copy model; returns (model, curve) with curve a list of dicts (step,
    seconds (wall), cpu_seconds (this process), loss, bits_wrong per sequence averaged over
    the last `log_every` batches, max_length drawn from).

    The defaults are the optimiser and clipping of Graves et al. (2014) as pytorch-ntm runs
    them, with which the NTM learns the task (docs/results.md): optimizer "rmsprop"
    (PyTorch's RMSprop, lr 1e-4, `alpha` 0.95, `momentum` 0.9) and clip_mode "value" (each
    gradient entry clipped to [-clip, clip], clip 10), at batch 16 where they use 1: in our
    runs (three seeds each) the NTM learned in fewer steps and minutes at 16 and copied
    longer sequences. optimizer "adam" is the book's Adam (lr 1e-3); clip_mode "norm"
    scales all gradients to a global norm of at most `clip`. lr None means the optimizer's
    default (1e-4 for rmsprop, 1e-3 for adam). A loss that is not finite
    stops the run with an error naming the step (the checkpoints keep what came before).

    curriculum: None draws every batch's length from min_length..max_length. A number
    starts the upper end there instead and raises it by one at each logged point whose mean
    bits wrong per sequence is below `curriculum_threshold`, until it reaches max_length
    (short sequences first: cheaper steps, and the heads can learn to move one row per step
    before long sequences make the gradients long)."""
    from tinygrad_attn import checkpoint, optim
    from tinygrad_attn.data.copy_task import bits_wrong, copy_batch

    if print_fn is None:        # flushed: a log redirected to a file shows each line now
        print_fn = functools.partial(print, flush=True)
    Model = _model_class(model_name)
    model = Model(seed=seed, **model_kwargs)
    for name, value, choices in (("optimizer", optimizer, OPTIMIZERS),
                                 ("clip_mode", clip_mode, CLIP_MODES)):
        if value not in choices:
            raise ValueError(f"copy train: {name} must be one of {choices}, got {value!r}")
    if lr is None:
        lr = 1e-3 if optimizer == "adam" else 1e-4
    if optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=lr)
    else:
        opt = optim.RMSprop(model.parameters(), lr=lr, alpha=alpha, momentum=momentum)
    clip_grads = optim.clip_grad_norm_ if clip_mode == "norm" else optim.clip_grad_value_
    best = None
    rng = np.random.default_rng(seed + 1)
    curve, losses, wrongs = [], [], []
    top = max_length if curriculum is None else max(min_length, min(int(curriculum),
                                                                      max_length))
    t0, c0 = time.perf_counter(), time.process_time()

    def save(step, path=out):
        if path:
            checkpoint.save(path, model.state_dict(), kind=model_name, config=model.config(),
                            step=step, curve=curve, batch_size=batch_size, lr=lr, clip=clip,
                            clip_mode=clip_mode, optimizer=optimizer, seed=seed)

    for step in range(1, steps + 1):
        L = int(rng.integers(min_length, top + 1))
        xs, ts, mask = copy_batch(rng, batch_size, L)
        loss, logits = _step(model, xs, ts, mask)
        value = loss.item()
        if not np.isfinite(value):
            raise FloatingPointError(f"copy train: the loss is {value} at step {step} "
                                     f"(length {L}); {out or 'no checkpoint'} holds an "
                                     "earlier state")
        model.zero_grad()
        loss.backward()
        clip_grads(model.parameters(), clip)
        opt.step()
        losses.append(value)
        wrongs.append(float(bits_wrong(logits.data, ts, mask).mean()))
        if step % log_every == 0 or step == steps:
            row = {"step": step, "seconds": round(time.perf_counter() - t0, 2),
                   "cpu_seconds": round(time.process_time() - c0, 2),
                   "loss": float(np.mean(losses)), "bits_wrong": float(np.mean(wrongs)),
                   "max_length": top}
            curve.append(row)
            losses, wrongs = [], []
            print_fn(f"step {step:6d}  {row['seconds']:8.1f} s  loss {row['loss']:.4f}  "
                     f"bits wrong/seq {row['bits_wrong']:.2f}  lengths 1-{top}")
            if top < max_length and row["bits_wrong"] < curriculum_threshold:
                top += 1
            elif top == max_length and (best is None or (row["bits_wrong"], row["loss"])
                                        < best):  # only over the full range of lengths;
                best = (row["bits_wrong"], row["loss"])   # at 0 bits wrong the loss decides
                if out:
                    save(step, best_path(out))
        if step % save_every == 0:
            save(step)
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            print_fn(f"time limit reached at step {step}")
            break
    save(step)
    return model, curve


def load_model(path):
    """(model, meta) from a checkpoint written by `train`."""
    from tinygrad_attn import checkpoint
    state, meta = checkpoint.load(path)
    model = _model_class(meta["kind"])(**meta["config"])
    model.load_state_dict(state)
    return model, meta


def evaluate(model, lengths, *, n=64, seed=1234, batch_size=32):
    """{length: mean bits wrong per sequence over `n` fresh sequences} (under no_grad)."""
    import tinygrad_attn as tga
    from tinygrad_attn.data.copy_task import bits_wrong, copy_batch
    rng = np.random.default_rng(seed)
    result = {}
    with tga.no_grad():
        for L in lengths:
            wrong = []
            for start in range(0, n, batch_size):
                xs, ts, mask = copy_batch(rng, min(batch_size, n - start), L)
                logits, _ = model(xs)
                wrong.append(bits_wrong(logits.data, ts, mask))
            result[L] = float(np.concatenate(wrong).mean())
    return result


def cmd_train(args):
    if _model_class(args.model).kind == "ntm":
        kwargs = dict(controller_size=args.hidden_size, memory_size=args.memory_size,
                      memory_width=args.memory_width, memory_init=args.memory_init,
                      weights_init=args.weights_init, controller=args.controller)
    else:
        kwargs = dict(hidden_size=args.hidden_size)
    train(args.model, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
          optimizer=args.optimizer, momentum=args.momentum, alpha=args.alpha,
          clip=args.clip, clip_mode=args.clip_mode, seed=args.seed, out=args.out,
          time_limit=args.time_limit,
          curriculum=args.curriculum, curriculum_threshold=args.curriculum_threshold,
          log_every=args.log_every, **kwargs)
    print(f"wrote {args.out} (and the best weights: {best_path(args.out)})")
    return 0


def cmd_eval(args):
    model, meta = load_model(args.checkpoint)
    lengths = parse_lengths(args.lengths)
    result = evaluate(model, lengths, n=args.n, seed=args.seed)
    print(f"{meta['kind']} after {meta['step']} steps: mean bits wrong per sequence "
          f"({args.n} sequences per length)")
    for L, v in result.items():
        print(f"  length {L:3d}: {v:7.2f} of {8 * L} bits")
    if args.json:
        write_json(args.json, {"kind": meta["kind"], "step": meta["step"], "n": args.n,
                                "bits_wrong": {str(k): v for k, v in result.items()}})
    return 0


def add_parser(sub):
    """Add the `copy` sub-command to the CLI's sub-parsers."""
    p = sub.add_parser("copy", help="the NTM copy task: train or evaluate ntm / lstm")
    csub = p.add_subparsers(dest="copy_command", required=True)
    t = csub.add_parser("train", help="train on random 8-bit sequences of lengths 1-20")
    t.add_argument("--model", default="ntm", help="ntm (default), lstm (the baseline), or a "
                   "module:Class path")
    t.add_argument("--steps", type=int, default=4000, help="batches (default 4000)")
    t.add_argument("--batch-size", type=int, default=16,
                   help="sequences per batch (default 16; the paper's recipe uses 1)")
    t.add_argument("--optimizer", default="rmsprop", choices=OPTIMIZERS,
                   help="rmsprop (default: PyTorch's RMSprop with --alpha and --momentum, "
                   "the NTM paper's optimiser) or adam (the book's Adam)")
    t.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 1e-4 for rmsprop, 1e-3 for adam)")
    t.add_argument("--momentum", type=float, default=0.9, help="rmsprop momentum (0.9)")
    t.add_argument("--alpha", type=float, default=0.95,
                   help="rmsprop smoothing of the squared gradients (0.95)")
    t.add_argument("--clip", type=float, default=10.0, help="gradient clip (10)")
    t.add_argument("--clip-mode", default="value", choices=CLIP_MODES,
                   help="value (default, as pytorch-ntm): clip each gradient entry to "
                   "[-clip, clip]; norm: scale all gradients to a global norm <= --clip")
    t.add_argument("--hidden-size", type=int, default=100,
                   help="controller (ntm) or LSTM (lstm) size (default 100)")
    t.add_argument("--memory-size", type=int, default=128, help="NTM memory rows R (128)")
    t.add_argument("--memory-width", type=int, default=20, help="NTM row width M (20)")
    t.add_argument("--memory-init", default="constant", choices=["constant", "learned"],
                   help="NTM initial memory: every cell 1e-6, not learned (default; Collier "
                   "& Beel 2018 found it converges about twice as fast), or a learned "
                   "uniform +-1/sqrt(R + M) matrix")
    t.add_argument("--weights-init", default="onehot", choices=["onehot", "learned"],
                   help="NTM heads' initial weightings: all on row 0, fixed (default; as in "
                   "ntm-lasagne), or softmax of a learned bias (Collier & Beel 2018)")
    t.add_argument("--controller", default="lstm", choices=["lstm", "feedforward"],
                   help="NTM controller: an LSTM (default) or feed-forward, one Linear and "
                   "a tanh over [x_t, r_{t-1}] (nothing kept between steps but the memory)")
    t.add_argument("--curriculum", type=int, default=None, metavar="START",
                   help="draw lengths from 1..START at first and raise START by one at each "
                   "logged point whose mean bits wrong per sequence is below "
                   "--curriculum-threshold, up to 20 (default: no curriculum, 1..20 "
                   "throughout)")
    t.add_argument("--curriculum-threshold", type=float, default=1.0,
                   help="bits wrong per sequence below which the curriculum grows (1.0)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--time-limit", type=float, default=None,
                   help="stop after this many seconds of wall time (paused time counts)")
    t.add_argument("--log-every", type=int, default=100,
                   help="print and record the mean loss and bits wrong of this many batches "
                   "(default 100)")
    t.add_argument("--out", default="copy.npz",
                   help="checkpoint file, rewritten every 100 steps (default copy.npz); the "
                   "best weights so far go beside it (copy.best.npz)")
    t.set_defaults(func=cmd_train)
    e = csub.add_parser("eval", help="bits wrong per sequence at given lengths")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--lengths", default="1-20,30,50,80",
                   help="e.g. 1-20,30,50,80 (the default)")
    e.add_argument("--n", type=int, default=64, help="sequences per length (default 64)")
    e.add_argument("--seed", type=int, default=1234)
    e.add_argument("--json", default=None, help="also write the table to this JSON file")
    e.set_defaults(func=cmd_eval)
    return p


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: tinygrad-attn copy train|eval")
