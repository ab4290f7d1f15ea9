"""lstm: the fused one-node LSTM proved equal to its step-by-step composite (values and
first-order gradients, float32 and float64, with and without an initial state, any subset of
its outputs used), against finite differences, and at second order (its rule falls back to
the composite when the pass records)."""
from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad, no_grad
from tinygrad_attn.ops.recurrent import lstm_composite, step_by_step
from tinygrad_attn.tape import topological_order as walk_functions
from tinygrad_attn.testing import gradcheck, gradgradcheck

from . import examples

STATES = ["zeros", "h", "c", "h and c"]
OUTPUTS = [("hs",), ("h",), ("c",), ("hs", "h"), ("hs", "c"), ("h", "c"), ("hs", "h", "c")]
# fused and composite run the same float operations in a different grouping of the
# products' columns: equal up to the rounding of the dtype
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def operands(rng, N, T, D, H, state, dtype):
    arrays = [rng.standard_normal((N, T, D)), rng.standard_normal((D, 4 * H)) / np.sqrt(D),
              rng.standard_normal((H, 4 * H)) / np.sqrt(H), rng.standard_normal(4 * H),
              rng.standard_normal((N, H)) if "h" in state.split() else None,
              rng.standard_normal((N, H)) if "c" in state.split() else None]
    return [None if a is None else Variable(a.astype(dtype)) for a in arrays]


def projected(outs, used, us):
    """sum(u * output) over the outputs in `used`: a scalar that uses only those."""
    total = None
    for name, y, u in zip(("hs", "h", "c"), outs, us):
        if name in used:
            term = (y * u).sum()
            total = term if total is None else total + term
    return total


@given(N=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(1, 4),
       state=st.sampled_from(STATES), used=st.sampled_from(OUTPUTS),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_fused_equals_composite(N, T, D, H, state, used, dtype, seed):
    rng = np.random.default_rng(seed)
    args = operands(rng, N, T, D, H, state, dtype)
    inputs = [a for a in args if a is not None]
    fused, composite = F.lstm(*args), lstm_composite(*args)
    assert fused[0].creator is not None and fused[0].creator.name == "lstm"
    for a, b in zip(fused, composite):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a.data, b.data, **TOL[dtype])
    us = [rng.standard_normal(y.shape).astype(dtype) for y in fused]
    g_fused = grad(projected(fused, used, us), inputs, allow_unused=True)
    g_comp = grad(projected(composite, used, us), inputs, allow_unused=True)
    for x, a, b in zip(inputs, g_fused, g_comp):
        if b is None:   # the input did not reach the used outputs (Wh of one step from zeros)
            assert a is None or not a.data.any()
            continue
        assert a.dtype == dtype and a.shape == x.shape
        np.testing.assert_allclose(a.data, b.data, **TOL[dtype])


@pytest.mark.parametrize("state", STATES)
def test_gradcheck(state):
    rng = np.random.default_rng(3)
    args = [a.data for a in operands(rng, 2, 3, 2, 3, state, np.float64) if a is not None]
    has_h, has_c = "h" in state.split(), "c" in state.split()

    def f(xs, Wx, Wh, b, *s):
        return F.lstm(xs, Wx, Wh, b, s[0] if has_h else None, s[-1] if has_c else None)

    assert gradcheck(f, *args)


@examples(0.1)
@given(T=st.integers(1, 3), state=st.sampled_from(STATES), seed=st.integers(0, 2**16))
def test_gradgradcheck(T, state, seed):
    rng = np.random.default_rng(seed)
    args = [a.data for a in operands(rng, 2, T, 2, 2, state, np.float64) if a is not None]
    has_h, has_c = "h" in state.split(), "c" in state.split()

    def f(xs, Wx, Wh, b, *s):
        return F.lstm(xs, Wx, Wh, b, s[0] if has_h else None, s[-1] if has_c else None)

    assert gradgradcheck(f, *args)


def test_recording_pass_differentiates_the_composite():
    """With create_graph the rule returns recorded Variables (a graph), equal to the fused
    first-order ones."""
    rng = np.random.default_rng(0)
    args = operands(rng, 2, 3, 2, 3, "h and c", np.float64)
    hs, h, c = F.lstm(*args)
    loss = (hs * hs).sum() + (c * h).sum()
    first = grad(loss, args)
    recorded = grad(loss, args, create_graph=True)
    for a, b in zip(first, recorded):
        assert a.creator is None and b.creator is not None
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)


def test_second_pass_over_one_graph_gives_the_same_gradients():
    """The fused rule writes over its workspace; a second pass recomputes it."""
    rng = np.random.default_rng(1)
    args = operands(rng, 3, 4, 2, 3, "h", np.float32)
    hs, _, _ = F.lstm(*args)
    loss = (hs * hs).sum()
    first, second = grad(loss, args[:5]), grad(loss, args[:5])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.data, b.data)


def test_nothing_recorded_without_grad_and_values_equal():
    rng = np.random.default_rng(2)
    args = operands(rng, 3, 4, 2, 3, "h and c", np.float32)
    recorded = F.lstm(*args)
    with no_grad():
        plain = F.lstm(*args)
    for a, b in zip(recorded, plain):
        assert b.creator is None and not b.requires_grad
        np.testing.assert_array_equal(a.data, b.data)


def test_constants_take_the_variables_dtype():
    rng = np.random.default_rng(4)
    xs = Variable(rng.standard_normal((2, 3, 2)).astype(np.float32))
    hs, h, c = F.lstm(xs, np.ones((2, 8)), np.ones((2, 8)) * 0.1, np.zeros(8))
    assert hs.dtype == h.dtype == c.dtype == np.float32 and hs.creator.name == "lstm"


@pytest.mark.parametrize("shapes", [
    ((2, 3), (3, 8), (2, 8), (8,)),            # xs not 3-D
    ((2, 3, 4), (3, 8), (2, 8), (8,)),         # Wx rows != D
    ((2, 3, 4), (4, 8), (2, 6), (8,)),         # Wh not (H, 4H)
    ((2, 3, 4), (4, 8), (2, 8), (6,)),         # b not (4H,)
    ((2, 0, 4), (4, 8), (2, 8), (8,)),         # no steps
])
def test_bad_shapes_name_the_op_and_shapes(shapes):
    args = [Variable(np.zeros(s)) for s in shapes]
    with pytest.raises(ValueError, match=r"lstm: expected xs .* got xs \(2, "):
        F.lstm(*args)


def test_bad_state_shape():
    args = [Variable(np.zeros(s)) for s in ((2, 3, 4), (4, 8), (2, 8), (8,), (3, 2))]
    with pytest.raises(ValueError, match=r"state \(3, 2\)"):
        F.lstm(*args)


def test_step_by_step_records_the_composite_with_the_same_values():
    rng = np.random.default_rng(5)
    args = operands(rng, 2, 3, 2, 3, "h", np.float64)
    fused = F.lstm(*args)
    with step_by_step():
        composite = F.lstm(*args)
    assert fused[0].creator.name == "lstm" and composite[0].creator.name == "stack"
    for a, b in zip(fused, composite):
        np.testing.assert_allclose(a.data, b.data, **TOL[np.float64])


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 12), (5, 1024)])
def test_block_copies_are_the_gate_permutation(shape):
    """to_internal / to_public (four block copies) are the permutation of the gate blocks
    from the book's (f, g, i, o) to (f, i, o, g) and back, as a fancy index over columns
    writes it; the scaled form halves the three sigmoid blocks; each undoes the other."""
    from tinygrad_attn.ops.lstm_kernels import to_internal, to_public
    w = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    H = shape[-1] // 4
    f, g, i, o = (np.arange(k * H, (k + 1) * H) for k in range(4))
    perm = np.concatenate([f, i, o, g])
    scale = np.where(np.arange(4 * H) < 3 * H, 0.5, 1.0).astype(np.float32)
    np.testing.assert_array_equal(to_internal(w), w[..., perm])
    np.testing.assert_array_equal(to_internal(w, scale=True), w[..., perm] * scale)
    assert to_internal(w, scale=True).dtype == np.float32
    np.testing.assert_array_equal(to_public(w), w[..., np.argsort(perm)])
    np.testing.assert_array_equal(to_public(to_internal(w)), w)


def test_the_rule_takes_a_gradient_that_arrives_as_a_broadcast_view():
    """d loss / d h_T arrives as a broadcast view (stride 0 over the batch) when h_T is
    summed over the batch and broadcast back; the fused rule writes into its own C-order
    copy (it raised "output array is not acceptable" from np.dot)."""
    rng = np.random.default_rng(0)
    xs = Variable(rng.standard_normal((2, 3, 4)))
    Wx, Wh = Variable(rng.standard_normal((4, 12))), Variable(rng.standard_normal((3, 12)))
    b = Variable(np.zeros(12))

    def loss(xs, Wx, Wh, b):
        hs, h, c = F.lstm(xs, Wx, Wh, b)
        return F.sum(F.broadcast_to(F.sum(h, axis=0), h.shape) * F.sum(hs, axis=1))

    fused = grad(loss(xs, Wx, Wh, b), [xs, Wx, Wh, b])
    with step_by_step():
        composite = grad(loss(xs, Wx, Wh, b), [xs, Wx, Wh, b])
    for a, c in zip(fused, composite):
        np.testing.assert_allclose(a.data, c.data, rtol=1e-10, atol=1e-12)


# --- higher order through chains of LSTMs ------------------------------------------------------
# How the second LSTM takes the first's work: its initial state from the first's final one
# (an encoder and its decoder), both of them (stacked), the same weights called again with the
# state carried over (a model run on one sequence in two chunks), its input and initial state
# from the first's hs (h0 = hs[:, -1]: one input made from another), one Variable as both h0
# and c0, and for comparison no initial state.
CHAINS = ["h0", "c0", "h0 and c0", "same weights again", "h0 = hs[:, -1]", "h0 is c0",
          "zeros"]


def lstm_chain(kind, leaves):
    xs1, xs2, W1, W2, W3, h00 = leaves
    hs1, h1, c1 = F.lstm(xs1, *W1, h00, None)
    if kind == "h0":
        out = F.lstm(xs2, *W2, h1, None)
    elif kind == "c0":
        out = F.lstm(xs2, *W2, None, c1)
    elif kind == "h0 and c0":
        out = F.lstm(hs1, *W3, h1, c1)
    elif kind == "same weights again":
        out = F.lstm(xs1, *W1, h1, c1)
    elif kind == "h0 = hs[:, -1]":
        out = F.lstm(hs1, *W3, hs1[:, -1], None)
    elif kind == "h0 is c0":
        out = F.lstm(xs2, *W2, h1, h1)
    else:
        out = F.lstm(xs2, *W2, None, None)
    hs2, h2, c2 = out
    return F.sum(hs2 * F.tanh(hs2)) + F.sum(h2 * c2) + F.sum(hs1[:, 0] * h1)


def chain_leaves(dtype, inputs_grad, seed=0):
    """The two LSTMs' operands (N=2, T=3, D=2, H=3); `inputs_grad` False: the sequences
    and the first initial state are data (no gradient), only the weights are differentiated."""
    rng = np.random.default_rng(seed)

    def v(*shape, scale=1.0, data=False):
        a = (rng.standard_normal(shape) * scale).astype(dtype)
        return Variable(a, requires_grad=False) if data else Variable(a)

    xs1, xs2 = (v(2, 3, 2, data=not inputs_grad) for _ in range(2))
    W1, W2 = ([v(2, 12, scale=0.7), v(3, 12, scale=0.6), v(12, scale=0.3)] for _ in range(2))
    W3 = [v(3, 12, scale=0.6), v(3, 12, scale=0.6), v(12, scale=0.3)]
    return xs1, xs2, W1, W2, W3, v(2, 3, data=not inputs_grad)


def gradients_to_third_order(kind, leaves, fused):
    """First, second and third order gradients of the chain with respect to every leaf
    that takes one: d loss, d |d loss|^2, d sum(tanh(d |d loss|^2))."""
    xs1, xs2, W1, W2, W3, h00 = leaves
    wrt = [x for x in (xs1, xs2, *W1, *W2, *W3, h00) if x.requires_grad]
    with (nullcontext() if fused else step_by_step()):
        loss = lstm_chain(kind, leaves)
    assert (loss.creator is not None) and fused == any(
        f.name == "lstm" for f in walk_functions([loss]))
    orders = []
    out = loss
    for k, finish in enumerate((lambda g: F.sum(g * g), lambda g: F.sum(F.tanh(g)), None)):
        gs = grad(out, wrt, create_graph=finish is not None, allow_unused=True)
        orders.append([None if g is None else g.data for g in gs])
        if finish is not None:
            out = sum((finish(g) for g in gs if g is not None), start=Variable(
                np.zeros((), gs[0].dtype), requires_grad=False))
    return orders


@pytest.mark.parametrize("kind", CHAINS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("inputs_grad", [True, False])
def test_higher_order_through_chained_lstms_equals_the_composite(kind, dtype, inputs_grad):
    """First, second and third order gradients of two chained fused LSTMs equal those of
    the same chain recorded as its composite. The recording pass differentiates each
    LSTM's composite on its own inputs: it used to walk on into the first LSTM's graph and
    count those gradients twice (same weights again, h0 = hs[:, -1], h0 is c0)."""
    leaves = chain_leaves(dtype, inputs_grad)
    fused = gradients_to_third_order(kind, leaves, True)
    composite = gradients_to_third_order(kind, leaves, False)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    for order, (got, want) in enumerate(zip(fused, composite), 1):
        for i, (a, b) in enumerate(zip(got, want)):
            assert (a is None) == (b is None), (order, i)
            if a is not None:
                assert a.dtype == dtype, (order, i, a.dtype)
                scale = max(1.0, float(np.abs(b).max()))
                np.testing.assert_allclose(a / scale, b / scale, **tol,
                                           err_msg=f"order {order}, input {i}")
