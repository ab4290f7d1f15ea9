"""The operands of a binary op, as Variables, with one rule for their dtypes."""
import numpy as np

from ..tape import Variable, as_operand, as_variable


def operands(a, b):
    """`a` and `b` as Variables.

    A constant mixed with a Variable takes the Variable's float dtype (`x * 0.5` keeps a
    float32 `x` float32). Two constants combine as NumPy combines them: arrays promote as
    usual and a Python scalar takes the array's dtype, so ``F.mul(float32 array, 2.0)`` is
    float32, like ``array * 2.0``. The result is then a constant too (nothing to record).
    """
    if isinstance(a, Variable):
        return a, as_operand(b, a)
    if isinstance(b, Variable):
        return as_operand(a, b), b
    a_arr, b_arr = _array(a), _array(b)
    dtype = np.result_type(a if _scalar(a) else a_arr, b if _scalar(b) else b_arr)
    if _scalar(a):
        a_arr = a_arr.astype(dtype)
    if _scalar(b):
        b_arr = b_arr.astype(dtype)
    return as_variable(a_arr), as_variable(b_arr)


def _scalar(x):
    return isinstance(x, (bool, int, float, complex))


def _array(x):
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "biufc":
        raise TypeError(f"expected a number, an array or a Variable, got {type(x).__name__}")
    return arr
