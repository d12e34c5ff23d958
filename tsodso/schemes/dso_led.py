"""The DSO-led scheme end to end: system -> MISOCP -> our branch-and-bound -> certificates.

`solve_dso_led(system, ...)` returns a `SchemeResult`; `tsodso.solve(adns=, hours=, seed=)`
builds the system from the shipped case first. Objective values are reported in $ (the model
works in k$, see formulation/common.py).
"""
from __future__ import annotations

import time

from ..evaluation.certificates import certify as run_certificates
from ..analysis import analyse_dso_led
from ..formulation.bilevel import build_dso_led_model
from ..formulation.common import GAP_FLOOR, USD_PER_OBJ_UNIT
from ..solver import BnBOptions, solve as bnb_solve
from .heuristics import make_follower_response_heuristic
from .result import SchemeResult


NODE_RELTOL, NODE_ABSTOL, NODE_FEASTOL = 1e-6, 1e-7, 1e-8
# monolithic: our B&B on the whole MISOCP; decomposition: Lagrangian bounds over (ADN, hour)
# blocks, then the B&B on top (solver/decomposition/solve.py); oa: outer approximation, a
# HiGHS MILP master over the linear rows and cone tangents, ECOS for every conic solve
# (solver/oa/solve.py)
METHODS = ("monolithic", "decomposition", "oa")
# the default of solve_dso_led, tsodso.solve and `tsodso solve` (default_method). Measured on
# the default case (5 ADNs x 24 h, 120 s, idle, bench/README.md): oa 0.016 % vs decomposition 0.085 %
# and monolithic 0.163 %. Beyond OA_MAX_ADNS (the largest size oa was measured at) the
# decomposition, measured at 20 ADNs x 24 h by bench/bench_scale.py (optimal to 1e-3 in 124 s).
# The OA master has no disjunctions beyond the integers, so in "branch" complementarity mode
# the default is the monolithic B&B.
DEFAULT_METHOD = "oa"
OA_MAX_ADNS = 5


def default_method(complementarity: str, n_adns: int = 1) -> str:
    """The solve method used when none is given: DEFAULT_METHOD up to OA_MAX_ADNS ADNs, the
    decomposition above; monolithic in branch mode."""
    if complementarity != "bigm":
        return "monolithic"
    return DEFAULT_METHOD if n_adns <= OA_MAX_ADNS else "decomposition"


def _run_method(method, prob, lay, opts, heur, callback, settings=None, pseudocosts=None, starts=(),
                multipliers=None):
    """`heur`: the model's heuristics; `starts`: cached points (warm cache), cheap: the B&B and
    the decomposition run them first among the heuristics, the outer approximation once at the
    root (where it does not run the follower response, OASettings.root_user_heuristics)."""
    if method == "oa":
        from ..formulation.blocks import decomposition_labels
        from ..solver.oa import solve as oa_solve
        # hour blocks (all ADNs + TN of one hour; the batteries' hour coupling dualised) for the
        # Lagrangian cuts in the master (solver/oa/solve.py 3b)
        return oa_solve(prob, opts, heuristics=heur, callback=callback, settings=settings,
                        start_heuristics=list(starts), blocks=decomposition_labels(prob, lay, "hour"))
    heur = list(starts) + list(heur)
    if method == "decomposition":
        from ..formulation.blocks import decomposition_labels, staged_stages
        from ..solver.decomposition.solve import solve as decomposition_solve
        # (ADN, hour) blocks for the first bound and the recovery, then whole-hour blocks (all
        # ADNs + TN of an hour; only the batteries' hour coupling dualised) as the refinement.
        # Measured at the root duals: 2 ADNs x 4 h from 10:00 1,210.01 -> 1,216.96 $ (= SCIP's
        # optimum); 5 ADNs x 24 h 52,450.80 $ (4.3 s) -> 52,456.89 $ (91 s)
        # Large problems (a monolithic ECOS root predicted above 10 % of the time limit): first
        # multipliers from hour / ADN-day block relaxations, recovery hour by hour (scale) with
        # the battery trajectories of the ADN-day blocks fixed (link: they own the battery rows)
        labels, names = decomposition_labels(prob, lay, "adn_hour")
        stages, sequence = staged_stages(prob, lay)
        return decomposition_solve(prob, labels, names, opts, heuristics=heur, callback=callback,
                                   refine=decomposition_labels(prob, lay, "hour"), stages=stages,
                                   sequence=sequence, settings=settings, multipliers=multipliers,
                                   link=decomposition_labels(prob, lay, "adn_day"))
    return bnb_solve(prob, opts, heuristics=heur, callback=callback, pseudocosts=pseudocosts)


def build_dso_led(system, hours: int | None = None, complementarity: str = "bigm",
                  weak_duality_cuts: bool = False, kkt_presolve: bool = True,
                  pcc_certified=None, presolved=None):
    """The DSO-led MISOCP: the analysis (`tsodso.analysis.analyse_dso_led`), then the rows
    (`formulation.bilevel.build_dso_led_model`). Returns (problem, layout).

    `kkt_presolve` (default on) fixes the complementarity pairs proved not to switch anywhere
    in the certified PCC box (analysis/kkt_presolve.py; statistics in prob.meta["kkt_presolve"]).
    `weak_duality_cuts` (default off) adds the value-function cuts of `add_weak_duality_cuts`.
    They are valid but, measured, do not move the root bound (1 ADN x 24 h: 8293.930 $ with
    and without) and they break ECOS: once the KKT binaries are fixed the cut is tangent to
    the `tau >= g^2` cone at the follower's response, a point without strict complementarity,
    and every fixed-pattern solve on 1 ADN x 4 h ended NUMERICAL_ERROR (relgap 6e-3) with
    the cuts and OPTIMAL (20 iterations) without them.

    `pcc_certified` (the `CertifiedPCCBox` of `certified_pcc_bounds`) and `presolved` (the pair
    (fixed, stats) of `kkt_presolve.fixed_pairs` over that box) may be passed in, computed
    earlier for the same data (e.g. read from a warm-start cache by the caller); they are
    then used as they are, and nothing is recomputed.
    """
    T = system.n_hours if hours is None else int(hours)
    an = analyse_dso_led(system, T, kkt_presolve=kkt_presolve, weak_duality_cuts=weak_duality_cuts,
                         pcc_certified=pcc_certified, presolved=presolved)
    return build_dso_led_model(system, an.box, T, complementarity, an.presolved, an.reference_costs)


def solve_dso_led(system, complementarity: str = "bigm", time_limit: float = 600.0,
                  rel_gap: float = 1e-4, certify: bool = True, options: dict | None = None,
                  kkt_presolve: bool = True, cache=None, callback=None,
                  method: str | None = None, decomposition: dict | None = None) -> SchemeResult:
    """Build and solve the DSO-led MISOCP. `options`: extra BnBOptions fields (override).

    `cache` (a data.cache.WarmCache or None): the certified PCC box, the KKT presolve and the
    incumbent's integers are read from it when their inputs match, else computed and stored
    (schemes/warm.py). `callback`: the B&B's per-node callback (progress display).
    `method`: one of METHODS; None = default_method(complementarity, system.n_adn).
    `decomposition`: DecompositionSettings fields for method "decomposition" (e.g. workers=2,
    scheduler="tcp://HOST:PORT")."""
    from .warm import (adn_seed_heuristic, cached_analysis, incumbent_start, load_multipliers, load_pseudocosts,
                       problem_key, store_adn_incumbents, store_incumbent, store_multipliers, store_pseudocosts)
    method = default_method(complementarity, system.n_adn) if method is None else method
    if method not in METHODS:
        raise ValueError(f"solve method {method!r}: expected one of {METHODS}")
    if method == "oa" and complementarity != "bigm":
        raise ValueError(f"solve method 'oa' needs complementarity 'bigm' (got {complementarity!r}): "
                         "its MILP master has no disjunctions beyond the binaries")
    t0 = time.perf_counter()
    warm = {}
    if cache is not None:
        pcc, pres, warm = cached_analysis(system, system.n_hours, cache, kkt_presolve)
        prob, lay = build_dso_led(system, complementarity=complementarity, kkt_presolve=kkt_presolve,
                                  pcc_certified=pcc, presolved=pres)
    else:
        prob, lay = build_dso_led(system, complementarity=complementarity, kkt_presolve=kkt_presolve)
    t_build = time.perf_counter() - t0
    # node tolerances: ECOS reltol 1e-6 / abstol 1e-7 (k$) / feastol 1e-8. The node bound is
    # min(primal, dual cost), so a looser reltol loosens a bound by at most 1e-6 relative, two
    # orders below the default 1e-4 gap. Measured on the 1-ADN x 24 h root: reltol 1e-8 ends
    # OPTIMAL_INACCURATE at max_iters 100 (1.19 s), reltol 1e-6 OPTIMAL in 52 iterations (0.61 s).
    opts = BnBOptions(**{**dict(time_limit=time_limit, rel_gap=rel_gap, gap_floor=GAP_FLOOR, complementarity=complementarity,
                                ecos_reltol=NODE_RELTOL, ecos_abstol=NODE_ABSTOL,
                                ecos_feastol=NODE_FEASTOL), **(options or {})})
    heur = [make_follower_response_heuristic(lay)]
    starts = []                          # cached points (cheap): first in line
    key = None
    pseudo = lam = None
    if cache is not None:
        key = problem_key(prob, {k: v for k, v in opts.__dict__.items() if k not in (
            "time_limit", "verbose", "log_stream", "log_every_nodes", "log_every_seconds")})
        start = incumbent_start(cache, key)
        warm["incumbent"] = "hit" if start is not None else "none"
        # per-ADN seeds (schemes/warm.py): the ADNs of this run found in earlier runs
        seeded, n_seeded = adn_seed_heuristic(cache, system, prob, lay)
        warm["adn_seeded"] = n_seeded
        if seeded is not None:
            starts.insert(0, seeded)
        if start is not None:
            starts.insert(0, start)
        pseudo = load_pseudocosts(cache, key)
        warm["pseudocosts"] = "hit" if pseudo is not None else "none"
        if method == "decomposition":
            lam = load_multipliers(cache, key)
            warm["multipliers"] = "hit" if lam is not None else "none"
    settings = None
    if method == "decomposition" and decomposition:
        from ..solver.decomposition.solve import DecompositionSettings
        settings = DecompositionSettings(**decomposition)
    res = _run_method(method, prob, lay, opts, heur, callback, settings, pseudocosts=pseudo, starts=starts,
                      multipliers=lam)
    if cache is not None:
        store_pseudocosts(cache, key, getattr(res, "pseudocosts", None))
        store_multipliers(cache, key, getattr(res, "multipliers", None))
    if cache is not None and res.x is not None:
        store_incumbent(cache, key, prob, res.x, res.objective * USD_PER_OBJ_UNIT)
        store_adn_incumbents(cache, system, prob, res.x, res.objective * USD_PER_OBJ_UNIT)
    cert = run_certificates(lay, prob, res.x) if (certify and res.x is not None) else {}
    out = SchemeResult.from_bnb("dso-led", res, prob, lay, t_build, cert)
    out.warm = warm
    return out
