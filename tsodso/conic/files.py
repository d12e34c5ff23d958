"""One atomic file writer for the whole package (CBF export, result files, tables, figures).

    atomic_write(path, data)             data: str (UTF-8) or bytes
    atomic_write(path, writer=fn)        fn(tmp_path) writes the file (h5py, matplotlib, ...)

The content goes to a temporary file `.tmp-*` in the target's folder (same file system),
is flushed and fsync'ed, gets the mode a plain `open()` would give (0o666 minus the umask;
`tempfile.mkstemp` alone gives 0o600), and is then `os.replace`d onto `path`: a reader sees
the old file or the new one, never half of one. On any failure (disk full, permission,
Ctrl-C) the temporary file is removed and the exception propagates; `path` is untouched.

Lives in `conic` (the lowest layer that writes files) so every layer above can use it.
"""
from __future__ import annotations

import os
import tempfile
from typing import Callable, Optional, Union

__all__ = ["atomic_write", "umask_mode"]


def umask_mode(base: int = 0o666) -> int:
    """`base` minus the process umask (what open(..., 'w') would create)."""
    old = os.umask(0)
    os.umask(old)
    return base & ~old


def atomic_write(path, data: Union[str, bytes, None] = None,
                 writer: Optional[Callable[[str], None]] = None) -> str:
    """Write `data` (or call `writer(tmp)`) to a temporary file, then rename it onto `path`."""
    if (data is None) == (writer is None):
        raise TypeError("atomic_write needs exactly one of data, writer")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    try:
        if writer is None:
            raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
        else:
            os.close(fd)
            writer(tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
