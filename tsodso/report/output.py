"""Output safety for `-o DIR`: checked before the solve, one lock per folder, staged writes,
a rescue copy when the folder fails, and a SHA-256 digest per HDF5 dataset.

    out = prepare_output(outdir)       # before any long work: OutputError (user error, exit 2)
    ...solve...
    out.write([("result.h5", bytes), ("summary.json", text)])   # the summary last
    out.release()

* `prepare_output` creates the folder if needed and checks that it is a writable directory
  (not a file, not read-only: a probe file is created and removed) with at least
  `MIN_FREE_BYTES` free, then takes an exclusive `flock` on `DIR/.tsodso.lock` for the whole
  run: a second run into the same folder is refused at once (OutputError naming the folder)
  instead of overwriting the first one's files. The lock is released by the OS if the process
  dies. The empty lock file stays (removing it would race with a waiting run).
* `write` puts every file in a staging folder `DIR/.staging-*` first (fully written and
  fsync'ed), then renames them into DIR in the order given, the summary last. A failure while
  staging (disk full, quota, permissions) leaves DIR exactly as it was: never a new result.h5
  beside an old summary.json. The staging folder is always removed.
* On a write failure the same files are written to a fresh `tsodso-rescue-*` folder in the
  system temporary directory (`tempfile.gettempdir()`, usually /tmp) and `OutputWriteError`
  says where (the CLI exits 4). The solve is never thrown away silently.
* HDF5 files are built in memory (`hdf5_bytes`): h5py never writes to a full disk (it could
  crash there), the bytes are written by plain `write` calls that fail cleanly. Every dataset
  gets an attribute `sha256` (`dataset_digest`: dtype, shape, then the data bytes; strings
  length-prefixed UTF-8); `verify_digests` checks them on read and names file and dataset.
* File modes follow the umask (tsodso/atomic.py umask_mode), like `open()`.
"""
from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import tempfile
from typing import Callable, Iterable, Optional, Tuple, Union

import numpy as np

from ..atomic import atomic_write, umask_mode, write_bytes_atomic, write_text_atomic

__all__ = ["OutputError", "OutputWriteError", "ResultFileError", "prepare_output", "RunOutput",
           "hdf5_bytes", "add_digests", "dataset_digest", "verify_digests", "open_hdf5", "write_single",
           "MIN_FREE_BYTES", "LOCK_NAME"]

MIN_FREE_BYTES = 16 * 2**20      # 16 MiB: the largest result file (5 ADNs x 24 h) is ~3 MB
LOCK_NAME = ".tsodso.lock"

Payload = Union[str, bytes, Callable[[str], None]]


class OutputError(ValueError):
    """The output location cannot be used (a user error: checked before solving)."""


class OutputWriteError(OSError):
    """Writing the results failed after the solve; `rescue_dir` holds a copy (or is None)."""

    def __init__(self, msg, rescue_dir=None):
        super().__init__(msg)
        self.rescue_dir = rescue_dir


class ResultFileError(ValueError):
    """A result file cannot be read or fails its digests (the message names file and dataset)."""


# ------------------------------------------------------------------------------ before the solve
def _check_folder(outdir: str, min_free: int) -> None:
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise OutputError(f"output '{outdir}': exists and is not a directory")
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"output '{outdir}': cannot create the directory: {e.strerror}") from None
    try:
        fd, probe = tempfile.mkstemp(dir=outdir, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"output '{outdir}': directory is not writable: {e.strerror}") from None
    free = shutil.disk_usage(outdir).free
    if free < min_free:
        raise OutputError(f"output '{outdir}': only {free / 2**20:.1f} MiB free, "
                          f"at least {min_free / 2**20:.0f} MiB needed")


def prepare_output(outdir, min_free: Optional[int] = None, lock: bool = True) -> "RunOutput":
    """Check `outdir` and lock it for this run (see the module docstring). Raises OutputError."""
    outdir = os.fspath(outdir)
    _check_folder(outdir, MIN_FREE_BYTES if min_free is None else min_free)
    out = RunOutput(outdir)
    if lock:
        out.acquire()
    return out


class RunOutput:
    def __init__(self, outdir: str):
        self.outdir = outdir
        self._lock_fd: Optional[int] = None

    # -------------------------------------------------------------- lock
    def acquire(self) -> None:
        import fcntl
        path = os.path.join(self.outdir, LOCK_NAME)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, umask_mode())
        except OSError as e:
            raise OutputError(f"output '{self.outdir}': cannot create the lock {LOCK_NAME}: "
                              f"{e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(f"output '{self.outdir}': another tsodso run is writing there "
                              f"(lock {LOCK_NAME} held); wait for it or use another -o") from None
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)            # closing the descriptor drops the flock
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    # -------------------------------------------------------------- write
    def write(self, files: Iterable[Tuple[str, Payload]]) -> dict:
        """Stage every file, then rename them into the folder in order; {name: path}.
        On failure: rescue copy and OutputWriteError (see the module docstring)."""
        files = list(files)

        def fill(folder):
            for name, payload in files:
                p = os.path.join(folder, name)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                _put(p, payload)
        self.write_folder(fill, last=tuple(n for n, _ in files[-1:]))
        return {name: os.path.join(self.outdir, name) for name, _ in files}

    def write_folder(self, fill: Callable[[str], object], last=("summary.json", "summary.txt")) -> dict:
        """`fill(folder)` writes the run's files into a staging folder; they are then renamed
        into the output folder, the names in `last` at the end. {relative name: final path}.
        On failure: `fill(rescue folder)` and OutputWriteError (see the module docstring)."""
        try:
            return _stage_and_commit(self.outdir, fill, last)
        except OSError as e:
            rescue = _rescue(fill)
            where = (f"the result was saved to {rescue}" if rescue
                     else "no rescue copy could be written either")
            name = getattr(e, "filename", None) or self.outdir
            raise OutputWriteError(f"output '{self.outdir}': writing failed ({name}: "
                                   f"{e.strerror or e}); {where}", rescue) from None


def _put(path: str, payload: Payload) -> None:
    if callable(payload):
        payload(path)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    else:
        raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        with open(path, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    os.chmod(path, umask_mode())


def _stage_and_commit(outdir: str, fill, last) -> dict:
    stage = tempfile.mkdtemp(dir=outdir, prefix=".staging-")
    try:
        fill(stage)
        names = []
        for root, _, fnames in os.walk(stage):
            for fn in fnames:
                if not fn.startswith(".tmp-"):
                    names.append(os.path.relpath(os.path.join(root, fn), stage))
        names.sort(key=lambda n: (n in last, last.index(n) if n in last else 0, n))
        out = {}
        for name in names:                     # same file system: renames, the summary last
            dst = os.path.join(outdir, name)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(os.path.join(stage, name), dst)
            out[name] = dst
        return out
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _rescue(fill) -> Optional[str]:
    try:
        d = tempfile.mkdtemp(prefix="tsodso-rescue-")
    except OSError:
        return None
    try:
        fill(d)
    except Exception:  # noqa: BLE001 - a partial rescue is still worth naming
        pass
    return d


def write_single(path, payload: Payload) -> str:
    """One file, atomically (no staging folder needed for one file)."""
    if callable(payload):
        return atomic_write(path, payload)
    if isinstance(payload, str):
        return write_text_atomic(path, payload)
    return write_bytes_atomic(path, payload)


# ------------------------------------------------------------------------------ HDF5 digests
def dataset_digest(ds) -> str:
    """SHA-256 of an h5py dataset: dtype, shape, then its data (strings length-prefixed)."""
    a = ds[()]
    h = hashlib.sha256()
    h.update(str(ds.shape).encode())
    arr = np.asarray(a)
    if arr.dtype.kind in "OSU":
        h.update(b"str")
        for item in arr.ravel().tolist():
            b = item.encode("utf-8") if isinstance(item, str) else bytes(item)
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    else:
        h.update(arr.dtype.str.encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _datasets(f):
    import h5py
    found = []
    f.visititems(lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def add_digests(f) -> None:
    """Set attrs["sha256"] (`dataset_digest`) on every dataset of an open, writable h5py.File."""
    for ds in _datasets(f):
        ds.attrs["sha256"] = dataset_digest(ds)


def hdf5_bytes(build: Callable) -> bytes:
    """Build an HDF5 file in memory with `build(h5py.File)`, digest every dataset, return bytes."""
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
        add_digests(f)
    return buf.getvalue()


def verify_digests(f, path) -> None:
    """Every dataset with a `sha256` attribute must match it; ResultFileError names the dataset."""
    for ds in _datasets(f):
        want = ds.attrs.get("sha256")
        if want is None:
            continue
        want = want.decode() if isinstance(want, bytes) else str(want)
        if dataset_digest(ds) != want:
            raise ResultFileError(f"{path}: dataset '{ds.name}' fails its SHA-256 digest "
                                  "(the file is corrupted or was edited)")


class open_hdf5:
    """`with open_hdf5(path) as f:` read-only, digests verified, errors name the file."""

    def __init__(self, path, verify: bool = True):
        self.path = os.fspath(path)
        self.verify = verify
        self.f = None

    def __enter__(self):
        import h5py
        if not os.path.isfile(self.path):
            raise ResultFileError(f"{self.path}: no such file")
        try:
            self.f = h5py.File(self.path, "r")
        except OSError as e:
            raise ResultFileError(f"{self.path}: not a readable HDF5 file ({e})") from None
        try:
            if self.verify:
                verify_digests(self.f, self.path)
        except ResultFileError:
            self.f.close()
            raise
        except (OSError, KeyError, ValueError) as e:
            self.f.close()
            raise ResultFileError(f"{self.path}: unreadable dataset ({e})") from None
        return self.f

    def __exit__(self, *exc):
        if self.f is not None:
            self.f.close()


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
