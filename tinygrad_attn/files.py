"""Writing files so that nothing is lost: `write_atomic` goes through a temporary file in
the same directory and `os.replace`, so a reader (or a crash at any moment) sees the old
file or the new one, never half of one. Standard library only: any module may import it.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile

__all__ = ["write_atomic", "write_json"]


def write_atomic(path, data):
    """Write `data` (bytes, or str as UTF-8) to `path` atomically; returns the Path."""
    path = pathlib.Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; these files are not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path, obj, indent=1):
    """`obj` as JSON, written atomically."""
    return write_atomic(path, json.dumps(obj, indent=indent))
