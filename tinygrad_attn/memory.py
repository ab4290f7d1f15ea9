"""Keep freed memory for the next training step (glibc).

A training step records a tape of arrays (hundreds of KiB each at the book's sizes) and
frees them all when the step ends. glibc then returns the top of the heap to the OS, and
the next step faults every page back in: up to 5x slower steps for nothing. Asking malloc
to keep a pad on top of the heap (`M_TOP_PAD`, the `MALLOC_TOP_PAD_` environment variable)
removes that cost; memory stays bounded by the largest step plus the pad.

`import tinygrad_attn` applies `keep_freed_memory()` once with the default pad. Set the
environment variable `TGA_MALLOC_TOP_PAD` to a number of bytes to choose the pad, or to 0
to leave malloc alone. Nothing happens on systems without glibc's `mallopt`.
"""
import ctypes
import ctypes.util
import os
import sys

DEFAULT_TOP_PAD = 256 << 20  # bytes
_M_TOP_PAD = -2             # from glibc's malloc.h


def keep_freed_memory(top_pad=DEFAULT_TOP_PAD):
    """Ask glibc malloc to keep `top_pad` bytes on top of the heap. True if it was applied."""
    if top_pad <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_TOP_PAD, int(min(top_pad, 2**31 - 1))))


def _configure_from_environment():
    raw = os.environ.get("TGA_MALLOC_TOP_PAD", "")
    try:
        pad = int(raw) if raw.strip() else DEFAULT_TOP_PAD
    except ValueError:
        raise ValueError(f"TGA_MALLOC_TOP_PAD must be a number of bytes (0 to disable), "
                         f"got {raw!r}") from None
    if "MALLOC_TOP_PAD_" in os.environ:  # the user chose already, through glibc itself
        return False
    return keep_freed_memory(pad)
