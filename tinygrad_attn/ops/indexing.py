"""getitem, embedding, where, masked_fill: ops that pick entries; their rules put the
gradient back where the entries came from."""
import numpy as np

from ..tape import Function, Variable, describe
from ._operands import operands


def _plain_index(index):
    """An index with Variables replaced by their arrays; tuples kept as tuples."""
    if isinstance(index, Variable):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Variable) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index):
    """Basic indexing (ints, slices, None, ...) never repeats an entry: assignment suffices."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in parts)


class Getitem(Function):
    def forward(self, x):
        return x[self.index]

    def backward(self, gy):
        return ScatterAdd(index=self.index, shape=self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """The gradient of x[index]: zeros of x's shape with gy added at `index`."""

    def forward(self, gy):
        gx = np.zeros(self.shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy
        else:  # integer arrays may repeat an entry: every repeat adds
            np.add.at(gx, self.index, gy)
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.index)


class Embedding(Function):
    """Rows of a table picked by integer ids (a gather; its rule scatter-adds into rows)."""

    def forward(self, W):
        return W[self.ids]

    def backward(self, gy):
        return ScatterAdd(index=self.ids, shape=self.inputs[0].shape)(gy)


def _describe(index):
    parts = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(describe(p) for p in parts) + "]"


def getitem(x, index):
    """x[index] with basic and integer-array indexing; repeated entries accumulate gradient."""
    index = _plain_index(index)
    try:
        return Getitem(index=index)(x)
    except (IndexError, ValueError, TypeError) as e:
        raise IndexError(f"getitem: index {_describe(index)} does not fit shape {x.shape}: "
                         f"{e}") from None


def embedding(W, ids):
    """Rows of W picked by integer `ids`: W[ids] of shape ids.shape + (D,)."""
    ids = ids.data if isinstance(ids, Variable) else np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    V = W.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise IndexError(f"embedding: id {bad} is outside [0, {V}) for a table of shape "
                         f"{W.shape}")
    return Embedding(ids=ids)(W)


class Where(Function):
    def forward(self, a, b):
        return np.where(self.cond, a, b)

    def backward(self, gy):
        zero = np.zeros((), dtype=gy.dtype)
        return where(self.cond, gy, zero), where(self.cond, zero, gy)


def _mask(cond, op):
    cond = cond.data if isinstance(cond, Variable) else np.asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"{op}: the condition must be a bool array, got dtype {cond.dtype}")
    return cond


def where(cond, a, b):
    """Entries of a where `cond` holds, of b elsewhere (cond is data, not differentiated)."""
    cond = _mask(cond, "where")
    a, b = operands(a, b)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes cond {cond.shape}, a {a.shape}, b {b.shape} do not "
                         "broadcast") from None
    return Where(cond=cond)(a, b)


def check_mask_shape(mask, shape, op, what="x"):
    """Raise ValueError naming `op` unless `mask` broadcasts to exactly `shape`."""
    try:
        if np.broadcast_shapes(mask.shape, shape) == shape:
            return
    except ValueError:
        pass
    raise ValueError(f"{op}: mask of shape {mask.shape} does not broadcast to {what} of "
                     f"shape {shape}")


def masked_fill(x, mask, value):
    """x with `value` wherever `mask` is True; no gradient flows through filled entries."""
    mask = _mask(mask, "masked_fill")
    check_mask_shape(mask, x.shape, "masked_fill")
    return where(mask, value, x)
