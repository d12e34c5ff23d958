"""Branching: which disjunction to split at a node, and the children's bound changes.

Two kinds of disjunction:
* integer variable j with fractional value v (|v - round(v)| > int_tol):
      down child ub[j] = floor(v),  up child lb[j] = ceil(v)
* complementarity pair k = (a, b) (mode "branch") with min(x_a, x_b) > comp_tol:
      child "a" ub[a] = 0 (the dual is zero),  child "b" ub[b] = 0 (the slack is zero)

Implied binaries (`prob.hints.implied_binaries`, optional, int (m, 3) rows (j, a, b)): the
model's own big-M rows make binary j = 1 force x_b = 0 and j = 0 force x_a = 0 (the KKT
binaries: a = dual, b = slack). Where the relaxation already satisfies the pair
(min(x_a, x_b) <= comp_tol) a fractional x_j is not a reason to branch: j = 1 if
x_b <= x_a else 0 is a consistent value (`implied_rounding`). Where the pair is violated,
x_j is necessarily fractional and is branched on like any integer.

Selection: candidates of the kind that comes first (`branch_order`) are used when any
exists. Among them, those with the highest priority (`prob.hints.branch_priority`, one
number per variable, default 0; a pair takes the larger priority of its two variables)
are kept. Then the rule:
* most_fractional: score = min(f, 1 - f) for integers, min(x_a, x_b) / (1 + max(x_a, x_b))
  for pairs.
* pseudocost: score = max(eps, Psi_down * d_down) * max(eps, Psi_up * d_up) (product rule),
  d = the distance each child moves the variable; Psi = average objective gain per unit
  distance observed so far. Strong-branching-free initialisation: a variable with fewer
  than `reliability` observations in a direction uses the average Psi over all variables
  (from the first observed degradations on); with no observation at all it falls back to
  most_fractional.

`BranchDecision.children` lists (idx, new_lb, new_ub, direction, distance) per child with
the preferred (dive) child first: the one nearer to the relaxation value.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["Pseudocosts", "BranchDecision", "select", "fractional", "violated_pairs", "any_split",
           "implied_binaries", "implied_rounding", "branch_fractional"]


@dataclass
class BranchDecision:
    key: tuple                          # ("int", j) or ("pair", k)
    children: List[tuple]               # (idx array, lb values, ub values, direction, distance)


def fractional(x, integer, tol):
    """Indices (into `integer`) of fractional integer variables and their fractional parts."""
    if integer.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    v = x[integer]
    f = v - np.floor(v)
    frac = np.abs(v - np.round(v)) > tol
    return integer[frac], f[frac]


def implied_binaries(prob) -> np.ndarray:
    """prob.hints.implied_binaries as an int64 (m, 3) array (j, a, b), validated."""
    return prob.hints.implied(prob.n)


def implied_rounding(x, implied, comp_tol):
    """(j, value, satisfied): the consistent value of each implied binary whose pair holds."""
    if implied.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool)
    xa, xb = x[implied[:, 1]], x[implied[:, 2]]
    sat = np.minimum(xa, xb) <= comp_tol
    val = (xb <= xa).astype(float)
    return implied[sat, 0], val[sat], sat


def branch_fractional(prob, x, tol, comp_tol):
    """`fractional` without the implied binaries whose pair the point satisfies."""
    ints, f = fractional(x, prob.integer, tol)
    imp = implied_binaries(prob)
    if ints.size and imp.shape[0]:
        done, _, _ = implied_rounding(x, imp, comp_tol)
        keep = ~np.isin(ints, done)
        ints, f = ints[keep], f[keep]
    return ints, f


def violated_pairs(x, pairs, tol):
    """Row indices of pairs with min(x_a, x_b) > tol."""
    if pairs is None or len(pairs) == 0:
        return np.zeros(0, np.int64)
    m = np.minimum(x[pairs[:, 0]], x[pairs[:, 1]])
    return np.flatnonzero(m > tol)


class Pseudocosts:
    def __init__(self, reliability: int):
        self.reliability = reliability
        self.sum = defaultdict(float)      # (key, direction) -> sum of gain / distance
        self.cnt = defaultdict(int)

    KINDS = ("int", "pair")
    DIRECTIONS = ("down", "up")

    def state(self) -> dict:
        """The observations as arrays (for a warm start of a later search of the same problem):
        kind (0 int, 1 pair), index, direction (0 down, 1 up), sum (gain per unit distance), count."""
        ks = sorted(k for k in self.cnt if self.cnt[k])
        return {"kind": np.array([self.KINDS.index(k[0][0]) for k in ks], np.int8),
                "index": np.array([int(k[0][1]) for k in ks], np.int64),
                "direction": np.array([self.DIRECTIONS.index(k[1]) for k in ks], np.int8),
                "sum": np.array([self.sum[k] for k in ks], float),
                "count": np.array([self.cnt[k] for k in ks], np.int64)}

    def load(self, state: dict) -> int:
        """Add the observations of `state()` (of the same problem: keys are variable and pair
        indices); returns how many (key, direction) entries were loaded. Pseudo-costs only
        order the branching candidates, so a warm start changes the search, never its result's
        validity."""
        n = 0
        for kd, j, d, sm, c in zip(state["kind"], state["index"], state["direction"], state["sum"], state["count"]):
            if int(c) > 0 and np.isfinite(sm) and sm >= 0:
                key = ((self.KINDS[int(kd)], int(j)), self.DIRECTIONS[int(d)])
                self.sum[key] += float(sm)
                self.cnt[key] += int(c)
                n += 1
        return n

    def observe(self, key, direction, distance, gain):
        if distance <= 0 or not np.isfinite(gain):
            return
        self.sum[(key, direction)] += max(gain, 0.0) / distance
        self.cnt[(key, direction)] += 1

    def _mean(self, direction):
        s = [self.sum[k] / self.cnt[k] for k in self.cnt if k[1] == direction and self.cnt[k]]
        return float(np.mean(s)) if s else None

    def reliable(self, key) -> bool:
        r = max(1, self.reliability)
        return self.cnt.get((key, "down"), 0) >= r and self.cnt.get((key, "up"), 0) >= r

    def psi(self, key, direction):
        c = self.cnt.get((key, direction), 0)
        if c >= max(1, self.reliability):
            return self.sum[(key, direction)] / c
        avg = self._mean(direction)
        if avg is None:
            return self.sum[(key, direction)] / c if c else None
        if c == 0:
            return avg
        # blend the few own observations with the average until reliable
        w = c / self.reliability
        return w * self.sum[(key, direction)] / c + (1 - w) * avg


def _priority(prob, n):
    return prob.hints.priority(n)


def select(prob, x, lb, ub, opts, pairs, pseudo: Optional[Pseudocosts], strong=None) -> Optional[BranchDecision]:
    """The branching decision at a node with relaxation point x, or None if x satisfies all.

    strong: optional callable(children) -> {direction: objective gain (inf = infeasible)} or
    None; with opts.strong_branching = K > 0, up to K candidates whose pseudo-costs are not
    yet reliable are evaluated by it (reliability branching). Their measured gains feed the
    pseudo-costs; a candidate with an infeasible child returns that single feasible child.
    """
    ints, f = branch_fractional(prob, x, opts.int_tol, opts.comp_tol)
    # only integers whose bounds still allow both children
    pv = violated_pairs(x, pairs, opts.comp_tol) if opts.complementarity == "branch" else np.zeros(0, np.int64)
    kinds = [("int", ints.size > 0), ("pair", pv.size > 0)]
    if opts.branch_order == "pairs_first":
        kinds.reverse()
    kind = next((k for k, has in kinds if has), None)
    if kind is None:
        return None
    prio = _priority(prob, prob.n)
    if kind == "int":
        keys = [("int", int(j)) for j in ints]
        d_down, d_up = f, 1.0 - f
        frac_score = np.minimum(f, 1.0 - f)
        pr = prio[ints] if prio is not None else None
    else:
        a, b = pairs[pv, 0], pairs[pv, 1]
        keys = [("pair", int(k)) for k in pv]
        d_down, d_up = x[a], x[b]           # child "a" moves x_a to 0, child "b" moves x_b to 0
        frac_score = np.minimum(x[a], x[b]) / (1.0 + np.maximum(x[a], x[b]))
        pr = np.maximum(prio[a], prio[b]) if prio is not None else None
    cand = np.arange(len(keys))
    if pr is not None:
        cand = cand[pr[cand] == pr[cand].max()]
    score = frac_score[cand]
    if opts.branching == "pseudocost" and pseudo is not None:
        ps = []
        for i in cand:
            pd, pu = pseudo.psi(keys[i], "down"), pseudo.psi(keys[i], "up")
            ps.append(None if pd is None or pu is None else
                      max(1e-6, pd * d_down[i]) * max(1e-6, pu * d_up[i]))
        if all(p is not None for p in ps):
            score = np.asarray(ps, float)

    def children_of(i):
        key = keys[i]
        if kind == "int":
            j = key[1]
            v = x[j]
            down = (np.array([j]), np.array([lb[j]]), np.array([np.floor(v)]), "down", d_down[i])
            up = (np.array([j]), np.array([np.ceil(v)]), np.array([ub[j]]), "up", d_up[i])
            return [up, down] if v - np.floor(v) >= 0.5 else [down, up]
        k = key[1]
        a, b = int(pairs[k, 0]), int(pairs[k, 1])
        ca = (np.array([a]), np.array([lb[a]]), np.array([0.0]), "down", d_down[i])
        cb = (np.array([b]), np.array([lb[b]]), np.array([0.0]), "up", d_up[i])
        return [ca, cb] if x[a] <= x[b] else [cb, ca]

    if strong is not None and opts.strong_branching > 0 and pseudo is not None:
        score = np.array(score, float)
        unreliable = [n for n, i in enumerate(cand) if not pseudo.reliable(keys[i])]
        for n in sorted(unreliable, key=lambda n: -score[n])[: opts.strong_branching]:
            i = cand[n]
            kids = children_of(i)
            gains = strong(kids)                      # {direction: gain or inf (infeasible)}
            if gains is None:
                continue
            for idx, _, _, direction, dist in kids:
                g = gains.get(direction)
                if g is not None and np.isfinite(g):
                    pseudo.observe(keys[i], direction, dist, g)
            feasible = [kid for kid in kids if np.isfinite(gains.get(kid[3], 0.0))]
            if len(feasible) < len(kids):             # a child is infeasible: one child only
                return BranchDecision(keys[i], feasible)
            gd, gu = gains.get("down", 0.0), gains.get("up", 0.0)
            score[n] = max(1e-6, gd) * max(1e-6, gu) * 1e6   # measured beats estimated
    i = int(cand[int(np.argmax(score))])
    return BranchDecision(keys[i], children_of(i))


def any_split(prob, lb, ub, opts, pairs) -> Optional[BranchDecision]:
    """A valid split when the relaxation point cannot guide one (untrusted solve, or an
    integral point that could not be certified): the first integer with lb < ub, else the
    first pair with both sides not fixed to 0. None if everything is fixed."""
    ints = prob.integer
    free = ints[lb[ints] < ub[ints]] if ints.size else ints
    if free.size:
        j = int(free[0])
        mid = np.floor(0.5 * (lb[j] + ub[j])) if np.isfinite(lb[j]) and np.isfinite(ub[j]) else (
            lb[j] if np.isfinite(lb[j]) else (ub[j] - 1 if np.isfinite(ub[j]) else 0.0))
        return BranchDecision(("int", j), [
            (np.array([j]), np.array([lb[j]]), np.array([mid]), "down", 0.0),
            (np.array([j]), np.array([mid + 1]), np.array([ub[j]]), "up", 0.0)])
    if opts.complementarity == "branch" and pairs is not None and len(pairs):
        open_ = np.flatnonzero((ub[pairs[:, 0]] > 0) & (ub[pairs[:, 1]] > 0))
        if open_.size:
            k = int(open_[0])
            a, b = int(pairs[k, 0]), int(pairs[k, 1])
            return BranchDecision(("pair", k), [
                (np.array([a]), np.array([lb[a]]), np.array([0.0]), "down", 0.0),
                (np.array([b]), np.array([lb[b]]), np.array([0.0]), "up", 0.0)])
    return None
