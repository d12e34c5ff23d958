"""Warm starts of the DSO-led pipeline through the HDF5 cache (data/cache.py).

What is expensive to recompute and valid to reuse, each keyed by the hash of exactly the data
it depends on (so a hit is the same answer the computation would give for those inputs):

* `pcc_box`: the certified PCC box of `certified_pcc_bounds` (per-ADN bounds in MW, the dual
  bounds, the shrink scale per hour, the distinct PCC buses). Inputs: the TN in model units
  for the horizon, the ADNs' physical PCC bounds and PCC buses. 1-3 s of LPs per instance.
* `kkt_presolve`: the fixed complementarity pairs of `kkt_presolve.fixed_pairs` and its
  statistics. Inputs: the TN, the box, the dual bounds, the MILP options. 10-30 s of HiGHS
  MILPs per 24-h instance unloaded, 120-250 s on this machine under load (they dominate the build).
* `incumbent`: the integer values of the best certified point of a finished run. Input: the
  conic problem itself (c, A, b, G, h, bounds, cones, integers) and the solver options, so it
  is used only on the identical problem; it enters the B&B as a heuristic that fixes the
  integers and solves the continuous rest once at the root (the B&B certifies the point).

* `pseudocosts`: the branch-and-bound's pseudo-cost observations at the end of a run
  (`BnBResult.pseudocosts`: per (variable or pair, direction) the summed objective gain per
  unit distance and the count). Input: the problem key of `incumbent` (identical problem and
  options, the keys are variable indices). A later run of the same problem starts its
  pseudo-costs from them (`solver.bnb.solve(pseudocosts=)`; the monolithic B&B only, the
  decomposition's tree does not take them yet); they only order branching candidates.
* `multipliers`: the decomposition's best Lagrange multipliers of a finished run
  (`DecompositionResult.multipliers`, one per dualised coupling row of its (ADN, hour) blocks).
  Input: the problem key of `incumbent` (identical problem and options; the blocks are a
  function of the problem). A later run of the same problem evaluates them next to its own
  first multipliers (`decomposition.solve(multipliers=)`; any multipliers give a valid bound).
* `adn_incumbent`: per ADN, the values of its own integers (BESS modes, P2P roles and
  platform binaries: the variable blocks `adn<a>.*`) in the best certified point of a finished
  run. Key: the ADN's data (every field of its `ADN` record: feeder, loads, PV, BESS, PCC bus,
  name), the horizon (hours, clock hours, dt), the grid and local fees and the layout of its
  integer blocks (names without the position, shapes), so an ADN of another run with the same
  key is the same ADN in the same model structure; a stored entry whose integer count does
  not match is refused with one line, never adapted. A run whose ADNs are found there (e.g.
  the N-ADN run's ADNs inside the N+1-ADN run of a nested sweep, `load_system(nested=True)`)
  gets `seeded_adns`: a heuristic that fixes those ADNs' integers at the stored values and
  lets the follower-response heuristic round the rest (the TN, the other ADNs, the cross-ADN
  and KKT binaries) from the root relaxation; its point is certified like any other. The
  TN is not part of the key (it changes with the fleet): the seed is a guess for the new
  instance, not a cached answer, and only ever enters as a certified candidate.

Nothing here changes a result's validity: a cached box and pair fixing are the ones the
computation returns for the same inputs, and a cached start is certified like any candidate.
"""
from __future__ import annotations

import time

import numpy as np

from ..conic.ecos_adapter import solve as ecos_solve
from ..data.cache import WarmCache, content_hash
from ..formulation.bigm import DualBounds
from ..analysis.certified_box import certified_pcc_bounds
from ..formulation.bilevel import pcc_box
from ..analysis.kkt_presolve import fixed_pairs
from ..formulation.tn import TNData

__all__ = ["cached_analysis", "problem_key", "incumbent_start", "store_incumbent", "adn_integer_blocks",
           "adn_keys", "store_adn_incumbents", "adn_seed_heuristic", "store_pseudocosts", "load_pseudocosts",
           "store_multipliers", "load_multipliers"]

_PSEUDO_FIELDS = ("kind", "index", "direction", "sum", "count")

_DB_FIELDS = ("delta_pu", "dual_max", "slack_each", "cost_gap", "slack_line_max", "slack_gen_max")
PRESOLVE_OPTS = dict(time_limit=10.0, n_random=4)       # fixed_pairs' defaults, in the key


def _tn_part(d: TNData):
    return {k: v for k, v in vars(d).items()}


def cached_analysis(system, T: int, cache: WarmCache | None, kkt_presolve: bool = True):
    """(pcc_certified, presolved, info): the inputs of `build_dso_led(pcc_certified=,
    presolved=)`, from the cache where possible. info = {"pcc_box": "hit"|"computed",
    "kkt_presolve": ..., "seconds_saved_est": ...} for the run's report."""
    d = TNData.from_tn(system.tn, T)
    info = {}
    pcc_ids = np.array([a.pcc_bus for a in system.adns], np.int64)
    k1 = content_hash("pcc_box/1", _tn_part(d), np.asarray(system.pcc_min_mw[:, :T], float),
                      np.asarray(system.pcc_max_mw[:, :T], float), pcc_ids, 0.9, 40)
    e = cache.get("pcc_box", k1) if cache is not None else None
    if e is not None:
        bounds = DualBounds(**{f: (e[f] if f != "cost_gap" else float(e[f])) for f in _DB_FIELDS})
        pcc = (e["lo_mw"], e["hi_mw"], bounds, e["scale"], e["buses"].astype(np.int64))
        info["pcc_box"] = "hit"
    else:
        t0 = time.perf_counter()
        pcc = certified_pcc_bounds(system, d, T)
        info["pcc_box"] = "computed"
        info["pcc_box_seconds"] = time.perf_counter() - t0
        if cache is not None:
            lo_mw, hi_mw, bounds, scale, buses = pcc
            cache.put("pcc_box", k1, {"lo_mw": np.asarray(lo_mw), "hi_mw": np.asarray(hi_mw),
                                      "scale": np.asarray(scale), "buses": np.asarray(buses),
                                      **{f: (np.asarray(getattr(bounds, f)) if f != "cost_gap"
                                             else float(bounds.cost_gap)) for f in _DB_FIELDS}})
    if not kkt_presolve:
        return pcc, None, info
    lo_mw, hi_mw, bounds, scale, buses = pcc
    _, lo, hi = pcc_box(system, T, lo_mw, hi_mw)
    k2 = content_hash("kkt_presolve/1", _tn_part(d), np.asarray(buses), lo, hi,
                      {f: getattr(bounds, f) for f in _DB_FIELDS}, PRESOLVE_OPTS)
    e = cache.get("kkt_presolve", k2) if cache is not None else None
    if e is not None:
        stats = {k: int(v) for k, v in e.items() if k != "fixed"}     # fixed_pairs' statistics
        pres = (np.asarray(e["fixed"], np.int8), stats)
        info["kkt_presolve"] = "hit"
    else:
        t0 = time.perf_counter()
        pres = fixed_pairs(d, buses, lo, hi, bounds, **PRESOLVE_OPTS)
        info["kkt_presolve"] = "computed"
        info["kkt_presolve_seconds"] = time.perf_counter() - t0
        # a MILP that failed (its 10 s limit, under load) proved nothing and left its pairs free:
        # the result is valid, only weaker, and it is cached as it is (its milp_failures count
        # goes with it). Not caching it made the cache useless on a loaded machine (measured:
        # 1 of 29 MILPs failed at 2 ADNs, 13 at 5 ADNs; each re-run paid 150-250 s again) and
        # made re-runs of one instance build different models.
        if cache is not None:
            cache.put("kkt_presolve", k2, {"fixed": np.asarray(pres[0], np.int8),
                                           **{k: int(v) for k, v in pres[1].items()}})
    return pcc, pres, info


def problem_key(prob, options: dict) -> str:
    """Hash of the conic problem's data and the solver options (for the incumbent entry)."""
    parts = [prob.c, float(prob.c0), prob.A.indptr, prob.A.indices, prob.A.data, prob.b,
             prob.G.indptr, prob.G.indices, prob.G.data, prob.h, prob.lb, prob.ub,
             np.asarray(prob.integer), int(prob.n_lp), [int(q) for q in prob.cone_sizes],
             {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool))}]
    return content_hash("problem/1", *parts)


def store_incumbent(cache: WarmCache | None, key: str, prob, x, objective_usd: float) -> None:
    if cache is None or x is None:
        return
    old = cache.get("incumbent", key)
    if old is not None and float(old["objective_usd"]) <= float(objective_usd):
        return                          # keep the better point already stored
    ii = np.asarray(prob.integer)
    cache.put("incumbent", key, {"integers": np.round(np.asarray(x)[ii]).astype(np.int8),
                                 "objective_usd": float(objective_usd)})


def incumbent_start(cache: WarmCache | None, key: str):
    """A B&B heuristic that, at its first call, fixes the integers at the cached incumbent's
    values and solves the continuous rest (ECOS); None when there is no entry."""
    e = cache.get("incumbent", key) if cache is not None else None
    if e is None:
        return None
    z = np.asarray(e["integers"], float)
    done = []

    def heuristic(prob, x, lb, ub):
        if done:
            return None
        done.append(True)
        ii = np.asarray(prob.integer)
        if z.shape != ii.shape:
            return None
        lb, ub = lb.copy(), ub.copy()
        zz = np.clip(z, lb[ii], ub[ii])
        lb[ii] = ub[ii] = zz
        # the B&B sets `deadline` (run_user_heuristics): the solve gets the time left as its
        # ECOS budget (capped iterations; a capped answer is still only a candidate point)
        budget = None if heuristic.deadline is None else heuristic.deadline - time.perf_counter()
        sol = ecos_solve(prob, lb, ub, reltol=1e-7, time_budget=budget)
        if sol.x is None or sol.status not in ("optimal", "optimal_inaccurate"):
            return None
        y = sol.x.copy()
        y[ii] = zz
        return y
    heuristic.__name__ = "cached_incumbent"
    heuristic.deadline = None
    return heuristic


def store_pseudocosts(cache: WarmCache | None, key: str, state) -> None:
    """Store the pseudo-cost state (it already includes what the run loaded); none: nothing."""
    if cache is None or not state or not len(state.get("count", ())):
        return
    cache.put("pseudocosts", key, {f: np.asarray(state[f]) for f in _PSEUDO_FIELDS})


def load_pseudocosts(cache: WarmCache | None, key: str):
    """The stored state for this problem key, or None (missing, refused, or inconsistent)."""
    e = cache.get("pseudocosts", key) if cache is not None else None
    if e is None:
        return None
    if any(f not in e for f in _PSEUDO_FIELDS) or len({np.asarray(e[f]).shape for f in _PSEUDO_FIELDS}) != 1:
        cache.refuse(f"refused pseudocosts {key[:12]}: fields {sorted(e)} are not five arrays of one length; not used")
        return None
    return {f: np.asarray(e[f]) for f in _PSEUDO_FIELDS}


def store_multipliers(cache: WarmCache | None, key: str, lam) -> None:
    if cache is None or lam is None or not np.size(lam) or not np.all(np.isfinite(lam)):
        return
    cache.put("multipliers", key, {"lam": np.asarray(lam, float)})


def load_multipliers(cache: WarmCache | None, key: str):
    """The stored multipliers for this problem key, or None (missing, refused, not finite)."""
    e = cache.get("multipliers", key) if cache is not None else None
    if e is None:
        return None
    lam = np.asarray(e.get("lam"), float) if "lam" in e else None
    if lam is None or lam.ndim != 1 or not np.all(np.isfinite(lam)):
        cache.refuse(f"refused multipliers {key[:12]}: not a finite vector; not used")
        return None
    return lam


# ------------------------------------------------------------------------------ per-ADN seeds
def adn_integer_blocks(prob, n_adn: int):
    """Per ADN a: (integer variable indices of the blocks `adn<a>.*` in block order, layout)
    with layout = [(block name without the `adn<a>.` prefix, shape, integers in it)]."""
    ints = np.asarray(prob.integer, np.int64)
    out = []
    for a in range(n_adn):
        idx, layout = [], []
        for name, (sl, shp) in prob.var_blocks.items():
            if not name.startswith(f"adn{a}."):
                continue
            j = ints[(ints >= sl.start) & (ints < sl.stop)]
            if j.size:
                idx.append(np.sort(j))
                layout.append((name.split(".", 1)[1], [int(v) for v in shp], int(j.size)))
        out.append((np.concatenate(idx) if idx else np.zeros(0, np.int64), layout))
    return out


def adn_keys(system, prob):
    """(key, integer indices) per ADN of `system` in the model `prob` (module doc)."""
    blocks = adn_integer_blocks(prob, system.n_adn)
    horizon = (int(system.n_hours), [int(h) for h in system.hours], float(system.dt_h),
               float(system.fee_grid_usd_per_mwh), float(system.fee_local_usd_per_mwh))
    return [(content_hash("adn-incumbent/1", vars(adn), horizon, layout), idx)
            for adn, (idx, layout) in zip(system.adns, blocks)]


def store_adn_incumbents(cache: WarmCache | None, system, prob, x, objective_usd: float) -> int:
    """Store each ADN's integers of the certified point x (the latest run wins); returns the count."""
    if cache is None or x is None:
        return 0
    n = 0
    for key, idx in adn_keys(system, prob):
        if idx.size:
            cache.put("adn_incumbent", key, {"integers": np.round(np.asarray(x)[idx]).astype(np.int8),
                                             "objective_usd": float(objective_usd), "source_adns": int(system.n_adn)})
            n += 1
    return n


def adn_seed_heuristic(cache: WarmCache | None, system, prob, lay):
    """(heuristic or None, seeded ADN count): `seeded_adns` (module doc) for the ADNs found."""
    from .heuristics import make_follower_response_heuristic
    if cache is None:
        return None, 0
    seeds = []
    for a, (key, idx) in enumerate(adn_keys(system, prob)):
        e = cache.get("adn_incumbent", key) if idx.size else None
        if e is None:
            continue
        z = np.asarray(e["integers"], float)
        if z.shape != idx.shape:
            cache.refuse(f"refused adn_incumbent {key[:12]} for ADN {a + 1}: {z.size} integers stored, "
                       f"the model has {idx.size}; not used")
            continue
        seeds.append((idx, z))
    if not seeds:
        return None, 0
    idx = np.concatenate([i for i, _ in seeds])
    z = np.concatenate([v for _, v in seeds])
    inner = make_follower_response_heuristic(lay)
    done = []

    def heuristic(prob, x, lb, ub):
        if done or x is None:
            return None
        done.append(True)
        lb, ub = lb.copy(), ub.copy()
        ok = (z >= lb[idx]) & (z <= ub[idx])     # a value the node's bounds exclude stays free
        lb[idx[ok]] = ub[idx[ok]] = z[ok]
        inner.deadline = heuristic.deadline
        return inner(prob, x, lb, ub)
    heuristic.__name__ = "seeded_adns"
    heuristic.deadline = None
    return heuristic, len(seeds)
