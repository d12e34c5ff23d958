"""Atomic file output, the one implementation every layer uses (it knows nothing of the model).

    atomic_write(path, write)     write(tmp) fills a temporary file next to `path`; it is fsynced
                                  and `os.replace`d onto `path` (a failure leaves no half file
                                  and removes the temporary); returns `path`
    write_text_atomic(path, text) the same for a text (UTF-8, newlines as given)

The temporary file is in the destination folder (os.replace is atomic only within one file
system) and is named ".tmp-*<suffix of path>" so writers that look at the suffix (h5py,
matplotlib) see the real one. It gets the mode a plain `open()` would give (0o666 minus the
umask; `tempfile.mkstemp` alone gives 0o600 whatever the umask).

`in_memory=True`: `write` gets an `io.BytesIO` instead of a path (h5py.File and matplotlib
accept one) and the bytes are written with plain `write` calls. Used for HDF5: h5py writing
into a nearly full disk crashed the process (segfault) and left its temporary file; a plain
write fails cleanly with ENOSPC.
"""
from __future__ import annotations

import io
import os
import tempfile


def umask_mode(base: int = 0o666) -> int:
    """`base` minus the process umask (what open(..., 'w') creates)."""
    old = os.umask(0)
    os.umask(old)
    return base & ~old


def atomic_write(path, write, makedirs: bool = False, in_memory: bool = False):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if makedirs:
        os.makedirs(folder, exist_ok=True)
    data = None
    if in_memory:
        buf = io.BytesIO()
        write(buf)
        data = buf.getvalue()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        if data is None:
            write(tmp)
        else:
            with open(tmp, "wb") as f:
                f.write(data)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_bytes_atomic(path, data: bytes, makedirs: bool = False):
    def w(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    return atomic_write(path, w, makedirs=makedirs)


def write_text_atomic(path, text: str, makedirs: bool = False):
    def w(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return atomic_write(path, w, makedirs=makedirs)
