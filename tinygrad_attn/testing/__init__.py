"""Gradient testing that finds the bug, not just the failure.

    from tinygrad_attn.testing import gradcheck, locate, check_op, taylor_check, strategies

    gradcheck(F.softmax, np.random.randn(3, 4))           # True, or GradcheckError
    report = locate(lambda: model.loss(xs, ts))            # which op's rule is wrong, or None
    check_op(my_op, strategies.floats_arrays())            # a hypothesis property test
    taylor_check(F.tanh, np.random.randn(5))               # step-size-free second opinion

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
worst entry's index, autograd's and the numerical value there, and the tolerance, and ends
with what `locate` found in the graph: the op whose own rule is wrong.

Finite differences are always taken in float64, whatever the inputs' dtype; autograd runs
in the inputs' own dtype, and its gradients must come back with each input's shape and
dtype. `eps`, `atol` and `rtol` default from the narrowest float dtype among the inputs
(`default_tolerances`): float64 stays tight, float32 works without hand-tuning; explicit
tolerances tighter than the dtype supports warn (`PrecisionWarning`). Integer and bool
inputs are data (token ids, masks): they are passed through unchanged and never checked.

Kinks: where an entry disagrees, it is looked at again with smaller steps and one-sided
differences; at a kink (relu or abs at 0, max with ties) an autograd value between the left
and right differences is a valid subgradient and is accepted with a `KinkWarning`, while a
value outside them still fails.

`f` takes one argument per input (Variables for floating inputs, integer inputs exactly as
given) and returns a Variable, or a tuple/list of Variables (then every output is projected
and the projections summed).
"""
from .. import grad as _autograd  # the one autograd every check calls (a seam for tests)
from ._checkop import CheckOpError, check_op, check_op_example, op_test
from ._core import GradcheckError, KinkWarning, PrecisionWarning, default_tolerances
from ._freed import GraphNotFreedError, graph_freed
from ._gradcheck import gradcheck, gradgradcheck, numerical_grad
from ._locate import Report, locate
from ._taylor import TaylorResult, taylor_check

__all__ = ["numerical_grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "PrecisionWarning", "KinkWarning", "default_tolerances", "locate", "Report",
           "check_op", "check_op_example", "op_test", "CheckOpError", "taylor_check",
           "TaylorResult", "graph_freed", "GraphNotFreedError", "strategies"]


def __getattr__(name):
    # `testing.strategies` is a submodule, imported on first use so that the checks above
    # do not need hypothesis installed.
    if name == "strategies":
        import importlib
        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
