"""Labelled result tables of one scheme's solution: named dimensions, units in every name.

    tables, coords = result_tables(outcome, metrics)

`outcome` is the scheme's `evaluation.metrics.Outcome` (every scheme result has one,
`res.outcome()`), `metrics` its `compute_metrics(outcome)`. Returns

    tables  {table: (dims, {column: array shaped by dims})}
    coords  {dim: 1-D array}

and nothing else: no pandas, no xarray (tsodso.api turns these into DataFrames and a Dataset,
tsodso.report.result_file writes them to HDF5). Every column name ends in its unit (`UNITS`,
docs/units.md); the axis order of every array is the order of its table's dims.

Dimensions
    hour      clock hour (0..23) of each model hour, (start + t) mod 24
    adn       ADN name
    tn_bus    MATPOWER bus number of the TN bus
    tn_gen    generator position in the TN case (0-based)
    tn_line   TN line "from-to" in MATPOWER bus numbers (position order)
    adn_bus   feeder bus position (0 = root = PCC; MATPOWER feeder bus = position + 1)
    adn_line  feeder line position (line l feeds bus adn_line_to[l])
    bess      battery position within its ADN

Tables (dims: columns)
    pcc       (hour, adn): pcc_import_mw (> 0 = import from the TN), lmp_pcc_usd_per_mwh
              (settlement LMP at the ADN's PCC), load_mw, pv_avail_mw, pv_output_mw,
              bess_soc_total_mwh (all units, end of hour), p2p_local_mw,
              p2p_cross_net_import_mw (purchases - sales), v_min_pu, v_max_pu
    adn       (adn,): pcc_bus_id, the per-ADN metrics of metrics.ADN_KEYS (v_min_pu, v_max_pu
              renamed v_min_horizon_pu, v_max_horizon_pu) and the DSO bill by
              item, cost_<item>_usd (wholesale, fee_grid, fee_local, fee_cross, degradation,
              platform, curtailment, deviation, total)
    adn_bus   (hour, adn, adn_bus): bus_v_pu (voltage magnitude sqrt(v)), bus_load_mw
    adn_line  (hour, adn, adn_line): line_p_mw, line_q_mvar (sending end, away from the root),
              line_i_pu (current magnitude sqrt(l), ADN base), line_loss_mw (r l)
    bess      (hour, adn, bess): bess_soc_mwh (end of hour), bess_charge_mw, bess_discharge_mw
    tn_bus    (hour, tn_bus): lmp_usd_per_mwh (the scheme's settlement LMPs), tn_load_mw (TN
              demand without the ADNs), adn_import_mw (sum of the PCC imports at the bus)
    tn_gen    (hour, tn_gen): gen_p_mw (realised dispatch)
    tn_line   (hour, tn_line): tn_line_f_mw (DC flow from -> to of the realised dispatch,
              PTDF x net injection)
    system    (): the system metrics of metrics.SYSTEM_KEYS, each prefixed `system_`
ADNs whose feeders differ in size are padded with NaN along adn_bus / adn_line / bess.
"""
from __future__ import annotations

import numpy as np

from ..evaluation import metrics as M

# unit of each column, by its suffix (longest match first); see docs/units.md
_SUFFIX_UNITS = (("_usd_per_mwh", "$/MWh"), ("_usd", "$"), ("_mwh", "MWh"), ("_mvar", "Mvar"),
                 ("_mw", "MW"), ("_pu", "pu"), ("_id", "MATPOWER bus number"),
                 ("_cycles", "equivalent full cycles"), ("self_consumption", "share (0..1)"),
                 ("self_sufficiency", "share (0..1)"))
DIM_DOC = {
    "hour": "clock hour 0..23 of the start of the hour, (start + t) mod 24",
    "adn": "ADN name",
    "tn_bus": "MATPOWER bus number (TN case)",
    "tn_gen": "generator position in the TN case, 0-based",
    "tn_line": "TN line 'from-to', MATPOWER bus numbers",
    "adn_bus": "feeder bus position, 0 = root (PCC); MATPOWER feeder bus = position + 1",
    "adn_line": "feeder line position",
    "bess": "battery position within its ADN",
}


# per-ADN metrics whose name is also an hourly column of `pcc`: over the horizon here
_ADN_RENAME = {"v_min_pu": "v_min_horizon_pu", "v_max_pu": "v_max_horizon_pu"}


def unit_of(name: str) -> str:
    """The unit a column name states by its suffix ('' for a count or a label)."""
    if name == "bess_cycles":
        return "equivalent full cycles"
    for suf, unit in _SUFFIX_UNITS:
        if name.endswith(suf):
            return unit
    return ""


def _pad(arrays, n):
    """Stack (T, n_a) arrays into (T, A, n) with NaN padding."""
    T = arrays[0].shape[0] if arrays else 0
    out = np.full((T, len(arrays), n), np.nan)
    for a, x in enumerate(arrays):
        out[:, a, :x.shape[1]] = x
    return out


def _tn_flows_mw(o: M.Outcome) -> np.ndarray:
    """(T, nk) DC line flows of the outcome's dispatch and demands, MW (from -> to)."""
    from ..data.network import ptdf
    tn = o.system.tn
    inj = -np.asarray(tn.load_mw, float)[:o.T].copy()
    np.add.at(inj.T, np.asarray(tn.gen_bus, np.int64), np.asarray(o.gen_mw, float).T)
    P0 = M.pcc_import_mw(o)
    np.add.at(inj.T, np.array([a.pcc_bus for a in o.system.adns], np.int64), -P0)
    return inj @ ptdf(tn).T


def result_tables(o: M.Outcome, met: dict):
    """(tables, coords) of the module docstring."""
    sys, T = o.system, o.T
    hours = np.asarray(sys.scenario.get("_hours", range(T)), np.int64)[:T]
    names = np.array([a.name for a in sys.adns], dtype=object)
    tn = sys.tn
    ser = met["series"]
    A = o.n_adn
    tables = {}

    pv_out = M.pv_output_mw(o)
    tables["pcc"] = (("hour", "adn"), {
        "pcc_import_mw": ser["pcc_import_mw"].T, "lmp_pcc_usd_per_mwh": ser["lmp_pcc_usd_per_mwh"].T,
        "load_mw": M.load_mw(o).T, "pv_avail_mw": M.pv_available_mw(o).T, "pv_output_mw": pv_out.T,
        "bess_soc_total_mwh": ser["bess_soc_mwh"].T, "p2p_local_mw": ser["p2p_local_mw"].T,
        "p2p_cross_net_import_mw": ser["p2p_cross_net_import_mw"].T,
        "v_min_pu": ser["v_min_pu"].T, "v_max_pu": ser["v_max_pu"].T})

    adn_cols = {"pcc_bus_id": np.array([int(tn.bus_id[a.pcc_bus]) for a in sys.adns], np.int64)}
    for k, v in met["per_adn"].items():
        adn_cols[_ADN_RENAME.get(k, k)] = np.asarray(v, float)
    for item, v in met["dso_cost_breakdown_usd"].items():
        adn_cols[f"cost_{item}_usd"] = np.asarray(v, float)
    tables["adn"] = (("adn",), adn_cols)

    vm, load_b, lp, lq, li, ll = [], [], [], [], [], []
    soc, ch, dis = [], [], []
    for a, adn in enumerate(sys.adns):
        x, fv, dv, S = o.adn_x[a], o.feeders[a], o.ders[a], adn.base_mva
        vm.append(np.sqrt(np.maximum(x[fv.v], 0.0)))
        load_b.append(np.asarray(adn.load_p_mw, float)[:T])
        lp.append(x[fv.P] * S)
        lq.append(x[fv.Q] * S)
        li.append(np.sqrt(np.maximum(x[fv.l], 0.0)))
        ll.append(x[fv.l] * np.asarray(adn.line_r_pu, float)[None, :] * S)
        soc.append(x[dv.soc] * S)
        ch.append(x[dv.ch] * S)
        dis.append(x[dv.dis] * S)
    nbus = max(adn.n_bus for adn in sys.adns)
    nline = max(adn.n_line for adn in sys.adns)
    nbess = max(adn.bess_bus.size for adn in sys.adns)
    tables["adn_bus"] = (("hour", "adn", "adn_bus"), {"bus_v_pu": _pad(vm, nbus),
                                                       "bus_load_mw": _pad(load_b, nbus)})
    tables["adn_line"] = (("hour", "adn", "adn_line"), {
        "line_p_mw": _pad(lp, nline), "line_q_mvar": _pad(lq, nline),
        "line_i_pu": _pad(li, nline), "line_loss_mw": _pad(ll, nline)})
    tables["bess"] = (("hour", "adn", "bess"), {"bess_soc_mwh": _pad(soc, nbess),
                                                "bess_charge_mw": _pad(ch, nbess),
                                                "bess_discharge_mw": _pad(dis, nbess)})

    imp = np.zeros((T, tn.n_bus))
    np.add.at(imp.T, np.array([a.pcc_bus for a in sys.adns], np.int64), ser["pcc_import_mw"])
    tables["tn_bus"] = (("hour", "tn_bus"), {
        "lmp_usd_per_mwh": np.asarray(o.lmp_usd_per_mwh, float)[:T],
        "tn_load_mw": np.asarray(tn.load_mw, float)[:T], "adn_import_mw": imp})
    tables["tn_gen"] = (("hour", "tn_gen"), {"gen_p_mw": np.asarray(o.gen_mw, float)[:T]})
    tables["tn_line"] = (("hour", "tn_line"), {"tn_line_f_mw": _tn_flows_mw(o)})
    tables["system"] = ((), {f"system_{k}": np.asarray(float(v)) for k, v in met["system"].items()})

    ids = np.asarray(tn.bus_id, np.int64)
    coords = {
        "hour": hours, "adn": names, "tn_bus": ids, "tn_gen": np.arange(tn.n_gen),
        "tn_line": np.array([f"{ids[f]}-{ids[t]}" for f, t in zip(tn.line_from, tn.line_to)], dtype=object),
        "adn_bus": np.arange(nbus), "adn_line": np.arange(nline), "bess": np.arange(nbess),
    }
    assert len({c for _, cols in tables.values() for c in cols}) == sum(len(c) for _, c in tables.values()), \
        "column names must be unique across tables (they share one xarray namespace)"
    assert A == names.size
    return tables, coords
