"""Fuzz the readers of user files (issue 14): whatever the bytes, a `CaseError` or a result.

Hypothesis (a test extra: property-based testing, it shrinks a failing input to a small one
we could never hand-write) mutates the shipped case30.m and the default scenario. The
readers must either succeed or raise `CaseError`: any other exception is a traceback a user
would see instead of one line naming the file and field.
"""
import copy
import json
import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from tsodso.data import CaseError, load_system, read_case  # noqa: E402
from tsodso.data.builder import default_scenario_path  # noqa: E402

CASES = os.path.dirname(default_scenario_path())
CASE30 = open(os.path.join(CASES, "case30.m"), encoding="utf-8").read()
SCENARIO = json.load(open(default_scenario_path(), encoding="utf-8"))
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TOKENS = st.sampled_from(["NaN", "Inf", "-Inf", "1e400", "-1", "0", "abc", ";", "[", "]", "...", "%",
                          "mpc.x = 3;", "'", "\n", "\t", ",", "1e-300", "2.5", "\x00", "é"])


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, len(CASE30) - 1), st.integers(0, 8), TOKENS),
                      min_size=1, max_size=6))
def test_matpower_reader_never_raises_anything_but_caseerror(tmp_path_factory, edits):
    text = CASE30
    for pos, cut, tok in sorted(edits, reverse=True):
        text = text[:pos] + tok + text[pos + cut:]
    p = tmp_path_factory.mktemp("case") / "case30.m"
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        read_case(str(p))
    except CaseError:
        pass


def _paths(o, prefix=()):
    if isinstance(o, dict):
        for k, v in o.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(SCENARIO) if p[0] not in ("tn_case", "feeder_case", "profiles", "format")]
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                      | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
                      lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=2),
                      max_leaves=5)


@SETTINGS
@given(muts=st.lists(st.tuples(st.sampled_from(PATHS), VALUES | st.just("__delete__")), min_size=1, max_size=3))
def test_scenario_loader_never_raises_anything_but_caseerror(tmp_path_factory, muts):
    sc = copy.deepcopy(SCENARIO)
    for k in ("tn_case", "feeder_case", "profiles"):
        sc[k] = os.path.join(CASES, sc[k])
    for path, value in muts:
        cur = sc
        try:
            for k in path[:-1]:
                cur = cur[k]
            if value == "__delete__":
                del cur[path[-1]]
            else:
                cur[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue                             # an earlier mutation removed the parent
    p = tmp_path_factory.mktemp("sc") / "s.json"
    p.write_text(json.dumps(sc))               # NaN / Infinity are written as JSON extensions
    try:
        load_system(str(p), adns=1, hours=1)
    except CaseError:
        pass
