"""The shape helpers (ops/layout.py) and the contractions (ops/contraction.py) where a
registry row cannot say enough: the einsums attention code writes, by hand; errors that name
the op."""
import numpy as np
import pytest

import tinygrad_attn.functions as F
from tinygrad_attn import Variable
from tinygrad_attn.testing import gradcheck, gradgradcheck

rng = np.random.default_rng(0)


@pytest.mark.parametrize("spec, shapes", [
    ("bqd,bkd->bqk", [(2, 3, 4), (2, 5, 4)]),       # attention scores
    ("bqk,bkd->bqd", [(2, 3, 5), (2, 5, 4)]),       # context
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("i,j->ij", [(3,), (4,)]),                       # outer
    ("ij->ji", [(3, 4)]),                            # transpose
    ("ii->i", [(3, 3)]),                             # diagonal
    ("ii", [(3, 3)]),                                # trace (implicit output)
    ("ij,jk", [(2, 3), (3, 4)]),                     # implicit: ik
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bi,bi->b", [(3, 4), (3, 4)]),
    ("i->", [(5,)]),
])
def test_einsum_equals_numpy_and_passes_both_orders(spec, shapes):
    xs = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(F.einsum(spec, *[Variable(x) for x in xs]).data,
                               np.einsum(spec, *xs), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda *vs: F.einsum(spec, *vs), *xs)
    assert gradgradcheck(lambda *vs: F.einsum(spec, *vs) ** 2, *xs)


def test_einsum_errors_name_the_subscripts():
    a = Variable(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"einsum 'ijk->i': operand 0 has shape \(2, 3\) "
                                         r"\(2 dims\) but its subscripts 'ijk' name 3"):
        F.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"label 'j' has length 3 in one operand and 4"):
        F.einsum("ij,jk->ik", a, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"output subscript 'z' is in no operand"):
        F.einsum("ij->z", a)
    with pytest.raises(ValueError, match=r"2 operand subscripts for 1 operands"):
        F.einsum("ij,jk", a)


def test_tensordot_outer_linear():
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    np.testing.assert_allclose(F.tensordot(a, b, ([1, 2], [1, 0])).data,
                               np.tensordot(a, b, ([1, 2], [1, 0])))
    with pytest.raises(ValueError, match=r"tensordot: axis 2 of a \(2, 3, 4\) and axis 0 of "
                                         r"b \(3, 4\) differ in length"):
        F.tensordot(a, np.ones((3, 4)), 1)
    np.testing.assert_allclose(F.outer(a[0], b[0, 0]).data, np.outer(a[0], b[0, 0]))
    x, W, bias = Variable(a), Variable(rng.standard_normal((4, 2))), np.ones(2)
    np.testing.assert_allclose(F.linear(x, W, bias).data, a @ W.data + 1)


def test_shape_helper_errors_name_the_op():
    x = Variable(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"pad: mode must be one of constant, edge, reflect, "
                                         r"symmetric, wrap, got 'mean'"):
        F.pad(x, 1, mode="mean")
    with pytest.raises(ValueError, match=r"pad: pad_width must be counts >= 0"):
        F.pad(x, -1)
    with pytest.raises(ValueError, match=r"repeat: repeats must be a count >= 0 or 3 of them"):
        F.repeat(x, [1, 2], axis=1)
    with pytest.raises(ValueError, match=r"flatten: start_dim 1 comes after end_dim 0"):
        F.flatten(x, 1, 0)
    with pytest.raises(ValueError, match=r"diagonal: axis1 and axis2 are the same axis"):
        F.diagonal(x, 0, 1, -1)
    with pytest.raises(ValueError, match=r"moveaxis: 2 source axes but 1 destinations"):
        F.moveaxis(x, (0, 1), 0)


def test_variable_methods_in_numpys_spelling():
    x = Variable(np.arange(6.0).reshape(2, 1, 3))
    assert x.ravel().shape == (6,) and x.flatten().shape == (6,)
    assert x.flatten(1).shape == (2, 3) and x.squeeze().shape == (2, 3)
    assert x.squeeze(1).shape == (2, 3) and x.reshape(3, 2).shape == (3, 2)
    for name in ("prod", "var", "std", "cumsum"):
        np.testing.assert_allclose(getattr(x, name)().data, getattr(np, name)(x.data))
    np.testing.assert_array_equal(x.clip(1, 4).data, np.clip(x.data, 1, 4))
    assert x.repeat(2, axis=0).shape == (4, 1, 3) and x.diagonal(0, 0, 2).shape == (1, 2)
    assert x.sum(dtype=np.float32).dtype == np.float32
    assert x.argmax().item() == 5 and x.argmin(axis=2).shape == (2, 1)
    with pytest.raises(TypeError, match=r"Variable.max: out= is not supported"):
        x.max(out=np.empty(()))
