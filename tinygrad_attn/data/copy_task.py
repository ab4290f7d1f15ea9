"""The NTM copy task (Graves et al. 2014, section 4.1), in plain NumPy.

A sequence of L random 8-bit vectors is shown, then a delimiter; the network must then
output the L vectors again, with no further input. One example, as (time, channel) arrays:

    inputs  (2L + 1, bits + 1)   steps 0..L-1: the vectors (delimiter channel 0);
                                 step L: only the delimiter channel is 1; then zeros
    targets (2L + 1, bits)       zeros until step L, then the vectors at steps L+1..2L
    mask    (2L + 1,) bool       True at steps L+1..2L: the only steps the loss and the
                                 error count look at

A batch holds sequences of one length (so no padding is needed); training draws that length
uniformly from 1..20 for each batch. Bits are Bernoulli(1/2). This module imports no engine
code: it is data only.
"""
from __future__ import annotations

import numpy as np

__all__ = ["BITS", "copy_batch", "bits_wrong"]

BITS = 8


def copy_batch(rng, batch_size, length, bits=BITS, dtype=np.float32):
    """(inputs (N, 2L+1, bits+1), targets (N, 2L+1, bits), mask (2L+1,)) for one length."""
    if length < 1:
        raise ValueError(f"copy_batch: length must be at least 1, got {length}")
    if batch_size < 1:
        raise ValueError(f"copy_batch: batch_size must be at least 1, got {batch_size}")
    L, T = length, 2 * length + 1
    seq = rng.integers(0, 2, (batch_size, L, bits)).astype(dtype)
    inputs = np.zeros((batch_size, T, bits + 1), dtype)
    inputs[:, :L, :bits] = seq
    inputs[:, L, bits] = 1.0
    targets = np.zeros((batch_size, T, bits), dtype)
    targets[:, L + 1:] = seq
    mask = np.zeros(T, bool)
    mask[L + 1:] = True
    return inputs, targets, mask


def bits_wrong(logits, targets, mask):
    """Per sequence, how many output bits differ from the targets when the outputs are
    thresholded at 1/2 (logit 0): the paper's "cost per sequence" measure. -> (N,) int."""
    logits, targets = np.asarray(logits), np.asarray(targets)
    wrong = (logits[:, mask] > 0) != (targets[:, mask] > 0.5)
    return wrong.reshape(len(wrong), -1).sum(axis=1)
