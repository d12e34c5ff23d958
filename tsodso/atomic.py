"""Atomic file output, the one implementation every layer uses (it knows nothing of the model).

    atomic_write(path, write)     write(tmp) fills a temporary file next to `path`; it is fsynced
                                  and `os.replace`d onto `path` (a failure leaves no half file
                                  and removes the temporary); returns `path`
    write_text_atomic(path, text) the same for a text (UTF-8, newlines as given)

The temporary file is in the destination folder (os.replace is atomic only within one file
system) and is named ".tmp-*<suffix of path>" so writers that look at the suffix (h5py,
matplotlib) see the real one.
"""
from __future__ import annotations

import os
import tempfile


def atomic_write(path, write, makedirs: bool = False):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if makedirs:
        os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_text_atomic(path, text: str, makedirs: bool = False):
    def w(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return atomic_write(path, w, makedirs=makedirs)
