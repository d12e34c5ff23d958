"""Metrics (tsodso/evaluation/metrics.py) on a hand-built two-ADN, two-hour outcome.

Every expected value is computed by hand in the comments from the numbers put into the
solution vector (ADN pu on each ADN's base, 10 and 5 MVA; dt = 1 h). Tolerance 1e-9: the
metrics are sums and products of a handful of exact decimal numbers.
"""
import math

import numpy as np
import pytest

from tsodso.data.system import ADN, System, Transmission
from tsodso.formulation.der import DERVars
from tsodso.formulation.distflow import FeederVars
from tsodso.formulation.p2p import CrossVars, SettleVars
from tsodso.evaluation import metrics as M

T = 2
TOL = 1e-9


class Vec:
    """Allocates index blocks in a solution vector and stores their values."""

    def __init__(self):
        self.vals = []

    def put(self, values):
        values = np.asarray(values, float)
        idx = np.arange(len(self.vals), len(self.vals) + values.size).reshape(values.shape)
        self.vals.extend(values.reshape(-1).tolist())
        return idx

    @property
    def x(self):
        return np.array(self.vals)


def _adn(name, pcc_bus, S, load_mw, pv_bus, pv_avail, bess, curtail_pen):
    e = np.zeros(0)
    nb = len(bess)
    return ADN(name=name, pcc_bus=pcc_bus, base_kv=12.66, base_mva=S,
               line_from=np.array([0]), line_to=np.array([1]), line_r_pu=np.array([0.01]),
               line_x_pu=np.array([0.01]), line_imax_pu=np.array([np.inf]), v0_pu=1.05, vmin_pu=0.9,
               vmax_pu=1.1, load_p_mw=np.array([[0.0, l] for l in load_mw]),
               load_q_mvar=np.zeros((T, 2)), pv_bus=np.array(pv_bus, np.int64),
               pv_avail_mw=np.array(pv_avail, float).reshape(T, len(pv_bus)),
               bess_bus=np.array([1] * nb, np.int64), bess_emax_mwh=np.array([2.0] * nb),
               bess_emin_mwh=np.array([0.2] * nb), bess_e0_mwh=np.array([1.0] * nb),
               bess_pmax_mw=np.array([1.0] * nb), bess_pmin_mw=np.zeros(nb), bess_eta_c=np.ones(nb),
               bess_eta_d=np.ones(nb), bess_deg_usd_per_mwh=np.array([15.0] * nb) if nb else e,
               prosumer_bus=np.array([1]), platform_usd_per_h=3.0, pv_curtail_usd_per_mwh=curtail_pen)


def _system():
    tn = Transmission(base_mva=100.0, bus_id=np.array([1, 2]), ref_bus=0, load_mw=np.zeros((T, 2)),
                      line_from=np.array([0]), line_to=np.array([1]), line_x_pu=np.array([0.1]),
                      line_rate_mw=np.array([100.0]), gen_bus=np.array([0]), gen_pmin_mw=np.array([0.0]),
                      gen_pmax_mw=np.array([200.0]), gen_c2_usd_per_mw2h=np.array([0.01]),
                      gen_c1_usd_per_mwh=np.array([20.0]), gen_c0_usd_per_h=np.array([5.0]))
    a0 = _adn("A0", 0, 10.0, [3.0, 1.0], [1], [[0.5], [2.5]], [1], 10.0)
    a1 = _adn("A1", 1, 5.0, [2.0, 2.0], [], np.zeros((T, 0)), [], 0.0)
    return System(tn=tn, adns=[a0, a1], dt_h=1.0, fee_grid_usd_per_mwh=30.0, fee_local_usd_per_mwh=5.0,
                  fee_cross_usd_per_mwh=np.array([[0.0, 8.0], [9.0, 0.0]]),
                  pcc_min_mw=np.zeros((2, T)), pcc_max_mw=np.zeros((2, T)))


def _blocks(v, pcc, l, vv, pv, ch, dis, soc, bg, bl, bx, sx, trade):
    z = lambda: v.put(np.zeros((T, 1)))      # noqa: E731 - blocks the metrics never read
    fv = FeederVars(P=z(), Q=z(), l=v.put(l), v=v.put(vv), pcc=v.put(pcc), p_rows=None,
                    line_into=np.array([-1, 0]))
    dv = DERVars(pv=v.put(pv), ch=v.put(ch), dis=v.put(dis), soc=v.put(soc),
                 on_ch=v.put(np.zeros(np.shape(ch))), on_dis=v.put(np.zeros(np.shape(ch))))
    sv = SettleVars(buy_grid=v.put(bg), sell_grid=z(), buy_loc=v.put(bl), sell_loc=z(), buy_x=v.put(bx),
                    sell_x=v.put(sx), role=z(), trade=v.put(trade), m_buy=None, m_sell=None)
    return fv, dv, sv


def _outcome(split=False, deviation=None):
    """ADN A0 (10 MVA): P0 = 2, -1 MW; PV 0.5, 2.0 of 0.5, 2.5 MW; BESS dis 0.6 / ch 0.5 MW.
    ADN A1 (5 MVA): P0 = 2, 2 MW, no DER. Cross trades: A0 -> A1 0.1 MW (t0), A1 -> A0 0.3 MW (t1)."""
    sysm = _system()
    v = Vec()
    f0, d0, s0 = _blocks(v, pcc=[0.2, -0.1], l=[[0.5], [0.2]], vv=[[1.1025, 1.0], [1.1025, 1.21]],
                         pv=[[0.05], [0.2]], ch=[[0.0], [0.05]], dis=[[0.06], [0.0]], soc=[[0.1], [0.15]],
                         bg=[[0.1], [0.0]], bl=[[0.02], [0.0]], bx=[[0.0], [0.03]], sx=[[0.01], [0.0]],
                         trade=[[1.0], [0.0]])
    x0 = v.x
    if split:
        v = Vec()
    f1, d1, s1 = _blocks(v, pcc=[0.4, 0.4], l=[[0.0], [0.0]], vv=[[1.1025, 1.0], [1.1025, 1.0]],
                         pv=np.zeros((T, 0)), ch=np.zeros((T, 0)), dis=np.zeros((T, 0)), soc=np.zeros((T, 0)),
                         bg=[[0.4], [0.4]], bl=[[0.0], [0.0]], bx=[[0.02], [0.0]], sx=[[0.0], [0.06]],
                         trade=[[0.0], [0.0]])
    cross = CrossVars(pairs=np.array([[0, 1], [1, 0]]), x=v.put([[0.01, 0.0], [0.0, 0.03]]),
                      exporter=v.put(np.zeros((T, 2))), base_x=10.0)
    x = v.x
    o = M.Outcome(scheme="hand", system=sysm, T=T, adn_x=[x0 if split else x, x], feeders=[f0, f1],
                  ders=[d0, d1], settle=[s0, s1], gen_mw=np.array([[100.0], [50.0]]),
                  lmp_usd_per_mwh=np.array([[40.0, 50.0], [30.0, 60.0]]), cross=cross, cross_x=x)
    if deviation is not None:
        o.deviation_usd = np.asarray(deviation, float)
    return o


def test_exchange_and_prices():
    o = _outcome()
    assert M.pcc_import_mw(o) == pytest.approx(np.array([[2.0, -1.0], [2.0, 2.0]]), abs=TOL)
    assert M.lmp_pcc_usd_per_mwh(o) == pytest.approx(np.array([[40.0, 30.0], [50.0, 60.0]]), abs=TOL)
    assert M.energy_imported_mwh(o) == pytest.approx([2.0, 4.0], abs=TOL)
    assert M.energy_exported_mwh(o) == pytest.approx([1.0, 0.0], abs=TOL)


def test_costs():
    o = _outcome()
    # (0.01 * 100^2 + 20 * 100 + 5) + (0.01 * 50^2 + 20 * 50 + 5) = 2105 + 1030
    assert M.tso_generation_cost_usd(o) == pytest.approx(3135.0, abs=TOL)
    c = M.dso_cost_usd(o)
    assert c["wholesale"] == pytest.approx([40 * 2 - 30 * 1, 50 * 2 + 60 * 2], abs=TOL)   # 50, 220
    assert c["fee_grid"] == pytest.approx([30 * 1.0, 30 * 4.0], abs=TOL)                 # 1 MWh, 4 MWh
    assert c["fee_local"] == pytest.approx([5 * 0.2, 0.0], abs=TOL)
    assert c["fee_cross"] == pytest.approx([9 * 0.3, 8 * 0.1], abs=TOL)                  # buyer pays fee[seller, buyer]
    assert c["degradation"] == pytest.approx([15 * 1.1, 0.0], abs=TOL)                   # 0.6 + 0.5 MWh
    assert c["platform"] == pytest.approx([3.0, 0.0], abs=TOL)
    assert c["curtailment"] == pytest.approx([10 * 0.5, 0.0], abs=TOL)
    assert c["deviation"] == pytest.approx([0.0, 0.0], abs=TOL)
    assert c["total"] == pytest.approx([50 + 30 + 1 + 2.7 + 16.5 + 3 + 5, 220 + 120 + 0.8], abs=TOL)
    # transfers (wholesale) excluded: 3135 + 58.2 + 120.8
    assert M.total_cost_usd(o) == pytest.approx(3314.0, abs=TOL)


def test_deviation_is_in_the_bill_not_in_the_total():
    o = _outcome(deviation=[7.0, 2.0])
    c = M.dso_cost_usd(o)
    assert c["deviation"] == pytest.approx([7.0, 2.0], abs=TOL)
    assert c["total"] == pytest.approx([108.2 + 7.0, 340.8 + 2.0], abs=TOL)
    assert M.total_cost_usd(o) == pytest.approx(3314.0, abs=TOL)


def test_batteries_pv_and_shares():
    o = _outcome()
    assert M.bess_throughput_mwh(o) == pytest.approx([1.1, 0.0], abs=TOL)
    assert M.bess_cycles(o) == pytest.approx([1.1 / (2 * 2.0), 0.0], abs=TOL)
    assert M.bess_soc_mwh(o) == pytest.approx(np.array([[1.0, 1.5], [0.0, 0.0]]), abs=TOL)
    assert M.pv_energy_mwh(o) == pytest.approx([2.5, 0.0], abs=TOL)
    assert M.curtailment_mwh(o) == pytest.approx([0.5, 0.0], abs=TOL)
    # PV 0.5, 2.0; exports 0, 1 -> used 0.5, 1.0 -> 1.5 / 2.5; A1 has no PV -> NaN
    sc = M.self_consumption(o)
    assert sc[0] == pytest.approx(0.6, abs=TOL) and math.isnan(sc[1])
    # load 3, 1 and imports 2, 0 -> local 1, 1 -> 2 / 4; A1 imports all its load -> 0
    assert M.self_sufficiency(o) == pytest.approx([0.5, 0.0], abs=TOL)


def test_p2p_losses_voltages():
    o = _outcome()
    assert M.p2p_local_mwh(o) == pytest.approx([0.2, 0.0], abs=TOL)
    assert M.p2p_cross_import_mwh(o) == pytest.approx([0.3, 0.1], abs=TOL)
    assert M.p2p_cross_export_mwh(o) == pytest.approx([0.1, 0.3], abs=TOL)
    assert M.p2p_cross_net_import_mw(o) == pytest.approx(np.array([[-0.1, 0.3], [0.1, -0.3]]), abs=TOL)
    # r = 0.01, l = 0.5, 0.2 pu^2 on 10 MVA -> 0.05 + 0.02 MWh
    assert M.losses_mwh(o) == pytest.approx([0.07, 0.0], abs=TOL)
    vmin, vmax = M.voltage_envelope_pu(o)
    assert vmin == pytest.approx(np.array([[1.0, 1.05], [1.0, 1.0]]), abs=TOL)
    assert vmax == pytest.approx(np.array([[1.05, 1.1], [1.05, 1.05]]), abs=TOL)


def test_compute_metrics_system_values_and_per_dso_vectors():
    m = M.compute_metrics(_outcome())
    s = m["system"]
    assert set(s) == set(M.SYSTEM_KEYS) and set(m["per_adn"]) == set(M.ADN_KEYS)
    assert s["total_cost_usd"] == pytest.approx(3314.0, abs=TOL)
    assert s["dso_cost_usd"] == pytest.approx(108.2 + 340.8, abs=TOL)
    assert s["bess_cycles"] == pytest.approx(1.1 / 4.0, abs=TOL)
    assert s["self_consumption"] == pytest.approx(0.6, abs=TOL)          # only A0 has PV
    assert s["self_sufficiency"] == pytest.approx(2.0 / 8.0, abs=TOL)    # (2 + 0) / (4 + 4)
    assert s["p2p_cross_mwh"] == pytest.approx(0.4, abs=TOL)
    assert (s["v_min_pu"], s["v_max_pu"]) == pytest.approx((1.0, 1.1), abs=TOL)
    assert m["per_adn"]["lmp_mean_usd_per_mwh"] == pytest.approx([35.0, 55.0], abs=TOL)
    # one vector per DSO problem (tso-led) gives the same numbers as one joint vector
    split = M.compute_metrics(_outcome(split=True))
    for k in M.ADN_KEYS:
        np.testing.assert_allclose(split["per_adn"][k], m["per_adn"][k], atol=TOL)
