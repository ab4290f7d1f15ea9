"""Keep freed memory for the next training step (glibc).

A training step records a tape of arrays (hundreds of KiB each at the book's sizes) and
frees them all when the step ends. By default glibc serves such arrays with fresh `mmap`s
and returns them, or the top of its heap, to the OS on free, so the next step faults every
page back in: a 512 KiB add then costs about 6x what it costs on recycled memory. Serving
arrays up to 32 MiB from the heap (`M_MMAP_THRESHOLD`) and keeping a pad on top of it
(`M_TOP_PAD`) removes that cost; memory stays bounded by the largest step plus the pad.

This changes malloc for the whole process, so the library never does it, on import or in
its training loop: it is an explicit call. The `tinygrad-attn` command (and only it: its
cli/process.py) calls `configure_from_environment()`, which applies `keep_freed_memory()`
with the default pad unless the environment variable `TGA_MALLOC_TOP_PAD` says otherwise
(a number of bytes, or 0 to leave malloc alone) or glibc's own `MALLOC_TOP_PAD_` /
`MALLOC_MMAP_THRESHOLD_` are set. A library user who trains in their own loop (the
`Trainer` too) calls it once:

    from tinygrad_attn.memory import keep_freed_memory
    keep_freed_memory()

Nothing happens on systems without glibc's `mallopt`. docs/performance.md has the measured
difference.
"""
import ctypes
import ctypes.util
import os
import sys

DEFAULT_TOP_PAD = 256 << 20       # bytes
HEAP_UP_TO = 32 << 20             # arrays up to this size come from the heap (glibc's max)
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3   # from glibc's malloc.h


def keep_freed_memory(top_pad=DEFAULT_TOP_PAD):
    """Ask glibc malloc to recycle freed arrays: serve arrays up to 32 MiB from the heap and
    keep `top_pad` bytes on top of it. True if it was applied."""
    if top_pad <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # Setting M_TOP_PAD alone would also freeze glibc's adaptive mmap threshold at 128 KiB,
    # sending every array of that size or more to mmap: set both.
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_UP_TO)) and bool(
        mallopt(_M_TOP_PAD, int(min(top_pad, 2**31 - 1))))


def configure_from_environment():
    """`keep_freed_memory()` as the environment asks (see the module docstring); True if
    it was applied."""
    raw = os.environ.get("TGA_MALLOC_TOP_PAD", "")
    try:
        pad = int(raw) if raw.strip() else DEFAULT_TOP_PAD
    except ValueError:
        raise ValueError(f"TGA_MALLOC_TOP_PAD must be a number of bytes (0 to disable), "
                         f"got {raw!r}") from None
    if any(k in os.environ for k in ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")):
        return False  # the user chose already, through glibc itself
    return keep_freed_memory(pad)
