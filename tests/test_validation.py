"""Stand-alone network models against published values (issue 2).

Tolerances: published values are given to 5 significant digits (565.21 $/h, 202.68 kW,
0.91309 pu), so we compare to half a unit of the last digit. Independent-solver agreement
(HiGHS QP, PTDF form) is checked to 1e-4 in $/h and $/MWh and 1e-3 MW: both solvers stop at ~1e-8
relative accuracy, the tolerance leaves room for the PTDF vs angle formulation.
"""
import numpy as np
import pytest

from tsodso.validate import baran_wu_distflow, case30_dcopf


def test_case30_dcopf_matches_matpower_and_highs():
    r = case30_dcopf()
    assert r["status"] == "optimal"
    assert r["cost_usd_per_h"] == pytest.approx(565.21, abs=0.005)
    assert r["highs_cost_usd_per_h"] == pytest.approx(r["cost_usd_per_h"], abs=1e-4)
    assert r["max_dispatch_diff_mw"] < 1e-3   # HiGHS QP stops at ~1e-7 relative dual feasibility: 1 kW
    assert r["max_flow_diff_mw"] < 1e-3
    assert r["max_lmp_diff_usd_per_mwh"] < 1e-4


def test_baran_wu_socp_matches_ac_power_flow():
    r = baran_wu_distflow()
    assert r["status"] == "optimal"
    assert r["losses_kw"] == pytest.approx(202.68, abs=0.005)
    assert r["vmin_pu"] == pytest.approx(0.91309, abs=5e-6)
    assert r["vmin_bus"] == 18
    assert r["soc_gap_max"] < 1e-7
