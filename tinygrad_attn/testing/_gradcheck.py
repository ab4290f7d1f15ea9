"""numerical_grad, gradcheck, gradgradcheck: see the package docstring."""
from __future__ import annotations

import sys
import warnings

import numpy as np

from .. import Variable, enable_grad


def _grad(*args, **kwargs):
    # tinygrad_attn.grad, looked up as the package's `_autograd` at each call: one seam, so
    # the kit's own tests can hand every check a broken autograd (see _core.compare)
    return sys.modules[__package__]._autograd(*args, **kwargs)
from ._core import (GradcheckError, KinkWarning, array_of, as_outputs, check_not_complex,
                    is_floating, resolve_tolerances)

__all__ = ["numerical_grad", "gradcheck", "gradgradcheck"]


# --- helpers (array_of, as_outputs, ... are shared with the other checks, in _core) -------
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
        g = np.asarray(array_of(g), dtype=np.float64)
        if g.shape != y.shape:
            raise ValueError(f"{where}: grad_output {k} has shape {g.shape} but output {k} "
                             f"has shape {y.shape}")
        result.append(g)
    return result


def _float64_inputs(inputs):
    """Fresh float64 leaf Variables for floating inputs; integer inputs unchanged."""
    # C order: the perturbation loop reshapes to a flat view (a transposed input would copy)
    return [Variable(np.array(array_of(x), dtype=np.float64, order="C")) if is_floating(x)
            else x for x in inputs]


def _jacobian_columns(f, inputs, eps, where):
    """Central differences of every output w.r.t. every floating input entry, in float64.

    Returns a list: None for each integer input, else an array of shape
    x_i.shape + (total size of the outputs,), the numerical Jacobian transposed. Outputs are
    copied (np.concatenate) before the input is perturbed again, so an f that returns its
    input itself is handled.
    """
    xs = _float64_inputs(inputs)

    def evaluate():
        outs, _ = as_outputs(f(*xs), where)
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
    check_not_complex(inputs, "numerical_grad")
    outs, single = as_outputs(f(*_float64_inputs(inputs)), "numerical_grad")
    gos = _grad_output_list(grad_output, outs, single, "numerical_grad")
    u = np.concatenate([g.ravel() for g in gos])
    cols = _jacobian_columns(f, inputs, eps, "numerical_grad")
    return [None if c is None else np.asarray(c @ u) for c in cols]


def gradcheck(f, *inputs, atol=None, rtol=None, eps=None, n_projections=2, seed=0,
              raise_exception=True, repro_dir=None, locate=True):
    """Check autograd's gradients of `f` against finite differences; True if they agree.

    For each of `n_projections` random normal output gradients ``u`` (drawn with `seed`;
    never all ones), the autograd gradient of ``sum(u * f(*inputs))`` with respect to every
    floating input (computed by `tinygrad_attn.grad`, in the input's own dtype) must match
    the float64 central difference entrywise: ``|autograd - numerical| <= atol + rtol *
    |numerical|``. `eps`, `atol`, `rtol` default from the narrowest float dtype among the
    inputs (`default_tolerances`). Each gradient must also have its input's shape and dtype.
    Integer and bool inputs are data and are skipped; an input f does not use must get a
    zero gradient. Kinks are handled as the module docstring says.

    Raises `GradcheckError` (an AssertionError) naming the input, the worst entry, both
    values and the tolerance, and ending with `locate`'s finding in the graph (its
    ``report``; ``locate=False`` skips that); with ``raise_exception=False`` returns False
    instead. With `repro_dir`, a failure also writes a standalone script, the inputs (.npz)
    and the highlighted diagram there (see `check_op`).
    """
    return _check(f, inputs, atol, rtol, eps, n_projections, seed, raise_exception,
                  "gradcheck", "", repro_dir, locate, 1)


def gradgradcheck(f, *inputs, atol=None, rtol=None, eps=None, n_projections=2, seed=0,
                  raise_exception=True, repro_dir=None, locate=True):
    """Check second-order gradients of `f`: `gradcheck` applied to f's first-order gradient.

    A random normal output projection ``u`` (from `seed`) fixes the first-order gradient
    ``g(x) = grad(sum(u * f(x)), x)``, computed by autograd with ``create_graph=True``. Then,
    along random projections ``v``, the autograd gradient of ``sum(v * g(x))`` is compared
    with central differences of ``g`` itself. A backward rule that is not built from
    differentiable ops (e.g. one computed with NumPy on ``.data``) fails here even when its
    first order is right; `locate` (order 2) then names the op whose rule it is. Same
    arguments, result and errors as `gradcheck`.
    """
    check_not_complex(inputs, "gradgradcheck")
    float_idx = [i for i, x in enumerate(inputs) if is_floating(x)]
    if not float_idx:
        raise ValueError("gradgradcheck: no floating input to differentiate")
    first_order = _first_order_of(f, inputs, float_idx, seed)
    first_order.original = f
    return _check(first_order, inputs, atol, rtol, eps, n_projections, seed, raise_exception,
                  "gradgradcheck", " (second order)", repro_dir, locate, 2)


def _first_order_of(f, inputs, float_idx, seed):
    # The first-order projection u is drawn once, so g is a fixed (deterministic) function.
    rng = np.random.default_rng([seed, 1])
    probe, _ = as_outputs(f(*_float64_inputs(inputs)), "gradgradcheck")
    us = [rng.standard_normal(y.shape) for y in probe]

    def first_order(*xs):
        outs, _ = as_outputs(f(*xs), "gradgradcheck")
        wrt = [xs[i] for i in float_idx]
        seeds = [Variable(u.astype(y.dtype), requires_grad=False) for u, y in zip(us, outs)]
        gs = _grad(outs, wrt, grad_outputs=seeds, create_graph=True, allow_unused=True)
        return tuple(Variable(np.zeros(x.shape, x.dtype), requires_grad=False) if g is None
                     else g for g, x in zip(gs, wrt))

    return first_order


def _check(f, inputs, atol, rtol, eps, n_projections, seed, raise_exception, where, order,
           repro_dir=None, run_locate=True, level=1):
    with enable_grad():  # works even when called under no_grad()
        return _check_recorded(f, inputs, atol, rtol, eps, n_projections, seed,
                               raise_exception, where, order, repro_dir, run_locate, level)


def _check_recorded(f, inputs, atol, rtol, eps, n_projections, seed, raise_exception, where,
                    order, repro_dir, run_locate, level):
    from . import _core
    check_not_complex(inputs, where)
    float_idx = [i for i, x in enumerate(inputs) if is_floating(x)]
    if not float_idx:
        raise ValueError(f"{where}: no floating input to differentiate")
    dtypes = [array_of(inputs[i]).dtype for i in float_idx]
    eps, atol, rtol, narrow = resolve_tolerances(dtypes, eps, atol, rtol, where, stacklevel=5)
    calls = []
    res = _core.compare(f, list(inputs), eps=eps, atol=atol, rtol=rtol,
                        n_projections=n_projections, seed=seed, where=where,
                        order_log=calls)
    if res.kinks:
        warnings.warn(f"{where}: {len(res.kinks)} kink(s) accepted: " + "; ".join(
            res.kinks[:3]) + (" ..." if len(res.kinks) > 3 else ""), KinkWarning,
            stacklevel=4)
    if res.mismatch is None:
        return True
    msg = f"{where}: {res.mismatch.describe(order)}"
    report = None
    if run_locate:
        from ._locate import locate_outputs
        if level == 2:
            # the first-order graph is built from f's forward graph: check its rules twice
            original = getattr(f, "original", None)
            xs = [Variable(np.array(array_of(x))) if is_floating(x) else x for x in inputs]
            from ._core import recording_order
            with recording_order() as seen:
                fwd, _ = as_outputs(original(*xs), where)
            report = locate_outputs(fwd, seen, seed=seed, order=2)
        else:
            report = locate_outputs(res.outs, calls, seed=seed)
        if report is not None:
            msg += "\n" + str(report)
        else:
            msg += ("\nlocate: every recorded op's rule agrees with finite differences of "
                    "that op alone, so the difference comes from outside the tape: f computes "
                    "with .data or detach(), a rule builds its gradient from values cut from "
                    "the tape, or an op mutates an array in place")
    err = GradcheckError(msg)
    err.report = report
    if repro_dir is not None:
        from ._repro import try_write_repro
        call = "gradgradcheck" if level == 2 else "gradcheck"
        target = getattr(f, "original", f)
        err.repro, why = try_write_repro(repro_dir, call, target, list(inputs),
                                         dict(atol=atol, rtol=rtol, eps=eps,
                                              n_projections=n_projections, seed=seed),
                                         report=report, message=msg)
        err.args = (msg + (f"\nrepro: python {err.repro / 'repro.py'} (inputs, script and "
                           f"diagram in {err.repro})" if err.repro else f"\n{why}"),)
    if raise_exception:
        raise err
    return False


