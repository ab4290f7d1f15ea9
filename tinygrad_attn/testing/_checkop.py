"""`check_op` and `op_test`: a hypothesis property test of any op in one call.

    check_op(F.tanh, strategies.floats_arrays())              # runs now, raises on failure
    test_my_op = op_test(MyOp, strategies.floats_arrays())    # a test pytest collects

Per example and per dtype: the output keeps the inputs' float dtype; first order (and second,
with order=2) agrees with finite differences along random projections (`gradcheck`,
`gradgradcheck`, tolerances from the dtype); a second backward over the same graph gives
the same gradients; and after the graph is dropped nothing of it is alive (`graph_freed`).
A failing example is written as a repro (script, inputs, diagram) to a
temporary folder (or `repro_dir`) that the error message names.

Hypothesis is imported only when a check runs: `import tinygrad_attn.testing` works
without it.
"""
from __future__ import annotations

import numpy as np

from .. import Function, Variable, grad as _grad, set_grad_enabled
from . import _core

__all__ = ["check_op", "check_op_example", "op_test", "CheckOpError"]


class CheckOpError(_core.GradcheckError):
    """check_op found a failing example; ``repro`` is the folder with its repro script."""


def _callable(f):
    """A Function subclass or instance becomes a callable applying a fresh op per call."""
    if isinstance(f, type) and issubclass(f, Function):
        def apply(*xs):
            return f()(*xs)
        apply.__name__ = f.__name__.lower()
        return apply
    if isinstance(f, Function):
        def apply(*xs):
            return _core.fresh(f)(*xs)
        apply.__name__ = f.name
        return apply
    if not callable(f):
        raise TypeError(f"check_op: f must be callable or a Function, got {type(f).__name__}")
    return f


def _name(f):
    if isinstance(f, type):
        return f.__name__
    if isinstance(f, Function):
        return f.name
    return getattr(f, "__name__", type(f).__name__)


def check_op_example(f, *inputs, dtypes=(np.float64, np.float32), order=2, eps=None,
                     atol=None, rtol=None, n_projections=2, seed=0, same_dtype=True,
                     locate=True):
    """One example of `check_op`, without hypothesis: every check, in every dtype.

    Floating inputs are cast to each dtype in turn (integer inputs stay as they are).
    Raises `GradcheckError` naming the dtype and the check that failed (ending with
    `locate`'s finding unless ``locate=False``); returns the list of kink notes.
    """
    import warnings

    from ._core import GradcheckError
    from ._gradcheck import gradcheck, gradgradcheck
    fn = _callable(f)
    name = _name(f)
    kinks = []
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        xs = [np.asarray(_core.array_of(x)).astype(dtype) if _core.is_floating(x) else x
              for x in inputs]
        where = f"check_op({name}) in {dtype}"

        def fail(text, report=None):
            err = GradcheckError(f"{where}: {text}")
            err.report = report
            err.dtype = dtype
            raise err

        problem, watch = _dtype_and_determinism(fn, xs, dtype, where, seed, same_dtype)
        if problem:
            fail(problem)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _core.KinkWarning)
            try:
                gradcheck(fn, *xs, eps=eps, atol=atol, rtol=rtol, n_projections=n_projections,
                          seed=seed, locate=locate)
                if order >= 2:
                    gradgradcheck(fn, *xs, eps=eps, atol=atol, rtol=rtol,
                                  n_projections=n_projections, seed=seed, locate=locate)
            except GradcheckError as e:
                fail(str(e), e.report)
        kinks += [str(w.message) for w in caught if issubclass(w.category, _core.KinkWarning)]
        try:
            watch.check()
        except AssertionError as e:
            fail(str(e))
    return kinks


def _dtype_and_determinism(fn, xs, dtype, where, seed, same_dtype):
    """The output's dtype, and the gradients of two backward passes over one graph; returns
    (problem text or None, a graph_freed watching that graph). A function of its own so
    that nothing of the graph outlives it."""
    from ._freed import graph_freed
    leaves = [Variable(np.array(x)) if _core.is_floating(x) else x for x in xs]
    with set_grad_enabled(True):
        outs, _ = _core.as_outputs(fn(*leaves), where)
        watch = graph_freed(*outs)
        if same_dtype:
            for k, y in enumerate(outs):
                if y.dtype.kind == "f" and y.dtype != dtype:
                    return f"output {k} has dtype {y.dtype}, not the inputs' {dtype}", watch
        wrt = [x for x in leaves if isinstance(x, Variable) and x.dtype.kind == "f"]
        fl = [y for y in outs if y.dtype.kind == "f"]
        rng = np.random.default_rng([seed, 3])
        seeds = [Variable(rng.standard_normal(y.shape).astype(y.dtype), requires_grad=False)
                 for y in fl]
        once = _grad(fl, wrt, grad_outputs=seeds, allow_unused=True)
        once = [None if g is None else np.array(g.data) for g in once]
        twice = _grad(fl, wrt, grad_outputs=seeds, allow_unused=True)
        for i, (a, b) in enumerate(zip(once, twice)):
            b = None if b is None else b.data
            if (a is None) != (b is None) or (a is not None and not np.array_equal(
                    a, b, equal_nan=True)):
                return (f"a second backward over the same graph gives different gradients "
                        f"for input {i} (a rule mutates an array it was given, or keeps state "
                        "between calls)"), watch
    return None, watch


def check_op(f, *input_strategies, inputs=None, order=2, dtypes=(np.float64, np.float32),
             eps=None, atol=None, rtol=None, n_projections=2, seed=0, same_dtype=True,
             settings=None, repro_dir=None, shrink=False):
    """A hypothesis property test of op `f`, run now; returns a summary dict.

    f                 a callable taking Variables (F.softmax, a lambda, a model piece), a
                      Function subclass (a fresh instance per call), or a Function instance.
    input_strategies  one hypothesis strategy (or fixed value) per input of f, e.g.
                      ``strategies.floats_arrays()``; integer arrays are data.
    inputs            instead of input_strategies: one strategy of whole input tuples, for
                      inputs that depend on each other (shapes that must match, an axis
                      that must exist): ``inputs=st.tuples(...)`` or an ``@st.composite``.
    order             2 also checks second order (create_graph) in every dtype.
    dtypes            floating inputs are cast to each in turn: float32 in must give float32
                      out (``same_dtype``) and float32 gradients.
    eps, atol, rtol   default from each dtype (`default_tolerances`).
    settings          hypothesis settings (default: the active profile, e.g. `ci`, with no
                      deadline).
    repro_dir         where a failure's repro goes (default: a fresh temporary folder).
    shrink            let hypothesis shrink a failing example first. Off by default: it
                      re-runs every check a hundred times or more, and the repro and
                      locate's finding say more than a smaller array does.

    On failure raises `CheckOpError`: the shrunk example, the check and dtype that failed,
    both values, `locate`'s finding, and ``python <folder>/repro.py`` to re-run it.
    """
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy

    if inputs is not None:
        if input_strategies:
            raise TypeError("check_op: give input strategies or inputs=, not both")
        if not isinstance(inputs, SearchStrategy):
            raise TypeError(f"check_op: inputs must be a hypothesis strategy of tuples, got "
                            f"{type(inputs).__name__}")
        whole = inputs.map(tuple)
    else:
        whole = st.tuples(*[s if isinstance(s, SearchStrategy) else st.just(s)
                            for s in input_strategies])
    failures = []
    summary = {"examples": 0, "kinks": []}
    options = dict(order=order, dtypes=tuple(np.dtype(d).name for d in dtypes), eps=eps,
                   atol=atol, rtol=rtol, n_projections=n_projections, seed=seed,
                   same_dtype=same_dtype)

    def prop(drawn):
        summary["examples"] += 1
        try:  # no locate while searching and shrinking: it runs once, on the final example
            summary["kinks"] += check_op_example(f, *drawn, locate=False, **options)
        except Exception as e:
            failures.append((drawn, e))
            raise

    base = settings if settings is not None else hsettings()
    suppress = list(base.suppress_health_check) + [HealthCheck.too_slow,
                                                   HealthCheck.data_too_large]
    phases = [p for p in base.phases if shrink or p is not Phase.shrink]
    run = hsettings(base, deadline=None, suppress_health_check=suppress, phases=phases)(
        given(whole)(prop))
    try:
        run()
    except BaseException as exc:
        if not failures or isinstance(exc, KeyboardInterrupt):
            raise
        drawn, err = failures[-1]
        try:
            check_op_example(f, *drawn, **options)
        except Exception as again:  # the same failure, now with locate's finding
            err = again
        from ._repro import try_write_repro
        dtype = getattr(err, "dtype", None)
        rerun = dict(options)
        if dtype is not None:
            rerun["dtypes"] = (np.dtype(dtype).name,)
        report = getattr(err, "report", None)
        message = str(err)
        folder, why = try_write_repro(repro_dir, "check_op_example", f, list(drawn), rerun,
                                      report=report, message=message)
        shapes = ", ".join(f"{np.shape(_core.array_of(x))} {_core.array_of(x).dtype}"
                           if isinstance(x, (np.ndarray, Variable)) else repr(x)
                           for x in drawn)
        where = (f"repro: python {folder / 'repro.py'}  (script, inputs.npz"
                 f"{' and graph.svg, the op highlighted,' if report is not None else ''} in "
                 f"{folder})" if folder else why)
        new = CheckOpError(
            f"{message}\nfailing example{' (shrunk)' if shrink else ''}: inputs {shapes}\n"
            f"{where}")
        new.report, new.repro, new.example = report, folder, drawn
        raise new from (err if isinstance(err, Exception) else None)
    return summary


def op_test(f, *input_strategies, **kwargs):
    """`check_op` as a test function pytest collects:

        test_my_op = op_test(MyOp, strategies.floats_arrays())
    """
    def test():
        check_op(f, *input_strategies, **kwargs)

    test.__name__ = f"test_{_name(f).lower()}"
    test.__doc__ = f"check_op({_name(f)}): gradients, dtypes, determinism, freed graph."
    return test
