"""Process-wide tuning, done here and nowhere else in the library: malloc's pad (memory.py)
and our thread pool with BLAS's thread count (threads.py), from the command's options and
the environment; and NumPy's floating-point RuntimeWarnings kept off the terminal (a loss
that overflows is reported once, by the training loop, naming its step; --debug shows
them). Library users who train in their own loop make the same calls themselves
(docs/performance.md)."""
from __future__ import annotations

import os
import warnings

from .options import cpus

__all__ = ["configure", "use_threads", "threads_in_effect", "threads_chosen"]


def configure(args):
    """Apply TGA_MALLOC_TOP_PAD and --threads (else the environment's thread count);
    UsageError naming the option or variable for a bad value."""
    from tinygrad_attn import memory, threads
    from .errors import UsageError
    if not args.debug:
        warnings.filterwarnings("ignore", category=RuntimeWarning, message=(
            "(overflow|invalid value|divide by zero|underflow) encountered"))
    try:
        memory.configure_from_environment()
    except ValueError as e:
        raise UsageError(f"environment: {e}") from None
    # the command computes on exactly the threads it says: with one, BLAS runs one too
    if args.threads is not None:
        threads.set_num_threads(args.threads, hold_blas=True)
        return
    raw = os.environ.get("TGA_NUM_THREADS", "").strip()
    if raw.isdigit() and not 1 <= int(raw) <= cpus():
        raise UsageError(f"environment: TGA_NUM_THREADS={raw} must be from 1 to the {cpus()} "
                         "CPUs this process may use")
    try:
        threads.configure_from_environment(hold_blas=True)
    except ValueError as e:
        raise UsageError(f"environment: {e}") from None


def threads_chosen(args):
    """Whether the user chose the thread count (--threads or TGA_NUM_THREADS)."""
    return args.threads is not None or bool(os.environ.get("TGA_NUM_THREADS", "").strip())


def use_threads(n):
    """Run with `n` threads from now on (a resumed run keeps the count it was trained with)."""
    from tinygrad_attn import threads
    return threads.set_num_threads(n, hold_blas=True)


def threads_in_effect():
    from tinygrad_attn import threads
    return threads.get_num_threads()
