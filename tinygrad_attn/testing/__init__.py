"""Gradient-checking kit: finite differences, `gradcheck`, `gradgradcheck`, and `strategies`.

    from tinygrad_attn.testing import gradcheck, gradgradcheck, numerical_grad, strategies

    gradcheck(F.softmax, np.random.randn(3, 4))                  # True, or GradcheckError
    gradgradcheck(lambda a, b: a @ b, np.random.randn(2, 3), np.random.randn(3))

How the checks work
-------------------
Autograd is compared with central differences along *random* output projections: for a
random normal ``grad_output`` ``u`` the scalar ``sum(u * f(x))`` is differentiated both ways.
An all-ones seed is deliberately never used: it only checks the column sums of the
Jacobian, and is blind to errors that vanish when the output gradient is constant along an
axis. Since ``sum(softmax(x)) == 1``, the true gradient of ``sum(softmax(x))`` is zero, so a
softmax backward that returns zeros, or subtracts ``mean(gy)`` where it should subtract
``sum(gy * y)``, passes an all-ones check; a random projection catches both.

On failure, `GradcheckError` names the input, the projection, how many entries differ, the
worst entry's index, autograd's and the numerical value there, and the tolerance.

Finite differences are always taken in float64, whatever the inputs' dtype; autograd runs
in the inputs' own dtype, and its gradients must come back with each input's shape and
dtype. Checking float32 inputs works but warns (`PrecisionWarning`): float32 cannot meet
tight tolerances. Integer and bool inputs are data (token ids, masks): they are passed
through unchanged and never checked.

`f` takes one argument per input (Variables for floating inputs, integer inputs exactly as
given) and returns a Variable, or a tuple/list of Variables (then every output is projected
and the projections summed).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autodiff import grad as _autograd
from ..tape import Variable, enable_grad

__all__ = ["numerical_grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "PrecisionWarning", "strategies"]


class GradcheckError(AssertionError):
    """Autograd disagrees with finite differences (or returns a wrong shape or dtype)."""


class PrecisionWarning(UserWarning):
    """A gradient check was asked of float32 inputs: use float64 for tight tolerances."""


# --- helpers ----------------------------------------------------------------------------
def _array_of(x):
    return x.data if isinstance(x, Variable) else np.asarray(x)


def _is_floating(x):
    return _array_of(x).dtype.kind == "f"


def _check_not_complex(inputs, where):
    for i, x in enumerate(inputs):
        if _array_of(x).dtype.kind == "c":
            raise TypeError(f"{where}: input {i} is complex; only real inputs are supported")


def _as_outputs(out, where):
    """f's result as a list of Variables, and whether it was a single Variable."""
    single = not isinstance(out, (tuple, list))
    outs = [out] if single else list(out)
    for k, y in enumerate(outs):
        if not isinstance(y, Variable):
            raise TypeError(f"{where}: f must return a Variable or a tuple/list of Variables; "
                            f"output {k} is a {type(y).__name__}")
    return outs, single


def _grad_output_list(grad_output, outs, single, where):
    """`grad_output` as one float64 array per output (None: ones, one-element outputs only)."""
    if grad_output is None:
        for k, y in enumerate(outs):
            if y.size != 1:
                raise ValueError(f"{where}: output {k} has shape {y.shape}; pass grad_output "
                                 "(one array per output) or return a one-element output")
        return [np.ones(y.shape) for y in outs]
    gos = [grad_output] if single else list(grad_output)
    if len(gos) != len(outs):
        raise ValueError(f"{where}: f returned {len(outs)} outputs but grad_output has "
                         f"{len(gos)} entries")
    result = []
    for k, (g, y) in enumerate(zip(gos, outs)):
        g = np.asarray(_array_of(g), dtype=np.float64)
        if g.shape != y.shape:
            raise ValueError(f"{where}: grad_output {k} has shape {g.shape} but output {k} "
                             f"has shape {y.shape}")
        result.append(g)
    return result


def _float64_inputs(inputs):
    """Fresh float64 leaf Variables for floating inputs; integer inputs unchanged."""
    return [Variable(np.array(_array_of(x), dtype=np.float64)) if _is_floating(x) else x
            for x in inputs]


def _jacobian_columns(f, inputs, eps, where):
    """Central differences of every output w.r.t. every floating input entry, in float64.

    Returns a list: None for each integer input, else an array of shape
    x_i.shape + (total size of the outputs,), the numerical Jacobian transposed. Outputs are
    copied (np.concatenate) before the input is perturbed again, so an f that returns its
    input itself is handled.
    """
    xs = _float64_inputs(inputs)

    def evaluate():
        outs, _ = _as_outputs(f(*xs), where)
        return np.concatenate([np.asarray(y.data, dtype=np.float64).ravel() for y in outs])

    cols = []
    for x in xs:
        if not isinstance(x, Variable) or x.dtype.kind != "f":
            cols.append(None)
            continue
        flat = x.data.reshape(-1)  # a view: perturb in place, restore exactly
        col = None
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = evaluate()
            flat[j] = old - eps
            minus = evaluate()
            flat[j] = old
            if col is None:
                col = np.zeros((flat.size, plus.size))
            col[j] = (plus - minus) / (2 * eps)
        if col is None:  # an empty input
            col = np.zeros((0, evaluate().size))
        cols.append(col.reshape(x.shape + (col.shape[1],)))
    return cols


# --- public API ---------------------------------------------------------------------------
def numerical_grad(f, *inputs, eps=1e-6, grad_output=None):
    """Central-difference gradient of ``sum(grad_output * f(*inputs))`` w.r.t. each input.

    Parameters
    ----------
    f : callable
        Takes one argument per input (a float64 Variable for each floating input, integer
        inputs unchanged) and returns a Variable or a tuple/list of Variables.
    *inputs : Variable or array-like
        Points to differentiate at. They are copied to float64; nothing is modified.
    eps : float
        Half the step of the central difference ``(f(x+eps) - f(x-eps)) / (2 eps)``.
    grad_output : array-like, list of array-likes, or None
        The projection of the output(s): an array of the output's shape, or a list with one
        array per output when f returns several. None means f must return one element
        (each output one element, if several), i.e. the plain derivative.

    Returns
    -------
    list
        One float64 ndarray per input, of that input's shape; None for integer/bool inputs.
    """
    _check_not_complex(inputs, "numerical_grad")
    outs, single = _as_outputs(f(*_float64_inputs(inputs)), "numerical_grad")
    gos = _grad_output_list(grad_output, outs, single, "numerical_grad")
    u = np.concatenate([g.ravel() for g in gos])
    cols = _jacobian_columns(f, inputs, eps, "numerical_grad")
    return [None if c is None else np.asarray(c @ u) for c in cols]


def gradcheck(f, *inputs, atol=1e-5, rtol=1e-4, eps=1e-6, n_projections=2, seed=0,
              raise_exception=True):
    """Check autograd's gradients of `f` against finite differences; True if they agree.

    For each of `n_projections` random normal output gradients ``u`` (drawn with `seed`;
    never all ones), the autograd gradient of ``sum(u * f(*inputs))`` with respect to every
    floating input (computed by `tinygrad_attn.grad`, in the input's own dtype) must match
    the float64 central difference entrywise: ``|autograd - numerical| <= atol + rtol *
    |numerical|``. Each gradient must also have its input's shape and dtype. Integer and bool
    inputs are data and are skipped; an input f does not use must get a zero gradient.

    Raises `GradcheckError` (an AssertionError) naming the input, the worst entry, both
    values and the tolerance; with ``raise_exception=False`` returns False instead. Warns
    `PrecisionWarning` if a floating input is float32 (or narrower).
    """
    return _check(f, inputs, atol, rtol, eps, n_projections, seed, raise_exception,
                  "gradcheck", "")


def gradgradcheck(f, *inputs, atol=1e-5, rtol=1e-4, eps=1e-6, n_projections=2, seed=0,
                  raise_exception=True):
    """Check second-order gradients of `f`: `gradcheck` applied to f's first-order gradient.

    A random normal output projection ``u`` (from `seed`) fixes the first-order gradient
    ``g(x) = grad(sum(u * f(x)), x)``, computed by autograd with ``create_graph=True``. Then,
    along random projections ``v``, the autograd gradient of ``sum(v * g(x))`` is compared
    with central differences of ``g`` itself. A backward rule that is not built from
    differentiable ops (e.g. one computed with NumPy on ``.data``) fails here even when its
    first order is right. Same arguments, result and errors as `gradcheck`.
    """
    _check_not_complex(inputs, "gradgradcheck")
    float_idx = [i for i, x in enumerate(inputs) if _is_floating(x)]
    if not float_idx:
        raise ValueError("gradgradcheck: no floating input to differentiate")
    # The first-order projection u is drawn once, so g is a fixed (deterministic) function.
    rng = np.random.default_rng([seed, 1])
    probe, _ = _as_outputs(f(*_float64_inputs(inputs)), "gradgradcheck")
    us = [rng.standard_normal(y.shape) for y in probe]

    def first_order(*xs):
        outs, _ = _as_outputs(f(*xs), "gradgradcheck")
        wrt = [xs[i] for i in float_idx]
        seeds = [Variable(u.astype(y.dtype), requires_grad=False) for u, y in zip(us, outs)]
        gs = _autograd(outs, wrt, grad_outputs=seeds, create_graph=True, allow_unused=True)
        return tuple(Variable(np.zeros(x.shape, x.dtype), requires_grad=False) if g is None
                     else g for g, x in zip(gs, wrt))

    return _check(first_order, inputs, atol, rtol, eps, n_projections, seed, raise_exception,
                  "gradgradcheck", " (second order)")


def _check(f, inputs, atol, rtol, eps, n_projections, seed, raise_exception, where, order):
    with enable_grad():  # works even when called under no_grad()
        return _check_recorded(f, inputs, atol, rtol, eps, n_projections, seed,
                               raise_exception, where, order)


def _check_recorded(f, inputs, atol, rtol, eps, n_projections, seed, raise_exception, where,
                    order):
    _check_not_complex(inputs, where)
    float_idx = [i for i, x in enumerate(inputs) if _is_floating(x)]
    if not float_idx:
        raise ValueError(f"{where}: no floating input to differentiate")
    narrow = [i for i in float_idx if _array_of(inputs[i]).dtype.itemsize < 8]
    if narrow:
        dt = _array_of(inputs[narrow[0]]).dtype
        warnings.warn(f"{where}: input {narrow[0]} is {dt}; finite differences cannot meet "
                      "tight tolerances in it. Use float64 inputs for gradient checks.",
                      PrecisionWarning, stacklevel=4)

    def fail(msg):
        if raise_exception:
            raise GradcheckError(f"{where}: {msg}")
        return False

    # autograd in the inputs' own dtypes, on fresh leaves (nothing's .grad is touched)
    xs = [Variable(np.array(_array_of(x))) if _is_floating(x) else x for x in inputs]
    outs, _ = _as_outputs(f(*xs), where)
    for k, y in enumerate(outs):
        if y.dtype.kind != "f":
            raise TypeError(f"{where}: output {k} has dtype {y.dtype}; only floating outputs "
                            "can be checked")
    wrt = [xs[i] for i in float_idx]
    cols = _jacobian_columns(f, inputs, eps, where)
    rng = np.random.default_rng(seed)
    for p in range(n_projections):
        us = [rng.standard_normal(y.shape) for y in outs]
        seeds = [Variable(u.astype(y.dtype), requires_grad=False) for u, y in zip(us, outs)]
        got = _autograd(outs, wrt, grad_outputs=seeds, allow_unused=True)
        u = np.concatenate([u.ravel() for u in us])
        for i, x, g in zip(float_idx, wrt, got):
            numerical = np.asarray(cols[i] @ u)
            if g is None:  # f does not use this input: its gradient is zero
                analytic = np.zeros(x.shape)
            else:
                if not isinstance(g, Variable):
                    return fail(f"input {i}{order}: gradient is a {type(g).__name__}, "
                                "not a Variable")
                if g.shape != x.shape:
                    return fail(f"input {i}{order}: gradient has shape {g.shape} but the input "
                                f"has shape {x.shape}")
                if g.dtype != x.dtype:
                    return fail(f"input {i}{order}: gradient has dtype {g.dtype} but the input "
                                f"has dtype {x.dtype}")
                analytic = np.asarray(g.data, dtype=np.float64)
            if analytic.size == 0:
                continue
            err = np.abs(analytic - numerical)
            tol = atol + rtol * np.abs(numerical)
            bad = ~(err <= tol)  # also catches NaN
            if bad.any():
                excess = np.where(np.isnan(err), np.inf, err - tol)
                idx = np.unravel_index(int(np.argmax(excess)), x.shape)
                idx = tuple(int(j) for j in idx)
                a, n = float(analytic[idx]), float(numerical[idx])
                return fail(
                    f"input {i}{order}, projection {p}: {int(bad.sum())} of {bad.size} entries "
                    f"differ; worst entry {idx}: autograd {a!r} vs numerical {n!r} "
                    f"(|diff| {err[idx]:.3g} > tolerance {tol[idx]:.3g} = atol {atol:g} + "
                    f"rtol {rtol:g} * |numerical|)")
    return True


def __getattr__(name):
    # `testing.strategies` is a submodule, imported on first use so that the checks above
    # do not need hypothesis installed.
    if name == "strategies":
        import importlib
        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
