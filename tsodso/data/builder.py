"""Build a `System` (TN + N ADNs over T hours) from the case files and a scenario.

    load_system(scenario=None, adns=5, hours=24, seed=0) -> System

`scenario` is a path to a scenario JSON (None = the shipped cases/default_scenario.json).
Bus numbers in the scenario are MATPOWER numbers of the named case files; they become
0-based indices in the `System`.

ADN list
* `adns == len(scenario["adns"])` and `seed == scenario["seed"]`: the listed ADNs (the
  default case: 5 ADNs, seed 0).
* otherwise: `adns` ADNs generated from `numpy.random.default_rng(seed)`: load scale and PV
  scale uniform in the scenario's `generator` ranges, PCC buses assigned round-robin over a
  seeded permutation of `generator.pcc_candidates_bus_id` (so every candidate hosts the same
  number of ADNs, +-1). Deterministic given (scenario, adns, seed). These draws are not
  nested: the N+1-ADN instance does not contain the N-ADN one (the PV scales are drawn after
  all N load scales, a new permutation round starts every len(candidates) ADNs, and the
  default case's listed ADNs are not drawn at all).
* `nested=True` (opt-in, for scale sweeps; `tsodso sweep --nested`): ADN i's PCC round, load
  and PV scale come from its own stream, so the first N ADNs of the N+1-ADN instance are the
  N-ADN instance's ADNs (the same ADN objects, field for field): with the scenario's seed,
  ADN i < len(scenario["adns"]) is the listed ADN i (so 5 ADNs, seed 0 is the default case
  and 1..4 ADNs are its first ADNs); every other ADN i is drawn from
  `default_rng([seed, NESTED_TAG, i])` (load scale then PV scale, uniform in the generator
  ranges), its PCC from round r = i // len(candidates) of round-robin permutations
  `default_rng([seed, NESTED_TAG, PCC_ROUND + r]).permutation(len(candidates))`. Only the
  TN differs between N and N+1 (the scaling rule below follows the fleet). The default
  (`nested=False`) instances are unchanged.

Scaling rule (keeps the TN feasible for any number of ADNs; see cases/README.md)
  sigma = fleet nominal peak load / default fleet nominal peak load
  (fleet nominal peak = sum over ADNs of feeders_aggregated * load_scale * 3.715 MW).
  The TN's loads, generator limits and line ratings are multiplied by sigma and its quadratic
  cost coefficients divided by sigma. The DC-OPF is then an exact blow-up of the default one:
  a dispatch g' = sigma g, flows sigma f, the same LMPs. So the ADN fleet keeps its share of
  the system and the TN's margins (generation and lines) are those of the default case.
  sigma = 1 for the default case.

Horizon: `hours = T` takes hours `window_start .. window_start + T - 1` of the 24-h profiles
(`scenario["hours"]["start"]`, default 0 = midnight), T in 1..24, wrapping past midnight.

PCC bounds (A, T), MW, import > 0:
  pcc_min = load - PV available - sum BESS Pmax     (lossless, loads are inflexible, so no
                                                    admissible schedule is lower)
  pcc_max = load + sum BESS Pmax + margin * (load + sum BESS Pmax),  margin = 0.10
            (PV curtailed to 0; losses of the feeder at v0 = 1.05 stay under 7 % of the flow
            even at 1.3 x nominal load, measured with `radial_pf`, so 10 % bounds them).
"""
from __future__ import annotations

import csv
import json
import os
from typing import List, Optional

import numpy as np

from .errors import CaseError
from .validate_input import check_scenario, read_text
from .matpower import Feeder, feeder_from_case, read_case, transmission_from_case
from .profiles import SEASONS
from .radial_pf import radial_power_flow
from .system import ADN, System, Transmission
from . import columns as C

SCENARIO_FORMAT = "tsodso-scenario/1"
FEEDER_RATING_RULES = ("conductor_class", "peak_load_factor")
# EN 50182 aluminium-conductor steel-reinforced (ACSR, "AL1/ST1A") overhead conductors with
# their continuous current ratings, A, as pandapower ships them as standard MV line types
# (pandapower/std_types.py: "34-AL1/6-ST1A 20.0" ... "243-AL1/39-ST1A 20.0", ratings from
# Heuck, Dettmann, Schulz: Elektrische Energieversorgung, Vieweg+Teubner 2013, p. 742f).
CONDUCTOR_TYPES = (
    ("34-AL1/6-ST1A", 170.0), ("48-AL1/8-ST1A", 210.0), ("70-AL1/11-ST1A", 290.0),
    ("94-AL1/15-ST1A", 350.0), ("122-AL1/20-ST1A", 410.0), ("149-AL1/24-ST1A", 470.0),
    ("184-AL1/30-ST1A", 535.0), ("243-AL1/39-ST1A", 645.0),
)
DEFAULT_SCENARIO = "default_scenario.json"
LEGACY_SCENARIO = "legacy_scenario.json"


# ------------------------------------------------------------------------------ locating
def case_dir() -> str:
    """Directory of the shipped case files: package `tsodso.cases`, else the repo's cases/."""
    try:
        from importlib import resources
        d = resources.files("tsodso.cases")
        p = os.fspath(d)
        if os.path.isfile(os.path.join(p, DEFAULT_SCENARIO)):
            return p
    except Exception:  # noqa: BLE001 - not installed, or a namespace without files
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    p = os.path.normpath(os.path.join(here, "..", "..", "cases"))
    if os.path.isfile(os.path.join(p, DEFAULT_SCENARIO)):
        return p
    raise CaseError(p, "cases", DEFAULT_SCENARIO,
                    "case directory not found (neither package tsodso.cases nor repo cases/)")


def default_scenario_path() -> str:
    return os.path.join(case_dir(), DEFAULT_SCENARIO)


def legacy_scenario_path() -> str:
    """cases/legacy_scenario.json: the default case before issue 12 (regression tests pin it)."""
    return os.path.join(case_dir(), LEGACY_SCENARIO)


# ------------------------------------------------------------------------------ profiles
def read_profiles(path) -> dict:
    """Read a profile CSV (comment lines start with '#'; header 'hour,...'): name -> (24,)."""
    path = str(path)
    text = read_text(path, "profile file")
    lines = [(no, ln) for no, ln in enumerate(text.splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise CaseError(path, "header", None, "no data")
    header = [h.strip() for h in lines[0][1].split(",")]
    if header[0] != "hour":
        raise CaseError(path, "header", header[0], "first column must be 'hour'", row=lines[0][0])
    cols = {h: [] for h in header[1:]}
    for no, ln in lines[1:]:
        vals = [v.strip() for v in ln.split(",")]
        if len(vals) != len(header):
            raise CaseError(path, "row", len(vals), f"expected {len(header)} values", row=no)
        want = len(cols[header[1]]) if len(header) > 1 else 0
        if vals[0] != str(want):        # rows are hours 0..23 in order (the column used to be ignored)
            raise CaseError(path, "hour", vals[0], f"expected hour {want} (rows are hours 0..23 in order)", row=no)
        for h, v in zip(header[1:], vals[1:]):
            try:
                x = float(v)
            except ValueError:
                raise CaseError(path, h, v, "not a number", row=no) from None
            if not np.isfinite(x):
                raise CaseError(path, h, v, "NaN or infinite profile value", row=no)
            if x < 0:
                raise CaseError(path, h, x, "negative profile value", row=no)
            cols[h].append(x)
    out = {h: np.array(v) for h, v in cols.items()}
    n = len(lines) - 1
    if n != 24:
        raise CaseError(path, "hour", n, "profiles must have 24 hourly rows")
    return out


# ------------------------------------------------------------------------------ scenario
def read_scenario(path) -> dict:
    path = str(path)
    text = read_text(path, "scenario file")
    try:
        sc = json.loads(text)
    except json.JSONDecodeError as e:
        raise CaseError(path, "json", e.msg, f"malformed JSON at line {e.lineno}",
                        row=e.lineno) from None
    except RecursionError:
        raise CaseError(path, "json", "nesting", "nested too deeply to be a scenario") from None
    if not isinstance(sc, dict):
        raise CaseError(path, "scenario", type(sc).__name__, "top level must be an object")
    if sc.get("format") != SCENARIO_FORMAT:
        raise CaseError(path, "format", sc.get("format"), f"expected '{SCENARIO_FORMAT}'")
    check_scenario(sc, path)           # unknown keys, types, duplicate buses (validate_input.py)
    sc["_path"] = path
    return sc


def apply_overrides(sc: dict, overrides: dict) -> dict:
    """Set scenario entries by dotted key in place ({"adn_defaults.bess.energy_hours": 2}).

    Every key but the last must name an existing object (a typo is a CaseError naming it);
    the last may be new (an optional key). Values are validated later by the builder."""
    for dotted, value in overrides.items():
        parts = str(dotted).split(".")
        cur = sc
        for i, k in enumerate(parts[:-1]):
            if not isinstance(cur, dict) or not isinstance(cur.get(k), dict):
                raise CaseError(sc["_path"], dotted, value,
                                f"no scenario object '{'.'.join(parts[:i + 1])}' to override")
            cur = cur[k]
        if parts[-1] in ("", "_path"):
            raise CaseError(sc["_path"], dotted, value, "not an overridable scenario key")
        cur[parts[-1]] = value
    return sc


def _get(sc, dotted, kind=float, positive=False, nonneg=False):
    """Fetch a scenario value by dotted key, with type and sign checks naming the key."""
    cur = sc
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            raise CaseError(sc["_path"], dotted, None, "missing key")
        cur = cur[k]
    vals = cur if isinstance(cur, list) else [cur]
    for v in vals:
        if kind is float and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CaseError(sc["_path"], dotted, v, "must be a number")
        if kind is float and not np.isfinite(v):
            raise CaseError(sc["_path"], dotted, v, "must be finite")
        if positive and not v > 0:
            raise CaseError(sc["_path"], dotted, v, "must be > 0")
        if nonneg and v < 0:
            raise CaseError(sc["_path"], dotted, v, "must be >= 0")
    return cur


def _feeder_units(sc) -> str:
    """Scenario `feeder_units`: "pu" (default: r, x in pu, loads in MW, as cases/case33bw.m) or
    "kw_ohm" (MATPOWER's distribution cases as distributed: ohm and kW; matpower.read_case)."""
    from .matpower import UNITS
    u = sc.get("feeder_units", "pu")
    if u not in UNITS:
        raise CaseError(sc["_path"], "feeder_units", u, f"one of {', '.join(UNITS)}")
    return u


def _resolve(sc, name) -> str:
    p = sc[name]
    if not os.path.isabs(p):
        p = os.path.join(os.path.dirname(sc["_path"]), p)
    return p


# ------------------------------------------------------------------------------ builder
NESTED_TAG = 0x4E53        # stream tag of the nested generator ("NS"), module docstring
PCC_ROUND = 1 << 30         # offset of the PCC permutation streams from the per-ADN streams


def load_system(scenario=None, adns: int = 5, hours: int = 24, seed: int = 0, start=None,
                overrides=None, nested: bool = False) -> System:
    """TN + `adns` ADNs over `hours` hours from a scenario (None = the shipped default case).

    `start` (0..23) is the first hour of the horizon and overrides the scenario's
    `hours.start` (default 0); hours wrap around midnight. `overrides`: {dotted key: value}
    replacing scenario entries before validation (e.g. {"adn_defaults.feeder_rating":
    "peak_load_factor", "season": "summer"}); see `apply_overrides`. `nested`: the nested
    ADN generator (module docstring).

    Raises `CaseError` for any problem in the files or the arguments.
    """
    path = default_scenario_path() if scenario is None else str(scenario)
    sc = read_scenario(path)
    if overrides:
        apply_overrides(sc, overrides)
        check_scenario(sc, path)
    if isinstance(adns, bool) or not isinstance(adns, (int, np.integer)) or adns < 1:
        raise CaseError(path, "adns", adns, "number of ADNs must be an integer >= 1")
    if isinstance(hours, bool) or not isinstance(hours, (int, np.integer)) or not 1 <= hours <= 24:
        raise CaseError(path, "hours", hours, "horizon must be an integer in 1..24")
    tn_case = read_case(_resolve(sc, "tn_case"))
    fd_case = read_case(_resolve(sc, "feeder_case"), units=_feeder_units(sc))
    feeder = feeder_from_case(fd_case)
    prof = read_profiles(_resolve(sc, "profiles"))
    start = sc.get("hours", {}).get("start", 0) if start is None else start
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start <= 23:
        raise CaseError(path, "hours.start", start, "first hour must be an integer in 0..23")
    start = int(start)
    hrs = (start + np.arange(hours)) % 24

    tn_bus_idx = tn_case.bus_index()
    fd_bus_idx = {int(b): i for i, b in enumerate(feeder.bus_id)}
    ad = sc["adn_defaults"]
    if not isinstance(nested, bool):
        raise CaseError(path, "nested", nested, "must be true or false")
    specs = _adn_specs(sc, adns, seed, tn_bus_idx, nested)

    def prof_col(key):
        name = _get(sc, key, kind=str)
        if name not in prof:
            raise CaseError(sc["_path"], key, name, f"no such profile column in {sc['profiles']}")
        return prof[name][hrs]

    tn_col, pv_col = _season_columns(sc)
    tn_mult = prof_col("tn.load_profile") if tn_col is None else _season_col(sc, prof, tn_col, hrs)
    adn_mult = prof_col("adn_defaults.load_profile")
    pv_mult = prof_col("adn_defaults.pv_profile") if pv_col is None else _season_col(sc, prof, pv_col, hrs)

    adn_list: List[ADN] = []
    for a, s in enumerate(specs):
        adn_list.append(_build_adn(sc, a, s, feeder, fd_bus_idx, adn_mult, pv_mult))

    # scaling rule
    fleet = sum(s["feeders"] * s["load_scale"] for s in specs)
    fleet0 = sum(s["feeders"] * s["load_scale"]
                 for s in _adn_specs(sc, len(sc["adns"]), int(sc.get("seed", 0)), tn_bus_idx))
    sigma = fleet / fleet0
    tn = _build_tn(sc, tn_case, tn_mult, sigma)

    # fees
    fee_grid = _get(sc, "fees.grid_usd_per_mwh", nonneg=True)
    fee_local = _get(sc, "fees.local_usd_per_mwh", nonneg=True)
    tx0 = _get(sc, "fees.transmission_base_usd_per_mwh", nonneg=True)
    tx1 = _get(sc, "fees.transmission_usd_per_mwh_per_pu_x", nonneg=True)
    dist = electrical_distance_pu(tn)
    pcc = np.array([x.pcc_bus for x in adn_list])
    fee_cross = fee_local + tx0 + tx1 * dist[np.ix_(pcc, pcc)]
    np.fill_diagonal(fee_cross, fee_local)

    margin = _get(sc, "adn_defaults.pcc_loss_margin", nonneg=True)
    pmin = np.zeros((adns, hours))
    pmax = np.zeros((adns, hours))
    for a, x in enumerate(adn_list):
        load = x.load_p_mw.sum(axis=1)
        pv = x.pv_avail_mw.sum(axis=1)
        bess = x.bess_pmax_mw.sum()
        pmin[a] = load - pv - bess
        pmax[a] = (load + bess) * (1.0 + margin)
    fc = (sc.get("tso_led") or {}).get("forecast", "naive") if isinstance(sc.get("tso_led", {}), dict) else None
    if fc not in ("dso", "naive"):
        raise CaseError(path, "tso_led.forecast", fc, "unknown TSO-led forecast (one of dso, naive)")
    scen = {k: v for k, v in sc.items() if k != "_path"}
    scen["_path"] = path
    scen["_sigma"] = sigma
    scen["_hours"] = hrs.tolist()
    # how this System was built, so that System.with_scenario can rebuild it from scratch
    scen["_build"] = {"adns": int(adns), "hours": int(hours), "seed": int(seed), "start": start,
                      "overrides": dict(overrides or {})}
    if nested:          # recorded only when set: the provenance of default instances is unchanged
        scen["_build"]["nested"] = True
    return System(tn=tn, adns=adn_list, dt_h=1.0, fee_grid_usd_per_mwh=float(fee_grid),
                  fee_local_usd_per_mwh=float(fee_local), fee_cross_usd_per_mwh=fee_cross,
                  pcc_min_mw=pmin, pcc_max_mw=pmax, seed=int(seed), scenario=scen)


def _season_columns(sc):
    """Profile columns chosen by the scenario's `season` (None, None: no season key, the
    explicit `tn.load_profile` / `adn_defaults.pv_profile` columns are used).

    `season` sets both; `tn.season` / `adn_defaults.pv_season` override one of them (to study
    a mismatch). Columns: `tn_load_<season>`, `pv_<season>` (cases/profiles_24h.csv)."""
    if "season" not in sc:
        for key, sub in (("tn.season", sc.get("tn", {})), ("adn_defaults.pv_season", sc.get("adn_defaults", {}))):
            if "season" in sub or "pv_season" in sub:
                raise CaseError(sc["_path"], key, sub.get("season", sub.get("pv_season")),
                                "needs the top-level 'season' key as well")
        return None, None
    out = []
    for key, v in (("season", sc["season"]),
                   ("tn.season", sc["tn"].get("season", sc["season"])),
                   ("adn_defaults.pv_season", sc["adn_defaults"].get("pv_season", sc["season"]))):
        if v not in SEASONS:
            raise CaseError(sc["_path"], key, v, f"unknown season (one of {', '.join(SEASONS)})")
        out.append(v)
    return f"tn_load_{out[1]}", f"pv_{out[2]}"


def _season_col(sc, prof, name, hrs):
    if name not in prof:
        raise CaseError(sc["_path"], "season", name, f"no such profile column in {sc['profiles']}")
    return prof[name][hrs]


def _adn_specs(sc, adns, seed, tn_bus_idx, nested=False):
    """Per-ADN (name, pcc bus index, feeders, load_scale, pv_scale)."""
    path = sc["_path"]
    k_def = int(_get(sc, "adn_defaults.feeders_aggregated", positive=True))
    listed = sc["adns"]
    if not isinstance(listed, list) or not listed:
        raise CaseError(path, "adns", listed, "must be a non-empty list")

    def pcc_index(b, key):
        if b not in tn_bus_idx:
            raise CaseError(path, key, b, "unknown PCC bus (not a bus of the TN case)")
        return tn_bus_idx[b]

    own_seed = seed == int(sc.get("seed", 0))
    if (adns == len(listed) and own_seed) or (nested and own_seed):
        out = []
        for i, d in enumerate(listed[:adns]):
            key = f"adns[{i}]"
            for f in ("load_scale", "pv_scale"):
                v = d.get(f)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                    raise CaseError(path, f"{key}.{f}", v, "must be a number >= 0")
            k = d.get("feeders_aggregated", k_def)
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise CaseError(path, f"{key}.feeders_aggregated", k, "must be an integer >= 1")
            out.append(dict(name=d.get("name", f"ADN{i + 1}"),
                            pcc=pcc_index(d.get("pcc_bus_id"), f"{key}.pcc_bus_id"),
                            feeders=k, load_scale=float(d["load_scale"]),
                            pv_scale=float(d["pv_scale"])))
        if len(out) == adns:
            return out
        return out + _generated_specs(sc, adns, seed, tn_bus_idx, pcc_index, k_def, nested, len(out))
    return _generated_specs(sc, adns, seed, tn_bus_idx, pcc_index, k_def, nested, 0)


def _generated_specs(sc, adns, seed, tn_bus_idx, pcc_index, k_def, nested, first):
    """Specs of the generated ADNs first..adns-1 (module docstring: legacy or nested draws)."""
    path = sc["_path"]
    cands = _get(sc, "generator.pcc_candidates_bus_id")
    if not isinstance(cands, list) or not cands:
        raise CaseError(path, "generator.pcc_candidates_bus_id", cands, "non-empty list needed")
    cand_idx = [pcc_index(b, "generator.pcc_candidates_bus_id") for b in cands]
    lo_l, hi_l = _get(sc, "generator.load_scale_range", nonneg=True)
    lo_p, hi_p = _get(sc, "generator.pv_scale_range", nonneg=True)
    if lo_l > hi_l or lo_p > hi_p:
        raise CaseError(path, "generator.*_range", [lo_l, hi_l, lo_p, hi_p], "low > high")
    n_rounds = -(-adns // len(cand_idx))
    if nested:
        order = np.concatenate([np.random.default_rng([seed, NESTED_TAG, PCC_ROUND + r]).permutation(len(cand_idx))
                                for r in range(n_rounds)])[:adns]
        draws = [np.random.default_rng([seed, NESTED_TAG, i]).uniform(size=2) for i in range(adns)]
        ls = np.array([lo_l + (hi_l - lo_l) * d[0] for d in draws])
        ps = np.array([lo_p + (hi_p - lo_p) * d[1] for d in draws])
    else:
        rng = np.random.default_rng(seed)
        order = np.concatenate([rng.permutation(len(cand_idx)) for _ in range(n_rounds)])[:adns]
        ls = rng.uniform(lo_l, hi_l, adns)
        ps = rng.uniform(lo_p, hi_p, adns)
    return [dict(name=f"ADN{i + 1}", pcc=cand_idx[order[i]], feeders=k_def,
                 load_scale=float(np.round(ls[i], 3)), pv_scale=float(np.round(ps[i], 3)))
            for i in range(first, adns)]


def _feeder_bus(sc, fd_bus_idx, key, ids):
    out = []
    for b in ids:
        if b not in fd_bus_idx or fd_bus_idx[b] == 0:
            raise CaseError(sc["_path"], key, b, "unknown feeder bus (or the root bus)")
        out.append(fd_bus_idx[b])
    return np.array(out, dtype=int)


def _build_adn(sc, a, s, feeder: Feeder, fd_bus_idx, adn_mult, pv_mult) -> ADN:
    k = s["feeders"]
    path = sc["_path"]
    v0 = _get(sc, "adn_defaults.v0_pu", positive=True)
    vmin = _get(sc, "adn_defaults.vmin_pu", positive=True)
    vmax = _get(sc, "adn_defaults.vmax_pu", positive=True)
    if not vmin <= v0 <= vmax:
        raise CaseError(path, "adn_defaults.v0_pu", v0, f"outside [vmin, vmax] = [{vmin}, {vmax}]")
    # PV
    pv_ids = _get(sc, "adn_defaults.pv.bus_id", kind=int)
    pv_mw = np.asarray(_get(sc, "adn_defaults.pv.mwp_per_feeder", nonneg=True), float)
    if len(pv_ids) != len(pv_mw):
        raise CaseError(path, "adn_defaults.pv.mwp_per_feeder", len(pv_mw),
                        f"needs one size per PV bus ({len(pv_ids)})")
    pv_bus = _feeder_bus(sc, fd_bus_idx, "adn_defaults.pv.bus_id", pv_ids)
    pv_cap = k * s["pv_scale"] * pv_mw
    # BESS
    bs = sc["adn_defaults"]["bess"]
    b_ids = _get(sc, "adn_defaults.bess.bus_id", kind=int)
    b_bus = _feeder_bus(sc, fd_bus_idx, "adn_defaults.bess.bus_id", b_ids)
    nb = len(b_bus)
    pmax = k * np.asarray(_get(sc, "adn_defaults.bess.pmax_mw_per_feeder", nonneg=True), float)
    hours_e = _get(sc, "adn_defaults.bess.energy_hours", positive=True)
    pmin_frac = _get(sc, "adn_defaults.bess.pmin_fraction", nonneg=True)
    emin_frac = _get(sc, "adn_defaults.bess.emin_fraction", nonneg=True)
    e0_frac = _get(sc, "adn_defaults.bess.e0_fraction", nonneg=True)
    eta_c = _get(sc, "adn_defaults.bess.eta_charge", positive=True)
    eta_d = _get(sc, "adn_defaults.bess.eta_discharge", positive=True)
    deg = _get(sc, "adn_defaults.bess.degradation_usd_per_mwh", nonneg=True)
    if pmax.size != nb:
        raise CaseError(path, "adn_defaults.bess.pmax_mw_per_feeder", pmax.size,
                        f"needs one value per BESS bus ({nb})")
    for key, v in (("eta_charge", eta_c), ("eta_discharge", eta_d), ("pmin_fraction", pmin_frac),
                   ("emin_fraction", emin_frac), ("e0_fraction", e0_frac)):
        if v > 1:
            raise CaseError(path, f"adn_defaults.bess.{key}", v, "must be <= 1")
    if e0_frac < emin_frac:
        raise CaseError(path, "adn_defaults.bess.e0_fraction", e0_frac, "below emin_fraction")
    emax = pmax * hours_e
    # loads
    load_p = k * s["load_scale"] * np.outer(adn_mult, feeder.load_p_mw)
    load_q = k * s["load_scale"] * np.outer(adn_mult, feeder.load_q_mvar)
    r = feeder.line_r_pu / k
    x = feeder.line_x_pu / k
    # current limit from the AC current at the hour of peak load (PV 0, BESS idle): either
    # imax_factor x that current ("peak_load_factor") or the smallest standard conductor
    # carrying imax_factor x it ("conductor_class", see CONDUCTOR_TYPES)
    fac = _get(sc, "adn_defaults.imax_factor", positive=True)
    rule = sc["adn_defaults"].get("feeder_rating", "peak_load_factor")
    if rule not in FEEDER_RATING_RULES:
        raise CaseError(path, "adn_defaults.feeder_rating", rule,
                        f"unknown rule (one of {', '.join(FEEDER_RATING_RULES)})")
    tpk = int(np.argmax(load_p.sum(axis=1)))
    try:
        pf = radial_power_flow(feeder.line_from, feeder.line_to, r, x,
                               load_p[tpk] / feeder.base_mva, load_q[tpk] / feeder.base_mva, v0)
    except RuntimeError:
        raise CaseError(feeder.file, "mpc.bus.PD", float(np.max(feeder.load_p_mw)),
                        f"ADN {s['name']}: no AC power flow at the peak-load hour (peak feeder load "
                        f"{load_p[tpk].sum():.3g} MW): loads too large for the feeder; are they in MW "
                        f"(not kW or %)?") from None
    if pf.v_pu.min() < vmin:
        raise CaseError(path, "adn_defaults.vmin_pu", vmin,
                        f"ADN {s['name']}: peak-load voltage {pf.v_pu.min():.4f} pu is below it")
    if rule == "peak_load_factor":
        imax, conductors = fac * pf.i_pu, None
    else:
        imax, conductors = conductor_ratings(pf.i_pu, k, fac, feeder.base_kv, feeder.base_mva,
                                             path, s["name"])
    bus_vmax = _voltage_rise_vmax(sc, s, feeder, k, r, x, v0, vmax)
    pros_ids = _get(sc, "adn_defaults.prosumer_bus_id", kind=int)
    pros = _feeder_bus(sc, fd_bus_idx, "adn_defaults.prosumer_bus_id", pros_ids)
    return ADN(
        name=s["name"], pcc_bus=int(s["pcc"]), base_kv=feeder.base_kv, base_mva=feeder.base_mva,
        line_from=feeder.line_from.copy(), line_to=feeder.line_to.copy(),
        line_r_pu=r, line_x_pu=x, line_imax_pu=imax,
        v0_pu=float(v0), vmin_pu=float(vmin), vmax_pu=float(vmax),
        load_p_mw=load_p, load_q_mvar=load_q,
        pv_bus=pv_bus, pv_avail_mw=np.outer(pv_mult, pv_cap),
        bess_bus=b_bus, bess_emax_mwh=emax, bess_emin_mwh=emin_frac * emax,
        bess_e0_mwh=e0_frac * emax, bess_pmax_mw=pmax, bess_pmin_mw=pmin_frac * pmax,
        bess_eta_c=np.full(nb, float(eta_c)), bess_eta_d=np.full(nb, float(eta_d)),
        bess_deg_usd_per_mwh=np.full(nb, float(deg)),
        prosumer_bus=pros,
        platform_usd_per_h=float(_get(sc, "adn_defaults.platform_usd_per_h", nonneg=True)),
        pv_curtail_usd_per_mwh=float(_get(sc, "adn_defaults.pv_curtail_usd_per_mwh",
                                          nonneg=True)),
        feeders_aggregated=int(k), line_conductor=conductors, bus_vmax_pu=bus_vmax,
    )


def _voltage_rise_vmax(sc, s, feeder, k, r, x, v0, vmax):
    """Per-bus voltage ceiling from `adn_defaults.voltage_rise_limit_pu` (None / absent: none).

    Static planning form of the MV voltage-rise rule (VDE-AR-N 4110:2018: the voltage change
    caused by all generating units of an MV network must not exceed 2 % of the nominal
    voltage): v_j <= v_j(no generation, minimum-load hour of the 24-h profile) + limit,
    capped by vmax. The minimum-load hour gives the highest no-generation voltages, so this
    is the loosest hour-independent reading of the rule (and does not depend on the horizon).
    """
    lim = sc["adn_defaults"].get("voltage_rise_limit_pu")
    if lim is None:
        return None
    if isinstance(lim, bool) or not isinstance(lim, (int, float)) or not 0 < lim < 0.2:
        raise CaseError(sc["_path"], "adn_defaults.voltage_rise_limit_pu", lim,
                        "must be a number in (0, 0.2) pu or null")
    prof = read_profiles(_resolve(sc, "profiles"))
    col = _get(sc, "adn_defaults.load_profile", kind=str)
    if col not in prof:
        raise CaseError(sc["_path"], "adn_defaults.load_profile", col, "no such profile column")
    m = float(prof[col].min())
    p = k * s["load_scale"] * m * feeder.load_p_mw / feeder.base_mva
    q = k * s["load_scale"] * m * feeder.load_q_mvar / feeder.base_mva
    try:
        ref = radial_power_flow(feeder.line_from, feeder.line_to, r, x, p, q, v0).v_pu
    except RuntimeError:
        raise CaseError(feeder.file, "mpc.bus.PD", float(np.max(feeder.load_p_mw)),
                        "no AC power flow at the minimum-load hour: loads too large for the feeder; "
                        "are they in MW (not kW or %)?") from None
    out = np.minimum(ref + float(lim), float(vmax))
    out[0] = v0
    return out


def base_current_a(base_kv: float, base_mva: float) -> float:
    """Current base of a three-phase system, A: S_base / (sqrt(3) V_base)."""
    return base_mva * 1e6 / (np.sqrt(3.0) * base_kv * 1e3)


def conductor_ratings(i_peak_pu, k, factor, base_kv, base_mva, path="scenario", name="ADN"):
    """Line current limits from standard conductor types.

    i_peak_pu: (nl,) current of the aggregated ADN's lines at peak load, pu on (base_kv,
    base_mva); k: feeders aggregated (each physical line carries i/k). Every physical line
    gets the smallest type of CONDUCTOR_TYPES whose rated current is >= factor x its own peak
    current (the smallest type is the floor); the aggregated limit is k x that rating.
    Returns (imax_pu (nl,), type names (nl,)). A line above the largest type -> CaseError.
    """
    ib = base_current_a(base_kv, base_mva)
    need_a = factor * np.asarray(i_peak_pu, float) / k * ib
    amps = np.array([a for _, a in CONDUCTOR_TYPES], float)
    idx = np.searchsorted(amps, need_a - 1e-9)          # first type with rating >= need
    if np.any(idx >= amps.size):
        j = int(np.argmax(need_a))
        raise CaseError(path, "adn_defaults.feeder_rating", "conductor_class",
                        f"ADN {name}: line {j + 1} needs {need_a[j]:.0f} A > the largest "
                        f"conductor ({CONDUCTOR_TYPES[-1][0]}, {amps[-1]:.0f} A)")
    return k * amps[idx] / ib, [CONDUCTOR_TYPES[i][0] for i in idx]


def _build_tn(sc, tn_case, tn_mult, sigma) -> Transmission:
    path = sc["_path"]
    scale = _get(sc, "tn.cost_scale", positive=True)
    pd = tn_case.bus[:, C.PD]
    tn = transmission_from_case(tn_case, load_mw=np.outer(tn_mult, pd), cost_scale=scale)
    # rating overrides: {"from-to": MW} in MATPOWER bus numbers
    over = sc["tn"].get("rate_override_mw", {})
    ids = tn.bus_id
    for key, mw in over.items():
        try:
            f, t = (int(v) for v in key.split("-"))
        except ValueError:
            raise CaseError(path, "tn.rate_override_mw", key, "key must be 'from-to'") from None
        hit = np.nonzero(((ids[tn.line_from] == f) & (ids[tn.line_to] == t)) |
                         ((ids[tn.line_from] == t) & (ids[tn.line_to] == f)))[0]
        if hit.size == 0:
            raise CaseError(path, "tn.rate_override_mw", key, "no such TN line")
        if isinstance(mw, bool) or not isinstance(mw, (int, float)) or not mw > 0:
            raise CaseError(path, f"tn.rate_override_mw.{key}", mw, "rating must be > 0")
        tn.line_rate_mw[hit] = float(mw)
    tn.load_mw = tn.load_mw * sigma
    tn.gen_pmin_mw = tn.gen_pmin_mw * sigma
    tn.gen_pmax_mw = tn.gen_pmax_mw * sigma
    tn.line_rate_mw = tn.line_rate_mw * sigma
    tn.gen_c2_usd_per_mw2h = tn.gen_c2_usd_per_mw2h / sigma
    return tn


def electrical_distance_pu(tn: Transmission) -> np.ndarray:
    """(nb, nb) Thevenin reactance between bus pairs of the DC network, pu:
    d_ij = (e_i - e_j)' X (e_i - e_j), X = inverse of B with the reference row/column removed."""
    nb = tn.n_bus
    b = 1.0 / tn.line_x_pu
    B = np.zeros((nb, nb))
    for f, t, y in zip(tn.line_from, tn.line_to, b):
        B[f, f] += y
        B[t, t] += y
        B[f, t] -= y
        B[t, f] -= y
    keep = np.arange(nb) != tn.ref_bus
    X = np.zeros((nb, nb))
    X[np.ix_(keep, keep)] = np.linalg.inv(B[np.ix_(keep, keep)])
    dX = np.diag(X)
    return dX[:, None] + dX[None, :] - 2 * X
