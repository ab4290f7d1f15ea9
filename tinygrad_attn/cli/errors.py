"""How a failure reaches the user: one line, and an exit status (2: bad input, 1: a failure
during the work). `UsageError` is what a command raises for bad input it finds itself."""
from __future__ import annotations

__all__ = ["UsageError", "classify", "one_line"]


class UsageError(Exception):
    """Bad input found by a command (exit status 2); the message is one line."""


def classify():
    """(exception types that mean bad input: exit 2, those that mean a failure during the
    work: exit 1)."""
    from tinygrad_attn.checkpoint import CheckpointError
    from tinygrad_attn.data import DataFileError, EncodeError
    from tinygrad_attn.files import WriteError
    from tinygrad_attn.plugins import UnknownModelError, UnknownTaskError
    from tinygrad_attn.runs import RunError
    from tinygrad_attn.tasks import TaskError
    from tinygrad_attn.training import NonFiniteLoss
    bad_input = (UsageError, RunError, TaskError, CheckpointError, DataFileError, EncodeError,
                 UnknownModelError, UnknownTaskError)
    failure = (NonFiniteLoss, WriteError, FloatingPointError, MemoryError, OSError)
    return bad_input, failure


def one_line(e):
    """An exception as one line of text."""
    from tinygrad_attn.data import DataFileError
    if isinstance(e, DataFileError):
        problems = e.problems
        shown = "; ".join(str(p) for p in problems[:3])
        more = (f"; ... {len(problems) - 3} more (`tinygrad-attn data --check {e.path}` "
                "lists them all)") if len(problems) > 3 else ""
        return f"{e.path}: cannot load it, {len(problems)} problem(s): {shown}{more}"
    if isinstance(e, MemoryError):
        return f"out of memory{': ' + str(e) if str(e) else ''}"
    if isinstance(e, OSError) and e.filename is not None and not str(e).startswith("cannot"):
        return f"{e.filename}: {e.strerror or e}"
    text = str(e) or type(e).__name__
    return " ".join(text.split())
