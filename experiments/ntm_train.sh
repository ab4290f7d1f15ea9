#!/bin/sh
# The copy-task runs quoted in docs/results_xfmr.md (re-runnable; wall time depends on load).
# NTM: controller 100, memory 128 x 20, batch 16, Adam 1e-3, clip 10, stopped after 70 min.
# LSTM baseline: 256 units, the same data and optimiser, stopped after 23 min.
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
case "$1" in
  ntm)  nice -n 5 python -m tinygrad_attn copy train --model tinygrad_attn_models:NTM \
          --steps 100000 --time-limit 4200 --log-every 10 --seed 0 \
          --out experiments/out/ntm.npz ;;
  lstm) nice -n 5 python -m tinygrad_attn copy train --model tinygrad_attn_models:LSTMCopy \
          --hidden-size 256 --steps 100000 --time-limit 1380 --log-every 10 --seed 0 \
          --out experiments/out/lstm.npz ;;
  *) echo "usage: $0 ntm|lstm"; exit 2 ;;
esac
# The Transformer comparison quoted in docs/results_xfmr.md was run as:
#   PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 5 python experiments/transformer_vs_rnn.py \
#       --task dates --n 6000 --epochs 3 --models attention,transformer
#   (and the same with --task addition), both at once beside the NTM run.
