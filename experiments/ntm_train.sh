#!/bin/sh
# The copy-task runs quoted in docs/results.md, section "NTM on the copy task" (re-runnable;
# wall time depends on the machine's load). Both: batch 16, one length drawn from 1..20 per
# batch (the same stream of lengths and bits for both: seed 0), Adam 1e-3, global-norm clip
# 10, 1 BLAS thread, niced; a checkpoint every 100 steps (stop with kill when it is enough).
# NTM: controller 100, memory 128 x 20, memory initialised to the constant 1e-6 (the default).
# LSTM baseline: 256 units.
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p experiments/out
case "$1" in
  ntm)  exec nice -n 5 python -m tinygrad_attn copy train --model tinygrad_attn_models:NTM \
          --steps "${STEPS:-100000}" --log-every 10 --seed 0 \
          --out experiments/out/ntm.npz ;;
  lstm) exec nice -n 5 python -m tinygrad_attn copy train \
          --model tinygrad_attn_models:LSTMCopy --hidden-size 256 \
          --steps "${STEPS:-100000}" --log-every 10 --seed 0 \
          --out experiments/out/lstm.npz ;;
  *) echo "usage: [STEPS=n] $0 ntm|lstm"; exit 2 ;;
esac
# The Transformer comparison quoted in docs/results.md was run as:
#   PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 5 python experiments/transformer_vs_rnn.py \
#       --task dates --n 6000 --epochs 3 --models attention,transformer
#   (and the same with --task addition), both at once beside the NTM run.
