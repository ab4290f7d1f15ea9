"""Neural Turing Machine pieces (Graves, Wayne & Danihelka 2014, section 3), forward only.

Addressing, one function per stage (each tested against its formula in tests/test_ntm.py):

    content_weighting   w_c = softmax_i(beta * K(k, M_i)),  K = cosine similarity   (3.5)
    interpolate         w_g = g w_c + (1 - g) w_prev                                 (3.6)
    shift               w~_i = sum_j w_g[j] s[i - j]   (circular convolution)        (3.8)
    sharpen             w_i = w~_i^gamma / sum_j w~_j^gamma                          (3.9)

and the memory operations: `read` r = sum_i w_i M_i (3.2), `write`
M <- M * (1 - w e^T) + w a^T (3.3, 3.4).

Every stage takes a head axis: a key (N, M) gives a weighting (N, R), keys (N, H, M) give
(N, H, R), so the NTM addresses its read and its write head in one pass of ops (the time of
a training step is mostly per-op overhead: see docs/results.md, "NTM on the copy task").

`NTM`: a controller fed [x_t, r_{t-1}] (an LSTM, the default, or feed-forward: one
Linear and a tanh), one read head and one write head computed from the controller's h_t,
an output Linear over [h_t, r_t]. ``forward(xs (N, T, in)) ->
(logits (N, T, out), {"read": (N, T, R), "write": (N, T, R)})``: the weightings of every
step are returned (for pictures, or a loss of their own), nothing is stashed. Steps run in
order (each depends on the memory the previous one wrote); the batch runs at once.
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from ..tape import Variable
from .layers import Linear, make_rng
from .module import Module, Parameter
from .recurrent import LSTM

__all__ = ["content_weighting", "interpolate", "shift", "sharpen", "address", "read",
           "write", "NTMHeads", "NTM", "MEMORY_INITS", "WEIGHTS_INITS", "CONTROLLERS"]

SHARPEN_EPS = 1e-12
MEMORY_INITS = ("constant", "learned")
WEIGHTS_INITS = ("onehot", "learned")
CONTROLLERS = ("lstm", "feedforward")


def content_weighting(memory, key, beta, eps=1e-8):
    """``softmax_i(beta * cos(key, memory[i]))``: memory (N, R, M), key (N, M) and beta
    (N, 1) -> (N, R); or keys (N, H, M) and beta (N, H, 1) -> (N, H, R), one row per head.

    The cosine is ``k.m / sqrt((|k|^2 + eps) (|m|^2 + eps))``, `F.cosine_similarity`'s
    formula, written with one product ``keys @ memory^T`` for all heads and rows (and the
    rows' norms once) instead of a broadcast (N, H, R, M) product."""
    k = key if key.ndim == 3 else F.expand_dims(key, 1)                       # (N, H, M)
    dot = k @ F.swapaxes(memory, 1, 2)                                        # (N, H, R)
    kk = F.sum(k * k, axis=-1, keepdims=True) + eps                           # (N, H, 1)
    mm = F.expand_dims(F.sum(memory * memory, axis=-1) + eps, 1)              # (N, 1, R)
    sim = dot * (kk * mm) ** -0.5
    return F.softmax(beta * (sim if key.ndim == 3 else F.squeeze(sim, 1)), axis=-1)


def interpolate(w_content, w_prev, g):
    """``g * w_content + (1 - g) * w_prev``; g (..., 1) in [0, 1]."""
    return g * w_content + (1.0 - g) * w_prev


def shift(w, s):
    """Circular convolution of w (..., R) with the shift weighting s (..., K) over shifts
    -K//2 .. K//2 (`F.circular_convolution`)."""
    return F.circular_convolution(w, s)


def sharpen(w, gamma, eps=SHARPEN_EPS):
    """``(w + eps)^gamma / sum (w + eps)^gamma``, gamma (..., 1) >= 1. The eps (1e-12) keeps
    log(w), which the gradient with respect to gamma needs, finite where w underflowed to
    0."""
    p = (w + eps) ** gamma
    return p / F.sum(p, axis=-1, keepdims=True)


def address(memory, w_prev, key, beta, g, s, gamma):
    """The four stages in order -> the head's weighting (N, R) (or (N, H, R) for keys
    (N, H, M))."""
    return sharpen(shift(interpolate(content_weighting(memory, key, beta), w_prev, g), s),
                   gamma)


def read(memory, w):
    """``r = sum_i w_i M_i``: (N, R, M), (N, R) -> (N, M)."""
    return F.squeeze(F.expand_dims(w, 1) @ memory, 1)


def write(memory, w, erase, add):
    """``M * (1 - w e^T) + w a^T``: erase (N, M) in [0, 1], add (N, M)."""
    w = F.expand_dims(w, -1)                                          # (N, R, 1)
    return memory * (1.0 - w * F.expand_dims(erase, 1)) + w * F.expand_dims(add, 1)


class NTMHeads(Module):
    """The addressing parameters of the read and the write head, from the controller's
    state h (N, C), with one Linear (C -> 2 P + 2 M, P = M + 3 + K):

        per head (N, 2, P): key = tanh(.) (M), beta = softplus(.), gamma = 1 + softplus(.),
                            g = sigmoid(.), s = softmax(.) (K shifts)
        write head only:    erase = sigmoid(.) (M), add = tanh(.) (M)

    ``forward(h, memory, w_prev (N, 2, R) or (2, R)) -> (w (N, 2, R): row 0 the read
    head's weighting, row 1 the write head's, erase (N, M), add (N, M))``. One product and
    one activation per kind for both heads: the same numbers as two separate heads, in
    about a third of the recorded ops.
    """

    def __init__(self, controller_size, memory_width, *, shifts=3, dtype=np.float32,
                 rng=None, seed=None):
        super().__init__()
        M = memory_width
        self.M, self.K = M, shifts
        self.P = M + 3 + shifts
        self.fc = Linear(controller_size, 2 * self.P + 2 * M, dtype=dtype,
                         rng=make_rng(rng, seed))
        # gamma = 1 + softplus: added to the (beta, gamma) pair after one softplus
        self._one = np.array([0.0, 1.0], dtype)

    def forward(self, h, memory, w_prev):
        M, P = self.M, self.P
        heads, erase_add = F.split(self.fc(h), [2 * P], axis=-1)
        heads = F.reshape(heads, (-1, 2, P))
        key, beta_gamma, g, s = F.split(heads, [M, M + 2, M + 3], axis=-1)
        beta, gamma = F.split(F.softplus(beta_gamma) + self._one, 2, axis=-1)
        w = address(memory, w_prev, F.tanh(key), beta, F.sigmoid(g), F.softmax(s, -1), gamma)
        erase, add = F.split(erase_add, 2, axis=-1)
        return w, F.sigmoid(erase), F.tanh(add)


class NTM(Module):
    """A controller + an R x M memory + one read and one write head.

    Per step t (reading the memory the previous steps wrote, then writing):

        h_t, c_t = LSTM([x_t, r_{t-1}], h_{t-1}, c_{t-1})      controller="lstm" (default)
        h_t = tanh([x_t, r_{t-1}] W + b)                         controller="feedforward"
        w_r, w_w = heads(h_t, M_{t-1}, (w_r, w_w) prev);   r_t = read(M_{t-1}, w_r)
        M_t = write(M_{t-1}, w_w, e, a)
        y_t = Linear([h_t, r_t])          (for all t at once, after the loop)

    Initial state, as in Collier & Beel, "Implementing Neural Turing Machines" (ICANN 2018,
    arXiv:1807.08518; their code: github.com/MarkPKCollier/NeuralTuringMachine, ntm.py):

    * memory_init="constant" (the default): every memory cell starts at 1e-6, the same for
      every sequence and not learned. They found this converges about twice as fast on the
      copy task as a learned or a random start (ours, memory_init="learned": a learned
      (R, M) Parameter, uniform +-1/sqrt(R + M), did not converge in 4004 steps).
    * r_0 = tanh(learned bias (M,)), the bias drawn uniform +-sqrt(6 / (1 + M)) (their
      Glorot-initialised vector).
    * The controller's forget-gate bias starts at 1 (their LSTM cells' forget_bias=1.0), so
      c_t starts by keeping what it holds.

    and the heads' start, weights_init="onehot" (the default): both heads' w_0 is all on row
    0, fixed, as in snipsco/ntm-lasagne (ntm/heads.py: weights_init=OneHot(),
    learn_init=False, beside their constant 1e-6 memory). Why: over a constant memory every
    row has the same content, so content addressing cannot tell rows apart (and, cosine
    being blind to scale, still cannot after writes that differ only in weight); only
    location addressing can, and it can only move a focus that exists. Our run with Collier
    & Beel's learned, nearly uniform start (weights_init="learned": w_0 = softmax(a learned
    bias (2, R) drawn like r_0's)) kept a uniform write weighting for 5000 steps
    (docs/results.md).

    controller="feedforward" (Graves et al. report both): the controller keeps nothing
    from step to step, so whatever the output needs of the past must pass through the
    memory. On the copy task, with everything else the same, it learned through the memory
    where our LSTM-controller runs with Adam at batch 16 kept the first vectors in the
    LSTM's cell instead (docs/results.md, "NTM on the copy task").

    Training: with RMSprop and per-entry clipping (the paper's; `copy train`'s defaults)
    the LSTM-controller NTM learned the copy task in every seed we ran; with the book's
    Adam it did not (docs/results.md).
    """

    def __init__(self, input_size, output_size, controller_size=100, memory_size=128,
                 memory_width=20, *, shifts=3, memory_init="constant", weights_init="onehot",
                 controller="lstm", dtype=np.float32, rng=None, seed=None):
        super().__init__()
        for name, value, choices in (("memory_init", memory_init, MEMORY_INITS),
                                     ("weights_init", weights_init, WEIGHTS_INITS),
                                     ("controller", controller, CONTROLLERS)):
            if value not in choices:
                raise ValueError(f"NTM: {name} must be one of {choices}, got {value!r}")
        rng = make_rng(rng, seed)
        self.D, self.R, self.M = input_size, memory_size, memory_width
        if controller == "lstm":
            self.controller = LSTM(input_size + memory_width, controller_size, dtype=dtype,
                                   rng=rng)
            self.controller.b.data[:controller_size] = 1.0    # forget gate (order f, g, i, o)
        else:
            self.controller = Linear(input_size + memory_width, controller_size, dtype=dtype,
                                     rng=rng)
        self.controller_kind = controller
        self.heads = NTMHeads(controller_size, memory_width, shifts=shifts, dtype=dtype,
                              rng=rng)
        self.out = Linear(controller_size + memory_width, output_size, dtype=dtype, rng=rng)
        self.read0 = Parameter(_glorot_vector(rng, (memory_width,), dtype))
        if weights_init == "learned":
            self.weights0 = Parameter(_glorot_vector(rng, (2, memory_size), dtype))
        else:
            self.weights0 = None
        self._onehot = np.zeros((2, memory_size), dtype)
        self._onehot[:, 0] = 1.0
        if memory_init == "learned":
            bound = 1.0 / np.sqrt(memory_size + memory_width)
            self.memory0 = Parameter(rng.uniform(-bound, bound, (memory_size, memory_width))
                                     .astype(dtype))
        else:
            self.memory0 = None
        self._constant = np.full((memory_size, memory_width), 1e-6, dtype)

    def initial_memory(self, N):
        """(N, R, M): the learned memory0 broadcast, or the constant 1e-6."""
        if self.memory0 is not None:
            return F.broadcast_to(self.memory0, (N, self.R, self.M))
        return Variable(np.broadcast_to(self._constant, (N, self.R, self.M)),
                        requires_grad=False)

    def initial_weights(self):
        """(2, R): the read and the write head's w_0 (softmax of the learned bias, or all
        on row 0)."""
        if self.weights0 is not None:
            return F.softmax(self.weights0, axis=-1)
        return Variable(self._onehot, requires_grad=False)

    def forward(self, xs):
        N, T, _ = xs.shape
        ctrl = self.controller
        lstm = self.controller_kind == "lstm"
        memory = self.initial_memory(N)
        r = F.tanh(self.read0)                                             # (M,)
        w = self.initial_weights()                                         # (2, R)
        # the input half of the controller's projection for all steps in one product; the
        # read half, r_{t-1} @ Wx[D:], per step (the same sum as [x_t, r_{t-1}] @ Wx)
        Wx_x, Wx_r = F.split(ctrl.Wx if lstm else ctrl.W, [self.D], axis=0)
        xw = F.unstack(F.swapaxes(xs, 0, 1) @ Wx_x + ctrl.b, axis=0)       # T x (N, 4C | C)
        h = c = None
        hs, rs, ws = [], [], []
        for xw_t in xw:
            if lstm:
                h, c = ctrl.cell(xw_t + r @ Wx_r, h, c)
            else:
                h = F.tanh(xw_t + r @ Wx_r)
            w, erase, add = self.heads(h, memory, w)                       # (N, 2, R)
            r = (w @ memory)[:, 0]                                          # read head
            memory = write(memory, w[:, 1], erase, add)                    # write head
            hs.append(h)
            rs.append(r)
            ws.append(w)
        ys = self.out(F.concat([F.stack(hs, 1), F.stack(rs, 1)], axis=-1))
        read_w, write_w = F.unstack(F.stack(ws, 1), axis=2)                # (N, T, R) each
        return ys, {"read": read_w, "write": write_w}


def _glorot_vector(rng, shape, dtype):
    bound = np.sqrt(6.0 / (1 + shape[-1]))
    return rng.uniform(-bound, bound, shape).astype(dtype)
