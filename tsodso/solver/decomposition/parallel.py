"""Block solves on worker processes: a local process pool, or a dask.distributed cluster.

`BlockPool(dec, options, workers)` starts `workers` local processes that receive every block
subproblem once (initializer). `DaskBlockPool(dec, options, scheduler)` connects to a running
dask.distributed scheduler (address "tcp://HOST:PORT", or a `distributed.Client`) and scatters
each block subproblem once to one worker (the data stays there; a block's solve runs where
its data is). Either way, each Lagrangian evaluation then sends only (block, reduced costs,
block bounds) and gets back `BlockResult`s: the multipliers go out, the block results come
back. A block solve is deterministic given its inputs (our B&B over ECOS, no randomness, no
time limit), so the bound sequence is the same with 1 or N workers, local or on Dask
(tests/test_decomposition.py checks 1 vs 2 local vs a 2-process Dask LocalCluster). Results
come back in job order (`Executor.map`, `Client.gather` of the futures in order).
"""
from __future__ import annotations

import re
from concurrent.futures import ProcessPoolExecutor
from typing import List

from .lagrangian import BlockResult, run_block

__all__ = ["BlockPool", "DaskBlockPool", "make_pool", "check_scheduler"]

_BLOCKS = None
_OPTS = None

SCHEDULER_RE = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s:/]+(:\d{1,5})?$")


def check_scheduler(address) -> None:
    """ValueError naming the value unless `address` looks like a dask scheduler address
    (tcp://HOST:PORT; tls://, inproc://, ucx:// also accepted)."""
    if not isinstance(address, str) or not SCHEDULER_RE.match(address):
        raise ValueError(f"scheduler {address!r}: expected tcp://HOST:PORT")


def _init(probs, opts):
    global _BLOCKS, _OPTS
    _BLOCKS, _OPTS = probs, opts


def _run(job):
    k, cost, lb, ub = job
    return run_block(_BLOCKS[k], k, cost, lb, ub, _OPTS)


class BlockPool:
    def __init__(self, dec, options, workers: int = 2):
        if workers < 1:
            raise ValueError(f"block pool: workers = {workers} must be >= 1")
        self.workers = workers
        self._ex = ProcessPoolExecutor(max_workers=workers, initializer=_init,
                                       initargs=([b.prob for b in dec.blocks], options))

    def map_blocks(self, jobs) -> List[BlockResult]:
        chunk = max(1, len(jobs) // (4 * self.workers))
        return list(self._ex.map(_run, jobs, chunksize=chunk))

    def close(self):
        self._ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _run_remote(bprob, k, cost, lb, ub, opts):
    return run_block(bprob, k, cost, lb, ub, opts)


class DaskBlockPool:
    """Block solves as tasks on a dask.distributed cluster (module docstring)."""

    def __init__(self, dec, options, scheduler):
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("scheduler: the decomposition on Dask needs dask.distributed: "
                             "pip install 'tsodso[dask]'") from None
        self._own = isinstance(scheduler, str)
        if self._own:
            check_scheduler(scheduler)
            self.client = Client(scheduler, timeout="30s")
        else:
            self.client = scheduler
        # one copy of each block on one worker (hash=False: equal blocks stay distinct keys)
        self._data = self.client.scatter([b.prob for b in dec.blocks], hash=False)
        self._opts = self.client.scatter(options, broadcast=True, hash=False)
        self.workers = len(self.client.scheduler_info().get("workers", {}))

    def map_blocks(self, jobs) -> List[BlockResult]:
        futs = [self.client.submit(_run_remote, self._data[k], k, cost, lb, ub, self._opts, pure=False)
                for k, cost, lb, ub in jobs]
        return list(self.client.gather(futs))

    def close(self):
        try:
            self.client.cancel(self._data + [self._opts])
        finally:
            if self._own:
                self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_pool(dec, options, workers: int = 1, scheduler=None):
    """DaskBlockPool on `scheduler` if given, else BlockPool for workers > 1, else None (serial)."""
    if scheduler is not None:
        return DaskBlockPool(dec, options, scheduler)
    if workers > 1:
        return BlockPool(dec, options, workers)
    return None
