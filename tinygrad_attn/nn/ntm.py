"""Neural Turing Machine pieces (Graves, Wayne & Danihelka 2014, section 3), forward only.

Addressing, one function per stage (each tested against its formula in tests/test_ntm.py):

    content_weighting   w_c = softmax_i(beta * K(k, M_i)),  K = cosine similarity   (3.5)
    interpolate         w_g = g w_c + (1 - g) w_prev                                 (3.6)
    shift               w~_i = sum_j w_g[j] s[i - j]   (circular convolution)        (3.8)
    sharpen             w_i = w~_i^gamma / sum_j w~_j^gamma                          (3.9)

and the memory operations: `read` r = sum_i w_i M_i (3.2), `write`
M <- M * (1 - w e^T) + w a^T (3.3, 3.4).

`NTM`: an LSTM controller fed [x_t, r_{t-1}], one read head and one write head computed
from the controller's h_t, an output Linear over [h_t, r_t]. ``forward(xs (N, T, in)) ->
(logits (N, T, out), {"read": (N, T, R), "write": (N, T, R)})``: the weightings of every
step are returned (for pictures, or a loss of their own), nothing is stashed. Steps run in
order (each depends on the memory the previous one wrote); the batch runs at once.
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from .layers import Linear, make_rng
from .module import Module, Parameter
from .recurrent import LSTM

__all__ = ["content_weighting", "interpolate", "shift", "sharpen", "address", "read",
           "write", "NTMHead", "NTM"]

SHARPEN_EPS = 1e-12


def content_weighting(memory, key, beta, eps=1e-8):
    """``softmax_i(beta * cos(key, memory[i]))``: memory (N, R, M), key (N, M), beta (N, 1)
    (> 0) -> (N, R)."""
    sim = F.cosine_similarity(F.expand_dims(key, 1), memory, axis=-1, eps=eps)   # (N, R)
    return F.softmax(beta * sim, axis=-1)


def interpolate(w_content, w_prev, g):
    """``g * w_content + (1 - g) * w_prev``; g (N, 1) in [0, 1]."""
    return g * w_content + (1.0 - g) * w_prev


def shift(w, s):
    """Circular convolution of w (N, R) with the shift weighting s (N, K) over shifts
    -K//2 .. K//2 (`F.circular_convolution`)."""
    return F.circular_convolution(w, s)


def sharpen(w, gamma, eps=SHARPEN_EPS):
    """``(w + eps)^gamma / sum (w + eps)^gamma``, gamma (N, 1) >= 1. The eps (1e-12) keeps
    log(w), which the gradient with respect to gamma needs, finite where w underflowed to
    0."""
    p = (w + eps) ** gamma
    return p / F.sum(p, axis=-1, keepdims=True)


def address(memory, w_prev, key, beta, g, s, gamma):
    """The four stages in order -> the head's weighting (N, R)."""
    return sharpen(shift(interpolate(content_weighting(memory, key, beta), w_prev, g), s),
                   gamma)


def read(memory, w):
    """``r = sum_i w_i M_i``: (N, R, M), (N, R) -> (N, M)."""
    return F.squeeze(F.expand_dims(w, 1) @ memory, 1)


def write(memory, w, erase, add):
    """``M * (1 - w e^T) + w a^T``: erase (N, M) in [0, 1], add (N, M)."""
    w = F.expand_dims(w, -1)                                          # (N, R, 1)
    return memory * (1.0 - w * F.expand_dims(erase, 1)) + w * F.expand_dims(add, 1)


class NTMHead(Module):
    """The addressing parameters of one head, from the controller's state h (N, H):

        key = tanh(.) (M), beta = softplus(.) (1), g = sigmoid(.) (1),
        s = softmax(.) (K shifts), gamma = 1 + softplus(.) (1)
        and for a write head also erase = sigmoid(.) (M), add = tanh(.) (M).

    ``forward(h, memory, w_prev) -> (w (N, R), erase, add)`` (erase, add None for a read
    head).
    """

    def __init__(self, controller_size, memory_width, *, write=False, shifts=3,
                 dtype=np.float32, rng=None, seed=None):
        super().__init__()
        M = memory_width
        self.is_write, self.M, self.K = write, M, shifts
        self.sizes = [M, 1, 1, shifts, 1] + ([M, M] if write else [])
        self.fc = Linear(controller_size, sum(self.sizes), dtype=dtype,
                         rng=make_rng(rng, seed))

    def forward(self, h, memory, w_prev):
        parts = F.split(self.fc(h), list(np.cumsum(self.sizes)[:-1]), axis=-1)
        key, beta, g, s, gamma = parts[:5]
        w = address(memory, w_prev, F.tanh(key), F.softplus(beta), F.sigmoid(g),
                    F.softmax(s, -1), 1.0 + F.softplus(gamma))
        if not self.is_write:
            return w, None, None
        return w, F.sigmoid(parts[5]), F.tanh(parts[6])


class NTM(Module):
    """LSTM controller + an R x M memory + one read and one write head.

    Per step t (reading the memory the previous steps wrote, then writing):

        h_t, c_t = LSTM([x_t, r_{t-1}], h_{t-1}, c_{t-1})
        w_r = read head (h_t, M_{t-1}, w_r prev);   r_t = read(M_{t-1}, w_r)
        w_w = write head(h_t, M_{t-1}, w_w prev);   M_t = write(M_{t-1}, w_w, e, a)
        y_t = Linear([h_t, r_t])

    The initial memory is a learned (R, M) Parameter (init uniform +-1/sqrt(R + M), so rows
    differ and content addressing has something to tell apart); r_0 and both w_0 are 0.
    """

    def __init__(self, input_size, output_size, controller_size=100, memory_size=128,
                 memory_width=20, *, shifts=3, dtype=np.float32, rng=None, seed=None):
        super().__init__()
        rng = make_rng(rng, seed)
        self.R, self.M = memory_size, memory_width
        self.controller = LSTM(input_size + memory_width, controller_size, dtype=dtype,
                               rng=rng)
        self.read_head = NTMHead(controller_size, memory_width, shifts=shifts, dtype=dtype,
                                 rng=rng)
        self.write_head = NTMHead(controller_size, memory_width, write=True, shifts=shifts,
                                  dtype=dtype, rng=rng)
        self.out = Linear(controller_size + memory_width, output_size, dtype=dtype, rng=rng)
        bound = 1.0 / np.sqrt(memory_size + memory_width)
        self.memory0 = Parameter(rng.uniform(-bound, bound, (memory_size, memory_width))
                                 .astype(dtype))

    def forward(self, xs):
        N, T, _ = xs.shape
        dtype = self.memory0.dtype
        memory = F.broadcast_to(self.memory0, (N, self.R, self.M))
        r = np.zeros((N, self.M), dtype)
        w_r = w_w = np.zeros((N, self.R), dtype)
        h = c = None
        lstm = self.controller
        ys, reads, writes = [], [], []
        for x_t in F.unstack(F.swapaxes(xs, 0, 1), axis=0):
            xw = F.concat([x_t, r], axis=-1) @ lstm.Wx + lstm.b
            h, c = lstm.cell(xw, h, c)
            w_r, _, _ = self.read_head(h, memory, w_r)
            r = read(memory, w_r)
            w_w, erase, add = self.write_head(h, memory, w_w)
            memory = write(memory, w_w, erase, add)
            ys.append(self.out(F.concat([h, r], axis=-1)))
            reads.append(w_r)
            writes.append(w_w)
        return F.stack(ys, 1), {"read": F.stack(reads, 1), "write": F.stack(writes, 1)}
