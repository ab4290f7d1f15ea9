"""tinygrad_attn: a small, exact and fast autograd over NumPy, built around attention seq2seq.

    import tinygrad_attn as tga
    from tinygrad_attn import Variable, Function, no_grad, grad
    import tinygrad_attn.functions as F

Importing the package changes nothing else in the process (no allocator tuning, no global
NumPy settings); see `tinygrad_attn.memory.keep_freed_memory` for the one opt-in.
"""
from . import functions  # noqa: F401  (gives Variable its operators and backward)
from . import functions as F  # noqa: F401
from .autodiff import grad
from .tape import (Function, Variable, as_variable, current_scope, enable_grad,
                   is_grad_enabled, name_scope, no_grad, set_grad_enabled, topological_order)

__version__ = "0.2.0"

__all__ = ["Variable", "Function", "no_grad", "enable_grad", "set_grad_enabled", "grad",
           "name_scope", "current_scope", "as_variable", "is_grad_enabled",
           "topological_order", "F"]
