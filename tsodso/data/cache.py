"""HDF5 warm-start cache: a generic, versioned key -> arrays store (no model knowledge).

    cache = WarmCache("DIR")                       # a directory, created on first write
    key = content_hash("kkt_presolve", d.__dict__, buses, lo, hi)   # hash of the inputs
    hit = cache.get("kkt_presolve", key)           # dict of arrays/scalars, or None
    cache.put("kkt_presolve", key, {"fixed": fixed, "milps": 12})

What is cached, and by whom, is decided by the callers (analysis/schemes/experiments wrap
their expensive calls); this module only stores. It never calls a solver and the formulation
never calls it.

Layout: one HDF5 file per entry, `DIR/<kind>/<key[:2]>/<key>.h5`, datasets = the entry's
arrays, attributes = its scalars and strings, plus `tsodso_cache_format` (FORMAT) and
`tsodso_writer_version` (the package version). One file per entry so that several worker
processes (a local pool, Dask workers on a shared file system) can write concurrently: a
writer writes a temporary file in the same directory and renames it into place (atomic on
POSIX), so a reader sees a complete entry or none.

Refusal: a reader that finds a file of another format or writer version, or a file it cannot
read (truncated, not HDF5, missing the format attributes), ignores it, prints ONE line on
logger "tsodso.data.cache" (WARNING; the CLI shows it on stderr) saying which file and why, and returns None: the caller recomputes and overwrites the
entry. It never guesses at a partial entry.

Keys: `content_hash(*parts)` is the SHA-256 of a canonical byte encoding of numbers, strings,
numpy arrays (dtype, shape and bytes), sequences, dicts (sorted keys) and dataclass-like
objects (their `__dict__`). Floats are hashed bit for bit: equal inputs give equal keys,
and any change to the data gives a new key (a stale entry is never found, only left behind).
"""
from __future__ import annotations

import hashlib
import logging
import os
from typing import Optional

import numpy as np

FORMAT = "tsodso-warmcache/1"
log = logging.getLogger(__name__)

__all__ = ["FORMAT", "WarmCache", "content_hash", "writer_version"]


def writer_version() -> str:
    from .._version import __version__
    return str(__version__)


# ------------------------------------------------------------------------------ hashing
def _feed(h, o) -> None:
    if o is None:
        h.update(b"N")
    elif isinstance(o, (bool, np.bool_)):
        h.update(b"B1" if o else b"B0")
    elif isinstance(o, (int, np.integer)):
        h.update(b"I" + str(int(o)).encode() + b";")
    elif isinstance(o, (float, np.floating)):
        h.update(b"F" + np.float64(o).tobytes())
    elif isinstance(o, str):
        b = o.encode()
        h.update(b"S" + str(len(b)).encode() + b":" + b)
    elif isinstance(o, bytes):
        h.update(b"Y" + str(len(o)).encode() + b":" + o)
    elif isinstance(o, np.ndarray):
        a = np.ascontiguousarray(o)
        if a.dtype == object:
            h.update(b"O" + str(a.shape).encode())
            for v in a.reshape(-1):
                _feed(h, v)
            return
        h.update(b"A" + a.dtype.str.encode() + str(a.shape).encode() + b":")
        h.update(a.tobytes())
    elif isinstance(o, dict):
        h.update(b"D" + str(len(o)).encode() + b"{")
        for k in sorted(o, key=str):
            _feed(h, str(k))
            _feed(h, o[k])
        h.update(b"}")
    elif isinstance(o, (list, tuple)):
        h.update(b"L" + str(len(o)).encode() + b"[")
        for v in o:
            _feed(h, v)
        h.update(b"]")
    elif hasattr(o, "__dict__"):
        h.update(b"C" + type(o).__name__.encode())
        _feed(h, vars(o))
    else:
        raise TypeError(f"content_hash: cannot hash a {type(o).__name__}")


def content_hash(*parts) -> str:
    """SHA-256 hex digest of the parts (canonical encoding, see the module docstring)."""
    h = hashlib.sha256()
    _feed(h, list(parts))
    return h.hexdigest()


# ------------------------------------------------------------------------------ the store
class WarmCache:
    """Directory of versioned HDF5 entries. `enabled=False` makes every get a miss and every
    put a no-op (the `--no-cache` switch), so callers need no second code path."""

    def __init__(self, path, enabled: bool = True):
        self.path = None if path is None else os.fspath(path)
        self.enabled = bool(enabled) and self.path is not None
        self.hits = 0
        self.misses = 0
        self.refused = 0

    def __repr__(self):
        return f"WarmCache({self.path!r}, enabled={self.enabled})"

    def file(self, kind: str, key: str) -> str:
        if not kind.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"cache kind {kind!r}: letters, digits, '_' and '-' only")
        if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key {key!r} is not a hex digest")
        return os.path.join(self.path, kind, key[:2], key + ".h5")

    def _say(self, msg: str) -> None:
        log.warning("tsodso cache: %s", msg)

    def refuse(self, msg: str) -> None:
        """A caller's one-line refusal of an entry it read (e.g. a shape that does not match)."""
        self.refused += 1
        self._say(msg)

    def get(self, kind: str, key: str) -> Optional[dict]:
        """The entry as a dict (arrays and scalars), or None (missing, refused or disabled)."""
        if not self.enabled:
            return None
        f = self.file(kind, key)
        if not os.path.isfile(f):
            self.misses += 1
            return None
        import h5py
        try:
            with h5py.File(f, "r") as h:
                fmt = h.attrs.get("tsodso_cache_format")
                ver = h.attrs.get("tsodso_writer_version")
                fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
                ver = ver.decode() if isinstance(ver, bytes) else ver
                if fmt != FORMAT or ver != writer_version():
                    self.refused += 1
                    self.misses += 1
                    self._say(f"refused {f}: format {fmt!r} writer {ver!r}, this reader needs "
                              f"{FORMAT!r} writer {writer_version()!r}; recomputing")
                    return None
                out = {}
                for k, v in h.attrs.items():
                    if k.startswith("tsodso_"):
                        continue
                    out[k] = v.decode() if isinstance(v, bytes) else (v.item() if isinstance(v, np.generic) else v)
                for k in h.keys():
                    out[k] = h[k][()]
        except Exception as e:              # noqa: BLE001 - any unreadable file is refused
            self.refused += 1
            self.misses += 1
            self._say(f"refused {f}: unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                      "recomputing")
            return None
        self.hits += 1
        return out

    def put(self, kind: str, key: str, entry: dict) -> Optional[str]:
        """Write the entry atomically; returns the file (None when disabled).
        Values: numpy arrays (datasets) or int/float/bool/str scalars (attributes)."""
        if not self.enabled:
            return None
        import h5py
        from ..atomic import atomic_write
        f = self.file(kind, key)

        def write(tmp):
            with h5py.File(tmp, "w") as h:
                h.attrs["tsodso_cache_format"] = FORMAT
                h.attrs["tsodso_writer_version"] = writer_version()
                h.attrs["tsodso_key"] = key
                for k, v in entry.items():
                    if isinstance(v, np.ndarray):
                        h.create_dataset(k, data=v)
                    elif isinstance(v, (bool, int, float, str, np.generic)):
                        h.attrs[k] = v
                    else:
                        raise TypeError(f"cache entry {kind}/{k}: {type(v).__name__} is not an array or scalar")
        atomic_write(f, write, makedirs=True)
        return f

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "refused": self.refused}
