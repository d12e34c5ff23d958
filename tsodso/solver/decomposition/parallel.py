"""Block solves on worker processes (a local process pool).

`BlockPool(dec, options, workers)` starts `workers` processes that receive every block
subproblem once (initializer); each Lagrangian evaluation then sends only (block, reduced
costs, block bounds) and gets back `BlockResult`s. A block solve is deterministic given its
inputs (our B&B over ECOS, no randomness, no time limit), so the bound sequence is the same
with 1 or N workers (tests/test_decomposition.py checks 1 vs 2). Results come back in job
order (`Executor.map`).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import List

from .lagrangian import BlockResult, run_block

__all__ = ["BlockPool"]

_BLOCKS = None
_OPTS = None


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
