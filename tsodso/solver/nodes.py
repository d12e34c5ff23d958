"""Nodes of the search tree and the open-node store.

A node stores only the bounds that differ from the root, as three parallel arrays
(`idx`, `lb`, `ub`, sorted by idx): cumulative along the path, so a node never needs its
ancestors. `bound` is a valid lower bound on every point of the node's subproblem: the
parent's relaxation value until the node's own relaxation has been solved (and trusted).

Node selection (`NodeStore.pop`):
* best_bound: the open node with the smallest bound (ties: deeper first, then older).
* best_bound_dive: as best_bound, except that after a node is branched the next node is
  its preferred child (the dive), and the dive continues until a node is pruned, found
  infeasible or closed, or `dive_limit` nodes have been taken in a row by diving; then the
  next node is the best-bound one again. (Without the limit a dive through the ~2,700
  binaries of a 1-ADN x 24 h instance never ended and the best bound never moved: 155
  nodes, 156 open, bound = root bound.)
* depth_first: always the most recently created open node.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["Node", "NodeStore", "child_changes"]


@dataclass
class Node:
    id: int
    depth: int
    bound: float                       # valid lower bound on the subproblem
    idx: np.ndarray                    # variables whose bounds differ from the root
    lb: np.ndarray
    ub: np.ndarray
    parent_id: int = -1
    branch: Optional[tuple] = None     # (key, direction, distance, parent_objective) for pseudo-costs
    untrusted_solves: int = 0          # node solves that ended without a trusted status

    def bounds(self, root_lb: np.ndarray, root_ub: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        lb = root_lb.copy()
        ub = root_ub.copy()
        if self.idx.size:
            lb[self.idx] = self.lb
            ub[self.idx] = self.ub
        return lb, ub


def child_changes(node: Node, lb: np.ndarray, ub: np.ndarray, root_lb, root_ub):
    """Compact (idx, lb, ub) of the full bound vectors lb, ub against the root's."""
    idx = np.flatnonzero((lb != root_lb) | (ub != root_ub))
    return idx, lb[idx].copy(), ub[idx].copy()


class NodeStore:
    """Open nodes: a heap on (bound, -depth, id) with lazy deletion, plus a dive pointer."""

    def __init__(self, selection: str = "best_bound_dive", dive_limit: int = 10):
        self.selection = selection
        self.dive_limit = dive_limit
        self._dived = 0
        self._heap: List[tuple] = []
        self._open = {}                # id -> Node
        self._dive: Optional[int] = None
        self._ids = itertools.count()
        self._lifo: List[int] = []

    def new_id(self) -> int:
        return next(self._ids)

    def __len__(self) -> int:
        return len(self._open)

    def push(self, node: Node) -> None:
        self._open[node.id] = node
        heapq.heappush(self._heap, (node.bound, -node.depth, node.id))
        self._lifo.append(node.id)

    def set_dive(self, node_id: Optional[int]) -> None:
        """The node to process next (a child of the last branched node); None ends the dive."""
        self._dive = node_id if self.selection == "best_bound_dive" else None

    def _clean(self) -> None:
        while self._heap and self._heap[0][2] not in self._open:
            heapq.heappop(self._heap)

    def pop(self) -> Node:
        if self._dive is not None and self._dive in self._open and self._dived < self.dive_limit:
            nid = self._dive
            self._dive = None
            self._dived += 1
            return self._open.pop(nid)
        self._dive = None
        self._dived = 0
        if self.selection == "depth_first":
            while self._lifo:
                nid = self._lifo.pop()
                if nid in self._open:
                    return self._open.pop(nid)
            raise IndexError("pop from an empty node store")
        self._clean()
        if not self._heap:
            raise IndexError("pop from an empty node store")
        _, _, nid = heapq.heappop(self._heap)
        return self._open.pop(nid)

    def min_bound(self) -> float:
        """Smallest bound over the open nodes (+inf if none)."""
        self._clean()
        return self._heap[0][0] if self._heap else np.inf

    def prune(self, cutoff: float) -> List[Node]:
        """Remove and return every open node with bound >= cutoff."""
        gone = [n for n in self._open.values() if n.bound >= cutoff]
        for n in gone:
            del self._open[n.id]
        return gone
