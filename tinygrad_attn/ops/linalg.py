"""matmul with NumPy's full semantics: 1-D, 2-D, batched, and broadcast batch dims."""
import numpy as np

from .. import threads
from ..tape import Function, ProductSum
from ._operands import operands
from .shape import expand_dims, reshape, squeeze, swapaxes


class Matmul(Function):
    def forward(self, a, b):
        if b.ndim == 2 and a.ndim > 2:  # one GEMM instead of a loop over the batch
            return threads.matmul(a.reshape(-1, a.shape[-1]), b).reshape(
                a.shape[:-1] + b.shape[-1:])
        return threads.matmul(a, b)

    def backward(self, gy):
        a, b = self.inputs
        if a.ndim == 1 and b.ndim == 1:
            return gy * b, gy * a
        # Lift 1-D operands to matrices (NumPy's own rule), so the output grad has the
        # matrix form (..., M, N); undo the lift on the way out.
        a2 = a if a.ndim > 1 else reshape(a, 1, -1)
        b2 = b if b.ndim > 1 else reshape(b, -1, 1)
        if a.ndim == 1:
            gy = expand_dims(gy, -2)
        if b.ndim == 1:
            gy = expand_dims(gy, -1)
        ga = gb = None
        if a.requires_grad:
            ga = matmul(gy, swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = squeeze(ga, -2)
        if b.requires_grad:
            if a.ndim == 2 and b.ndim == 2:
                # a weight reused at every time step: reverse mode may sum a_t^T @ g_t
                # over all steps as one product (see tape.ProductSum)
                gb = ProductSum(a, gy)
            elif b2.ndim == 2 and a2.ndim > 2:  # sum over the batch inside one GEMM
                K, N = b2.shape
                gb = matmul(swapaxes(reshape(a2, -1, K), 0, 1), reshape(gy, -1, N))
            else:
                gb = matmul(swapaxes(a2, -1, -2), gy)
            if b.ndim == 1:
                gb = squeeze(gb, -1)
        # batch dims that broadcast are summed back by the engine, as for every op
        return ga, gb


def matmul(a, b):
    """a @ b as numpy.matmul, gradients included (batch dims broadcast and are summed back)."""
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        _check(a.shape, b.shape)
    try:
        return Matmul()(a, b)
    except ValueError:  # shapes are checked only on failure: no cost on the hot path
        _check(a.shape, b.shape)
        raise


def _check(sa, sb):
    where = f"matmul: {sa} @ {sb}"
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"{where}: operands must have at least one dimension")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ValueError(f"{where}: inner dimensions {k_a} and {k_b} differ")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"{where}: batch dimensions {sa[:-2]} and {sb[:-2]} do not "
                         "broadcast") from None
