"""The tape: accumulation, retain_grad, grad(), higher order, deep graphs, memory, no_grad,
dtypes, integer Variables, operators, error messages."""
import gc
import operator
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad, no_grad
from tinygrad_attn.testing import gradcheck, graph_freed

RNG = np.random.default_rng(11)


# --- accumulation ---------------------------------------------------------------------------
def test_fan_out_accumulates():
    x = Variable(np.array(2.0))
    y = x * x * x + x + 3 * x  # 3x^2 + 4
    y.backward()
    assert x.grad.data == pytest.approx(3 * 4 + 4)


def test_fan_out_many_uses_and_diamond():
    x = Variable(np.array([1.0, -2.0]))
    y = x
    for _ in range(50):
        y = y + x
    a = x * 2.0
    z = (a + a * a).sum() + y.sum()  # d/dx: 2 + 8x + 51
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 + 8 * x.data + 51)


def test_leaf_grads_accumulate_across_backward_calls():
    x = Variable(np.array([1.0, 2.0, 3.0]))
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 3)
    y = (x * x).sum()
    y.backward()
    y.backward()  # the same graph twice: accumulates again, as PyTorch with retain_graph
    np.testing.assert_allclose(x.grad.data, 6 * x.data + 3)
    x.cleargrad()
    assert x.grad is None


def test_accumulated_grads_are_distinct_from_the_seed():
    x = Variable(np.array([1.0, 2.0]))
    seed = np.array([1.0, 1.0])
    (x + 0.0).backward(seed)
    (x + 0.0).backward(seed)
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(seed, [1.0, 1.0])  # the user's seed was not modified


def test_intermediates_have_no_grad_unless_retained():
    x = Variable(np.array([1.0, 2.0]))
    h = x * 3.0
    y = (h * h).sum()
    y.backward()
    assert h.grad is None and y.grad is None
    np.testing.assert_allclose(x.grad.data, 18 * x.data)
    x.cleargrad()
    y.backward(retain_grad=True)
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert y.grad.data == 1.0
    np.testing.assert_allclose(x.grad.data, 18 * x.data)


# --- grad() ---------------------------------------------------------------------------------
def test_grad_does_not_touch_dot_grad():
    x = Variable(np.array([1.0, 2.0]))
    y = (x * x).sum()
    (g,) = grad(y, [x])
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    assert x.grad is None
    y.backward()
    before = x.grad
    grad(y, x)
    assert x.grad is before
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_grad_with_grad_outputs_and_several_outputs():
    x = Variable(np.array([1.0, 2.0, 3.0]))
    y1, y2 = x * x, x * 5.0
    u, w = np.array([1.0, -1.0, 2.0]), np.array([0.5, 0.5, 0.5])
    (g,) = grad([y1, y2], [x], grad_outputs=[Variable(u), Variable(w)])
    np.testing.assert_allclose(g.data, u * 2 * x.data + 5 * w)
    (g1,) = grad(y1, x, grad_outputs=Variable(u))
    np.testing.assert_allclose(g1.data, u * 2 * x.data)
    with pytest.raises(ValueError, match="grad: 2 outputs but 1 grad_outputs"):
        grad([y1, y2], [x], grad_outputs=[Variable(u)])


def test_grad_create_graph():
    x = Variable(np.array(1.5))
    (g,) = grad(x ** 3, [x])
    assert g.creator is None  # no graph recorded without create_graph
    (g,) = grad(x ** 3, [x], create_graph=True)
    assert g.creator is not None
    (gg,) = grad(g, [x])
    assert gg.data == pytest.approx(6 * 1.5)


def test_grad_allow_unused():
    x, z = Variable(np.array([1.0])), Variable(np.array([2.0]))
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(1,\)\) is not used .* "
                                           r"allow_unused=True"):
        grad(y, [x, z])
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.data[0] == 2.0


def test_grad_wrt_an_intermediate():
    x = Variable(np.array([1.0, 2.0]))
    h = x * 2.0
    y = (h * h).sum()
    gh, gx = grad(y, [h, x])
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 8 * x.data)


# --- higher order, compared with analytic derivatives ---------------------------------------
def second_derivative_projected(f, x, u, v):
    """d/dx of sum(v * grad(sum(u * f(x)), x)), by autograd."""
    xv = Variable(x)
    (g,) = grad(f(xv), [xv], grad_outputs=Variable(u), create_graph=True)
    (gg,) = grad(g, [xv], grad_outputs=Variable(v))
    return gg.data


def test_grad_of_grad_tanh_and_sigmoid():
    x, u, v = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    t = np.tanh(x)
    np.testing.assert_allclose(second_derivative_projected(F.tanh, x, u, v),
                               u * v * (-2 * t * (1 - t * t)), rtol=1e-12, atol=1e-14)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(second_derivative_projected(F.sigmoid, x, u, v),
                               u * v * s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-14)


def test_grad_of_grad_softmax():
    x, w, v = RNG.standard_normal(5), RNG.standard_normal(5), RNG.standard_normal(5)
    y = np.exp(x) / np.exp(x).sum()
    J = np.diag(y) - np.outer(y, y)
    s = w @ y
    H = np.diag(w - s) @ J - np.outer(y, J @ w)  # d/dx of y * (w - s)
    np.testing.assert_allclose(second_derivative_projected(F.softmax, x, w, v), H.T @ v,
                               rtol=1e-10, atol=1e-14)


def test_grad_of_grad_matmul():
    A, B = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    W, V = RNG.standard_normal((2, 4)), RNG.standard_normal((2, 3))
    a, b = Variable(A), Variable(B)
    (ga,) = grad(a @ b, [a], grad_outputs=Variable(W), create_graph=True)
    np.testing.assert_allclose(ga.data, W @ B.T, rtol=1e-12)
    gb, gaa = grad(ga, [b, a], grad_outputs=Variable(V), allow_unused=True)
    np.testing.assert_allclose(gb.data, V.T @ W, rtol=1e-12)  # d/dB sum(V * W B^T)
    assert gaa is None  # ga does not depend on a


def test_third_order_of_x_to_the_fourth():
    x = Variable(np.array([0.5, -2.0, 3.0]))
    y = (x ** 4).sum()
    (g1,) = grad(y, [x], create_graph=True)
    (g2,) = grad(g1.sum(), [x], create_graph=True)
    (g3,) = grad(g2.sum(), [x], create_graph=True)
    np.testing.assert_allclose(g1.data, 4 * x.data ** 3)
    np.testing.assert_allclose(g2.data, 12 * x.data ** 2)
    np.testing.assert_allclose(g3.data, 24 * x.data)
    (g4,) = grad(g3.sum(), [x])
    np.testing.assert_allclose(g4.data, [24.0, 24.0, 24.0])


def test_higher_order_with_backward_create_graph():
    x = Variable(np.array(2.0))
    (x ** 4).backward(create_graph=True)
    gx = x.grad
    assert gx.data == 32.0 and gx.creator is not None
    x.cleargrad()
    gx.backward(create_graph=True)
    assert x.grad.data == 48.0
    gxx = x.grad
    x.cleargrad()
    gxx.backward()
    assert x.grad.data == 48.0  # 24x


# --- deep graphs and memory -----------------------------------------------------------------
def test_chain_of_100_000_ops_without_recursion_error():
    x = Variable(np.array([1.0, 2.0]))
    c = 1.00001
    h = x
    for _ in range(100_000):
        h = h * c
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, [c ** 100_000] * 2, rtol=1e-9)
    del h  # freeing the chain must not recurse either


def test_graph_is_freed_when_the_loss_is_dropped():
    W = Variable(RNG.standard_normal((3, 2)))
    x = RNG.standard_normal((4, 3))
    gc.collect()
    gc.disable()  # freed by reference counting alone: the graph has no cycles
    try:
        h = F.tanh(x @ W)
        loss = F.softmax_cross_entropy(h, np.array([0, 1, 1, 0]))
        refs = [weakref.ref(loss.creator), weakref.ref(h), weakref.ref(h.creator)]
        del h
        assert all(r() is not None for r in refs)  # kept alive by the loss
        loss.backward()
        del loss
        assert all(r() is None for r in refs)
    finally:
        gc.enable()
    assert W.grad is not None and W.grad.creator is None


def test_gradients_do_not_keep_the_graph_alive():
    x = Variable(RNG.standard_normal(3))
    y = F.exp(x * 2.0).sum()
    ref = weakref.ref(y.creator)
    y.backward()
    del y
    assert ref() is None
    assert x.grad.creator is None


def training_memory(first, last, leak=None):
    """Traced memory after step `first` and after step `last` of a tiny MLP trained with
    W -= lr * grad. Garbage is collected before measuring, so Python's free lists (bounded
    caches of freed objects, which tracemalloc counts as allocated) do not blur the result.
    `leak`, a list, keeps every loss: a deliberate leak, to show the check can fail. Also
    returns how many steps' graphs were freed once the step returned (`graph_freed`: weak
    references to every op and intermediate of the step's graph)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 4))
    T = rng.integers(0, 3, 8)
    W1, b1 = Variable(rng.standard_normal((4, 16)) * 0.5), Variable(np.zeros(16))
    W2, b2 = Variable(rng.standard_normal((16, 3)) * 0.5), Variable(np.zeros(3))
    params = [W1, b1, W2, b2]
    losses = [None, None]

    def step():
        h = F.tanh(X @ W1 + b1)
        loss = F.softmax_cross_entropy(h @ W2 + b2, T)
        for p in params:
            p.cleargrad()
        loss.backward()
        for p in params:
            p.data -= 0.1 * p.grad.data
        losses[0 if losses[0] is None else 1] = float(loss.data)
        if leak is not None:
            leak.append(loss)
        return graph_freed(loss)

    freed = 0
    tracemalloc.start()
    try:
        for _ in range(first):
            freed += step().freed
        gc.collect()
        at_first = tracemalloc.get_traced_memory()[0]
        for _ in range(last - first):
            freed += step().freed
        gc.collect()
        at_last = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return at_first, at_last, losses, freed


def test_training_loop_memory_does_not_grow():
    at_100, at_1000, (first_loss, last_loss), freed = training_memory(100, 1000)
    # 900 more steps: even 20 bytes kept per step would show
    assert at_1000 - at_100 < 16_000, (at_100, at_1000)
    assert freed == 1000  # every step's graph, by reference counting alone
    assert last_loss < first_loss  # and it trains


def test_training_memory_check_detects_a_leak():
    at_20, at_120, _, freed = training_memory(20, 120, leak=[])
    assert at_120 - at_20 > 100 * 1_000  # each kept graph holds more than a kilobyte
    assert freed == 0  # and graph_freed sees every kept graph alive


# --- no_grad --------------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = Variable(np.array([1.0, 2.0]))
    with no_grad():
        assert not tga.is_grad_enabled()
        y = F.tanh(x * 2.0) @ np.ones(2)
        parts = F.split(x, 2)
    assert tga.is_grad_enabled()
    assert y.creator is None and not y.requires_grad
    assert all(p.creator is None for p in parts)
    z = x * 2.0
    assert z.creator is not None and z.requires_grad


def test_no_grad_as_decorator_and_restores_on_error():
    x = Variable(np.array(1.0))

    @no_grad()
    def predict(v):
        return v * 3.0

    y = predict(x)
    assert y.creator is None and y.data == 3.0
    assert predict(x).creator is None  # reusable
    assert (x * 3.0).creator is not None
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert tga.is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not tga.is_grad_enabled()
    assert tga.is_grad_enabled()


# --- dtypes ---------------------------------------------------------------------------------
C64 = np.array([0.5, 1.5, 2.0])  # a float64 ndarray constant
MASK = np.array([[True, False, False], [False, True, False]])

# every op of F.__all__, mixed with Python floats and float64 ndarray constants
MIXED = {
    "add": lambda x: F.add(x, C64) + 1.5,
    "sub": lambda x: F.sub(C64, x) - 0.25,
    "mul": lambda x: F.mul(x, C64) * 2.0,
    "div": lambda x: F.div(1.0, x) / C64,
    "neg": lambda x: F.neg(x) * C64,
    "pow": lambda x: F.pow(x, 2.5) + C64 ** x + x ** C64,
    "exp": lambda x: F.exp(x * 0.5),
    "log": lambda x: F.log(x + C64),
    "tanh": lambda x: F.tanh(x - C64),
    "sigmoid": lambda x: F.sigmoid(x * C64),
    "relu": lambda x: F.relu(x - 1.0),
    "cast": lambda x: F.cast(F.cast(x, np.float64) * C64, x.dtype),
    "sum": lambda x: F.sum(x * C64, axis=1),
    "mean": lambda x: F.mean(x + C64, axis=0),
    "max": lambda x: F.max(x * C64, axis=1),
    "min": lambda x: F.min(x, axis=0) + C64,
    "broadcast_to": lambda x: F.broadcast_to(x, (4, 2, 3)) * C64,
    "sum_to": lambda x: F.sum_to(x * C64, (1, 3)),
    "reshape": lambda x: F.reshape(x, (3, 2)) * 0.5,
    "transpose": lambda x: F.transpose(x) @ C64[:2],
    "swapaxes": lambda x: F.swapaxes(x, 0, 1) * C64[:, None],
    "expand_dims": lambda x: F.expand_dims(x, 0) * C64,
    "squeeze": lambda x: F.squeeze(F.expand_dims(x, 0), 0) - C64,
    "concat": lambda x: F.concat([x, C64[None]], axis=0),
    "split": lambda x: F.split(x, [1], axis=1)[1] * C64[1:],
    "stack": lambda x: F.stack([x, np.ones((2, 3))]),
    "unstack": lambda x: F.unstack(x, 1)[0] + C64[:2],
    "matmul": lambda x: x @ np.ones((3, 2)) + np.ones((2, 2)) @ (x @ C64[:, None]),
    "getitem": lambda x: x[np.array([1, 1, 0])] * C64,
    "embedding": lambda x: F.embedding(x, np.array([[0, 1], [1, 1]])) * C64,
    "where": lambda x: F.where(MASK, x, C64),
    "masked_fill": lambda x: F.masked_fill(x, MASK, -1e9) * C64,
    "softmax": lambda x: F.softmax(x * C64),
    "log_softmax": lambda x: F.log_softmax(x, axis=0) + C64,
    "softmax_cross_entropy": lambda x: F.softmax_cross_entropy(x * C64, np.array([0, 2])),
    "lstm": lambda x: F.lstm(F.reshape(x, (2, 1, 3)), np.full((3, 8), 0.5), C64[:2, None]
                             * np.ones((2, 8)), np.zeros(8), C64[:2][None] * np.ones((2, 2)),
                             C64[1:][None] * np.ones((2, 2)))[0] * C64[:2],
    "layer_norm": lambda x: F.layer_norm(x * C64, C64, C64),
    "masked_softmax": lambda x: F.masked_softmax(x * C64, MASK),
    "softplus": lambda x: F.softplus(x - C64),
    "gelu": lambda x: F.gelu(x * C64),
    "cosine_similarity": lambda x: F.cosine_similarity(x, C64) + C64[:2],
    "roll": lambda x: F.roll(x, 1) * C64,
    "circular_convolution": lambda x: F.circular_convolution(x, C64),
    "dropout": lambda x: F.dropout(x * C64, 0.5, np.random.default_rng(0)),
    "binary_cross_entropy_with_logits":
        lambda x: F.binary_cross_entropy_with_logits(x * C64, np.ones((2, 3))),
    "batch_norm": lambda x: F.batch_norm(x * C64, C64 - 1.0, C64, C64, C64)
    + F.batch_norm(x * C64, None, None, C64, C64, training=True),
}


def test_mixed_dtype_table_covers_every_op():
    assert set(MIXED) == set(F.__all__)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MIXED))
def test_dtype_is_kept_through_every_op_and_its_gradient(name, dtype):
    x = Variable(np.array([[0.5, 1.25, 2.0], [1.5, 0.75, 1.125]], dtype=dtype))
    y = MIXED[name](x)
    assert y.dtype == dtype, f"{name}: output {y.dtype}"
    loss = (y * y).sum()
    assert loss.dtype == dtype
    (g,) = grad(loss, [x], create_graph=True)
    assert g.dtype == dtype and g.shape == x.shape, f"{name}: gradient {g.dtype}"
    assert np.all(np.isfinite(g.data))
    (gg,) = grad((g * g).sum(), [x], allow_unused=True)
    assert gg is None or gg.dtype == dtype, f"{name}: second order {gg.dtype}"
    if dtype == np.float64:  # and the float64 path is right
        assert gradcheck(lambda v: MIXED[name](v), x.data)


def test_float32_backward_accumulates_in_float32():
    x = Variable(np.ones(3, np.float32))
    (x * 2.0 + np.ones(3)).sum().backward()
    (x * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [5, 5, 5])


# --- integer Variables ----------------------------------------------------------------------
def test_integer_variables_are_data():
    with pytest.raises(TypeError, match="int64 is data, not differentiable"):
        Variable(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="not differentiable"):
        Variable(np.array([True, False]), requires_grad=True)
    i = Variable(np.arange(3))
    assert not i.requires_grad
    x = Variable(np.array([1.0, 2.0, 3.0]))
    y = (x * i).sum()  # mixing is fine; only x gets a gradient
    with pytest.raises(TypeError, match=r"grad: input 1 has dtype int64; integer and bool "
                                        r"Variables are data, not differentiable"):
        grad(y, [x, i])
    (gx,) = grad(y, [x])
    np.testing.assert_array_equal(gx.data, [0, 1, 2])
    y.backward()
    assert i.grad is None


def test_integer_output_cannot_be_differentiated():
    i = Variable(np.arange(3))
    with pytest.raises(TypeError, match="output has dtype int64"):
        (i * 2).sum().backward()


def test_variable_constructor_errors():
    with pytest.raises(TypeError, match="already a Variable"):
        Variable(Variable(np.ones(2)))
    with pytest.raises(TypeError, match="expected a numeric array"):
        Variable(np.array(["a", "b"]))


# --- operators ------------------------------------------------------------------------------
KINDS = ["variable", "scalar", "ndarray", "np_scalar"]


@pytest.mark.parametrize("left, right", [(a, b) for a in KINDS for b in KINDS
                                         if "variable" in (a, b)])
def test_operators_with_every_kind_of_operand(left, right):
    a = np.array([[0.5, 1.0, 2.0], [1.5, 0.75, 1.25]])
    b = np.array([1.5, 0.5, 2.0])
    make = {"variable": Variable, "scalar": lambda arr: float(arr.flat[0]),
            "ndarray": lambda arr: arr, "np_scalar": lambda arr: arr.flat[0]}
    ref_l = a if left in ("variable", "ndarray") else a.flat[0]
    ref_r = b if right in ("variable", "ndarray") else b.flat[0]
    for op in [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]:
        out = op(make[left](a), make[right](b))
        assert isinstance(out, Variable), (op, type(out))
        np.testing.assert_allclose(out.data, op(ref_l, ref_r))

        def f(*vs, op=op):
            it = iter(vs)
            lhs = next(it) if left == "variable" else make[left](a)
            rhs = next(it) if right == "variable" else make[right](b)
            return op(lhs, rhs)

        assert gradcheck(f, *[arr for kind, arr in ((left, a), (right, b))
                              if kind == "variable"])
    if left == "variable" and right in ("ndarray", "variable"):
        assert isinstance(Variable(a) @ make[right](b), Variable)
    if right == "variable" and left == "ndarray":
        assert isinstance(a.T @ Variable(b[:2]), Variable)


def test_unary_operators():
    x = Variable(np.array([1.0, -2.0]))
    np.testing.assert_array_equal((-x).data, [-1.0, 2.0])
    assert (+x) is x


# --- error messages -------------------------------------------------------------------------
def test_backward_on_a_non_scalar_says_so():
    y = Variable(np.ones((2, 3))) * 2.0
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert "backward()" in msg and "(2, 3)" in msg and "not a scalar" in msg and "grad=" in msg


def test_backward_with_a_wrongly_shaped_gradient():
    y = Variable(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"backward\(\): gradient has shape \(3,\) but the "
                                         r"output has shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_grad_of_a_non_variable_input():
    y = (Variable(np.ones(2)) * 2.0).sum()
    with pytest.raises(TypeError, match="grad: input 0 is a ndarray, not a Variable"):
        grad(y, [np.ones(2)])


# --- what the engine does for speed must not change a single gradient -------------------
def _recurrence(W, h0, xs):
    """h_t = tanh(x_t + h_{t-1} @ W): one weight used at every step."""
    h = h0
    for x in xs:
        h = F.tanh(x + h @ W)
    return (h * h).sum()


def test_weight_reused_over_steps_gets_the_same_grad_summed_at_once():
    # backward() sums W's per-step products as one product (first order only);
    # grad(create_graph=True) records every step: both must agree, and with finite differences
    rng = np.random.default_rng(3)
    W = Variable(rng.standard_normal((4, 4)) * 0.5)
    h0 = Variable(rng.standard_normal((2, 4)))
    xs = [rng.standard_normal((2, 4)) for _ in range(6)]
    _recurrence(W, h0, xs).backward()
    recorded, = grad(_recurrence(W, h0, xs), [W], create_graph=True)
    np.testing.assert_allclose(W.grad.data, recorded.data, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda W: _recurrence(W, h0, xs), W.data)


def test_weight_reused_over_steps_float32_stays_float32():
    rng = np.random.default_rng(4)
    W = Variable(rng.standard_normal((3, 3)).astype(np.float32))
    xs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    _recurrence(W, Variable(np.zeros((2, 3), np.float32)), xs).backward()
    assert W.grad.dtype == np.float32 and W.grad.shape == (3, 3)


@pytest.mark.parametrize("s_first", [True, False])
def test_in_place_accumulation_never_writes_into_a_shared_gradient(s_first):
    # s gets several contributions, summed into an array the engine owns; add then hands
    # that array to both a and b, and a gets one more contribution afterwards (from t).
    # Summing that one in place would change b's gradient too.
    a = Variable(np.array([1.0, 2.0]))
    b = Variable(np.array([3.0, 4.0]))
    s = a + b
    t = a * 5.0
    u = s + t if s_first else t + s
    loss = u.sum() + (s * 2.0).sum() + (s * 3.0).sum()
    loss.backward()
    np.testing.assert_array_equal(a.grad.data, [11.0, 11.0])
    np.testing.assert_array_equal(b.grad.data, [6.0, 6.0])


def test_each_leaf_owns_a_writable_grad():
    p, q = Variable(np.ones(3)), Variable(np.ones(3))
    (p + q).sum().backward()            # add and sum hand out one shared, read-only gradient
    assert p.grad.data is not q.grad.data
    assert p.grad.data.flags.writeable and q.grad.data.flags.writeable
    p.grad.data *= 2.0
    np.testing.assert_array_equal(q.grad.data, np.ones(3))


def test_the_seed_array_is_not_aliased_by_a_leaf_grad():
    x = Variable(np.zeros(3))
    seed = np.array([1.0, 2.0, 3.0])
    (x + 0.0).backward(seed)
    x.grad.data[:] = 0.0
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])


def test_retained_intermediate_grads_do_not_alias_leaf_grads():
    x = Variable(np.ones(3))
    y = x + 0.0                      # add hands y's gradient straight on to x
    (y * 2.0).sum().backward(retain_grad=True)
    assert y.grad.data is not x.grad.data
    x.grad.data[:] = 0.0
    np.testing.assert_array_equal(y.grad.data, [2.0, 2.0, 2.0])


# --- state that `with` blocks change is per thread; ops carry their attributes ---------------
def test_no_grad_and_name_scope_are_per_thread():
    """Recording and the name scope live in ContextVars: one thread inside `no_grad()` and
    a name scope leaves another thread recording, in the root scope."""
    import threading

    both_inside = threading.Barrier(2)
    seen = {}

    def quiet():
        with tga.no_grad(), tga.name_scope("quiet"):
            both_inside.wait(timeout=10)
            x = Variable(np.ones(2))
            seen["quiet"] = ((x * 2).sum().creator, tga.current_scope())
            both_inside.wait(timeout=10)

    def loud():
        both_inside.wait(timeout=10)
        x = Variable(np.ones(2))
        seen["loud"] = ((x * 2).sum().creator, tga.current_scope())
        both_inside.wait(timeout=10)

    threads = [threading.Thread(target=quiet), threading.Thread(target=loud)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["quiet"][0] is None and seen["quiet"][1] == ("quiet",)
    assert seen["loud"][0] is not None and seen["loud"][1] == ()


def test_enable_grad_inside_no_grad_and_set_grad_enabled_as_decorator():
    x = Variable(np.ones(3))
    with tga.no_grad():
        assert not tga.is_grad_enabled()
        with tga.enable_grad():
            assert (x * 2).creator is not None
        assert (x * 2).creator is None

    @tga.set_grad_enabled(False)
    def depth(n):
        return depth(n - 1) if n else tga.is_grad_enabled()

    assert depth(3) is False and tga.is_grad_enabled()


def test_every_recorded_op_rebuilds_from_its_attributes():
    """`type(f)(**f.attributes())` is an equal op: run again on the recorded inputs it gives
    the recorded outputs, for every function of the attention model's loss graph."""
    import tinygrad_attn_models as models

    rng = np.random.default_rng(0)
    model = models.AttentionSeq2seq(7, 3, 4, seed=0, dtype=np.float64)
    loss = model.loss(rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 4)))
    stack, seen, names = [loss.creator], set(), set()
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        names.add(f.name)
        again = type(f)(**f.attributes()).forward(*[x.data for x in f.inputs])
        again = again if isinstance(again, tuple) else (again,)
        for i, y in enumerate(again):
            out = f.outputs[i]()
            if out is not None:
                np.testing.assert_array_equal(y, out.data, err_msg=f.name)
        stack.extend(x.creator for x in f.inputs)
    assert {"matmul", "softmax", "embedding", "lstm", "softmax_cross_entropy"} <= names
