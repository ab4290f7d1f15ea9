"""Transformer vs the RNN models on the date and addition tasks. Re-runnable; everything
quoted in docs/results.md (Transformer and NTM) comes from the JSON this writes.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 5 python experiments/transformer_vs_rnn.py \
        --task dates --n 10000 --epochs 4 --models attention,transformer

Per model: parameters, per epoch the exact-match accuracy on held-out questions (the book's
measure, greedy decoding) and the seconds the epoch's training took (wall clock on a shared
machine: compare within one run only).
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

import tinygrad_attn_models as models
from tinygrad_attn import checkpoint
from tinygrad_attn.batches import ShuffledRows
from tinygrad_attn.callbacks import Evaluation, History, Progress
from tinygrad_attn.data import load_dataset, make_file
from tinygrad_attn.files import write_json
from tinygrad_attn.optim import Adam
from tinygrad_attn.tasks.qa import exact_match
from tinygrad_attn.training import Trainer

SIZES = {  # the RNN models at the book's sizes; the Transformer small enough for 2 cores
    "seq2seq": dict(wordvec_size=16, hidden_size=128),
    "peeky": dict(wordvec_size=16, hidden_size=128),
    "attention": dict(wordvec_size=16, hidden_size=128),
    "transformer": dict(wordvec_size=64, hidden_size=64, num_layers=2, num_heads=4,
                        ff_size=128),
}
CLASSES = {"seq2seq": models.Seq2seq, "peeky": models.PeekySeq2seq,
           "attention": models.AttentionSeq2seq, "transformer": models.Transformer}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["dates", "addition"], required=True)
    ap.add_argument("--n", type=int, default=10000, help="examples generated (90%% train)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--models", default="attention,transformer")
    ap.add_argument("--n-eval", type=int, default=1000, help="held-out questions scored")
    ap.add_argument("--out", default="experiments/out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--tag", default="", help="suffix of the output names")
    ap.add_argument("--resume", action="store_true",
                    help="continue each model from its last.npz up to --epochs in total")
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{args.task}_{args.n}.txt"
    if not path.exists():
        print(make_file(args.task, args.n, args.seed, path))
    data = load_dataset(path, reverse=args.task == "addition")
    V = len(data.vocab.chars)
    x_eval, t_eval = data.x_test[:args.n_eval], data.t_test[:args.n_eval]
    results = {"task": args.task, "n": args.n, "batch_size": args.batch_size,
               "train": len(data.x_train),
               "eval": len(x_eval), "epochs": args.epochs, "models": {}}
    for name in args.models.split(","):
        model = CLASSES[name](V, seed=args.seed, **SIZES[name])
        n_params = int(sum(p.size for p in model.parameters()))
        print(f"== {name}: {n_params} parameters, {SIZES[name]}", flush=True)
        history = History()
        trainer = Trainer(model, ShuffledRows((data.x_train, data.t_train), args.batch_size,
                                              args.seed),
                          optimizer=Adam(model.parameters(), lr=1e-3), max_grad=5.0,
                          callbacks=[Evaluation(exact_match(x_eval, t_eval, data.start_id)),
                                     history, Progress()])
        last = out / f"{args.task}{args.tag}_{name}" / "last.npz"
        if args.resume and last.exists():
            ckpt = checkpoint.read(last)
            model.load_state_dict(ckpt.params)
            trainer.load_state_dict({**ckpt.meta["trainer"], "slots": ckpt.slots})
        trainer.fit(args.epochs)
        state = trainer.state_dict()
        checkpoint.save_training(last, model, slots=state.pop("slots"), trainer=state,
                                 epoch=trainer.epoch)
        results["models"][name] = {"parameters": n_params, "sizes": SIZES[name],
                                   "epochs": history.epochs}
        write_json(out / f"{args.task}{args.tag}_results.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
