"""The numerical core shared by gradcheck, gradgradcheck, locate, check_op and taylor_check.

One routine, `compare`, checks a callable's autograd gradients against central differences:
autograd runs in the inputs' own dtype on fresh leaves; the finite differences run in float64
on copies; both are projected on the same random output gradients. Entries that disagree
get a second look before they count as wrong (`_second_look`): at smaller steps (a step that
crossed a nearby kink, or truncation error, disappears) and then one-sided (at a kink the
left and right differences disagree; an analytic value between them is a valid subgradient
and is accepted, with a note).
"""
from __future__ import annotations

import contextlib
import copy
import sys
import warnings

import numpy as np

from .. import Variable, grad as _grad, set_grad_enabled
from ..tape import on_record, topological_order

__all__ = ["GradcheckError", "PrecisionWarning", "KinkWarning", "default_tolerances"]


class GradcheckError(AssertionError):
    """Autograd disagrees with finite differences (or returns a wrong shape or dtype).

    `report` is what `locate` found in the graph (a `Report`, or None), `repro` the folder of
    the repro script when one was written.
    """

    report = None
    repro = None


class PrecisionWarning(UserWarning):
    """A gradient check was asked for tolerances its dtype cannot meet."""


class KinkWarning(UserWarning):
    """A check accepted an autograd value at a kink (it lies between the one-sided
    differences: a valid subgradient, e.g. relu'(0) = 0)."""


# eps, atol, rtol per dtype. float64: the historical defaults of gradcheck. float32: the
# finite differences still run in float64 (so the step can stay small), but autograd runs
# in float32, whose rounding (2**-24 ~ 6e-8 per operation, amplified by cancellation in
# rules such as softmax's) needs looser bounds; see docs/testing.md for the measurement.
_DEFAULTS = {
    np.dtype(np.float64): (1e-6, 1e-5, 1e-4),
    np.dtype(np.float32): (1e-3, 1e-4, 1e-3),
}


def default_tolerances(dtype):
    """`{"eps": ..., "atol": ..., "rtol": ...}` for checks whose narrowest float is `dtype`.

    float64 and float32 have measured values; narrower floats (float16) get float32's with a
    `PrecisionWarning` (they are not measured).
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"default_tolerances: {dtype} is not a float dtype")
    row = _DEFAULTS.get(dtype)
    if row is None:
        if dtype.itemsize > 8:
            row = _DEFAULTS[np.dtype(np.float64)]
        else:
            warnings.warn(f"no measured tolerances for {dtype}; using float32's",
                          PrecisionWarning, stacklevel=2)
            row = _DEFAULTS[np.dtype(np.float32)]
    return dict(zip(("eps", "atol", "rtol"), row))


def resolve_tolerances(dtypes, eps, atol, rtol, where, stacklevel=4):
    """Fill in eps/atol/rtol from the narrowest float among `dtypes`; warn when explicit
    values are tighter than that dtype supports."""
    floats = [np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"]
    narrow = min(floats, key=lambda d: d.itemsize) if floats else np.dtype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        d = default_tolerances(narrow)
    if narrow.itemsize < 8:
        tighter = [f"{k} {v:g} < {d[k]:g}" for k, v in (("atol", atol), ("rtol", rtol))
                   if v is not None and v < d[k]]
        if tighter or narrow not in _DEFAULTS:
            why = ", ".join(tighter) if tighter else "no measured defaults"
            warnings.warn(f"{where}: the inputs are {narrow}; the tolerances asked for are "
                          f"tighter than it supports ({why}, its defaults). Leave atol/rtol "
                          "unset for dtype-derived ones, or check in float64.",
                          PrecisionWarning, stacklevel=stacklevel)
    return (d["eps"] if eps is None else eps, d["atol"] if atol is None else atol,
            d["rtol"] if rtol is None else rtol, narrow)


# --- small helpers ------------------------------------------------------------------------
def array_of(x):
    return x.data if isinstance(x, Variable) else np.asarray(x)


def is_floating(x):
    """Whether input `x` is a differentiable one. Tuples are data (shapes, axes, indices),
    as is anything that is not numeric (None, strings, slices)."""
    if isinstance(x, tuple) or x is None or isinstance(x, (str, slice)):
        return False
    try:
        return array_of(x).dtype.kind == "f" and not (isinstance(x, list) and not x)
    except Exception:
        return False


def check_not_complex(inputs, where):
    for i, x in enumerate(inputs):
        if isinstance(x, (tuple, str, slice)) or x is None:
            continue  # data
        if array_of(x).dtype.kind == "c":
            raise TypeError(f"{where}: input {i} is complex; only real inputs are supported")


def as_outputs(out, where):
    """f's result as a list of Variables, and whether it was a single Variable."""
    single = not isinstance(out, (tuple, list))
    outs = [out] if single else list(out)
    for k, y in enumerate(outs):
        if not isinstance(y, Variable):
            raise TypeError(f"{where}: f must return a Variable or a tuple/list of Variables; "
                            f"output {k} is a {type(y).__name__}")
    return outs, single


def fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_index(idx):
    return "(" + ", ".join(str(i) for i in idx) + ("," if len(idx) == 1 else "") + ")"


# --- fresh copies of recorded ops ---------------------------------------------------------
# What Function.__call__ sets on a recorded op; a fresh op must not carry it.
_RECORDED = ("inputs", "outputs", "generation", "scope", "output_meta")


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


def state_of(f):
    """An op's configuration: its instance attributes without what recording set."""
    return {k: v for k, v in getattr(f, "__dict__", {}).items() if k not in _RECORDED}


def fresh_factory(f):
    """A zero-argument callable making fresh, unrecorded ops equal to the recorded `f`.

    ``type(f)(**f.attributes())`` when that rebuilds the same configuration (every op whose
    attributes are its constructor keywords); otherwise a shallow copy with what recording
    stored removed (an op that keeps more state than its attributes). Decided once per op.
    """
    cls = type(f)
    want = state_of(f)
    try:
        attrs = f.attributes()
        g = cls(**attrs)
        got = state_of(g)
        if sorted(got) == sorted(want) and all(_same(got[k], v) for k, v in want.items()):
            return lambda: cls(**attrs)
    except Exception:
        pass

    def copied():
        g = copy.copy(f)
        d = getattr(g, "__dict__", None)
        if d is not None:
            for k in _RECORDED:
                d.pop(k, None)
        return g

    return copied


def fresh(f):
    """A fresh, unrecorded op equal to the recorded Function `f` (see fresh_factory)."""
    return fresh_factory(f)()


# --- the order in which ops ran ---------------------------------------------------------
@contextlib.contextmanager
def recording_order():
    """Yields a list that collects every Function recorded inside, in the order they ran.

    Generations only order ops along a path; this is the order the program ran them, so
    `locate` can say "the first op in forward order" and mean the one that ran first. It
    listens through the tape's `on_record` hook: only this thread's (or task's) ops.
    """
    seen = []
    with on_record(seen.append):
        yield seen


def walk_functions(outs):
    """Every Function reachable from `outs`, in a topological order (the tape's own)."""
    return topological_order(outs)


# --- the comparison ---------------------------------------------------------------------
class Mismatch:
    """One input whose autograd gradient disagrees with the finite differences."""

    def __init__(self, kind, input, projection=None, shape=None, dtype=None, index=None,
                 autograd=None, numerical=None, tolerance=None, atol=None, rtol=None,
                 n_bad=None, size=None, text=None):
        self.kind, self.input, self.projection = kind, input, projection
        self.shape, self.dtype, self.index = shape, dtype, index
        self.autograd, self.numerical, self.tolerance = autograd, numerical, tolerance
        self.atol, self.rtol, self.n_bad, self.size, self.text = atol, rtol, n_bad, size, text

    def describe(self, order=""):
        """The message gradcheck has always given, naming which value is which."""
        head = f"input {self.input}{order}"
        if self.kind != "values":
            return f"{head}: {self.text}"
        where = (f"worst entry {fmt_index(self.index)}" if self.index is not None
                 else "along a random direction (entries not all checked one by one)")
        count = (f"{self.n_bad} of {self.size} entries differ; " if self.index is not None
                 else "")
        return (f"{head}, projection {self.projection}: {count}{where}: autograd "
                f"{self.autograd!r} vs numerical {self.numerical!r} "
                f"(|diff| {abs(self.autograd - self.numerical):.3g} > tolerance "
                f"{self.tolerance:.3g} = atol {self.atol:g} + rtol {self.rtol:g} * "
                f"|numerical|)")


class Comparison:
    """What `compare` saw: the graph it built, the gradients, the first mismatch, kinks."""

    def __init__(self):
        self.outs = self.leaves = self.wrt = None
        self.grads = []          # per projection, the autograd gradient Variables
        self.seeds = []          # per projection, the output gradients (Variables)
        self.mismatch = None
        self.kinks = []          # notes: kinks where an analytic value was accepted
        self.eps = self.atol = self.rtol = None
        self.dtype = None


def _leaf(x, requires_grad=None):
    if not is_floating(x):
        return x
    return Variable(np.array(array_of(x), order="C"), requires_grad=requires_grad)


def compare(fn, inputs, *, eps, atol, rtol, n_projections=2, seed=0, where="gradcheck",
            requires_grad=None, max_entries=None, record_numerics=True, order_log=None):
    """Check `fn`'s autograd gradients at `inputs` (see the module docstring).

    fn              takes one argument per input (Variables for floating inputs), returns a
                    Variable or a tuple/list of them.
    requires_grad   per input, whether its leaf takes a gradient (default: every float).
    max_entries     check at most this many entries of each input one by one (a random
                    sample), plus one random direction through all of them.
    record_numerics run the finite differences with recording on (needed when fn itself
                    differentiates, as gradgradcheck's does); off is faster.
    order_log       a list: collects the Functions fn runs, in order (see recording_order).
    """
    res = Comparison()
    res.eps, res.atol, res.rtol = eps, atol, rtol
    if requires_grad is None:
        requires_grad = [is_floating(x) for x in inputs]
    leaves = [_leaf(x, rg if is_floating(x) else None) for x, rg in zip(inputs, requires_grad)]
    res.leaves = leaves
    with set_grad_enabled(True):
        if order_log is not None:
            with recording_order() as seen:
                out = fn(*leaves)
            order_log.extend(seen)
        else:
            out = fn(*leaves)
    outs, _ = as_outputs(out, where)
    res.outs = outs
    float_outs = [k for k, y in enumerate(outs) if y.dtype.kind == "f"]
    if not float_outs:
        raise TypeError(f"{where}: output 0 has dtype {outs[0].dtype}; only floating outputs "
                        "can be checked")
    idx = [i for i, x in enumerate(leaves)
           if isinstance(x, Variable) and x.dtype.kind == "f" and x.requires_grad]
    res.wrt = idx
    if not idx:
        return res
    wrt = [leaves[i] for i in idx]
    # the package's `_autograd` (tinygrad_attn.grad): one seam, so the kit's own tests can
    # hand it a broken autograd and see the structure checks fire
    autograd = getattr(sys.modules[__package__], "_autograd", _grad)
    rng = np.random.default_rng(seed)
    us = []
    for p in range(n_projections):
        u = [rng.standard_normal(outs[k].shape) for k in float_outs]
        seeds = [Variable(a.astype(outs[k].dtype), requires_grad=False)
                 for a, k in zip(u, float_outs)]
        with set_grad_enabled(True):
            got = autograd([outs[k] for k in float_outs], wrt, grad_outputs=seeds,
                           allow_unused=True)
        us.append(u)
        res.seeds.append(seeds)
        res.grads.append(got)
    # shapes, dtypes and types first: they make the values meaningless
    analytic = []
    for p, got in enumerate(res.grads):
        row = []
        for i, x, g in zip(idx, wrt, got):
            if g is None:  # fn does not use this input: its gradient is zero
                row.append(np.zeros(x.shape))
                continue
            text = None
            if not isinstance(g, Variable):
                text = f"gradient is a {type(g).__name__}, not a Variable"
            elif g.shape != x.shape:
                text = f"gradient has shape {g.shape} but the input has shape {x.shape}"
            elif g.dtype != x.dtype:
                text = f"gradient has dtype {g.dtype} but the input has dtype {x.dtype}"
            if text:
                res.mismatch = Mismatch("structure", i, p, text=text)
                return res
            row.append(np.asarray(g.data, dtype=np.float64))
        analytic.append(row)

    # finite differences in float64, every projection at once
    # C order: reshape(-1) below must be a view (a transposed input would copy)
    # (requires_grad as on the autograd side: an f that differentiates inside must see the
    # same inputs as differentiable)
    xs64 = [Variable(np.array(array_of(x), dtype=np.float64, order="C"), requires_grad=rg)
            if is_floating(x) else x for x, rg in zip(inputs, requires_grad)]
    # the projections as one matrix over the outputs' entries; differences of outputs are
    # taken before projecting, so large constant entries (a -1e9 fill) cancel exactly
    U = np.array([np.concatenate([a.ravel() for a in u]) for u in us]).reshape(
        n_projections, -1)

    def evaluate():
        with set_grad_enabled(record_numerics):
            ys, _ = as_outputs(fn(*xs64), where)
        return np.concatenate([np.asarray(ys[k].data, dtype=np.float64).ravel()
                               for k in float_outs])

    s0 = evaluate()
    sample_rng = np.random.default_rng([seed, 7])
    found = {}  # (p, position of input) -> Mismatch
    for pos, i in enumerate(idx):
        data = xs64[i].data
        flat = data.reshape(-1)  # a view: perturb in place, restore exactly
        size = flat.size
        if size == 0:
            continue
        if max_entries is None or size <= max_entries:
            entries = np.arange(size)
        else:
            entries = np.sort(sample_rng.choice(size, max_entries, replace=False))
        num = np.zeros((n_projections, len(entries)))

        def at_entry(j, step):
            old = flat[j]
            flat[j] = old + step
            try:
                return evaluate()
            finally:
                flat[j] = old

        for c, j in enumerate(entries):
            num[:, c] = U @ (at_entry(j, eps) - at_entry(j, -eps)) / (2 * eps)
        ana = np.array([analytic[p][pos].reshape(-1)[entries] for p in range(n_projections)])
        err = np.abs(ana - num)
        tol = atol + rtol * np.abs(num)
        bad = ~(err <= tol)  # also catches NaN
        for c in np.flatnonzero(bad.any(axis=0)):
            j = entries[c]
            verdict = _second_look(lambda h, j=j: at_entry(j, h), s0, U, ana[:, c], eps,
                                   atol, rtol)
            if verdict is not None:
                bad[:, c] = False
                if verdict != "ok":
                    res.kinks.append(
                        f"input {i} entry {fmt_index(np.unravel_index(j, data.shape))}: "
                        + verdict)
        for p in range(n_projections):
            if bad[p].any():
                excess = np.where(np.isnan(err[p]), np.inf, err[p] - tol[p])
                excess[~bad[p]] = -np.inf
                c = int(np.argmax(excess))
                index = tuple(int(t) for t in np.unravel_index(int(entries[c]), data.shape))
                found[(p, pos)] = Mismatch(
                    "values", i, p, x_shape(data), wrt[pos].dtype, index, float(ana[p, c]),
                    float(num[p, c]), float(tol[p, c]), atol, rtol, int(bad[p].sum()),
                    len(entries) if len(entries) < size else size)
        if len(entries) < size:  # one direction through every entry, for the rest
            v = sample_rng.standard_normal(data.shape)
            base = data.copy()

            def along(step):
                np.copyto(data, base + step * v)
                try:
                    return evaluate()
                finally:
                    np.copyto(data, base)

            n_dir = U @ (along(eps) - along(-eps)) / (2 * eps)
            a_dir = np.array([float(np.sum(analytic[p][pos] * v)) for p in range(n_projections)])
            t_dir = np.array([atol * float(np.abs(v).sum()) + rtol * float(
                np.sum(np.abs(v * analytic[p][pos]))) for p in range(n_projections)])
            bad_dir = ~(np.abs(a_dir - n_dir) <= t_dir)
            if bad_dir.any():
                verdict = _second_look(along, s0, U, a_dir, eps, atol, rtol, t_dir)
                if verdict is None:
                    for p in np.flatnonzero(bad_dir):
                        found.setdefault((int(p), pos), Mismatch(
                            "values", i, int(p), x_shape(data), wrt[pos].dtype, None,
                            float(a_dir[p]), float(n_dir[p]), float(t_dir[p]), atol, rtol))
                elif verdict != "ok":
                    res.kinks.append(f"input {i} along a random direction: {verdict}")
    if found:
        res.mismatch = found[min(found)]
    return res


def x_shape(a):
    return tuple(a.shape)


def _second_look(at, y0, U, a, eps, atol, rtol, tol_override=None):
    """None if the disagreement stands; "ok" if it was the step (smaller steps agree);
    a note if it is a kink and the analytic value `a` lies between the one-sided
    differences."""
    def ok(central):
        tol = tol_override if tol_override is not None else atol + rtol * np.abs(central)
        return bool(np.all(np.abs(a - central) <= tol))

    plus = minus = None
    for h in (eps / 10, eps / 100):
        plus, minus = at(h), at(-h)
        if ok(U @ (plus - minus) / (2 * h)):
            return "ok"
    right, left = U @ (plus - y0) / h, U @ (y0 - minus) / h
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    tol = (tol_override if tol_override is not None
           else atol + rtol * np.maximum(np.abs(left), np.abs(right)))
    kink = np.any(hi - lo > tol)
    between = np.all((a >= lo - tol) & (a <= hi + tol))
    if kink and between:
        p = int(np.argmax(hi - lo))
        return (f"a kink (one-sided differences {float(left[p]):.6g} and "
                f"{float(right[p]):.6g} disagree); autograd {float(a[p]):.6g} lies between "
                "them: accepted")
    return None
