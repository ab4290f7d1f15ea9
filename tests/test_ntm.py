"""NTM addressing (tinygrad_attn/nn/ntm.py): each stage against its formula on cases small
enough to check by hand, the memory operations, and the whole cell's gradients."""
import numpy as np
import pytest

import tinygrad_attn as tga
from tinygrad_attn import Variable, nn
from tinygrad_attn.nn import ntm
from tinygrad_attn.testing import gradcheck, gradgradcheck

V = lambda a: Variable(np.asarray(a, dtype=np.float64))  # noqa: E731


def test_content_weighting_by_hand():
    # rows: e1, -e1, e2, 2 e1; key e1. cosines 1, -1, 0, 1; beta = ln 2 makes the
    # unnormalised weights 2, 1/2, 1, 2 -> divided by 5.5
    memory = V([[[1, 0], [-1, 0], [0, 1], [2, 0]]])
    w = ntm.content_weighting(memory, V([[1, 0]]), V([[np.log(2)]]), eps=0.0)
    np.testing.assert_allclose(w.data, [[2 / 5.5, 0.5 / 5.5, 1 / 5.5, 2 / 5.5]], rtol=1e-14)
    # beta -> large focuses on the best matches, beta = 0 is uniform
    w = ntm.content_weighting(memory, V([[1, 0]]), V([[0.0]]))
    np.testing.assert_allclose(w.data, [[0.25] * 4], rtol=1e-14)


def test_interpolation_by_hand():
    wc, wp = V([[0.5, 0.5, 0.0]]), V([[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(ntm.interpolate(wc, wp, V([[1.0]])).data, wc.data)
    np.testing.assert_allclose(ntm.interpolate(wc, wp, V([[0.0]])).data, wp.data)
    np.testing.assert_allclose(ntm.interpolate(wc, wp, V([[0.25]])).data,
                               [[0.125, 0.125, 0.75]], rtol=1e-15)


def test_shift_by_hand():
    w = V([[0.0, 1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(ntm.shift(w, V([[0, 0, 1.0]])).data, [[0, 0, 1, 0, 0]])
    np.testing.assert_allclose(ntm.shift(w, V([[1.0, 0, 0]])).data, [[1, 0, 0, 0, 0]])
    # a blurred shift spreads the focus: s = (0.1, 0.8, 0.1) around position 1
    np.testing.assert_allclose(ntm.shift(w, V([[0.1, 0.8, 0.1]])).data,
                               [[0.1, 0.8, 0.1, 0, 0]], rtol=1e-15)
    # and wraps around the ends (rotation, as in the paper)
    np.testing.assert_allclose(ntm.shift(V([[0, 0, 0, 0, 1.0]]), V([[0, 0, 1.0]])).data,
                               [[1, 0, 0, 0, 0]])


def test_sharpening_by_hand():
    w = V([[0.1, 0.8, 0.1]])
    np.testing.assert_allclose(ntm.sharpen(w, V([[1.0]]), eps=0).data, w.data, rtol=1e-15)
    # gamma 2: (0.01, 0.64, 0.01) / 0.66
    np.testing.assert_allclose(ntm.sharpen(w, V([[2.0]]), eps=0).data,
                               [[0.01 / 0.66, 0.64 / 0.66, 0.01 / 0.66]], rtol=1e-14)
    # with the default eps a weight that underflowed to 0 still has finite gradients
    w0, g = V([[0.0, 1.0, 0.0]]), V([[3.0]])
    gw, gg = tga.grad((ntm.sharpen(w0, g) * V([[1.0, 2.0, 3.0]])).sum(), [w0, g])
    assert np.all(np.isfinite(gw.data)) and np.isfinite(gg.item())


def test_address_is_the_four_stages_in_order():
    rng = np.random.default_rng(0)
    memory = V(rng.standard_normal((2, 6, 3)))
    key, beta, g = V(rng.standard_normal((2, 3))), V([[2.0], [0.5]]), V([[0.7], [0.2]])
    s, gamma = V([[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]]), V([[1.5], [3.0]])
    w_prev = V(rng.dirichlet(np.ones(6), 2))
    w = ntm.address(memory, w_prev, key, beta, g, s, gamma).data
    # the same in plain NumPy
    m, k = memory.data, key.data
    cos = (m @ k[:, :, None])[..., 0] / np.sqrt(((m * m).sum(-1) + 1e-8)
                                                * ((k * k).sum(-1, keepdims=True) + 1e-8))
    e = np.exp(beta.data * cos)
    wc = e / e.sum(-1, keepdims=True)
    wg = g.data * wc + (1 - g.data) * w_prev.data
    ws = sum(s.data[:, [j]] * np.roll(wg, j - 1, axis=-1) for j in range(3))
    p = (ws + 1e-12) ** gamma.data
    np.testing.assert_allclose(w, p / p.sum(-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-14)


def test_read_and_write_by_hand():
    memory = V([[[1.0, 2.0], [3.0, 4.0]]])
    w = V([[0.25, 0.75]])
    np.testing.assert_allclose(ntm.read(memory, w).data, [[0.25 + 2.25, 0.5 + 3.0]])
    erase, add = V([[1.0, 0.0]]), V([[10.0, 20.0]])
    # row i: M_i * (1 - w_i e) + w_i a
    expected = [[[1 * 0.75 + 2.5, 2 + 5.0], [3 * 0.25 + 7.5, 4 + 15.0]]]
    np.testing.assert_allclose(ntm.write(memory, w, erase, add).data, expected)


def test_ntm_forward_returns_weightings_that_are_distributions():
    model = nn.NTM(5, 3, controller_size=6, memory_size=7, memory_width=4, seed=0)
    xs = Variable(np.random.default_rng(0).standard_normal((2, 4, 5)).astype(np.float32))
    ys, maps = model(xs)
    assert ys.shape == (2, 4, 3) and ys.dtype == np.float32
    for name in ("read", "write"):
        assert maps[name].shape == (2, 4, 7)
        np.testing.assert_allclose(maps[name].data.sum(-1), 1.0, rtol=1e-5)
        assert np.all(maps[name].data >= 0)


@pytest.mark.parametrize("order", [1, 2])
def test_head_addressing_gradients(order):
    """A write head's whole addressing, from the controller state, memory and previous
    weighting to (w, erase, add): first and second order against finite differences."""
    rng = np.random.default_rng(2)
    head = ntm.NTMHead(3, 2, write=True, dtype=np.float64, rng=rng)
    h, memory = rng.standard_normal((2, 3)), rng.standard_normal((2, 4, 2))
    w_prev = rng.dirichlet(np.ones(4), 2)
    f = lambda h, m, w: head(h, m, w)  # noqa: E731
    check = gradcheck if order == 1 else gradgradcheck
    assert check(f, h, memory, w_prev)
