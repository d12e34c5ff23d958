"""HDF5 warm-start cache (data/cache.py, schemes/warm.py): a hit gives the same answer as the
computation, entries of another writer version or format and corrupted files are refused with
one line and recomputed, keys change with the data."""
import numpy as np
import pytest

from tsodso.data import load_system
from tsodso.data.cache import FORMAT, WarmCache, content_hash
from tsodso.schemes.warm import cached_analysis


def test_content_hash_is_canonical_and_sensitive():
    a = {"x": np.arange(3.0), "y": [1, "s", None], "z": 0.1}
    assert content_hash(a) == content_hash({"z": 0.1, "y": [1, "s", None], "x": np.arange(3.0)})
    assert content_hash(a) != content_hash({**a, "z": np.nextafter(0.1, 1)})
    assert content_hash(np.arange(3.0)) != content_hash(np.arange(3))          # dtype counts
    assert content_hash(np.zeros((2, 3))) != content_hash(np.zeros((3, 2)))   # shape counts
    with pytest.raises(TypeError):
        content_hash(object())


def test_round_trip_and_refusals(tmp_path, caplog):
    c = WarmCache(tmp_path)
    key = content_hash("k")
    assert c.get("thing", key) is None
    c.put("thing", key, {"a": np.arange(5, dtype=np.int8), "v": 1.5, "n": 3, "s": "x"})
    e = c.get("thing", key)
    assert e["a"].dtype == np.int8 and e["a"].tolist() == [0, 1, 2, 3, 4]
    assert e["v"] == 1.5 and e["n"] == 3 and e["s"] == "x"
    caplog.set_level("WARNING", logger="tsodso.data.cache")
    caplog.clear()

    def lines():
        out = [r.getMessage() for r in caplog.records]
        caplog.clear()
        return out
    # another writer version: refused with one line, nothing returned
    import h5py
    f = c.file("thing", key)
    with h5py.File(f, "a") as h:
        h.attrs["tsodso_writer_version"] = "0.0.0-other"
    assert c.get("thing", key) is None
    err = lines()
    assert len(err) == 1 and "refused" in err[0] and "0.0.0-other" in err[0]
    # another format
    c.put("thing", key, {"a": np.arange(2)})
    with h5py.File(f, "a") as h:
        h.attrs["tsodso_cache_format"] = "tsodso-warmcache/0"
    assert c.get("thing", key) is None
    err = lines()
    assert len(err) == 1 and FORMAT in err[0]
    # corrupted (truncated) file
    c.put("thing", key, {"a": np.arange(1000)})
    data = open(f, "rb").read()
    open(f, "wb").write(data[: len(data) // 3])
    assert c.get("thing", key) is None
    err = lines()
    assert len(err) == 1 and "unreadable" in err[0]
    assert c.stats()["refused"] == 3
    # recomputed entries overwrite the bad file
    c.put("thing", key, {"a": np.arange(3)})
    assert c.get("thing", key)["a"].tolist() == [0, 1, 2]
    # disabled: no reads, no writes
    off = WarmCache(tmp_path / "off", enabled=False)
    assert off.put("thing", key, {"a": np.arange(2)}) is None and off.get("thing", key) is None
    assert not (tmp_path / "off").exists()


def test_cache_hit_gives_the_same_answer(tmp_path):
    from tsodso.schemes.dso_led import solve_dso_led
    system = load_system(adns=1, hours=2, seed=0, start=17)
    c = WarmCache(tmp_path)
    pcc1, pres1, info1 = cached_analysis(system, 2, c)
    assert info1["pcc_box"] == "computed" and info1["kkt_presolve"] == "computed"
    pcc2, pres2, info2 = cached_analysis(system, 2, c)
    assert info2 == {"pcc_box": "hit", "kkt_presolve": "hit"}
    for a, b in zip(pcc1[:2] + pcc1[3:], pcc2[:2] + pcc2[3:]):
        np.testing.assert_array_equal(a, b)
    for f in ("delta_pu", "dual_max", "slack_each", "slack_line_max", "slack_gen_max"):
        np.testing.assert_array_equal(getattr(pcc1[2], f), getattr(pcc2[2], f))
    assert pcc1[2].cost_gap == pcc2[2].cost_gap
    np.testing.assert_array_equal(pres1[0], pres2[0])
    assert pres1[1] == pres2[1]
    # another instance (seed) has other keys: no hit
    _, _, info3 = cached_analysis(load_system(adns=1, hours=2, seed=1, start=17), 2, c)
    assert info3["pcc_box"] == "computed" and info3["kkt_presolve"] == "computed"
    # end to end: without cache, first run with cache (computes), second run (all hits) agree
    q = dict(time_limit=120, options={"verbose": False})
    r0 = solve_dso_led(system, **q)
    c2 = WarmCache(tmp_path / "e2e")
    r1 = solve_dso_led(system, cache=c2, **q)
    r2 = solve_dso_led(system, cache=c2, **q)
    assert r1.warm["kkt_presolve"] == "computed" and r1.warm["incumbent"] == "none"
    assert r2.warm["kkt_presolve"] == "hit" and r2.warm["incumbent"] == "hit"
    assert r0.status == r1.status == r2.status == "optimal"
    assert r0.size == r1.size == r2.size
    np.testing.assert_array_equal(r0.problem.lb, r2.problem.lb)
    np.testing.assert_array_equal(r0.problem.ub, r2.problem.ub)
    for r in (r1, r2):
        assert abs(r.objective_usd - r0.objective_usd) <= 1e-4 * max(1.0, abs(r0.objective_usd))


def test_pcc_box_shrink_budget_is_per_hour():
    """1 ADN x 24 h seed 1 needs 43 shrinks over hours 16-21; a budget of 40 shared by all hours
    refused it ('hour 21 ... robust slack -0.00365 pu'), 40 per hour certifies it."""
    from tsodso.analysis.certified_box import certified_pcc_bounds
    from tsodso.formulation.tn import TNData
    s = load_system(adns=1, hours=24, seed=1)
    lo, hi, bounds, scale, _ = certified_pcc_bounds(s, TNData.from_tn(s.tn, 24), 24)
    assert np.all(bounds.delta_pu > 0)                  # strictly feasible follower, every hour
    assert np.all(scale[:16] == 1.0) and 0.9 ** 40 <= scale.min() < 0.25
    assert np.all(lo <= hi) and np.all(lo >= s.pcc_min_mw - 1e-9) and np.all(hi <= s.pcc_max_mw + 1e-9)


# ------------------------------------------------------------------ nested instances, per-ADN seeds
def _same_adn(a, b):
    for k, v in vars(a).items():
        w = getattr(b, k)
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, w)
        else:
            assert v == w, k


def test_nested_instances_contain_the_smaller_ones_and_legacy_is_unchanged():
    from tsodso.data.builder import _adn_specs, _resolve, default_scenario_path, read_scenario
    from tsodso.data.matpower import read_case
    # the legacy draws (every published instance) are pinned: values of the generator before
    # the nested option existed
    sc = read_scenario(default_scenario_path())
    idx = read_case(_resolve(sc, "tn_case")).bus_index()
    assert _adn_specs(sc, 1, 0, idx) == [dict(name="ADN1", pcc=9, feeders=3, load_scale=0.807, pv_scale=1.313)]
    assert [(s["pcc"], s["load_scale"], s["pv_scale"]) for s in _adn_specs(sc, 3, 1, idx)] == [
        (14, 1.179, 1.328), (6, 0.925, 0.909), (11, 0.969, 1.05)]
    # legacy draws are not nested (why --nested exists)
    assert _adn_specs(sc, 2, 1, idx)[0] != _adn_specs(sc, 1, 1, idx)[0]
    for seed in (0, 1):
        small = load_system(adns=2, hours=2, seed=seed, nested=True)
        big = load_system(adns=7, hours=2, seed=seed, nested=True)
        for a, b in zip(small.adns, big.adns):
            _same_adn(a, b)
    # seed 0: 5 nested ADNs are the default case, ADN for ADN, TN included
    d, n = load_system(adns=5, hours=2), load_system(adns=5, hours=2, nested=True)
    for a, b in zip(d.adns, n.adns):
        _same_adn(a, b)
    np.testing.assert_array_equal(d.tn.load_mw, n.tn.load_mw)
    assert n.with_scenario({"fees.grid_usd_per_mwh": 31.0}).scenario["_build"]["nested"] is True


def test_per_adn_seeds_reach_the_larger_run_and_a_mismatch_is_refused(tmp_path, caplog):
    from tsodso.schemes.dso_led import solve_dso_led
    from tsodso.schemes.warm import adn_keys
    q = dict(time_limit=60, options={"verbose": False})
    c = WarmCache(tmp_path)
    s1 = load_system(adns=1, hours=2, seed=1, start=17, nested=True)
    r1 = solve_dso_led(s1, cache=c, **q)
    assert r1.x is not None and r1.warm["adn_seeded"] == 0
    s2 = load_system(adns=2, hours=2, seed=1, start=17, nested=True)
    r2 = solve_dso_led(s2, cache=c, **q)
    assert r2.warm["adn_seeded"] == 1                # ADN 1 of the 2-ADN run is the 1-ADN run's
    assert r2.status == "optimal"                     # the seed is a certified candidate only
    # the 1-ADN run's ADN seen in another horizon: another key, not seeded
    r3 = solve_dso_led(load_system(adns=2, hours=3, seed=1, start=17, nested=True), cache=c, **q)
    assert r3.warm["adn_seeded"] == 0
    # a stored entry whose integer count does not match the model: refused with one line
    key, idx = adn_keys(s2, r2.problem)[0]
    c.put("adn_incumbent", key, {"integers": np.zeros(idx.size + 1, np.int8), "objective_usd": 0.0,
                                 "source_adns": 1})
    caplog.set_level("WARNING", logger="tsodso.data.cache")
    caplog.clear()
    from tsodso.schemes.warm import adn_seed_heuristic
    h, n = adn_seed_heuristic(c, s2, r2.problem, r2.layout)
    msgs = [r.getMessage() for r in caplog.records if "adn_incumbent" in r.getMessage()]
    assert n == 1 and len(msgs) == 1 and "not used" in msgs[0]   # ADN 2 (stored by r2) still seeds


def test_pseudocosts_round_trip_and_warm_search_same_optimum(tmp_path):
    import os
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    import reference_problems as rpl
    from tsodso.solver import solve
    from tsodso.solver.branching import Pseudocosts
    from tsodso.schemes.warm import load_pseudocosts, store_pseudocosts
    prob = rpl.knapsack(rpl.P01)[0]()
    r0 = solve(prob, dict(rpl.TEST_OPTIONS))
    st = r0.pseudocosts
    assert r0.status == "optimal" and st["count"].sum() > 0
    p = Pseudocosts(4)
    assert p.load(st) == st["count"].size
    again = p.state()
    for f in st:
        np.testing.assert_array_equal(again[f], st[f])
    c = WarmCache(tmp_path)
    key = content_hash("pseudo-test")
    store_pseudocosts(c, key, st)
    back = load_pseudocosts(c, key)
    for f in st:
        np.testing.assert_array_equal(back[f], st[f])
    r1 = solve(prob, dict(rpl.TEST_OPTIONS), pseudocosts=back)
    assert r1.status == "optimal" and r1.objective == r0.objective == -309.0
    assert r1.pseudocosts["count"].sum() >= st["count"].sum()      # loaded + its own
    # an inconsistent entry is refused, not adapted
    c.put("pseudocosts", key, {"kind": st["kind"], "index": st["index"][:-1], "direction": st["direction"],
                               "sum": st["sum"], "count": st["count"]})
    assert load_pseudocosts(c, key) is None and c.refused == 1


def test_decomposition_multipliers_are_cached_and_reused(tmp_path):
    from tsodso.schemes.dso_led import solve_dso_led
    system = load_system(adns=1, hours=2, seed=0, start=17)
    c = WarmCache(tmp_path)
    q = dict(time_limit=60, options={"verbose": False}, method="decomposition")
    r1 = solve_dso_led(system, cache=c, **q)
    r2 = solve_dso_led(system, cache=c, **q)
    assert r1.warm["multipliers"] == "none" and r2.warm["multipliers"] == "hit"
    assert r1.status == r2.status == "optimal"
    assert abs(r1.objective_usd - r2.objective_usd) <= 1e-4 * max(1.0, abs(r1.objective_usd))
    # a corrupted entry (not a finite vector) is refused, the run recomputes
    import glob
    f = glob.glob(str(tmp_path / "multipliers" / "*" / "*.h5"))[0]
    import h5py
    with h5py.File(f, "a") as h:
        d = h["lam"][()]
        d[0] = np.nan
        h["lam"][...] = d
    r3 = solve_dso_led(system, cache=c, **q)
    assert r3.warm["multipliers"] == "none" and c.refused >= 1 and r3.status == "optimal"
