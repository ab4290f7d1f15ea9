"""Contractions written with the primitives: no rule of their own.

einsum  tensordot  outer  linear

Every contraction becomes `transpose`/`reshape`/`broadcast_to` around one batched `matmul`
per pair of operands (and `diagonal`, `sum` for subscripts repeated in one operand or
summed out in one), so its gradient, of any order, is theirs: the gradient of an einsum
is made of einsum-shaped matmuls, as the textbooks write it by hand.
"""
import string

import numpy as np

from ..tape import Variable, as_variable
from ._operands import operands
from .arithmetic import add, mul
from .layout import diagonal
from .linalg import matmul
from .reduction import sum as _sum
from .shape import broadcast_to, reshape, transpose

__all__ = ["einsum", "tensordot", "outer", "linear"]

_LETTERS = set(string.ascii_letters)


def _shape(x):
    return x.shape if isinstance(x, Variable) else np.shape(x)


def _parse(subscripts, shapes):
    """(input terms, output term) with '...' expanded to private labels, one per
    broadcast dimension; implicit output as NumPy: the labels used once, sorted."""
    spec = subscripts.replace(" ", "")
    where = f"einsum {subscripts!r}"
    if "->" in spec:
        lhs, out = spec.split("->", 1)
        if "->" in out:
            raise ValueError(f"{where}: more than one '->'")
    else:
        lhs, out = spec, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"{where}: {len(terms)} operand subscripts for {len(shapes)} "
                         "operands")
    ell = 0
    for k, (t, s) in enumerate(zip(terms, shapes)):
        bad = set(t.replace("...", "")) - _LETTERS
        if bad or t.count("...") > 1:
            raise ValueError(f"{where}: operand {k} subscripts {t!r} are not letters (with "
                             "at most one '...')")
        named = len(t.replace("...", ""))
        if ("..." in t and named > len(s)) or ("..." not in t and named != len(s)):
            raise ValueError(f"{where}: operand {k} has shape {tuple(s)} ({len(s)} dims) but "
                             f"its subscripts {t!r} name {named}")
        if "..." in t:
            ell = max(ell, len(s) - named)
    dots = [chr(0x3B1 + i) for i in range(ell)]  # private labels for '...' (greek)
    expanded = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            n = len(s) - len(t.replace("...", ""))
            t = t.replace("...", "".join(dots[ell - n:]))
        expanded.append(t)
    if out is None:
        counts = {}
        for t in expanded:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(dots) + "".join(sorted(c for c, n in counts.items()
                                             if n == 1 and c not in dots))
    else:
        if set(out.replace("...", "")) - _LETTERS or out.count("...") > 1:
            raise ValueError(f"{where}: output subscripts {out!r} are not letters (with at "
                             "most one '...')")
        out = out.replace("...", "".join(dots))
        used = set("".join(expanded))
        for c in out:
            if c not in used:
                raise ValueError(f"{where}: output subscript {c!r} is in no operand")
        if len(set(out)) != len(out):
            raise ValueError(f"{where}: output subscripts {out!r} repeat a label")
    return expanded, out


def _take_diagonals(x, term):
    """x with every label repeated in `term` reduced to its diagonal (it becomes the last
    axis); the new term."""
    while True:
        for p, c in enumerate(term):
            q = term.find(c, p + 1)
            if q >= 0:
                break
        else:
            return x, term
        x = diagonal(x, 0, p, q)
        term = term[:p] + term[p + 1:q] + term[q + 1:] + c


def _sum_out(x, term, keep):
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term
    return _sum(x, axes), "".join(c for c in term if c in keep)


def _contract(a, ta, b, tb, needed, sizes):
    """One pairwise contraction: batch labels (in both, needed later), contracted labels
    (in both, not needed), and each side's own labels, around one matmul."""
    batch = [c for c in ta if c in tb and c in needed]
    summed = [c for c in ta if c in tb and c not in needed]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    a = transpose(a, [ta.index(c) for c in batch + left + summed])
    b = transpose(b, [tb.index(c) for c in batch + summed + right])
    a = broadcast_to(a, tuple(sizes[c] for c in batch + left + summed))
    b = broadcast_to(b, tuple(sizes[c] for c in batch + summed + right))
    bshape = tuple(sizes[c] for c in batch)
    L = int(np.prod([sizes[c] for c in left]))
    K = int(np.prod([sizes[c] for c in summed]))
    R = int(np.prod([sizes[c] for c in right]))
    y = matmul(reshape(a, bshape + (L, K)), reshape(b, bshape + (K, R)))
    y = reshape(y, bshape + tuple(sizes[c] for c in left + right))
    return y, "".join(batch + left + right)


def einsum(subscripts, *operands_):
    """Einstein summation, as np.einsum: ``einsum("bij,bjk->bik", a, b)`` (batched
    matmul), ``"ij->ji"`` (transpose), ``"i,j->ij"`` (outer), ``"ii->i"`` (diagonal),
    ``"...ij,...jk"`` (broadcast batch dims), implicit output included. Operands are
    contracted left to right, each pair as one batched matmul."""
    if not operands_:
        raise ValueError("einsum: needs at least one operand")
    xs = list(operands_)
    like = next((x for x in xs if isinstance(x, Variable)), None)
    xs = [operands(x, like)[0] if like is not None else as_variable(x) for x in xs]
    terms, out = _parse(subscripts, [x.shape for x in xs])
    sizes = {}
    for k, (x, t) in enumerate(zip(xs, terms)):
        for c, n in zip(t, x.shape):
            if c in sizes and sizes[c] != n and 1 not in (sizes[c], n):
                raise ValueError(f"einsum {subscripts!r}: label {c!r} has length "
                                 f"{sizes[c]} in one operand and {n} in operand {k}")
            sizes[c] = n if c not in sizes or sizes[c] == 1 else sizes[c]
    y, ty = None, ""
    for k, (x, t) in enumerate(zip(xs, terms)):
        x, t = _take_diagonals(x, t)
        later = set(out).union(*terms[k + 1:])
        x, t = _sum_out(x, t, later | set(ty))
        if y is None:
            y, ty = x, t
            continue
        y, ty = _sum_out(y, ty, later | set(t))
        y, ty = _contract(y, ty, x, t, later, sizes)
    y, ty = _sum_out(y, ty, set(out))
    y = broadcast_to(y, tuple(sizes[c] for c in ty))
    return transpose(y, [ty.index(c) for c in out]) if ty != out else y


def tensordot(a, b, axes=2):
    """Sum over the last `axes` axes of a and the first of b (an int), or over the listed
    pairs (axes_a, axes_b): np.tensordot, as one matmul."""
    a, b = operands(a, b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} does not fit shapes {a.shape} and "
                             f"{b.shape}")
        axes_a, axes_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        axes_a, axes_b = ([int(v)] if np.ndim(v) == 0 else [int(u) for u in v] for v in axes)
        if len(axes_a) != len(axes_b):
            raise ValueError(f"tensordot: {len(axes_a)} axes of a but {len(axes_b)} of b")
        axes_a = [v % a.ndim for v in axes_a]
        axes_b = [v % b.ndim for v in axes_b]
    for i, j in zip(axes_a, axes_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: axis {i} of a {a.shape} and axis {j} of b "
                             f"{b.shape} differ in length")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    K = int(np.prod([a.shape[i] for i in axes_a]))
    am = reshape(transpose(a, free_a + axes_a), (-1, K))
    bm = reshape(transpose(b, axes_b + free_b), (K, -1))
    return reshape(matmul(am, bm), tuple(a.shape[i] for i in free_a) +
                   tuple(b.shape[j] for j in free_b))


def outer(a, b):
    """a_i * b_j over the flattened a and b: np.outer."""
    a, b = operands(a, b)
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def linear(x, W, b=None):
    """x @ W + b with W of shape (in, out), as `nn.Linear` and the book's Affine layer (and
    DeZero's `F.linear`; PyTorch's `F.linear` takes W transposed, (out, in))."""
    y = matmul(x, W)
    return y if b is None else add(y, b)
