"""add, sub, mul, div, neg, pow: forward == NumPy, first and second order, broadcasting,
scalars and ndarrays on either side, error messages."""
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad
from tinygrad_attn.testing import gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

from . import assert_same, examples

BINARY = {
    "add": (F.add, np.add),
    "sub": (F.sub, np.subtract),
    "mul": (F.mul, np.multiply),
    "div": (F.div, np.divide),
}


@st.composite
def operand_pairs(draw, positive_b=False):
    sa, sb = draw(tst.broadcastable_shapes())
    a = draw(tst.floats_arrays(sa))
    # denominators stay away from 0: |b| >= 0.5
    b = draw(tst.floats_arrays(sb, avoid=(0.0,), margin=0.5)) if positive_b else \
        draw(tst.floats_arrays(sb))
    return a, b


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_forward_matches_numpy(name, data):
    op, ref = BINARY[name]
    a, b = data.draw(operand_pairs(positive_b=name == "div"))
    assert_same(op(Variable(a), Variable(b)), ref(a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_gradcheck(name, data):
    op, _ = BINARY[name]
    a, b = data.draw(operand_pairs(positive_b=name == "div"))
    assert gradcheck(op, a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
@examples(0.5)
@given(data=st.data())
def test_binary_gradgradcheck(name, data):
    op, _ = BINARY[name]
    a, b = data.draw(operand_pairs(positive_b=name == "div"))
    assert gradgradcheck(op, a, b)


@given(tst.floats_arrays())
def test_neg(x):
    assert_same(F.neg(Variable(x)), -x)
    assert_same(-Variable(x), -x)
    assert gradcheck(F.neg, x)
    assert gradgradcheck(F.neg, x)


def test_broadcast_gradients_are_summed_by_hand():
    a = Variable(np.arange(6.0).reshape(2, 3))
    b = Variable(np.array([1.0, 2.0, 4.0]))
    ga, gb = grad(F.mul(a, b), [a, b], grad_outputs=Variable(np.ones((2, 3))))
    np.testing.assert_array_equal(ga.data, [[1, 2, 4], [1, 2, 4]])
    np.testing.assert_array_equal(gb.data, [3, 5, 7])
    assert gb.shape == (3,)


# --- pow ------------------------------------------------------------------------------------
@given(tst.positive_arrays(), st.floats(-2.5, 2.5))
def test_pow_constant_exponent(x, c):
    assert_same(F.pow(Variable(x), c), x ** c)
    assert gradcheck(lambda v: F.pow(v, c), x)


@examples(0.5)
@given(tst.positive_arrays(), st.floats(-2.5, 2.5))
def test_pow_constant_exponent_second_order(x, c):
    assert gradgradcheck(lambda v: v ** c, x)


@given(st.data())
def test_pow_variable_exponent(data):
    """Both base and exponent differentiable (d/dc x**c = x**c log x), with broadcasting."""
    sx, sc = data.draw(tst.broadcastable_shapes())
    x = data.draw(tst.positive_arrays(sx))
    c = data.draw(tst.floats_arrays(sc, min_value=-2, max_value=2))
    assert_same(F.pow(Variable(x), Variable(c)), x ** c)
    assert gradcheck(F.pow, x, c)


@examples(0.5)
@given(st.data())
def test_pow_variable_exponent_second_order(data):
    sx, sc = data.draw(tst.broadcastable_shapes())
    x = data.draw(tst.positive_arrays(sx))
    c = data.draw(tst.floats_arrays(sc, min_value=-2, max_value=2))
    assert gradgradcheck(F.pow, x, c)


@pytest.mark.parametrize("n", [2, 3, 4])
@given(x=tst.floats_arrays())
def test_pow_integer_exponent_of_negative_bases(n, x):
    """x ** n for any real x: the exponent is a constant, so log(x) must never be needed."""
    assert_same(Variable(x) ** n, x ** n)
    assert gradcheck(lambda v: v ** n, x)
    assert gradgradcheck(lambda v: v ** n, x)


@given(tst.floats_arrays())
def test_scalar_base_pow(x):
    """2 ** x: the exponent is the Variable."""
    assert_same(2.0 ** Variable(x), 2.0 ** x)
    assert gradcheck(lambda v: 2.0 ** v, x)
    assert gradgradcheck(lambda v: 2.0 ** v, x)


def test_pow_by_hand():
    x = Variable(np.array([2.0, 3.0]))
    c = Variable(np.array(3.0))
    gx, gc = grad(F.pow(x, c).sum(), [x, c])
    np.testing.assert_allclose(gx.data, [12.0, 27.0])
    np.testing.assert_allclose(gc.data, 8 * np.log(2) + 27 * np.log(3))


# --- operators with scalars and ndarrays on either side --------------------------------------
OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", OPERATORS, ids=lambda o: o.__name__)
@pytest.mark.parametrize("const", [1.5, np.array([0.5, 2.0, 1.25]),
                                   np.array([[0.75], [1.5]])], ids=["scalar", "row", "col"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_operators_with_constants(op, const, side):
    x = np.array([[0.5, 1.0, 2.0], [1.5, 0.75, 1.25]])  # positive: pow and div are defined
    f = (lambda v: op(v, const)) if side == "right" else (lambda v: op(const, v))
    expected = op(x, const) if side == "right" else op(const, x)
    out = f(Variable(x))
    assert isinstance(out, Variable)
    assert_same(out, expected)
    assert gradcheck(f, x)


@pytest.mark.parametrize("op", OPERATORS, ids=lambda o: o.__name__)
def test_operators_between_variables(op):
    a = np.array([[0.5, 1.0, 2.0], [1.5, 0.75, 1.25]])
    b = np.array([1.5, 0.5, 2.0])
    assert_same(op(Variable(a), Variable(b)), op(a, b))
    assert gradcheck(op, a, b)


def test_constants_get_no_gradient_and_are_not_leaves_with_grad():
    x = Variable(np.ones(3))
    c = np.array([1.0, 2.0, 3.0])
    y = (c * x + 1.0).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, c)
    assert isinstance(c, np.ndarray)  # the ndarray was not replaced or modified
    np.testing.assert_array_equal(c, [1.0, 2.0, 3.0])


# --- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, symbol", [("add", "+"), ("sub", "-"), ("mul", "*"),
                                          ("div", "/"), ("pow", "**")])
def test_non_broadcastable_shapes_name_the_op_and_the_shapes(name, symbol):
    op = getattr(F, name)
    with pytest.raises(ValueError) as info:
        op(Variable(np.ones((2, 3))), Variable(np.ones(4)))
    assert str(info.value) == f"{name}: (2, 3) {symbol} (4,): shapes do not broadcast"


def test_add_operator_error_message():
    with pytest.raises(ValueError, match=r"^add: \(3,\) \+ \(2, 1, 4\): shapes do not broadcast$"):
        Variable(np.ones(3)) + np.ones((2, 1, 4))


# --- pow at base 0: the true derivative, never 0 * inf -----------------------------------------
def test_pow_at_base_zero_takes_the_true_derivative():
    zero = Variable(np.array(0.0))
    (g,) = grad(zero ** 0, [zero])                     # x**0 is the constant 1
    assert g.item() == 0.0
    (g,) = grad(zero ** 1, [zero], create_graph=True)  # d/dx x = 1, d2/dx2 x = 0
    (gg,) = grad(g, [zero])
    assert (g.item(), gg.item()) == (1.0, 0.0)
    y = Variable(np.array(0.7))
    (g,) = grad(F.pow(0.0, y), [y])                     # 0**y = 0 for y > 0
    assert g.item() == 0.0
    y0 = Variable(np.array(0.0))
    (g,) = grad(F.pow(0.0, y0), [y0])                   # PyTorch's choice at 0**0
    assert g.item() == 0.0


def test_pow_exponent_gradient_through_relu_zeros():
    """d/dp sum(relu(x)**p) = sum over x > 0 of x**p log x; the zeros relu makes add 0
    (PyTorch 2.13 gives 1.7154517510699576 here, and so does the closed form)."""
    x = Variable(np.array([-1.0, 0.0, 0.5, 2.0]))
    p = Variable(np.array(1.5))
    (g,) = grad((F.relu(x) ** p).sum(), [p])
    closed = 0.5 ** 1.5 * np.log(0.5) + 2.0 ** 1.5 * np.log(2.0)
    assert g.item() == pytest.approx(closed, rel=1e-15)
    assert g.item() == pytest.approx(1.7154517510699576, rel=1e-15)


@pytest.mark.parametrize("c", [0.0, 1.0, 2.0, 2.5])
def test_pow_at_base_zero_is_finite_to_second_order(c):
    x = Variable(np.array([0.0, 0.0, 1.5]))
    cv = Variable(np.full(3, c))
    g = grad((x ** cv).sum(), [x, cv], create_graph=True)
    gg = grad(g[0].sum() + g[1].sum(), [x, cv], allow_unused=True)
    for v in list(g) + [v for v in gg if v is not None]:
        assert np.all(np.isfinite(v.data)), (c, v)


def test_pow_base_zero_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    xs = np.array([-1.0, 0.0, 0.0, 0.5, 2.0])
    for c in (0.0, 1.0, 1.5, 2.0, 3.0):
        x, cv = Variable(xs), Variable(np.full(5, c))
        ours = grad((F.relu(x) ** cv).sum(), [x, cv])
        tx = torch.tensor(xs, requires_grad=True)
        tc = torch.tensor(np.full(5, c), requires_grad=True)
        theirs = torch.autograd.grad((torch.relu(tx) ** tc).sum(), [tx, tc])
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-14, atol=0)


# --- constants only: binary ops compute as NumPy does, returning a constant Variable ----------
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "matmul"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_ops_of_constants_only(name, dtype):
    a = np.array([[0.5, 1.5], [2.0, 0.25]], dtype=dtype)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "pow": np.power, "matmul": np.matmul}[name]
    op = getattr(F, name)
    for x, y in [(a, a[0]), (a, 2.0), (3.0, a), (a, np.float64(2.0))]:
        if name == "matmul" and not (np.ndim(x) and np.ndim(y)):
            continue
        out = op(x, y)
        expected = ref(x, y)
        assert isinstance(out, Variable) and out.creator is None and not out.requires_grad
        assert out.dtype == expected.dtype, (x, y)
        np.testing.assert_array_equal(out.data, expected)
    if name != "matmul":
        assert op(2.0, 3.0).dtype == np.float64


def test_dropout_of_a_plain_array():
    x = np.ones((3, 4), np.float32)
    y = F.dropout(x, 0.5, np.random.default_rng(0), training=True)
    assert isinstance(y, Variable) and y.dtype == np.float32
    assert set(np.unique(y.data)) <= {0.0, 2.0}


def test_pow_second_order_at_exponent_zero_is_the_true_one():
    """d2/dx dc of x**c at c = 0 is 1/x: kept (PyTorch's rule masks it to 0)."""
    x, c = np.array([0.5, 1.0, 2.0]), np.zeros(3)
    assert gradgradcheck(F.pow, x, c)
    xv, cv = Variable(x), Variable(c)
    (gx,) = grad(F.pow(xv, cv).sum(), [xv], create_graph=True)
    (gxc,) = grad(gx.sum(), [cv])
    np.testing.assert_allclose(gxc.data, 1 / x)
