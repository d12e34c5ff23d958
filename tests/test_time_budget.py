"""Time budgets of ECOS solves (conic/ecos_adapter.py) and the time limit over the whole
branch-and-bound (solver/relax.py, solver/bnb.py): a capped solve is untrusted, a solve that
cannot fit is not started, an ample budget changes nothing, and a search whose root cannot be
solved in time ends "time_limit" with no bound and no node.

No timing is asserted: the budget is steered through `iter_seconds` (the caller's estimate of
seconds per ECOS iteration), so the caps are exact functions of the inputs."""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference_problems as rpl  # noqa: E402

from tsodso.conic import ecos_adapter as ea  # noqa: E402
from tsodso.conic.problem import ProblemBuilder  # noqa: E402
from tsodso.solver import BnBOptions  # noqa: E402
from tsodso.solver.bnb import Search  # noqa: E402
from tsodso.solver.relax import MIN_ITERS, NodeSolver  # noqa: E402


def fermat(m=40, k=3, seed=0):
    """min sum_i ||x - p_i||  (Fermat-Weber point of m random points in R^k), x in [-10, 10]^k.
    ECOS needs 11 iterations at its default tolerances (more than the caps used below)."""
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(m, k))
    pb = ProblemBuilder()
    x = pb.var("x", k, lb=-10.0, ub=10.0)
    t = pb.var("t", m, lb=0.0)
    pb.add_cost(t, np.ones(m))
    rows, cols, vals, off = [], [], [], []
    for i in range(m):
        base = i * (k + 1)
        rows += [base] + [base + 1 + j for j in range(k)]
        cols += [t[i]] + [x[j] for j in range(k)]
        vals += [1.0] * (k + 1)
        off += [0.0] + list(-P[i])
    pb.add_cones("d", rows, cols, vals, off, k + 1)
    return pb.build()


def test_ample_budget_is_the_same_solve():
    p = fermat()
    free = ea.solve(p)
    assert free.status == ea.OPTIMAL and free.iterations > 8
    # known speed, budget for far more than max_iters: the identical ECOS call
    same = ea.solve(p, time_budget=1e6, iter_seconds=1e-3)
    assert same.status == ea.OPTIMAL and same.iterations == free.iterations
    assert same.objective == free.objective and same.max_iters_cap == 100
    # unknown speed: a probe first (1 iteration), then the same call
    probed = ea.solve(p, time_budget=1e6)
    assert probed.objective == free.objective and probed.iterations == free.iterations
    assert probed.iter_seconds > 0 and math.isfinite(probed.iter_seconds)


def test_capped_solve_is_untrusted_time_budget():
    p = fermat()
    # 1 s at 0.1 s per iteration: floor(0.85 * 1 / 0.1) = 8 iterations at most (apply's time aside)
    s = ea.solve(p, time_budget=1.0, iter_seconds=0.1)
    assert s.max_iters_cap is not None and s.max_iters_cap <= int(ea.BUDGET_SAFETY * 1.0 / 0.1)
    assert s.iterations == s.max_iters_cap
    assert s.status == ea.TIME_BUDGET and not s.ok


def test_budget_below_min_iters_does_not_start_ecos(monkeypatch):
    p = fermat()
    called = []
    real = ea.ecos.solve
    monkeypatch.setattr(ea.ecos, "solve", lambda *a, **k: called.append(1) or real(*a, **k))
    s = ea.solve(p, time_budget=1.0, iter_seconds=0.1, min_iters=20)
    assert s.status == ea.TIME_BUDGET and s.x is None and s.iterations == 0 and not called
    s = ea.solve(p, time_budget=0.0)               # spent before the call: no probe either
    assert s.status == ea.TIME_BUDGET and not called


def test_node_solver_deadline_and_no_retry():
    p = fermat()
    opts = BnBOptions(verbose=False)
    ns = NodeSolver(p, opts, deadline=-math.inf)   # already past
    r = ns.solve(p.lb.copy(), p.ub.copy())
    assert r.status == "time_limit" and r.attempts == 0 and ns.calls == 0 and math.isnan(r.bound)
    # far deadline, measured speed so slow that the cap is below MIN_ITERS: not started
    import time
    ns = NodeSolver(p, opts, deadline=time.perf_counter() + 1.0)
    ns.iter_seconds = 1.0 / (MIN_ITERS - 1)
    r = ns.solve(p.lb.copy(), p.ub.copy())
    assert r.status == "time_limit" and r.attempts == 0
    # enough for MIN_ITERS but not for the 11 the problem needs: one capped attempt, no retry
    ns = NodeSolver(p, opts, deadline=time.perf_counter() + 1.0)
    ns.iter_seconds = 1.0 / 12.5
    r = ns.solve(p.lb.copy(), p.ub.copy())
    assert r.status == "time_limit" and r.attempts == 1 and r.ecos_statuses == (ea.TIME_BUDGET,)
    # no deadline: untouched behaviour
    r = NodeSolver(p, opts).solve(p.lb.copy(), p.ub.copy())
    assert r.status == "optimal" and r.attempts == 1


def test_search_whose_root_cannot_fit_ends_time_limit_without_bound():
    prob = rpl.knapsack(rpl.P01)[0]()
    s = Search(prob, dict(rpl.TEST_OPTIONS, time_limit=5.0))
    s.solver.iter_seconds = 10.0                   # one iteration would outlast the limit
    res = s.run()
    assert res.status == "time_limit" and res.stop_reason == "time_limit"
    assert res.nodes == 0 and res.best_bound == -math.inf and res.x is None
    assert res.node_solves == 0 and res.seconds < 5.0


@pytest.mark.parametrize("limit", [math.inf, 60.0])
def test_search_with_ample_limit_same_optimum(limit):
    res = Search(rpl.knapsack(rpl.P01)[0](), dict(rpl.TEST_OPTIONS, time_limit=limit)).run()
    assert res.status == "optimal" and res.objective == -309.0
