"""Proofs: each model equals the book's hand-written model (tinygrad_attn.book.models).

For random small sizes (N, Te, Td, V, D, H), random weights and random token ids, in
float64:
* the loss equals the book's, every parameter gradient equals the book's hand-written
  backward, and both agree with central differences along random directions in parameter
  space (seeded with a random scalar, never 1);
* `generate` equals the book's step-by-step greedy decoding token for token (and, for the
  attention model, so do the attention weights of forward and generate);
* weights round-trip between the two (`load_book_params`, `book_params`).

(This directory has no __init__.py on purpose: a package named tests/models would shadow
the project's `models` package on sys.path.)
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn_models as models
from tinygrad_attn.book import models as book_models
from tinygrad_attn.testing import numerical_grad

KINDS = {
    "seq2seq": (models.Seq2seq, book_models.Seq2seq),
    "peeky": (models.PeekySeq2seq, book_models.PeekySeq2seq),
    "attention": (models.AttentionSeq2seq, book_models.AttentionSeq2seq),
}
RTOL, ATOL = 1e-9, 1e-12
FD_RTOL, FD_ATOL = 1e-6, 1e-9

side = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


def pair(kind, V, D, H, rng, scale=0.7):
    """Our model and the book's, holding the same random O(1) float64 weights."""
    Ours, Book = KINDS[kind]
    ours = Ours(V, D, H, dtype=np.float64)
    ours.load_book_params([rng.standard_normal(p.shape) * scale for p in ours.parameters()])
    return ours, Book(V, D, H, params=ours.book_params(), dtype=np.float64)


@pytest.mark.parametrize("kind", list(KINDS))
@given(N=side, Te=side, Td=side, V=st.integers(2, 6), D=side, H=side, seed=seeds)
def test_loss_and_gradients_equal_book_and_finite_differences(kind, N, Te, Td, V, D, H,
                                                              seed):
    rng = np.random.default_rng(seed)
    ours, book = pair(kind, V, D, H, rng)
    xs, ts = rng.integers(0, V, (N, Te)), rng.integers(0, V, (N, Td + 1))
    u = rng.standard_normal()                             # the output seed: not 1

    loss = ours.loss(xs, ts)
    loss.backward(np.asarray(u))
    book_loss = book.forward(xs, ts)
    book.backward(u)
    np.testing.assert_allclose(loss.item(), book_loss, rtol=RTOL)
    names = [n for n, _ in ours.named_parameters()]
    grads = [np.zeros(p.shape) if p.grad is None else p.grad.data for p in ours.parameters()]
    for name, g, ref in zip(names, grads, book.grads):
        assert g.shape == ref.shape, name
        np.testing.assert_allclose(g, ref, rtol=RTOL, atol=ATOL, err_msg=name)
    if kind == "attention":
        _, extras = ours(xs, ts[:, :-1])
        np.testing.assert_allclose(extras["attention"].data, book.attention_weights,
                                   rtol=RTOL, atol=ATOL)

    # central differences of u * loss(theta + t d) at t = 0, d a random direction
    theta = [p.data.copy() for p in ours.parameters()]
    for _ in range(2):
        dirs = [rng.standard_normal(p.shape) for p in ours.parameters()]

        def along(t):
            for p, p0, d in zip(ours.parameters(), theta, dirs):
                p.data = p0 + t.data * d
            return ours.loss(xs, ts)

        (numerical,) = numerical_grad(along, np.zeros(()), grad_output=np.asarray(u))
        directional = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
        np.testing.assert_allclose(directional, numerical, rtol=FD_RTOL, atol=FD_ATOL)
    for p, p0 in zip(ours.parameters(), theta):
        p.data = p0


@pytest.mark.parametrize("kind", list(KINDS))
@given(N=side, Te=side, length=st.integers(0, 5), V=st.integers(2, 6), D=side, H=side,
       seed=seeds)
def test_generate_equals_book_greedy_decoding(kind, N, Te, length, V, D, H, seed):
    rng = np.random.default_rng(seed)
    ours, book = pair(kind, V, D, H, rng, scale=1.5)     # larger weights: varied tokens
    xs = rng.integers(0, V, (N, Te))
    start = int(rng.integers(0, V))
    decoded = ours.decode(xs, start, length)
    out = decoded.ids
    assert out.shape == (N, length) and out.dtype == np.int64
    np.testing.assert_array_equal(out, book.generate(xs, start, length))
    np.testing.assert_array_equal(ours.generate(xs, start, length), out)
    if kind == "attention":
        assert decoded.attention.shape == (N, length, Te)
        np.testing.assert_allclose(decoded.attention, book.attention_weights,
                                   rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", list(KINDS))
@given(V=st.integers(2, 8), D=side, H=side, seed=seeds)
def test_weights_round_trip_with_book(kind, V, D, H, seed):
    Ours, Book = KINDS[kind]
    rng = np.random.default_rng(seed)
    book = Book(V, D, H, seed=seed)                       # the book's init, float32
    ours = Ours(V, D, H, seed=seed)
    for p, q in zip(ours.book_params(), book.params):     # the same seed: the same weights
        np.testing.assert_array_equal(p, q)
    book.params[0][...] = rng.standard_normal(book.params[0].shape)
    ours = Ours(V, D, H)
    ours.load_book_params(book.params)
    xs, ts = rng.integers(0, V, (2, 3)), rng.integers(0, V, (2, 4))
    loss = ours.loss(xs, ts)
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), book.forward(xs, ts), rtol=1e-5)
    again = Book(V, D, H, params=ours.book_params())
    for p, q in zip(again.params, book.params):
        np.testing.assert_array_equal(p, q)
