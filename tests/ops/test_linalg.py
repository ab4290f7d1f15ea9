"""matmul with NumPy's full semantics; gradients proved for every kind of operand."""
import numpy as np
import pytest
from hypothesis import given

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples

RNG = np.random.default_rng(7)

# every kind NumPy allows, each by name
KINDS = {
    "1d@1d": ((4,), (4,)),
    "1d@2d": ((3,), (3, 2)),
    "2d@1d": ((2, 3), (3,)),
    "2d@2d": ((2, 3), (3, 4)),
    "batched@2d": ((2, 3, 4), (4, 2)),
    "2d@batched": ((3, 4), (2, 4, 2)),
    "batched@batched": ((2, 3, 4), (2, 4, 5)),
    "batched@1d": ((2, 3, 4), (4,)),
    "1d@batched": ((3,), (2, 3, 4)),
    "broadcast batch both sides": ((2, 1, 3, 4), (5, 4, 2)),
    "broadcast batch size-1": ((1, 3, 2), (4, 2, 3)),
    "4d@4d broadcast": ((2, 1, 2, 3), (1, 3, 3, 2)),
}


@given(tst.matmul_shapes(), tst.data())
def test_forward_matches_numpy(shapes, data):
    sa, sb = shapes
    a, b = data.draw(tst.floats_arrays(sa)), data.draw(tst.floats_arrays(sb))
    assert_same(F.matmul(Variable(a), Variable(b)), np.matmul(a, b))
    assert_same(Variable(a) @ Variable(b), a @ b)


@given(tst.matmul_shapes(), tst.data())
def test_gradcheck(shapes, data):
    sa, sb = shapes
    a, b = data.draw(tst.floats_arrays(sa)), data.draw(tst.floats_arrays(sb))
    assert gradcheck(F.matmul, a, b)


@examples(0.5)
@given(tst.matmul_shapes(max_side=3), tst.data())
def test_gradgradcheck(shapes, data):
    sa, sb = shapes
    a, b = data.draw(tst.floats_arrays(sa)), data.draw(tst.floats_arrays(sb))
    assert gradgradcheck(F.matmul, a, b)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind(kind):
    sa, sb = KINDS[kind]
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    assert_same(F.matmul(Variable(a), Variable(b)), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    assert gradcheck(F.matmul, a, b)
    assert gradgradcheck(F.matmul, a, b)
    # one side constant: the other still right
    assert gradcheck(lambda v: F.matmul(v, b), a)
    assert gradcheck(lambda v: F.matmul(a, v), b)


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_equal_the_einsum_formulas(kind):
    """The gradients written independently: gA = sum over broadcast of gY @ B^T, gB likewise,
    with NumPy's lifting of 1-D operands, and summed back to each operand's shape."""
    sa, sb = KINDS[kind]
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    gy = RNG.standard_normal(np.matmul(a, b).shape)
    A = a[None, :] if a.ndim == 1 else a
    B = b[:, None] if b.ndim == 1 else b
    G = gy.reshape(np.matmul(A, B).shape)  # the lifting only inserts length-1 axes
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    Ab = np.broadcast_to(A, batch + A.shape[-2:])
    Bb = np.broadcast_to(B, batch + B.shape[-2:])
    gA_full = np.einsum("...mn,...kn->...mk", G, Bb)
    gB_full = np.einsum("...mk,...mn->...kn", Ab, G)

    def reduce_to(g, shape):
        g = g.reshape((-1,) + g.shape[-2:]).sum(0) if len(shape) == 2 else g
        while g.ndim > len(shape):
            g = g.sum(0)
        for i, n in enumerate(shape):
            if n == 1 and g.shape[i] != 1:
                g = g.sum(i, keepdims=True)
        return g

    ga_ref = reduce_to(gA_full, A.shape).reshape(a.shape)
    gb_ref = reduce_to(gB_full, B.shape).reshape(b.shape)
    va, vb = Variable(a), Variable(b)
    ga, gb = grad(F.matmul(va, vb), [va, vb], grad_outputs=Variable(gy))
    assert ga.shape == a.shape and gb.shape == b.shape
    np.testing.assert_allclose(ga.data, ga_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb.data, gb_ref, rtol=1e-12, atol=1e-12)


def test_matmul_with_ndarrays_on_either_side():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    assert_same(Variable(a) @ b, a @ b)
    assert_same(a @ Variable(b), a @ b)
    assert gradcheck(lambda v: v @ b, a)
    assert gradcheck(lambda v: a @ v, b)
    assert gradcheck(lambda v: F.matmul(a, v), b)


# --- errors ---------------------------------------------------------------------------------
def test_inner_dimension_mismatch_exact_message():
    with pytest.raises(ValueError) as info:
        F.matmul(Variable(np.ones((3, 4))), Variable(np.ones((5, 2))))
    assert str(info.value) == "matmul: (3, 4) @ (5, 2): inner dimensions 4 and 5 differ"


def test_more_matmul_errors():
    with pytest.raises(ValueError, match=r"^matmul: \(3,\) @ \(4,\): inner dimensions 3 and 4 "
                                         r"differ$"):
        Variable(np.ones(3)) @ np.ones(4)
    with pytest.raises(ValueError, match=r"^matmul: \(2, 3, 4\) @ \(3, 4, 2\): batch dimensions "
                                         r"\(2,\) and \(3,\) do not broadcast$"):
        F.matmul(Variable(np.ones((2, 3, 4))), Variable(np.ones((3, 4, 2))))
    with pytest.raises(ValueError, match=r"^matmul: \(\) @ \(3,\): operands must have at least "
                                         r"one dimension$"):
        F.matmul(Variable(np.array(2.0)), Variable(np.ones(3)))
