"""The book's hand-derived reference implementation (the "oracle").

Plain NumPy forward passes with hand-written backward passes, straight from the
formulas of *Deep Learning from Scratch 2* (chapters 5-8): the layers, the three
seq2seq models (plain, peeky, attention), Adam/SGD and gradient clipping.

This package exists only so the tests can prove the project's autograd equal to
the book's math (and exchange weights with the book's code).  Nothing in the
forward-only framework uses it, and it imports nothing from the rest of the
project -- only NumPy.  Every function keeps the dtype it is given (float32 or
float64).
"""

from . import layers, models, optim
from .layers import *  # noqa: F401,F403  (each module's __all__ is the public list)
from .models import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403

__all__ = [*layers.__all__, *models.__all__, *optim.__all__]
