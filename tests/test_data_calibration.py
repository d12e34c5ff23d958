"""The default case exercises the bilevel (independent HiGHS DC-OPF, see
tsodso/evaluation/calibration.py; numbers recorded in cases/README.md)."""
import numpy as np
import pytest

from tsodso.data import legacy_scenario_path, load_system

highspy = pytest.importorskip("highspy")
from tsodso.evaluation.calibration import calibrate, check_corners
from tsodso.evaluation.dcopf import pcc_injection, solve_dcopf  # noqa


@pytest.fixture(scope="module")
def system():
    return load_system(legacy_scenario_path())


@pytest.fixture(scope="module")
def report(system):
    return calibrate(system)


def test_lmp_is_marginal_cost(system):
    """HiGHS row-dual LMPs equal d(cost)/d(demand) by central finite differences
    (step 1e-3 MW; tolerance 1e-3 $/MWh covers the QP tolerance, away from kinks)."""
    tn = system.tn
    t = 18                                   # congested hour
    d = tn.load_mw[t] + pcc_injection(system, system.pcc_max_mw[:, t] * 0.9)
    r = solve_dcopf(tn, d)
    for b in (6, 9, 20, 14):
        e = np.zeros(tn.n_bus)
        e[b] = 1e-3
        fd = (solve_dcopf(tn, d + e).cost_usd_per_h - solve_dcopf(tn, d - e).cost_usd_per_h) / 2e-3
        assert r.lmp_usd_per_mwh[b] == pytest.approx(fd, abs=1e-3)


def test_some_hours_congested_with_lmp_separation(report):
    congested = [r for r in report if r.binding_lines]
    assert 3 <= len(congested) < 24              # some hours, not all
    for r in congested:
        assert np.ptp(r.pcc_lmp) > 0.1            # LMPs differ between PCCs
    assert max(np.ptp(r.pcc_lmp) for r in congested) > 5.0
    assert all(np.ptp(r.pcc_lmp) < 1e-6 for r in report if not r.binding_lines)


def test_lmps_tens_of_dollars(report):
    lmp = np.concatenate([r.pcc_lmp for r in report])
    assert np.all(np.isfinite(lmp)) and 20 < lmp.min() and lmp.max() < 100


def test_adns_move_prices(report):
    """Uncongested: ~0.062 $/MWh per MW (the prototype's number); congested: much more at
    the PCC behind the binding line."""
    flat = [r for r in report if not r.binding_lines]
    slopes = np.array([r.pcc_dlmp_dmw for r in flat])
    # the +-0.5 MW step can reach a congestion kink in a near-binding hour (hour 7 at bus 21)
    assert np.median(slopes) == pytest.approx(0.0619, abs=0.001)
    assert slopes.min() > 0.06
    assert max(r.pcc_dlmp_dmw.max() for r in report) > 1.0


def test_every_vertex_of_pcc_box_feasible(system):
    """All 2^5 vertices of the admissible PCC box feasible in every hour: the feasible
    injection set is convex, so the follower is feasible for every admissible schedule."""
    assert check_corners(system, vertices=True) == []


def test_hours_window_congestion_subset():
    s = load_system(legacy_scenario_path(), hours=12)
    assert all(not r.binding_lines for r in calibrate(s)[9:12])


@pytest.fixture(scope="module")
def default_report():
    return calibrate(load_system())


def test_default_case_calibration(default_report):
    """The realistic default (spring/autumn weekday, conductor ratings), cases/README.md:
    9 of 24 hours congested (8, 9, 16-22: 21-22, and 25-27 at 17-21 h), spread up to
    16.0 $/MWh at 19 h, bus 21 up to 59.5 $/MWh, 1.37-1.39 $/MWh per MW at bus 21."""
    congested = [r.hour for r in default_report if r.binding_lines]
    assert congested == [8, 9, 16, 17, 18, 19, 20, 21, 22]
    assert all("25-27" in r.binding_lines for r in default_report if 17 <= r.hour <= 21)
    spread = max(np.ptp(r.pcc_lmp) for r in default_report)
    assert spread == pytest.approx(15.96, abs=0.05)
    assert all(np.ptp(r.pcc_lmp) < 1e-6 for r in default_report if not r.binding_lines)
    lmp = np.concatenate([r.pcc_lmp for r in default_report])
    assert 34.0 < lmp.min() and lmp.max() == pytest.approx(59.47, abs=0.05)
    assert max(r.pcc_dlmp_dmw.max() for r in default_report) > 1.3


def test_default_case_every_vertex_feasible():
    assert check_corners(load_system(), vertices=True) == []
