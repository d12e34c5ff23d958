"""The bad-input catalogue of issue 14 run against a source tree, as a careful user would.

    python tests/reliability_catalogue.py [SRC_ROOT]      (default: this repository)

Every case runs `python -m tsodso.cli ...` in a subprocess with SRC_ROOT first on sys.path
and is classified:
    clear      exit 2 (or 3 for an explained infeasible instance), no traceback
    traceback  a Python traceback on stderr
    silent     exit 0 on bad input (accepted), or a wrong claim ("optimal" without a solution,
               an infeasible instance without a reason)
    lost       the solve ran and its result was thrown away (output errors after the solve)
    ok         a valid input that must work (rateA = 0) and did
The case definitions are those of tests/test_reliability.py (flags, scenarios, case files)
plus the output-location and solve-outcome cases below. Not a test (no `test_` prefix):
it prints the counts the issue's closing note asks for.
"""
import fcntl
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import test_reliability as T  # noqa: E402

W = ["--adns", "1", "--hours", "1", "--start", "18", "--time-limit", "20"]


TIMEOUT_S = float(os.environ.get("CATALOGUE_TIMEOUT_S", "120"))


def run(src, argv, timeout=TIMEOUT_S):
    """(rc, stdout, stderr); a run still going after `timeout` s accepted the bad input and
    started the long work: rc None (classified "silent")."""
    env = dict(os.environ, PYTHONPATH=str(src))
    try:
        p = subprocess.run([sys.executable, "-m", "tsodso.cli", *argv], cwd=src, env=env,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, "", err + "\n(still running after the catalogue's timeout: accepted)"
    return p.returncode, p.stdout, p.stderr


def classify(rc, out, err, expect="error"):
    solved = "tsodso B&B" in err
    if "Traceback" in err:
        return "traceback" + ("+lost" if solved and expect == "output" else "")
    if rc is None:
        return "silent"
    if expect == "ok":
        return "ok" if rc == 0 else "clear"
    if rc == 0:
        return "silent"
    if expect == "output" and solved and "saved to" not in err:
        return "lost"
    return "clear"


def cases(tmp):
    tmp = Path(tmp)
    out = []
    for argv, flag, _ in T.FLAG_CASES:
        extra = ["-o", str(tmp / "o")] if argv[0] in ("solve", "compare", "export") else []
        out.append((f"flag {' '.join(argv)}", argv + extra, "error", None))
    for name in sorted(T.SCENARIO_CASES):
        d = tmp / f"sc-{name}"
        d.mkdir()
        p = T._scenario(d, **T.SCENARIO_CASES[name][0])
        out.append((f"scenario {name}", ["solve", *W, "--scenario", str(p)], "error", None))
    for name in sorted(T.CASE_CASES):
        d = tmp / f"case-{name}"
        d.mkdir()
        fname, edit, _ = T.CASE_CASES[name]
        case = T._case_variant(d, edit, fname)
        key = "tn_case" if fname == "case30.m" else "feeder_case"
        p = T._scenario(d, T._set([key], str(case)))
        out.append((f"case {name}", ["solve", *W, "--scenario", str(p)], "error", None))
    f = tmp / "a-file"
    f.write_text("x")
    out.append(("output is a file", ["solve", *W, "-o", str(f)], "output", None))
    out.append(("export to a folder", ["export", *W[:6], "-o", str(tmp)], "output", None))
    locked = tmp / "locked"
    locked.mkdir()
    out.append(("output folder in use by another run", ["solve", *W, "-o", str(locked)], "output", locked))
    d = tmp / "infeasible"
    d.mkdir()
    p = T._scenario(d, lambda sc: sc["adn_defaults"].update(imax_factor=0.3, feeder_rating="peak_load_factor"))
    out.append(("infeasible without a reason", ["solve", "--adns", "1", "--hours", "2", "--start", "18",
                                                 "--scenario", str(p), "--json"], "infeasible", None))
    out.append(("--gap inf", ["solve", *W, "--gap", "inf", "--json"], "claim", None))
    d = tmp / "rate0"
    d.mkdir()

    def unlimited(text):
        head, rest = text.split("mpc.branch = [", 1)
        body, tail = rest.split("];", 1)
        rows = []
        for ln in body.split("\n"):
            v = ln.replace(";", "").split()
            if len(v) >= 13 and not ln.strip().startswith("%") and int(float(v[0])) % 2 == 0:
                v[5] = "0"
                ln = "\t" + "\t".join(v) + ";"
            rows.append(ln)
        return head + "mpc.branch = [" + "\n".join(rows) + "];" + tail
    case = T._case_variant(d, unlimited)
    p = T._scenario(d, T._set(["tn_case"], str(case)))
    out.append(("rateA = 0 (valid input)", ["solve", *W, "--scenario", str(p)], "ok", None))
    return out


def main(src):
    counts = {}
    shard, nshards = (int(v) for v in os.environ.get("CATALOGUE_SHARD", "0/1").split("/"))
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, argv, expect, lock_dir) in enumerate(cases(tmp)):
            if i % nshards != shard:
                continue
            held = None
            if lock_dir is not None:             # another run holds the folder
                held = os.open(os.path.join(lock_dir, ".tsodso.lock"), os.O_RDWR | os.O_CREAT)
                fcntl.flock(held, fcntl.LOCK_EX)
                (Path(lock_dir) / "summary.json").write_text('{"run": "the other one"}')
            rc, out, err = run(src, argv)
            if held is not None:
                os.close(held)
                if json.loads((Path(lock_dir) / "summary.json").read_text()) != {"run": "the other one"}:
                    kind = "silent"              # overwrote the other run's files
                else:
                    kind = classify(rc, out, err, "error")
            elif expect == "infeasible":
                kind = "clear" if (rc == 3 and "line current" in err) else ("traceback" if "Traceback" in err else "silent")
            elif expect == "claim":
                try:
                    s = json.loads(out)
                    kind = "silent" if (s["status"] == "optimal" and s["objective"] is None) else "ok"
                except ValueError:
                    kind = "traceback" if "Traceback" in err else ("ok" if rc is None else "clear")
            else:
                kind = classify(rc, out, err, expect)
            counts[kind] = counts.get(kind, 0) + 1
            last = (err.strip().splitlines() or [""])[-1][:110]
            print(f"{kind:14s} rc={str(rc):<4} {name:45s} {last}", flush=True)
    print("tried", sum(counts.values()), json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE.parent)
