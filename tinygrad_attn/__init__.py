"""tinygrad_attn: a small, exact and fast autograd over NumPy, built around attention seq2seq.

    import tinygrad_attn as tga
    from tinygrad_attn import Variable, Function, no_grad, grad
    import tinygrad_attn.functions as F
"""
from . import functions  # noqa: F401  (gives Variable its operators)
from . import memory as _memory
from . import functions as F  # noqa: F401
from .engine import (Config, Function, Variable, as_variable, grad, is_grad_enabled,
                     name_scope, no_grad, using_config)

__version__ = "0.1.0"

_memory._configure_from_environment()  # keep freed memory between steps (see memory.py)

__all__ = ["Variable", "Function", "no_grad", "grad", "name_scope", "using_config", "Config",
           "as_variable", "is_grad_enabled", "F"]
