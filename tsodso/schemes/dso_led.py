"""The DSO-led scheme end to end: system -> MISOCP -> our branch-and-bound -> certificates.

`solve_dso_led(system, ...)` returns a `SchemeResult`; `tsodso.solve(adns=, hours=, seed=)`
builds the system from the shipped case first. Objective values are reported in $ (the model
works in k$, see formulation/common.py).
"""
from __future__ import annotations

import time

from ..evaluation.certificates import certify as run_certificates
from ..formulation.bilevel import build_dso_led
from ..formulation.common import GAP_FLOOR, USD_PER_OBJ_UNIT
from ..solver import BnBOptions, solve as bnb_solve
from .heuristics import make_follower_response_heuristic
from .result import SchemeResult


NODE_RELTOL, NODE_ABSTOL, NODE_FEASTOL = 1e-6, 1e-7, 1e-8


def solve_dso_led(system, complementarity: str = "bigm", time_limit: float = 600.0,
                  rel_gap: float = 1e-4, certify: bool = True, options: dict | None = None,
                  kkt_presolve: bool = True, cache=None, callback=None) -> SchemeResult:
    """Build and solve the DSO-led MISOCP. `options`: extra BnBOptions fields (override).

    `cache` (a data.cache.WarmCache or None): the certified PCC box, the KKT presolve and the
    incumbent's integers are read from it when their inputs match, else computed and stored
    (schemes/warm.py). `callback`: the B&B's per-node callback (progress display)."""
    from .warm import cached_analysis, incumbent_start, problem_key, store_incumbent
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
    key = None
    if cache is not None:
        key = problem_key(prob, {k: v for k, v in opts.__dict__.items() if k not in (
            "time_limit", "verbose", "log_stream", "log_every_nodes", "log_every_seconds")})
        start = incumbent_start(cache, key)
        warm["incumbent"] = "hit" if start is not None else "none"
        if start is not None:
            heur.insert(0, start)
    res = bnb_solve(prob, opts, heuristics=heur, callback=callback)
    if cache is not None and res.x is not None:
        store_incumbent(cache, key, prob, res.x, res.objective * USD_PER_OBJ_UNIT)
    cert = run_certificates(lay, prob, res.x) if (certify and res.x is not None) else {}
    out = SchemeResult.from_bnb("dso-led", res, prob, lay, t_build, cert)
    out.warm = warm
    return out
