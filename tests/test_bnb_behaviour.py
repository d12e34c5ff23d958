"""Behaviour of the branch-and-bound beyond the reference optima: options validation,
monotone bookkeeping, honest statuses under limits, strict handling of untrusted ECOS
answers, heuristics certification, interruption, presolve, log."""
import io
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference_problems as rpl  # noqa: E402

from tsodso.conic import ProblemBuilder  # noqa: E402
from tsodso.conic import ecos_adapter as ea  # noqa: E402
from tsodso.solver import BnBOptions, solve  # noqa: E402
from tsodso.solver.bounds import BoundTracker, gap  # noqa: E402
from tsodso.solver.presolve import Propagator  # noqa: E402

QUIET = dict(verbose=False)


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("bad", [dict(abs_gap=-1), dict(rel_gap=float("nan")), dict(time_limit=0),
                                 dict(node_limit=0), dict(node_limit=1.5), dict(branching="random"),
                                 dict(complementarity="sos1"), dict(node_selection="bfs"),
                                 dict(presolve="yes"), dict(retries=-1), dict(int_tol=0)])
def test_options_rejected_with_the_name(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        BnBOptions(**bad)


def test_options_unknown_and_coerce():
    with pytest.raises(ValueError, match="unknown"):
        BnBOptions.coerce({"gap": 1e-3})
    with pytest.raises(TypeError):
        BnBOptions.coerce(3)
    o = BnBOptions.coerce({"abs_gap": 0})
    assert o.abs_gap == 0.0 and isinstance(o.abs_gap, float)
    assert BnBOptions().abs_gap == 1e-6 and BnBOptions().rel_gap == 1e-4
    assert "complementarity" in BnBOptions.describe()


# ------------------------------------------------------------------ bounds
def test_gap_definition_and_monotone_tracker():
    assert gap(10.0, 9.0) == (1.0, 0.1)
    assert gap(0.5, 0.0) == (0.5, 0.5)          # denominator max(1, |incumbent|)
    assert gap(math.inf, 0.0) == (math.inf, math.inf)
    t = BoundTracker(1e-6, 1e-4)
    t.update_bound(1.0)
    t.update_bound(0.5)                          # never decreases
    t.update_bound(float("nan"))                 # ignored
    assert t.bound == 1.0
    assert t.offer(5.0, np.zeros(1)) and not t.offer(6.0, np.zeros(1))
    assert t.incumbent == 5.0
    t.update_bound(7.0)                          # capped at the incumbent
    assert t.bound == 5.0 and t.converged()


@pytest.mark.parametrize("build", [rpl.jeroslow(7), rpl.knapsack(rpl.P02)[0], rpl.best_subset],
                         ids=["jeroslow7", "p02", "best_subset"])
def test_histories_monotone_and_time_stamped(build):
    res = solve(build(), dict(rpl.TEST_OPTIONS))
    assert res.status == "optimal"
    bt = [t for t, _ in res.bound_history]
    bv = [v for _, v in res.bound_history]
    it = [t for t, _ in res.incumbent_history]
    iv = [v for _, v in res.incumbent_history]
    assert bt == sorted(bt) and it == sorted(it)
    assert all(b2 >= b1 for b1, b2 in zip(bv, bv[1:]))
    assert all(i2 < i1 for i1, i2 in zip(iv, iv[1:]))
    assert bv[-1] <= iv[-1] + 1e-12
    assert res.seconds >= res.ecos_seconds >= 0 and math.isclose(res.other_seconds, res.seconds - res.ecos_seconds)


# ------------------------------------------------------------------ limits
def test_node_limit_never_claims_optimal():
    res = solve(rpl.jeroslow(7)(), dict(QUIET, node_limit=1))
    assert res.status == "node_limit" and res.stop_reason == "node_limit" and res.nodes == 1
    assert res.best_bound <= 1.0
    if res.x is not None:
        assert res.abs_gap > 1e-6


def _jeroslow_point(n):
    def heur(prob, x, lb, ub):
        y = np.zeros(prob.n)
        y[0] = 1.0
        y[1: 1 + (n - 1) // 2] = 1.0
        return y
    return heur


def test_time_limit_returns_incumbent():
    n = 41                              # needs ~2^20 nodes: far beyond 0.5 s
    res = solve(rpl.jeroslow(n)(), dict(QUIET, time_limit=0.5), heuristics=[_jeroslow_point(n)])
    assert res.status == "time_limit" and res.stop_reason == "time_limit"
    assert res.x is not None and res.objective == 1.0
    assert res.best_bound <= 1.0 and res.seconds < 5


def test_callback_and_ctrl_c_return_incumbent():
    n = 41
    stop_after = lambda info: info["nodes"] >= 5          # noqa: E731
    res = solve(rpl.jeroslow(n)(), QUIET, heuristics=[_jeroslow_point(n)], callback=stop_after)
    assert res.status == "interrupted" and res.nodes == 5 and res.objective == 1.0

    def ctrl_c(info):
        if info["nodes"] >= 3:
            raise KeyboardInterrupt
    res = solve(rpl.jeroslow(n)(), QUIET, heuristics=[_jeroslow_point(n)], callback=ctrl_c)
    assert res.status == "interrupted" and res.x is not None


# ------------------------------------------------------------------ untrusted ECOS answers
def _patch_ecos(monkeypatch, fake_status, when):
    real = ea.solve
    calls = {"n": 0}

    def fake(prob, lb=None, ub=None, **kw):
        sol = real(prob, lb, ub, **kw)
        calls["n"] += 1
        if when(calls["n"], lb, ub):
            sol.status = fake_status
        return sol
    monkeypatch.setattr(ea, "solve", fake)
    return calls


def test_inaccurate_answer_is_retried(monkeypatch):
    calls = _patch_ecos(monkeypatch, ea.OPTIMAL_INACCURATE, lambda k, lb, ub: k == 1)
    res = solve(rpl.knapsack(rpl.P01)[0](), dict(rpl.TEST_OPTIONS))
    assert res.status == "optimal" and res.objective == -309.0
    assert res.inaccurate_solves == 1 and calls["n"] == res.node_solves


def test_untrusted_root_is_kept_open_with_parent_bound(monkeypatch):
    prob = rpl.knapsack(rpl.P01)[0]()
    root = (prob.lb.copy(), prob.ub.copy())
    is_root = lambda k, lb, ub: np.array_equal(lb, root[0]) and np.array_equal(ub, root[1])  # noqa: E731
    _patch_ecos(monkeypatch, ea.OPTIMAL_INACCURATE, is_root)
    res = solve(prob, dict(rpl.TEST_OPTIONS))
    # the root's answer was never trusted: every attempt counted, the node was split, not pruned
    assert res.inaccurate_solves == 1 + res.options.retries
    assert res.status == "optimal" and res.objective == -309.0


def test_all_untrusted_is_unresolved_never_optimal(monkeypatch):
    _patch_ecos(monkeypatch, ea.OPTIMAL_INACCURATE, lambda k, lb, ub: True)
    prob = rpl.best_subset()                     # continuous variables: leaves still call ECOS
    res = solve(prob, dict(rpl.TEST_OPTIONS))
    assert res.status == "unresolved" and res.unresolved_nodes > 0
    assert res.best_bound == -math.inf and res.x is None


def _parity_with_continuous():
    pb = ProblemBuilder()
    x = pb.binary("x", 3)
    y = pb.var("y", 1, 0.0, 1.0)
    pb.add_cost(y, [1.0])
    pb.add_eq("parity", [0, 0, 0, 0], [x[0], x[1], x[2], y[0]], [2.0, 2.0, 2.0, 0.0], [3.0])
    return pb.build()


def test_infeasible_inaccurate_never_prunes(monkeypatch):
    # presolve off: propagation alone proves this one infeasible (a valid proof, no ECOS)
    assert solve(_parity_with_continuous(), dict(QUIET, presolve=False)).status == "infeasible"
    _patch_ecos(monkeypatch, ea.INFEASIBLE_INACCURATE, lambda k, lb, ub: True)
    res = solve(_parity_with_continuous(), dict(QUIET, presolve=False))
    assert res.status == "unresolved" and res.status != "infeasible"


# ------------------------------------------------------------------ heuristics
def test_user_heuristic_points_are_certified():
    prob = rpl.knapsack(rpl.P01)[0]()
    bad = lambda p, x, lb, ub: np.ones(p.n)          # noqa: E731  (violates the capacity)
    good = lambda p, x, lb, ub: np.array(rpl.P01["x"], float)  # noqa: E731  (the optimum)

    def broken(p, x, lb, ub):
        raise RuntimeError("user bug")
    res = solve(prob, dict(rpl.TEST_OPTIONS, dive_rounds=0), heuristics=[bad, broken, good])
    assert res.status == "optimal" and res.objective == -309.0
    assert res.rejected_candidates >= 1
    assert res.incumbent_history[0][1] == -309.0      # found by `good` at the root


# ------------------------------------------------------------------ search variants
@pytest.mark.parametrize("opts", [dict(branching="most_fractional"), dict(node_selection="best_bound"),
                                  dict(node_selection="depth_first"), dict(presolve=False),
                                  dict(branch_order="pairs_first"), dict(dive_rounds=0, heuristic_freq=0)])
def test_search_variants_same_optimum(opts):
    for rp in rpl.library():
        if rp.status != "optimal":
            continue
        for mode in rp.modes:
            res = solve(rp.build(mode), dict(rpl.TEST_OPTIONS, complementarity=mode, **opts))
            assert res.status == "optimal", rp.name
            assert abs(res.objective - rp.optimum) <= rpl.TOL * max(1, abs(rp.optimum)), rp.name


def test_branch_priority_is_respected():
    prob = rpl.knapsack(rpl.P01)[0]()
    prio = np.zeros(prob.n)
    prio[9] = 1.0
    prob.hints.branch_priority = prio
    res = solve(prob, dict(rpl.TEST_OPTIONS))
    assert res.status == "optimal" and res.objective == -309.0
    prob.hints.branch_priority = np.zeros(3)
    with pytest.raises(ValueError, match="branch_priority"):
        solve(prob, dict(rpl.TEST_OPTIONS))


def test_pairs_need_nonnegative_bounds():
    prob = rpl.bard_blp("branch")
    prob.lb[prob.hints.complementarity_pairs[0, 0]] = -1.0
    with pytest.raises(ValueError, match="lb >= 0"):
        solve(prob, QUIET)


# ------------------------------------------------------------------ presolve
def test_propagation_detects_infeasibility_and_tightens():
    p = rpl.ecos166_infeasible()
    ok, _, _ = Propagator(p).propagate(p.lb, p.ub)
    assert not ok
    pb = ProblemBuilder()
    x = pb.binary("x", 2)
    y = pb.var("y", 1, 0.0, 10.0)
    pb.add_leq("c", [0, 0, 0], [x[0], x[1], y[0]], [2.0, 3.0, 1.0], [4.0])
    pb.add_eq("e", [0, 0], [x[1], y[0]], [1.0, 1.0], [0.5])
    p = pb.build()
    ok, lb, ub = Propagator(p).propagate(p.lb, p.ub, continuous=True)
    assert ok and ub[1] == 0.0                          # x1 + y = 0.5 forces the binary x1 to 0
    assert 0.5 - 1e-5 <= lb[2] <= 0.5 <= ub[2] <= 0.5 + 1e-5
    ok, lb2, ub2 = Propagator(p).propagate(p.lb, p.ub)  # continuous bounds not returned by default
    assert ok and ub2[1] == 0.0 and lb2[2] == 0.0 and ub2[2] == 10.0
    # the parity problem is not caught by propagation, only by the tree
    p = rpl.infeasible_parity()
    assert Propagator(p).propagate(p.lb, p.ub)[0]


# ------------------------------------------------------------------ log
def test_log_goes_to_the_given_stream():
    buf = io.StringIO()
    res = solve(rpl.jeroslow(7)(), dict(log_stream=buf, log_every_nodes=10))
    out = buf.getvalue()
    assert "best bound" in out and "status        : optimal" in out
    assert out.count("\n") > 5 and res.status == "optimal"


def test_ecos_false_unboundedness_is_not_trusted():
    """Found while building the library: on the node x1 >= 4, x2 >= 8 of ecos_pr174 (primal
    infeasible) ECOS 2.0.14 exits 2 "dual infeasible" at tolerance 1e-8 and 1 "primal
    infeasible" at 1e-7. The node solver retries; the search ends optimal."""
    prob = rpl.ecos_pr174()
    sol = ea.solve(prob, np.array([0, 0, 4, 8.0]), np.full(4, np.inf))
    assert sol.status in (ea.UNBOUNDED, ea.INFEASIBLE)     # ECOS-version dependent
    res = solve(prob, dict(rpl.TEST_OPTIONS, presolve=False))
    assert res.status == "optimal" and res.objective == -170.0
    if sol.status == ea.UNBOUNDED:
        assert res.inaccurate_solves >= 1
