"""The follower's response: the TSO's DC-OPF (formulation/tn.py) at given PCC demands, solved by ECOS.

    follower_response(d, pcc_bus, r_pu, per_hour=False, reltol=None, abstol=None)
        -> FollowerResponse: status, dispatch g and flows f (T, ng) / (T, nk) in TN pu, the
           follower cost V_t (k$/h, c2 g^2 + c1 g without c0) and `activity(tol)`

One model for every user: the reference costs of the weak-duality cuts (`follower_cost`,
hour by hour), the KKT presolve's samples (`follower_activity`) and the DSO-led heuristic's
follower pattern (schemes/heuristics.py). The demand is the TN load plus `r_pu` (T, m) at
`pcc_bus` (m buses, repeats summed), TN pu. This is the model's own follower (same
formulation, same solver as the MISOCP); the independent check of a solution is
`evaluation.dcopf` (HiGHS, PTDF form).

Activity of inequality i in the order [f <= F | -f <= F | g <= Gmax | -g <= -Gmin] (the KKT
pair order, `formulation.kkt.PAIR_KINDS`): active where its slack is <= tol (TN pu).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..conic.ecos_adapter import solve as ecos_solve
from ..formulation.kkt import PairIndex
from ..formulation.tn import TNData, build_follower_dcopf


@dataclass
class FollowerResponse:
    d: TNData                      # the TN with the extra demand
    status: list                   # ECOS status per solve (one, or one per hour with per_hour)
    ok: bool                       # every solve OPTIMAL
    g: Optional[np.ndarray]        # (T, ng) pu, None where ECOS returned no point
    f: Optional[np.ndarray]        # (T, nk) pu
    cost: np.ndarray               # (T,) k$/h, nan where the hour's solve is not OPTIMAL

    def activity(self, tol: float = 1e-6) -> np.ndarray:
        """(T, 2nk+2ng) bool: inequality active (slack <= tol pu) at the response's point."""
        d, f, g = self.d, self.f, self.g
        return PairIndex.of(d).pack(d.F_pu - f <= tol, f + d.F_pu <= tol,
                                    d.gmax_pu - g <= tol, g - d.gmin_pu <= tol)


def with_pcc_demand(d: TNData, pcc_bus, r_pu) -> TNData:
    """A copy of `d` whose demand is D + r at `pcc_bus` (r (T, m) TN pu, repeated buses summed)."""
    D = d.D_pu.copy()
    np.add.at(D.T, np.asarray(pcc_bus), np.asarray(r_pu).T)
    return TNData(**{**d.__dict__, "D_pu": D})


def _solve(one: TNData, reltol, abstol):
    prob, v = build_follower_dcopf(one, with_c0=False)
    kw = {k: val for k, val in (("reltol", reltol), ("abstol", abstol)) if val is not None}
    return ecos_solve(prob, **kw), v


def follower_response(d: TNData, pcc_bus, r_pu, per_hour: bool = False, reltol: float | None = None,
                      abstol: float | None = None) -> FollowerResponse:
    """The follower's optimum with extra demand r_pu (T, m) at pcc_bus: all hours in one ECOS
    solve, or (per_hour=True) one solve per hour, so that each hour's cost and status stand alone."""
    dd = with_pcc_demand(d, pcc_bus, r_pu)
    T = d.T
    cost = np.full(T, np.nan)
    if per_hour:
        g, f = np.full((T, d.ng), np.nan), np.full((T, d.nk), np.nan)
        statuses = []
        for t in range(T):
            one = TNData(**{**dd.__dict__, "T": 1, "D_pu": dd.D_pu[t:t + 1]})
            sol, v = _solve(one, reltol, abstol)
            statuses.append(sol.status)
            if sol.ok:
                cost[t] = sol.objective
                g[t], f[t] = sol.x[v.g][0], sol.x[v.f][0]
        return FollowerResponse(dd, statuses, all(s == "optimal" for s in statuses), g, f, cost)
    sol, v = _solve(dd, reltol, abstol)
    g = None if sol.x is None else sol.x[v.g]
    f = None if sol.x is None else sol.x[v.f]
    if sol.ok:
        cost[:] = np.sum(d.c2 * g ** 2 + d.c1 * g, axis=1)
    return FollowerResponse(dd, [sol.status], bool(sol.ok), g, f, cost)


def follower_cost(d: TNData, pcc_bus, r_pu) -> np.ndarray:
    """Optimal follower cost V_t (k$/h) per hour with extra demand r_pu (T, m) at `pcc_bus`.

    nan where ECOS does not return OPTIMAL (callers must not use such a value as a bound).
    """
    return follower_response(d, pcc_bus, r_pu, per_hour=True).cost


def follower_activity(d: TNData, pcc_bus, r_pu, tol: float = 1e-6) -> np.ndarray:
    """(T, 2nk+2ng) 1.0 where the follower's inequality [f<=F | -f<=F | g<=Gmax | -g<=-Gmin]
    is active (slack <= tol pu) at its optimum with extra demand r_pu (T, m), 0.0 where not;
    nan rows where ECOS does not return OPTIMAL. Used for sampling only, never as a proof."""
    resp = follower_response(d, pcc_bus, r_pu, reltol=1e-9, abstol=1e-10)
    out = np.full((d.T, PairIndex.of(d).size), np.nan)
    if resp.ok:
        out[:] = resp.activity(tol)
    return out


def reference_follower_costs(d: TNData, buses, lo, hi, n_interior: int = 3):
    """Reference PCC demands (box corners lo, hi and interior points) and the follower cost there.

    Returns r_ref (K, T, m) and V_ref (K, T) in k$/h; V from an ECOS solve of each hour's DC-OPF
    (a reference point whose OPF is not solved to OPTIMAL is dropped: a cut needs a true V).
    """
    fr = [lo, hi] + [lo + (hi - lo) * (i + 1) / (n_interior + 1) for i in range(n_interior)]
    r_ref, V_ref = [], []
    for r in fr:
        V = follower_cost(d, buses, r)
        if np.all(np.isfinite(V)):
            r_ref.append(r); V_ref.append(V)
    return np.array(r_ref), np.array(V_ref)
