"""Writing files so that nothing is lost. Standard library only: any module may import it.

    with atomic_file("runs/a/last.npz") as f:     # a temporary file beside the target
        np.savez(f, **arrays)                     # renamed over it once on disk
    write_atomic("notes.txt", "text")             # the same, for bytes or str
    write_json("history.json", {"loss": [...]})   # NaN and inf refused, not written

A reader (or a crash at any instant, `kill -9` included) sees the old file or the new one,
never half of one. The temporary file is named ``.<name>.<random>.tmp`` in the target's
folder; a failure removes it, and `remove_temporaries` clears the ones a killed process
left behind. Files get the permissions every file of the process gets (``0o666`` less the
umask), not `mkstemp`'s private ``0o600``. An `OSError` names the file the caller asked
for, never the temporary name: ``cannot write runs/a/last.npz: No space left on device``.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets

__all__ = ["atomic_file", "write_atomic", "write_json", "link_atomic", "remove_temporaries",
           "WriteError", "temporaries", "check_writable"]


class WriteError(OSError):
    """Writing `filename` failed (the disk is full, the folder read-only, ...): the message
    names the file the caller asked for, with the system's reason."""

    def __str__(self):
        return f"cannot write {self.filename}: {self.strerror}"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_name(path):
    return path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"


def check_writable(path, *, folder=False):
    """Raise WriteError (naming `path`) unless a file `path` (or, with `folder`, files
    inside the folder `path`) could be written: what exists of it is a folder, and the
    nearest existing one takes a new file. Creates nothing: a probe file is made and
    removed at once. For checking an output before any work is done."""
    path = pathlib.Path(path)
    if folder and path.exists() and not path.is_dir():
        raise WriteError(20, "it is a file, not a folder", str(path))
    if not folder and path.is_dir():
        raise WriteError(21, "it is a folder, not a file", str(path))
    existing = path if folder else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise WriteError(20, f"{existing} is a file, not a folder", str(path))
    probe = existing / f".probe.{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        where = "" if existing in (path, path.parent) else f" (in {existing})"
        raise WriteError(e.errno, f"{e.strerror}{where}", str(path)) from None


def temporaries(folder, names=None):
    """The temporary files our writers left in `folder` (of the targets `names`, or of any
    target): ``.<name>.<8 hex digits>.tmp``."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        n = p.name
        if not (n.startswith(".") and n.endswith(".tmp")):
            continue
        target, _, tag = n[1:-4].rpartition(".")
        if len(tag) == 8 and all(c in "0123456789abcdef" for c in tag) and target and (
                names is None or target in names):
            found.append(p)
    return sorted(found)


def remove_temporaries(folder, names=None):
    """Remove what `temporaries` finds (only call it where no writer is running, e.g. in a
    folder you hold the lock of); returns the removed paths."""
    removed = []
    for p in temporaries(folder, names):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_file(path, *, fsync=True):
    """A binary file object to write `path` through: a temporary file in the same folder,
    flushed, fsynced and renamed over `path` when the block ends without an exception.
    On any exception (KeyboardInterrupt too) the temporary file is removed and `path` is
    left as it was; an OSError becomes a `WriteError` naming `path`."""
    path = pathlib.Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temporary_name(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        if isinstance(e, WriteError):
            raise
        raise WriteError(e.errno, e.strerror or str(e), str(path)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_atomic(path, data):
    """Write `data` (bytes, or str as UTF-8) to `path` atomically; returns the Path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_file(path) as f:
        f.write(data)
    return pathlib.Path(path)


def link_atomic(source, path):
    """Make `path` the same file as `source` (a hard link, renamed over `path` atomically:
    no second copy is written); a copy, written atomically, where links are not supported."""
    source, path = pathlib.Path(source), pathlib.Path(path)
    tmp = _temporary_name(path)
    try:
        os.link(source, tmp)
    except OSError:
        with atomic_file(path) as f, open(source, "rb") as src:
            while block := src.read(1 << 20):
                f.write(block)
        return path
    try:
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise WriteError(e.errno, e.strerror or str(e), str(path)) from None
    return path


def write_json(path, obj, indent=1):
    """`obj` as JSON, written atomically. NaN and infinities are refused (ValueError): JSON
    has no such numbers, and a reader would choke on Python's bare ``NaN``."""
    return write_atomic(path, json.dumps(obj, indent=indent, allow_nan=False))
