"""Settlement of every bus's net position: grid, local P2P pool, cross-ADN P2P (docs/model.md s.3).

Per ADN, hour t, bus j >= 1 (ADN pu; net injection p_j = PV + discharge - charge - load):

    s_grid_j - b_grid_j + s_loc_j - b_loc_j + s_x_j - b_x_j = p_j      (P2P terms: prosumers only)
    role z_j (prosumers; 1 = seller):  b_grid + b_loc + b_x <= Mbuy_j (1 - z_j),
                                       s_grid + s_loc + s_x <= Msell_j z_j
    platform w_j (prosumers, if the platform cost > 0):  s_loc + b_loc + s_x + b_x <= M_j w_j
    local pool:  sum_j s_loc_j = sum_j b_loc_j

Mbuy = load + BESS charge limit at j, Msell = PV availability + BESS discharge limit at j:
with the role fixed, the one non-zero side equals |p_j|, which these bound (valid big-M).

Cross-ADN (system level, MW / S_x with S_x the first ADN's base): pair trades x_{a->a'} >= 0,
    sum_j s_x_j(a) S_a = S_x sum_{a'} x_{a->a'},    sum_j b_x_j(a) S_a = S_x sum_{a'} x_{a'->a}
    exporter y_a (1 = exporter):  sum_{a'} x_{a->a'} <= Xexp_a y_a,  sum_{a'} x_{a'->a} <= Ximp_a (1 - y_a)
with Xexp_a, Ximp_a the sums of the prosumers' Msell, Mbuy (in S_x pu).
Non-prosumer buses settle with the grid only (no binaries: buying pays a fee, selling earns
none, so no optimum buys and sells at once while the grid fee is positive).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import ADN
from .common import Rows, add_eq_rows, add_leq_rows
from .der import DERVars


@dataclass
class SettleVars:
    buy_grid: np.ndarray   # (T, nbus - 1), bus j at column j - 1
    sell_grid: np.ndarray
    buy_loc: np.ndarray    # (T, npros)
    sell_loc: np.ndarray
    buy_x: np.ndarray
    sell_x: np.ndarray
    role: np.ndarray       # (T, npros) binary, 1 = seller
    trade: np.ndarray      # (T, npros) binary (empty (T, 0) if no platform cost)
    m_buy: np.ndarray      # (T, npros) pu
    m_sell: np.ndarray     # (T, npros) pu


def _at_bus(n_bus, bus, values):
    """Sum per-unit values (T, n) located at `bus` (n,) into (T, n_bus)."""
    out = np.zeros((values.shape[0], n_bus))
    np.add.at(out.T, np.asarray(bus, np.int64), values.T)
    return out


def add_settlement(bld: ProblemBuilder, adn: ADN, der: DERVars, T: int, prefix: str) -> SettleVars:
    S, nb = adn.base_mva, adn.n_bus
    pros = np.asarray(adn.prosumer_bus, np.int64)
    npros = pros.size
    load = np.asarray(adn.load_p_mw, float)[:T] / S
    pv_av = _at_bus(nb, adn.pv_bus, np.asarray(adn.pv_avail_mw, float)[:T] / S)
    pmax = np.broadcast_to(np.asarray(adn.bess_pmax_mw, float) / S, (T, adn.bess_bus.size))
    bess_max = _at_bus(nb, adn.bess_bus, pmax)
    # largest net position of a prosumer (pu): a seller sells at most PV + BESS power - own
    # load, a buyer buys at most own load + BESS charging power (PV may be curtailed to 0)
    m_sell = np.maximum(pv_av + bess_max - load, 0.0)[:, pros]
    m_buy = (load + bess_max)[:, pros]
    # local-pool volumes also cannot exceed what the other prosumers can take or give
    others = lambda m: m.sum(axis=1, keepdims=True) - m          # noqa: E731
    m_buy_loc = np.minimum(m_buy, others(m_sell))
    m_sell_loc = np.minimum(m_sell, others(m_buy))

    bg = bld.var(f"{prefix}.buy_grid_pu", (T, nb - 1), 0.0, np.inf)
    sg = bld.var(f"{prefix}.sell_grid_pu", (T, nb - 1), 0.0, np.inf)
    bl = bld.var(f"{prefix}.buy_local_pu", (T, npros), 0.0, m_buy_loc)
    sl = bld.var(f"{prefix}.sell_local_pu", (T, npros), 0.0, m_sell_loc)
    bx = bld.var(f"{prefix}.buy_cross_pu", (T, npros), 0.0, m_buy)
    sx = bld.var(f"{prefix}.sell_cross_pu", (T, npros), 0.0, m_sell)
    role = bld.binary(f"{prefix}.p2p_role", (T, npros))
    with_platform = adn.platform_usd_per_h > 0
    trade = bld.binary(f"{prefix}.p2p_trade", (T, npros if with_platform else 0))

    tt = np.arange(T)[:, None]
    # position rows, row t*(nb-1) + j-1:  s_grid - b_grid + P2P - PV - dis + ch = -load
    pos = Rows(T * (nb - 1))
    rj = lambda bus: tt * (nb - 1) + (np.asarray(bus, np.int64) - 1)[None, :]
    allb = np.arange(1, nb)
    pos.add(rj(allb), sg, 1.0); pos.add(rj(allb), bg, -1.0)
    pos.add(rj(pros), sl, 1.0); pos.add(rj(pros), bl, -1.0)
    pos.add(rj(pros), sx, 1.0); pos.add(rj(pros), bx, -1.0)
    if adn.pv_bus.size:
        pos.add(rj(adn.pv_bus), der.pv, -1.0)
    if adn.bess_bus.size:
        pos.add(rj(adn.bess_bus), der.dis, -1.0)
        pos.add(rj(adn.bess_bus), der.ch, 1.0)
    pos.rhs[:] = -load[:, 1:].reshape(-1)
    add_eq_rows(bld, f"{prefix}.p2p_position", pos)

    if npros:
        m = T * npros
        r = tt * npros + np.arange(npros)[None, :]
        gcol = pros - 1
        rl = Rows((6 if with_platform else 2) * m)
        for c in (bg[:, gcol], bl, bx):
            rl.add(r, c, 1.0)
        rl.add(r, role, m_buy)
        rl.rhs[:m] = m_buy.reshape(-1)                     # buys <= Mbuy (1 - z)
        for c in (sg[:, gcol], sl, sx):
            rl.add(m + r, c, 1.0)
        rl.add(m + r, role, -m_sell)                       # sells <= Msell z
        if with_platform:
            # P2P buys <= (largest P2P buy) trade, P2P sells <= (largest P2P sell) trade:
            # one row per side, tighter than one row on the sum with max(Mbuy, Msell)
            for c in (bl, bx):
                rl.add(2 * m + r, c, 1.0)
            rl.add(2 * m + r, trade, -m_buy)
            for c in (sl, sx):
                rl.add(3 * m + r, c, 1.0)
            rl.add(3 * m + r, trade, -m_sell)
            # net forms, valid for both roles and much tighter when the battery is idle:
            #   buyer:  P2P buys <= load + ch - PV - dis <= load + ch
            #           -> bl + bx - ch <= load * trade   (trade = 0: bl = bx = 0, -ch <= 0)
            #   seller: P2P sells <= PV + dis - ch - load <= (PVavail - load)_+ + dis
            #           -> sl + sx - dis <= (PVavail - load)_+ * trade
            # (measured: SCIP closes the root gap of these fixed charges with cuts; without
            # them the relaxation pays the platform cost pro rata of the BESS-inflated M)
            for c in (bl, bx):
                rl.add(4 * m + r, c, 1.0)
            rl.add(4 * m + r, trade, -load[:, pros])
            for c in (sl, sx):
                rl.add(5 * m + r, c, 1.0)
            rl.add(5 * m + r, trade, -np.maximum(pv_av - load, 0.0)[:, pros])
            for i, bus in enumerate(np.asarray(adn.bess_bus, np.int64)):   # every BESS at the bus
                jj = np.flatnonzero(pros == bus)
                if jj.size:
                    rl.add(4 * m + r[:, jj[0]], der.ch[:, i], -1.0)
                    rl.add(5 * m + r[:, jj[0]], der.dis[:, i], -1.0)
        add_leq_rows(bld, f"{prefix}.p2p_role", rl)
        if with_platform:
            add_platform_pv_cuts(bld, adn, der, bl, bx, trade, load, pv_av, prefix)

        pool = Rows(T)
        pool.add(np.repeat(np.arange(T), npros), sl.reshape(-1), 1.0)
        pool.add(np.repeat(np.arange(T), npros), bl.reshape(-1), -1.0)
        add_eq_rows(bld, f"{prefix}.p2p_pool", pool)
    return SettleVars(bg, sg, bl, sl, bx, sx, role, trade, m_buy, m_sell)


def add_platform_pv_cuts(bld: ProblemBuilder, adn: ADN, der: DERVars, bl, bx, trade, load, pv_av, prefix: str,
                         eps: float = 1e-9) -> int:
    """The platform rows of a prosumer with PV below its load (docs/model.md s.3, "Platform cuts").

    For prosumer j at hour t with 0 < A < L (A = PV available at j, L = j's load, pu):

        b_loc_j + b_x_j + pv_j - ch_j - (L - A) w_j <= A        (pv_j, ch_j: all PV / BESS at j)

    Valid for every (role, platform) choice: w = 0 gives no P2P buys and pv - ch <= A; a
    trading buyer buys at most its deficit L + ch - pv - dis, so the left side is <= L; a
    trading seller buys nothing and pv - ch <= A < L. It is the convex hull, over w, of
    "P2P buys <= deficit" (w = 1) and "no P2P buys, pv <= A" (w = 0), with dis >= 0 and
    ch >= 0 relaxed: the relaxation can no longer buy P2P at full PV output while paying the
    platform cost only pro rata of the load (the net-form row bl + bx - ch <= L w allows it).
    Measured on the default case (5 ADNs x 24 h, 96 rows): the LP relaxation of the OA master
    (tangents at one point) 52,409.06 -> 52,443.28 $, 34.2 of its 55.0 $ gap to the incumbent.
    Where A = 0 the row is the net-form row already; where A >= L the same argument needs the
    role binary (+ (A - L) z on the right) and, measured, adds nothing.
    Returns the number of rows added (an inequality block `{prefix}.p2p_platform_pv`)."""
    pros = np.asarray(adn.prosumer_bus, np.int64)
    T = bl.shape[0]
    pv_bus = np.asarray(adn.pv_bus, np.int64)
    bess_bus = np.asarray(adn.bess_bus, np.int64)
    A = pv_av[:, pros]                                  # (T, npros) PV available at the prosumer
    L = load[:, pros]
    tt, jj = np.nonzero((A > eps) & (A < L - eps))
    m = tt.size
    rows = Rows(m)
    if m:
        r = np.arange(m)
        rows.add(r, bl[tt, jj], 1.0)
        rows.add(r, bx[tt, jj], 1.0)
        for i, bus in enumerate(pv_bus):
            k = np.flatnonzero(pros[jj] == bus)
            rows.add(r[k], der.pv[tt[k], i], 1.0)
        for i, bus in enumerate(bess_bus):
            k = np.flatnonzero(pros[jj] == bus)
            rows.add(r[k], der.ch[tt[k], i], -1.0)
        rows.add(r, trade[tt, jj], -(L - A)[tt, jj])
        rows.rhs[:] = A[tt, jj]
        add_leq_rows(bld, f"{prefix}.p2p_platform_pv", rows)
    return m


@dataclass
class CrossVars:
    pairs: np.ndarray     # (npairs, 2) ADN indices (seller a, buyer a')
    x: np.ndarray         # (T, npairs) trade a -> a', pu on base_x
    exporter: np.ndarray  # (T, A) binary
    base_x: float


def add_cross_adn(bld: ProblemBuilder, adns: List[ADN], settle: List[SettleVars], T: int) -> CrossVars:
    A = len(adns)
    pairs = np.array([(a, b) for a in range(A) for b in range(A) if a != b], np.int64).reshape(-1, 2)
    base_x = adns[0].base_mva
    x = bld.var("p2p.cross_p_pu", (T, pairs.shape[0]), 0.0, np.inf)
    y = bld.binary("p2p.cross_exporter", (T, A))
    tt = np.arange(T)[:, None]
    bal = Rows(2 * T * A)    # rows: sells of a (t*A + a), buys of a (T*A + t*A + a)
    lim = Rows(2 * T * A)
    for a, (adn, sv) in enumerate(zip(adns, settle)):
        k = adn.base_mva / base_x
        np_ = sv.sell_x.shape[1]
        bal.add(np.repeat(np.arange(T) * A + a, np_), sv.sell_x.reshape(-1), k)
        bal.add(np.repeat(T * A + np.arange(T) * A + a, np_), sv.buy_x.reshape(-1), k)
        out = np.flatnonzero(pairs[:, 0] == a)
        inn = np.flatnonzero(pairs[:, 1] == a)
        bal.add(tt * A + a, x[:, out], -1.0)
        bal.add(T * A + tt * A + a, x[:, inn], -1.0)
        xexp = sv.m_sell.sum(axis=1) * k
        ximp = sv.m_buy.sum(axis=1) * k
        lim.add(tt * A + a, x[:, out], 1.0)
        lim.add(np.arange(T) * A + a, y[:, a], -xexp)
        lim.add(T * A + tt * A + a, x[:, inn], 1.0)
        lim.add(T * A + np.arange(T) * A + a, y[:, a], ximp)
        lim.rhs[T * A + np.arange(T) * A + a] = ximp
    add_eq_rows(bld, "p2p.cross_balance", bal)
    add_leq_rows(bld, "p2p.cross_role", lim)
    return CrossVars(pairs=pairs, x=x, exporter=y, base_x=base_x)
