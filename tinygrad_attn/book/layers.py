"""The book's layers with hand-written backward passes (NumPy only).

Each layer follows the conventions of *Deep Learning from Scratch 2*:

* ``params`` -- list of parameter arrays (the very arrays used in ``forward``),
* ``grads``  -- list of arrays of the same shapes, overwritten in place
  (``grad[...] = value``) by ``backward``,
* ``forward(...)`` caches what ``backward`` needs,
* ``backward(dout)`` returns the gradient(s) with respect to the input(s).

Every computation keeps the dtype of the arrays it is given: float32 in,
float32 out; float64 in, float64 out.  Nothing here imports the rest of the
project.
"""

import numpy as np

__all__ = [
    "sigmoid",
    "softmax",
    "Softmax",
    "Embedding",
    "TimeEmbedding",
    "Affine",
    "TimeAffine",
    "LSTM",
    "TimeLSTM",
    "TimeSoftmaxWithLoss",
    "WeightSum",
    "AttentionWeight",
    "Attention",
    "TimeAttention",
]


# ----------------------------------------------------------------------------
# functions
# ----------------------------------------------------------------------------
def sigmoid(x):
    """``1 / (1 + exp(-x))`` as the book writes it (exp overflow -> exactly 0)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def softmax(x):
    """Numerically stable softmax over the last axis (subtract the row max)."""
    x = x - x.max(axis=-1, keepdims=True)
    x = np.exp(x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


# ----------------------------------------------------------------------------
# chapter 1-5 building blocks
# ----------------------------------------------------------------------------
class Softmax:
    """Softmax over the last axis; ``dx = y * dout - y * sum(y * dout)``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        self.out = softmax(x)
        return self.out

    def backward(self, dout):
        y = self.out
        dx = y * dout
        sumdx = np.sum(dx, axis=-1, keepdims=True)
        dx -= y * sumdx
        return dx


class Embedding:
    """Row lookup ``W[idx]``; backward scatter-adds ``dout`` into the rows."""

    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, idx):
        (W,) = self.params
        self.idx = idx
        return W[idx]

    def backward(self, dout):
        (dW,) = self.grads
        dW[...] = 0
        np.add.at(dW, self.idx, dout)
        return None


class TimeEmbedding:
    """T Embedding layers sharing one ``W``; ``forward(xs (N, T)) -> (N, T, D)``."""

    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.layers = None
        self.W = W

    def forward(self, xs):
        N, T = xs.shape
        V, D = self.W.shape
        out = np.empty((N, T, D), dtype=self.W.dtype)
        self.layers = []
        for t in range(T):
            layer = Embedding(self.W)
            out[:, t, :] = layer.forward(xs[:, t])
            self.layers.append(layer)
        return out

    def backward(self, dout):
        N, T, D = dout.shape
        grad = 0
        for t in range(T):
            layer = self.layers[t]
            layer.backward(dout[:, t, :])
            grad = grad + layer.grads[0]
        self.grads[0][...] = grad
        return None


class Affine:
    """``x @ W + b`` with ``x (N, in)``, ``W (in, out)``, ``b (out,)``."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        W, b = self.params
        self.x = x
        return np.dot(x, W) + b

    def backward(self, dout):
        W, b = self.params
        dx = np.dot(dout, W.T)
        dW = np.dot(self.x.T, dout)
        db = np.sum(dout, axis=0)
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


class TimeAffine:
    """Affine applied at every time step: reshape ``(N, T, in)`` to 2-D, matmul."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        N, T, D = x.shape
        W, b = self.params
        rx = x.reshape(N * T, -1)
        out = np.dot(rx, W) + b
        self.x = x
        return out.reshape(N, T, -1)

    def backward(self, dout):
        x = self.x
        N, T, D = x.shape
        W, b = self.params
        dout = dout.reshape(N * T, -1)
        rx = x.reshape(N * T, -1)
        db = np.sum(dout, axis=0)
        dW = np.dot(rx.T, dout)
        dx = np.dot(dout, W.T).reshape(*x.shape)
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


# ----------------------------------------------------------------------------
# LSTM (chapter 6)
# ----------------------------------------------------------------------------
class LSTM:
    """One LSTM step.

    ``A = x @ Wx + h_prev @ Wh + b`` is sliced into gates in the book's order
    f, g, i, o; f, i, o go through sigmoid, g through tanh;
    ``c_next = f * c_prev + g * i``, ``h_next = o * tanh(c_next)``.

    ``forward(x, h_prev, c_prev) -> (h_next, c_next)``;
    ``backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)``.
    """

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        N, H = h_prev.shape
        A = np.dot(x, Wx) + np.dot(h_prev, Wh) + b

        f = sigmoid(A[:, :H])
        g = np.tanh(A[:, H:2 * H])
        i = sigmoid(A[:, 2 * H:3 * H])
        o = sigmoid(A[:, 3 * H:])

        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)

        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next=0):
        Wx, Wh, b = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache

        tanh_c_next = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next ** 2)
        dc_prev = ds * f

        df = ds * c_prev
        dg = ds * i
        di = ds * g
        do = dh_next * tanh_c_next

        df *= f * (1 - f)
        dg *= 1 - g ** 2
        di *= i * (1 - i)
        do *= o * (1 - o)

        dA = np.hstack((df, dg, di, do))

        self.grads[0][...] = np.dot(x.T, dA)
        self.grads[1][...] = np.dot(h_prev.T, dA)
        self.grads[2][...] = dA.sum(axis=0)

        dx = np.dot(dA, Wx.T)
        dh_prev = np.dot(dA, Wh.T)
        return dx, dh_prev, dc_prev


class TimeLSTM:
    """T LSTM steps sharing ``Wx, Wh, b``; ``forward(xs (N, T, D)) -> hs (N, T, H)``.

    With ``stateful=False`` every ``forward`` starts from h = c = 0 (whatever
    ``set_state`` said).  With ``stateful=True`` the state left by the previous
    ``forward`` (or given by ``set_state``) is the starting state; c missing
    means c = 0.

    ``backward(dhs) -> dxs``; afterwards ``self.dh`` / ``self.dc`` hold the
    gradients with respect to the initial h / c.
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = None
        self.h, self.c = None, None
        self.dh, self.dc = None, None
        self.stateful = stateful

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, D = xs.shape
        H = Wh.shape[0]
        dtype = np.result_type(xs.dtype, Wx.dtype)

        self.layers = []
        hs = np.empty((N, T, H), dtype=dtype)

        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=dtype)
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype=dtype)

        for t in range(T):
            layer = LSTM(*self.params)
            self.h, self.c = layer.forward(xs[:, t, :], self.h, self.c)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        Wx, Wh, b = self.params
        N, T, H = dhs.shape
        D = Wx.shape[0]

        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        dh, dc = 0, 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)
            dxs[:, t, :] = dx
            for k, grad in enumerate(layer.grads):
                grads[k] = grads[k] + grad

        for k, grad in enumerate(grads):
            self.grads[k][...] = grad
        self.dh = dh
        self.dc = dc
        return dxs

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def reset_state(self):
        self.h, self.c = None, None


# ----------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------
class TimeSoftmaxWithLoss:
    """Softmax + cross-entropy at every time step, averaged over the counted
    positions (targets equal to ``ignore_label`` (-1) are not counted).

    ``forward(xs (N, T, V), ts (N, T) or one-hot (N, T, V)) -> loss``;
    ``backward(dout=1) -> dxs (N, T, V)``.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None
        self.ignore_label = -1

    def forward(self, xs, ts):
        N, T, V = xs.shape
        if ts.ndim == 3:  # one-hot targets
            ts = ts.argmax(axis=2)

        mask = ts != self.ignore_label

        xs = xs.reshape(N * T, V)
        ts = ts.reshape(N * T)
        mask = mask.reshape(N * T)

        ys = softmax(xs)
        with np.errstate(divide="ignore"):
            ls = np.log(ys[np.arange(N * T), ts])
        ls = np.where(mask, ls, 0).astype(ys.dtype, copy=False)
        count = int(mask.sum())
        loss = -np.sum(ls)
        loss /= count

        self.cache = (ts, ys, mask, count, (N, T, V))
        return loss

    def backward(self, dout=1):
        ts, ys, mask, count, (N, T, V) = self.cache

        dx = ys.copy()
        dx[np.arange(N * T), ts] -= 1
        dx *= dout
        dx /= count
        dx *= mask[:, np.newaxis]
        return dx.reshape((N, T, V))


# ----------------------------------------------------------------------------
# attention (chapter 8)
# ----------------------------------------------------------------------------
class WeightSum:
    """``c[n] = sum_t a[n, t] * hs[n, t]``; ``forward(hs, a) -> c``,
    ``backward(dc) -> (dhs, da)``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(self, hs, a):
        N, T, H = hs.shape
        ar = a.reshape(N, T, 1)
        t = hs * ar
        c = np.sum(t, axis=1)
        self.cache = (hs, ar)
        return c

    def backward(self, dc):
        hs, ar = self.cache
        N, T, H = hs.shape
        dt = dc.reshape(N, 1, H).repeat(T, axis=1)  # backward of the sum
        dar = dt * hs
        dhs = dt * ar
        da = np.sum(dar, axis=2)  # backward of the repeat
        return dhs, da


class AttentionWeight:
    """``a = softmax_t(hs[n, t] . h[n])``; ``forward(hs, h) -> a (N, T)``,
    ``backward(da) -> (dhs, dh)``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.softmax = Softmax()
        self.cache = None

    def forward(self, hs, h):
        N, T, H = hs.shape
        hr = h.reshape(N, 1, H)
        t = hs * hr
        s = np.sum(t, axis=2)
        a = self.softmax.forward(s)
        self.cache = (hs, hr)
        return a

    def backward(self, da):
        hs, hr = self.cache
        N, T, H = hs.shape
        ds = self.softmax.backward(da)
        dt = ds.reshape(N, T, 1).repeat(H, axis=2)
        dhs = dt * hr
        dhr = dt * hs
        dh = np.sum(dhr, axis=1)
        return dhs, dh


class Attention:
    """AttentionWeight then WeightSum: ``forward(hs, h) -> c (N, H)``,
    ``backward(dc) -> (dhs, dh)``; keeps ``attention_weight`` (N, T)."""

    def __init__(self):
        self.params, self.grads = [], []
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight = None

    def forward(self, hs, h):
        a = self.attention_weight_layer.forward(hs, h)
        out = self.weight_sum_layer.forward(hs, a)
        self.attention_weight = a
        return out

    def backward(self, dout):
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        dhs = dhs0 + dhs1
        return dhs, dh


class TimeAttention:
    """One Attention per decoder step:
    ``forward(hs_enc (N, Te, H), hs_dec (N, Td, H)) -> (N, Td, H)``,
    ``backward(dout) -> (dhs_enc, dhs_dec)``; keeps ``attention_weights``,
    a list of Td arrays (N, Te)."""

    def __init__(self):
        self.params, self.grads = [], []
        self.layers = None
        self.attention_weights = None

    def forward(self, hs_enc, hs_dec):
        N, T, H = hs_dec.shape
        out = np.empty(hs_dec.shape, dtype=np.result_type(hs_enc.dtype, hs_dec.dtype))
        self.layers = []
        self.attention_weights = []

        for t in range(T):
            layer = Attention()
            out[:, t, :] = layer.forward(hs_enc, hs_dec[:, t, :])
            self.layers.append(layer)
            self.attention_weights.append(layer.attention_weight)
        return out

    def backward(self, dout):
        N, T, H = dout.shape
        dhs_enc = 0
        dhs_dec = np.empty_like(dout)

        for t in range(T):
            layer = self.layers[t]
            dhs, dh = layer.backward(dout[:, t, :])
            dhs_enc = dhs_enc + dhs
            dhs_dec[:, t, :] = dh
        return dhs_enc, dhs_dec
