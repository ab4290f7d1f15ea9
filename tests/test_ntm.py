"""NTM addressing (tinygrad_attn/nn/ntm.py): each stage against its formula on cases small
enough to check by hand, the memory operations, and the whole cell's gradients."""
import numpy as np
import pytest

import tinygrad_attn as tga
import tinygrad_attn.functions as F
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
    """Both heads' whole addressing, from the controller state, memory and previous
    weightings to (w, erase, add): first and second order against finite differences."""
    rng = np.random.default_rng(2)
    heads = ntm.NTMHeads(3, 2, dtype=np.float64, rng=rng)
    h, memory = rng.standard_normal((2, 3)), rng.standard_normal((2, 4, 2))
    w_prev = rng.dirichlet(np.ones(4), (2, 2))
    f = lambda h, m, w: heads(h, m, w)  # noqa: E731
    check = gradcheck if order == 1 else gradgradcheck
    assert check(f, h, memory, w_prev)


def test_content_weighting_of_several_heads_is_each_head_alone():
    rng = np.random.default_rng(3)
    memory, keys = V(rng.standard_normal((2, 5, 3))), V(rng.standard_normal((2, 4, 3)))
    betas = V(rng.uniform(0.5, 3, (2, 4, 1)))
    together = ntm.content_weighting(memory, keys, betas).data
    for j in range(4):
        alone = ntm.content_weighting(memory, V(keys.data[:, j]), V(betas.data[:, j]))
        np.testing.assert_allclose(together[:, j], alone.data, rtol=1e-14)
        cos = F.cosine_similarity(V(keys.data[:, j, None]), memory, axis=-1)
        np.testing.assert_allclose(alone.data, F.softmax(V(betas.data[:, j]) * cos).data,
                                   rtol=1e-13)


def _reference_ntm(model, xs):
    """The NTM's step as its docstring writes it, one head at a time, in plain NumPy:
    the concatenated controller input, two separate head projections, the output per step."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    softplus = lambda z: np.log1p(np.exp(z))  # noqa: E731

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    ctrl, heads = model.controller, model.heads
    lstm = model.controller_kind == "lstm"
    Wx, b = (ctrl.Wx.data, ctrl.b.data) if lstm else (ctrl.W.data, ctrl.b.data)
    Wp, bp = heads.fc.W.data, heads.fc.b.data
    N, T, _ = xs.shape
    R, M, K, P = model.R, model.M, heads.K, heads.P
    C = Wp.shape[0]
    memory = np.full((N, R, M), 1e-6)
    r = np.tanh(model.read0.data)[None].repeat(N, 0)
    w_prev = [model.initial_weights().data[j][None].repeat(N, 0) for j in (0, 1)]
    h = c = np.zeros((N, C))
    ys, reads, writes = [], [], []
    for t in range(T):
        if lstm:
            A = np.concatenate([xs[:, t], r], -1) @ Wx + b + h @ ctrl.Wh.data
            f, g_, i, o = np.split(A, 4, -1)
            c = sig(f) * c + np.tanh(g_) * sig(i)
            h = sig(o) * np.tanh(c)
        else:
            h = np.tanh(np.concatenate([xs[:, t], r], -1) @ Wx + b)
        raw = h @ Wp + bp
        w_new = []
        for j in (0, 1):
            p = raw[:, j * P:(j + 1) * P]
            key, beta = np.tanh(p[:, :M]), softplus(p[:, M:M + 1])
            gamma, g = 1 + softplus(p[:, M + 1:M + 2]), sig(p[:, M + 2:M + 3])
            s = softmax(p[:, M + 3:])
            cos = (memory @ key[:, :, None])[..., 0] / np.sqrt(
                ((memory ** 2).sum(-1) + 1e-8) * ((key ** 2).sum(-1, keepdims=True) + 1e-8))
            wg = g * softmax(beta * cos) + (1 - g) * w_prev[j]
            ws = sum(s[:, [k]] * np.roll(wg, k - K // 2, -1) for k in range(K))
            q = (ws + 1e-12) ** gamma
            w_new.append(q / q.sum(-1, keepdims=True))
        w_prev = w_new
        r = (w_new[0][:, :, None] * memory).sum(1)
        erase, add = sig(raw[:, 2 * P:2 * P + M]), np.tanh(raw[:, 2 * P + M:])
        ww = w_new[1][:, :, None]
        memory = memory * (1 - ww * erase[:, None]) + ww * add[:, None]
        ys.append(np.concatenate([h, r], -1) @ model.out.W.data + model.out.b.data)
        reads.append(w_new[0])
        writes.append(w_new[1])
    return np.stack(ys, 1), np.stack(reads, 1), np.stack(writes, 1)


@pytest.mark.parametrize("weights_init, controller", [
    ("onehot", "lstm"), ("learned", "lstm"), ("onehot", "feedforward")])
def test_ntm_forward_is_the_step_of_its_docstring(weights_init, controller):
    """Both heads from one Linear, the controller's input projection split in two and the
    output Linear after the loop compute exactly the paper's step, head by head."""
    model = nn.NTM(5, 3, controller_size=6, memory_size=7, memory_width=4, dtype=np.float64,
                   weights_init=weights_init, controller=controller, seed=1)
    rng = np.random.default_rng(1)
    for prm in model.parameters():
        prm.data[...] = rng.standard_normal(prm.shape) * 0.5
    xs = rng.standard_normal((2, 5, 5))
    ys, maps = model(Variable(xs))
    ref_y, ref_r, ref_w = _reference_ntm(model, xs)
    np.testing.assert_allclose(ys.data, ref_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(maps["read"].data, ref_r, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(maps["write"].data, ref_w, rtol=1e-10, atol=1e-14)


def test_ntm_initial_state():
    """Constant memory 1e-6 (not a parameter), learned r_0, both heads' w_0 on row 0 (not
    a parameter), forget bias 1; the learned alternatives are parameters, and a learned w_0
    starts away from uniform (a uniform w_0 over constant memory keeps every weighting
    uniform)."""
    model = nn.NTM(9, 8, controller_size=10, memory_size=16, memory_width=4, seed=0)
    names = dict(model.named_parameters())
    assert "read0" in names and not {"memory0", "weights0"} & set(names)
    np.testing.assert_array_equal(model.initial_memory(3).data, np.full((3, 16, 4), 1e-6,
                                                                        np.float32))
    assert model.initial_memory(3).dtype == model.initial_weights().dtype == np.float32
    np.testing.assert_array_equal(model.initial_weights().data, np.eye(16)[[0, 0]])
    np.testing.assert_array_equal(model.controller.b.data[:10], 1.0)
    np.testing.assert_array_equal(model.controller.b.data[10:], 0.0)
    learned = nn.NTM(9, 8, controller_size=10, memory_size=16, memory_width=4,
                     memory_init="learned", weights_init="learned", seed=0)
    names = dict(learned.named_parameters())
    assert names["memory0"].shape == (16, 4) and names["weights0"].shape == (2, 16)
    assert np.ptp(learned.initial_weights().data, axis=-1).min() > 0.01
    with pytest.raises(ValueError, match="NTM: memory_init must be one of"):
        nn.NTM(9, 8, memory_init="zeros")
    with pytest.raises(ValueError, match="NTM: weights_init must be one of"):
        nn.NTM(9, 8, weights_init="uniform")
    with pytest.raises(ValueError, match="NTM: controller must be one of"):
        nn.NTM(9, 8, controller="gru")


def test_ntm_feedforward_controller_keeps_nothing_between_steps():
    """controller="feedforward": one Linear (in + M -> C), no recurrent weights; with the
    memory's reads cut off (read weights zero), step t's output depends on x_t alone."""
    model = nn.NTM(4, 3, controller_size=5, memory_size=6, memory_width=2,
                   controller="feedforward", dtype=np.float64, seed=0)
    assert model.controller.W.shape == (6, 5)
    names = set(dict(model.named_parameters()))
    assert not any("Wh" in n for n in names)
    model.out.W.data[5:] = 0.0                      # the output sees h_t only
    xs = np.random.default_rng(0).standard_normal((2, 4, 4))
    Wr = model.controller.W.data[4:].copy()
    model.controller.W.data[4:] = 0.0               # and h_t sees x_t only
    ys, _ = model(Variable(xs))
    changed = xs.copy()
    changed[:, 0] += 1.0
    ys2, _ = model(Variable(changed))
    np.testing.assert_array_equal(ys.data[:, 1:], ys2.data[:, 1:])
    assert not np.allclose(ys.data[:, 0], ys2.data[:, 0])
    model.controller.W.data[4:] = Wr                # through the memory, later steps move
    ys3, _ = model(Variable(changed))
    assert not np.allclose(ys3.data[:, 1:], ys2.data[:, 1:])


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_ntm_second_order_through_the_whole_model(controller):
    """create_graph=True through every step (controller, both heads, reads and writes):
    second-order gradients of the outputs with respect to the inputs against finite
    differences."""
    model = nn.NTM(3, 2, controller_size=3, memory_size=4, memory_width=2, dtype=np.float64,
                   controller=controller, seed=2)
    xs = np.random.default_rng(2).standard_normal((2, 3, 3))
    assert gradgradcheck(lambda xs: model(xs)[0], xs)
