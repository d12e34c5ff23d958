"""Input checks of the data layer: reading text files, and the scenario schema.

    read_text(path, what)        the file's text, or a CaseError naming the file (missing, a
                                 folder, unreadable, binary / NUL bytes, not UTF-8 with the
                                 byte offset)
    check_scenario(sc, path)     the scenario against SCENARIO_SCHEMA: unknown keys (a typo
                                 such as `rate_overide_mw` used to drop the derating without
                                 a word), wrong types (`"hours": 5`, a number where a list is
                                 expected, 2.5 where an integer is expected: it was truncated)
                                 and duplicates in bus lists, each a CaseError with the key path
                                 (`adn_defaults.bess.bus_id[1]`).
    check_bus_ids(...)           scenario bus numbers against the case actually loaded

The schema is declarative (`SCENARIO_SCHEMA`, one entry per key: kind, required, doc) so a
new scenario option is one line here; the builder still checks ranges and consistency
(vmin <= v0 <= vmax, profile columns, ...). Kinds:
    "str", "int" (not bool, not 2.5), "number" (finite int or float, not bool),
    "number|null", "list[int]", "list[number]", "pair[number]" (exactly 2),
    "map[number]" (an object of numbers with free keys), dict (a nested object),
    [dict] (a list of objects), "any" (free text / data: provenance, description).
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict

from .errors import CaseError

__all__ = ["read_text", "check_scenario", "SCENARIO_SCHEMA", "check_unique"]


def read_text(path, what: str = "file") -> str:
    """Text of a UTF-8 file; CaseError (one line, naming the file) for anything else."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CaseError(path, "file", path, f"{what} not found")
    if os.path.isdir(path):
        raise CaseError(path, "file", path, f"{what} is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise CaseError(path, "file", path, f"cannot read the {what}: {e.strerror}") from None
    if b"\x00" in raw:
        raise CaseError(path, "file", path, f"{what} is binary (NUL byte at offset {raw.index(0)}), not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CaseError(path, "encoding", f"byte 0x{raw[e.start]:02x} at offset {e.start}",
                        f"{what} is not UTF-8 text") from None


# ------------------------------------------------------------------------------ the schema
R, O = True, False      # required, optional

SCENARIO_SCHEMA: Dict[str, Any] = {
    "format": ("str", R, "tsodso-scenario/1"),
    "provenance": ("any", O, "free text"),
    "description": ("any", O, "free text"),
    "tn_case": ("str", R, "MATPOWER file of the TN (relative to the scenario)"),
    "feeder_case": ("str", R, "MATPOWER file of the feeder"),
    "profiles": ("str", R, "profile CSV"),
    "feeder_units": ("str", O, "pu | kw_ohm (MATPOWER distribution cases as distributed)"),
    "seed": ("int", O, "seed of the listed ADNs"),
    "season": ("str", O, "profile season (builder: SEASONS)"),
    "hours": ({"start": ("int", O, "first hour 0..23")}, O, ""),
    "tso_led": ({"forecast": ("str", O, "naive | dso")}, O, ""),
    "tn": ({
        "cost_scale": ("number", R, "multiplier of the case's generator costs"),
        "load_profile": ("str", R, "profile column of the TN load"),
        "season": ("str", O, "TN load season"),
        "rate_override_mw": ("map[number]", O, "{'from-to': MW} rating overrides"),
    }, R, ""),
    "adn_defaults": ({
        "feeders_aggregated": ("int", R, "identical feeders per ADN"),
        "v0_pu": ("number", R, ""), "vmin_pu": ("number", R, ""), "vmax_pu": ("number", R, ""),
        "imax_factor": ("number", R, ""),
        "feeder_rating": ("str", O, "peak_load_factor | conductor_class"),
        "voltage_rise_limit_pu": ("number|null", O, ""),
        "load_profile": ("str", R, ""), "pv_profile": ("str", R, ""),
        "pv_season": ("str", O, ""),
        "pcc_loss_margin": ("number", R, ""),
        "pv": ({"bus_id": ("list[int]", R, ""), "mwp_per_feeder": ("list[number]", R, "")}, R, ""),
        "bess": ({
            "bus_id": ("list[int]", R, ""), "pmax_mw_per_feeder": ("list[number]", R, ""),
            "energy_hours": ("number", R, ""), "pmin_fraction": ("number", R, ""),
            "emin_fraction": ("number", R, ""), "e0_fraction": ("number", R, ""),
            "eta_charge": ("number", R, ""), "eta_discharge": ("number", R, ""),
            "degradation_usd_per_mwh": ("number", R, ""),
        }, R, ""),
        "prosumer_bus_id": ("list[int]", R, ""),
        "platform_usd_per_h": ("number", R, ""),
        "pv_curtail_usd_per_mwh": ("number", R, ""),
    }, R, ""),
    "adns": ([{
        "name": ("str", O, ""), "pcc_bus_id": ("int", R, "TN bus number"),
        "load_scale": ("number", R, ""), "pv_scale": ("number", R, ""),
        "feeders_aggregated": ("int", O, ""),
    }], R, ""),
    "generator": ({
        "pcc_candidates_bus_id": ("list[int]", R, ""),
        "load_scale_range": ("pair[number]", R, "[low, high]"),
        "pv_scale_range": ("pair[number]", R, "[low, high]"),
    }, R, ""),
    "fees": ({
        "grid_usd_per_mwh": ("number", R, ""), "local_usd_per_mwh": ("number", R, ""),
        "transmission_base_usd_per_mwh": ("number", R, ""),
        "transmission_usd_per_mwh_per_pu_x": ("number", R, ""),
    }, R, ""),
}

# bus lists whose entries must be distinct (a duplicate prosumer / PV / BESS bus is a typo)
UNIQUE_LISTS = ("adn_defaults.pv.bus_id", "adn_defaults.bess.bus_id", "adn_defaults.prosumer_bus_id",
                "generator.pcc_candidates_bus_id")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _type_name(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), f"a {type(v).__name__}")


def _check(path, key, v, kind):
    if isinstance(kind, dict):
        if not isinstance(v, dict):
            raise CaseError(path, key, v, f"must be an object, not {_type_name(v)}")
        _check_object(path, key, v, kind)
    elif isinstance(kind, list):
        if not isinstance(v, list) or not v:
            raise CaseError(path, key, v, "must be a non-empty list of objects")
        for i, item in enumerate(v):
            _check(path, f"{key}[{i}]", item, kind[0])
    elif kind == "any":
        return
    elif kind == "str":
        if not isinstance(v, str):
            raise CaseError(path, key, v, f"must be a string, not {_type_name(v)}")
    elif kind == "int":
        if not _is_int(v):
            raise CaseError(path, key, v, "must be an integer" + (" (not a fraction)" if isinstance(v, float) else ""))
    elif kind in ("number", "number|null"):
        if v is None and kind == "number|null":
            return
        if not _is_number(v):
            raise CaseError(path, key, v, "must be a finite number" + (" or null" if kind == "number|null" else ""))
    elif kind in ("list[int]", "list[number]", "pair[number]"):
        if not isinstance(v, list):
            raise CaseError(path, key, v, f"must be a list, not {_type_name(v)}")
        if kind == "pair[number]" and len(v) != 2:
            raise CaseError(path, key, v, "must be a list of 2 numbers [low, high]")
        ok = _is_int if kind == "list[int]" else _is_number
        for i, x in enumerate(v):
            if not ok(x):
                raise CaseError(path, f"{key}[{i}]", x,
                                "must be an integer" if kind == "list[int]" else "must be a finite number")
    elif kind == "map[number]":
        if not isinstance(v, dict):
            raise CaseError(path, key, v, f"must be an object, not {_type_name(v)}")
        for k2, x in v.items():
            if not _is_number(x):
                raise CaseError(path, f"{key}.{k2}", x, "must be a finite number")
    else:                                   # pragma: no cover - a schema typo
        raise AssertionError(f"unknown schema kind {kind!r}")


def _check_object(path, prefix, obj, schema):
    for k in obj:
        if k not in schema and not (prefix == "" and k.startswith("_")):
            known = ", ".join(sorted(schema))
            raise CaseError(path, f"{prefix}{'.' if prefix else ''}{k}", obj[k],
                            f"unknown key (known here: {known})")
    for k, (kind, required, _) in schema.items():
        key = f"{prefix}{'.' if prefix else ''}{k}"
        if k not in obj:
            if required:
                raise CaseError(path, key, None, "missing key")
            continue
        _check(path, key, obj[k], kind)


def check_unique(path, key, ids) -> None:
    seen = set()
    for i, b in enumerate(ids):
        if b in seen:
            raise CaseError(path, f"{key}[{i}]", b, "listed twice")
        seen.add(b)


def _lookup(sc, dotted):
    cur = sc
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def check_scenario(sc: dict, path) -> dict:
    """Validate a scenario dict against SCENARIO_SCHEMA (module docstring); returns it."""
    if not isinstance(sc, dict):
        raise CaseError(path, "scenario", _type_name(sc), "top level must be an object")
    _check_object(path, "", sc, SCENARIO_SCHEMA)
    for key in UNIQUE_LISTS:
        ids = _lookup(sc, key)
        if ids is not None:
            check_unique(path, key, ids)
    return sc
