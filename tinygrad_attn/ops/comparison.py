"""<, <=, >, >=, ==, != on Variables: boolean data Variables, never on the tape.

A comparison has no gradient (it is piecewise constant), so its result is data, like a
mask: it feeds `where`, `masked_fill` or `masked_softmax`. Operands broadcast as in NumPy.
`==` compares values, not identity (a Variable's hash stays its identity, so Variables
still key dicts); an operand that is not a number or an array compares unequal.
"""
import numpy as np

from ..tape import Variable, _wrap

__all__ = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


def _values(x):
    if isinstance(x, Variable):
        return x.data
    arr = np.asarray(x)
    if arr.dtype.kind not in "biufc":
        return None
    return arr


def _comparison(ufunc, name, symbol):
    def compare(a, b):
        x, y = _values(a), _values(b)
        if x is None or y is None:
            return NotImplemented
        try:
            out = ufunc(x, y)
        except ValueError:
            raise ValueError(f"{name}: {np.shape(x)} {symbol} {np.shape(y)}: shapes do not "
                             "broadcast") from None
        return _wrap(np.asarray(out), None, 0, False)

    compare.__name__ = name
    compare.__doc__ = (f"a {symbol} b elementwise, with broadcasting: a bool Variable (data; "
                       "no gradient).")
    return compare


equal = _comparison(np.equal, "equal", "==")
not_equal = _comparison(np.not_equal, "not_equal", "!=")
less = _comparison(np.less, "less", "<")
less_equal = _comparison(np.less_equal, "less_equal", "<=")
greater = _comparison(np.greater, "greater", ">")
greater_equal = _comparison(np.greater_equal, "greater_equal", ">=")
