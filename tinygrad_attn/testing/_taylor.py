"""`taylor_check`: a gradient check that does not hinge on one step size.

For a right gradient g, the first-order Taylor remainder along a direction v,

    R(h) = |f(x + h v) - f(x) - h <g, v>|,

is O(h^2): halving h divides it by about 4. With a wrong gradient the error term
h <g - g_true, v> dominates for small h, and halving h only halves R. So the check looks at
the observed rates R(h) / R(h/2) over a range of h, with no tolerance on gradient values
at all; rounding only sets a floor below which remainders are not used.
"""
from __future__ import annotations

import numpy as np

from .. import Variable, grad as _grad, set_grad_enabled
from . import _core

__all__ = ["taylor_check", "TaylorResult"]


class TaylorResult:
    """Outcome of `taylor_check`: ``ok``, the step sizes ``hs``, the ``remainders``, the
    observed ``rates`` (R(h) / R(h/2) for consecutive steps above the rounding floor, None
    below it), the deciding ``rate`` (median of the last three usable ones; None when every
    remainder was at the floor: f is linear along the direction) and a ``message``."""

    def __init__(self, ok, hs, remainders, rates, rate, floor, message):
        self.ok, self.hs, self.remainders, self.rates = ok, hs, remainders, rates
        self.rate, self.floor, self.message = rate, floor, message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"<TaylorResult ok={self.ok} rate={self.rate}>"


def taylor_check(f, *inputs, seed=0, h0=0.1, halvings=10, min_rate=3.0, raise_exception=True,
                 locate=True, repro_dir=None):
    """Check f's gradient by the decay of its first-order Taylor remainder.

    One random output projection u (for non-scalar outputs) and one random direction v
    through every floating input (standard normal entries) are drawn with `seed`; autograd
    gives g in the inputs' own dtype; f is evaluated in float64 at x + h v for
    ``h = h0, h0/2, ... (halvings times)``. The remainder must shrink about 4x per halving:
    the median of the last three usable rates must reach `min_rate` (3, between the 2 of a
    wrong gradient and the 4 of a right one). If every remainder is at rounding level, f
    is linear along v and the check passes. Where the remainder changes sign (near an
    inflection its h^2 and h^3 terms cancel at some h, and the rates there mean nothing),
    h is halved on past the change, up to `halvings` more times, and the rates beyond it
    are judged.

    Returns a `TaylorResult` (truthy when it passes); raises `GradcheckError` with the
    observed rates (and `locate`'s finding) when it fails, unless ``raise_exception=False``.
    """
    from ._core import GradcheckError
    where = "taylor_check"
    _core.check_not_complex(inputs, where)
    idx = [i for i, x in enumerate(inputs) if _core.is_floating(x)]
    if not idx:
        raise ValueError(f"{where}: no floating input to differentiate")
    rng = np.random.default_rng(seed)
    leaves = [Variable(np.array(_core.array_of(x))) if _core.is_floating(x) else x
              for x in inputs]
    calls = []
    with set_grad_enabled(True), _core.recording_order() as seen:
        outs, _ = _core.as_outputs(f(*leaves), where)
    calls.extend(seen)
    fl = [k for k, y in enumerate(outs) if y.dtype.kind == "f"]
    us = [rng.standard_normal(outs[k].shape) for k in fl]
    vs = {i: rng.standard_normal(np.shape(_core.array_of(inputs[i]))) for i in idx}
    with set_grad_enabled(True):
        gs = _grad([outs[k] for k in fl], [leaves[i] for i in idx],
                   grad_outputs=[Variable(u.astype(outs[k].dtype), requires_grad=False)
                                 for u, k in zip(us, fl)], allow_unused=True)
    gv = sum(0.0 if g is None else float(np.sum(np.asarray(g.data, np.float64) * vs[i]))
             for g, i in zip(gs, idx))
    base = {i: np.array(_core.array_of(inputs[i]), dtype=np.float64) for i in idx}
    # rounding x + h v to float64 moves f by up to eps |x| per entry, times the gradient:
    # a floor that does not shrink with h (f(1 - 1) is 0, but 1 + h v is rounded)
    in_floor = 64 * np.finfo(np.float64).eps * sum(
        0.0 if g is None else float(np.sum(np.abs(np.asarray(g.data, np.float64) * base[i])))
        for g, i in zip(gs, idx))

    u = np.concatenate([a.ravel() for a in us])

    def outputs_at(h):
        xs = [Variable(base[i] + h * vs[i], requires_grad=False) if i in base else x
              for i, x in enumerate(inputs)]
        ys, _ = _core.as_outputs(f(*xs), where)
        return np.concatenate([np.asarray(ys[k].data, np.float64).ravel() for k in fl])

    # rounding floor: f's outputs are float64 (or narrower inside f)
    out_eps = max(np.finfo(outs[k].dtype).eps if outs[k].dtype.itemsize < 8
                  else np.finfo(np.float64).eps for k in fl)
    hs, rem, signed, floor = [], [], [], []

    def step(h):
        yh = outputs_at(h)
        d = yh - y0  # differences first: entries f keeps constant cancel exactly
        r = float(u @ d) - h * gv
        hs.append(h)
        signed.append(r)
        rem.append(abs(r))
        moved = d != 0
        floor.append(64 * out_eps * (float(np.abs(u * yh)[moved].sum()) + abs(h * gv))
                     + in_floor)

    with set_grad_enabled(True):
        y0 = outputs_at(0.0)
        for k in range(halvings + 1):
            step(h0 / 2 ** k)
        # Near an inflection two orders of the remainder (h^2 and h^3 terms of opposite
        # sign) cancel at some h, where the rates mean nothing. Halve on past the last
        # change of sign (up to `halvings` more times) and judge the rates beyond it.
        for _ in range(halvings):
            last = _last_sign_change(signed)
            if last is None or len(hs) - last > 6 or rem[-1] <= 10 * floor[-1]:
                break
            step(hs[-1] / 2)
    usable = [r > 10 * fl_ for r, fl_ in zip(rem, floor)]
    rates = [rem[k] / rem[k + 1] if usable[k] and usable[k + 1] else None
             for k in range(len(rem) - 1)]
    last = _last_sign_change(signed)
    good = [r for r in rates if r is not None]
    if last is not None:
        # beyond the change of sign if rounding leaves three rates there, else before it
        # (an error too small to show before the remainder reaches rounding is below what
        # any step size can see)
        after = [r for k, r in enumerate(rates) if r is not None and k >= last]
        before = [r for k, r in enumerate(rates) if r is not None and k < last - 1]
        good = after if len(after) >= 3 or not before else before
    if not good:
        msg = (f"{where}: the remainder is at rounding level for every h (f is linear along "
               "the direction): passes")
        return TaylorResult(True, hs, rem, rates, None, floor, msg)
    rate = float(np.median(good[-3:]))
    shown = ", ".join("-" if r is None else f"{r:.2f}" for r in rates)
    if rate >= min_rate:
        return TaylorResult(True, hs, rem, rates, rate, floor,
                            f"{where}: remainder shrinks {rate:.2f}x per halving of h "
                            f"(rates {shown}): passes")
    msg = (f"{where}: the first-order Taylor remainder |f(x + h v) - f(x) - h <g, v>| shrinks "
           f"only {rate:.2f}x per halving of h (rates from h = {h0:g} down: {shown}); a right "
           "gradient makes it shrink about 4x, a wrong one 2x: autograd's gradient (g) is "
           "wrong along a random direction v")
    report = None
    if locate:
        from ._locate import locate_outputs
        report = locate_outputs(outs, calls, seed=seed)
        if report is not None:
            msg += "\n" + str(report)
    result = TaylorResult(False, hs, rem, rates, rate, floor, msg)
    if repro_dir is not None:
        from ._repro import try_write_repro
        folder, why = try_write_repro(
            repro_dir, "taylor_check", f, list(inputs),
            dict(seed=seed, h0=h0, halvings=halvings, min_rate=min_rate), report=report,
            message=msg)
        msg += (f"\nrepro: python {folder / 'repro.py'} (inputs, script and diagram in "
                f"{folder})" if folder else f"\n{why}")
        result.message = msg
    if raise_exception:
        err = GradcheckError(msg)
        err.report = report
        raise err
    return result


def _last_sign_change(signed):
    """The index k where the remainder last changed sign (signed[k-1], signed[k] of opposite
    signs), or None."""
    last = None
    for k in range(1, len(signed)):
        if signed[k - 1] * signed[k] < 0:
            last = k
    return last
