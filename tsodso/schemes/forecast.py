"""What each ADN looks like to the TSO in the tso-led and hybrid clearings: its PCC forecast.

Two forecasts (`mode`; scenario key `tso_led.forecast`, absent = "naive"):

"naive"  N_at = sum load_at - sum PVavail_at  (PV at full availability, batteries idle,
         feeder losses ignored: `data.network.forecast_net_load_mw`); no bounds on the
         schedule beyond the virtual battery. The TSO-led deviations then contain the
         forecast's bias (losses + curtailment), not only coordination.
"dso"    each DSO submits, per hour, from its own AC sweep power flow (`data.radial_pf`):
         N_at   its forecast PCC import with batteries idle: losses included, PV at full
                availability unless that violates a voltage (vmin, vmax or the voltage-rise
                ceiling) or current limit, in which case all its PV is scaled by the largest
                factor alpha in [0, 1] that is feasible (bisection, 1e-4), = its forecast
                curtailment;
         lo_at  its export limit: the PCC import with that PV and all batteries discharging at
                beta x Pmax, beta the largest feasible in [0, 1] (the lowest PCC import it can
                deliver; < 0 = export);
         hi_at  its import limit: batteries charging at gamma x Pmax, gamma the largest
                feasible.
         The TSO schedules S_at = N_at + c_at - d_at (virtual battery) with lo_at <= S_at <=
         hi_at. On an ADN without flexibility the schedule is N itself, the DSO's physics,
         so its deviations are ~0 (test_schemes / test_forecast).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.network import forecast_net_load_mw
from ..data.radial_pf import radial_power_flow

FORECASTS = ("dso", "naive")
_BISECT_TOL = 1e-4


@dataclass
class PCCForecast:
    mode: str
    net_load_mw: np.ndarray     # (A, T) forecast PCC import, batteries idle, MW (import > 0)
    pv_mw: np.ndarray           # (A, T) PV the DSO expects to inject, MW
    losses_mw: np.ndarray       # (A, T) feeder losses of the forecast (0 for "naive")
    lo_mw: np.ndarray           # (A, T) export limit: lowest PCC import it can deliver (-inf naive)
    hi_mw: np.ndarray           # (A, T) highest PCC import (+inf naive)


def forecast_mode(system, mode=None) -> str:
    if mode is None:
        sc = system.scenario if isinstance(system.scenario, dict) else {}
        mode = (sc.get("tso_led") or {}).get("forecast", "naive")
    if mode not in FORECASTS:
        raise ValueError(f"tso-led forecast {mode!r}: one of {', '.join(FORECASTS)}")
    return mode


def pcc_forecast(system, T=None, mode=None) -> PCCForecast:
    """(A, T) PCC forecast of every ADN (module docstring)."""
    mode = forecast_mode(system, mode)
    T = system.n_hours if T is None else int(T)
    A = system.n_adn
    if mode == "naive":
        N = forecast_net_load_mw(system)[:, :T]
        pv = np.array([x.pv_avail_mw[:T].sum(axis=1) for x in system.adns])
        return PCCForecast(mode, N, pv, np.zeros((A, T)), np.full((A, T), -np.inf), np.full((A, T), np.inf))
    out = [np.zeros((A, T)) for _ in range(5)]
    for a, adn in enumerate(system.adns):
        for t in range(T):
            n, pv, loss, lo, hi = _dso_hour(adn, t)
            for arr, v in zip(out, (n, pv, loss, lo, hi)):
                arr[a, t] = v
    return PCCForecast(mode, *out)


def _dso_hour(adn, t):
    S = adn.base_mva
    nb = adn.n_bus
    vmax = np.full(nb, adn.vmax_pu) if adn.bus_vmax_pu is None else np.asarray(adn.bus_vmax_pu, float)
    load_p = np.asarray(adn.load_p_mw, float)[t] / S
    load_q = np.asarray(adn.load_q_mvar, float)[t] / S
    pv = np.zeros(nb)
    np.add.at(pv, adn.pv_bus, np.asarray(adn.pv_avail_mw, float)[t] / S)
    bess = np.zeros(nb)
    np.add.at(bess, adn.bess_bus, np.asarray(adn.bess_pmax_mw, float) / S)

    def pf(p):
        return radial_power_flow(adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu, p, load_q, adn.v0_pu)

    def ok(r):
        return (np.all(r.v_pu[1:] <= vmax[1:] + 1e-9) and np.all(r.v_pu[1:] >= adn.vmin_pu - 1e-9)
                and np.all(r.i_pu <= np.asarray(adn.line_imax_pu, float) + 1e-9))

    def largest(make):
        """Largest s in [0, 1] with make(s) feasible (make(0) is the reference point)."""
        r = pf(make(1.0))
        if ok(r):
            return 1.0, r
        lo, hi, rlo = 0.0, 1.0, pf(make(0.0))
        while hi - lo > _BISECT_TOL:
            mid = 0.5 * (lo + hi)
            rm = pf(make(mid))
            if ok(rm):
                lo, rlo = mid, rm
            else:
                hi = mid
        return lo, rlo

    alpha, rn = largest(lambda s: load_p - s * pv)
    base = load_p - alpha * pv
    _, rlo = largest(lambda s: base - s * bess)
    _, rhi = largest(lambda s: base + s * bess)
    return (rn.p_head_pu * S, alpha * pv.sum() * S, rn.loss_pu * S, rlo.p_head_pu * S, rhi.p_head_pu * S)
