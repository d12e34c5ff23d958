"""Library messages go through `logging` (issue 15): a notebook can silence or capture them.

The B&B table is logger "tsodso.bnb" (INFO) unless a `log_stream` is given; the CLI shows the
"tsodso" loggers on stderr, hides INFO with --quiet and the summary keeps the log's units ($).
"""
import logging
import re

import tsodso
from tsodso.cli import main

WINDOW = ["--adns", "1", "--hours", "2", "--start", "18", "--time-limit", "60"]


def test_library_logs_to_the_logging_module_not_stderr(caplog, capsys):
    s = tsodso.load_system(adns=1, hours=2, start=18)
    with caplog.at_level(logging.INFO, logger="tsodso"):
        r = tsodso.solve(s, time_limit=60)
    assert r.status == "optimal"
    bnb = [rec for rec in caplog.records if rec.name == "tsodso.bnb"]
    assert any("markers: * new incumbent" in rec.getMessage() for rec in bnb)
    assert any(rec.name == "tsodso.api" or rec.name == "tsodso" for rec in caplog.records)
    err = capsys.readouterr().err
    assert "tsodso B&B" not in err                  # nothing printed behind the caller's back
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tsodso"):
        tsodso.solve(s, time_limit=60)
    assert not [rec for rec in caplog.records if rec.levelno < logging.WARNING]


def test_cli_log_and_summary_units_and_quiet(capsys):
    assert main(["solve", *WINDOW]) == 0
    out, err = capsys.readouterr()
    assert "tsodso B&B" in err and "incumbent $" in err and "(the model's k$ x 1000)" in err
    m = re.search(r"objective   : ([\d,]+\.\d\d) \$   best bound: ([\d,]+\.\d\d) \$   gap: (\d+\.\d{3}) %", out)
    assert m, out                                   # $ to cents, gap in %
    obj = float(m.group(1).replace(",", ""))
    # the last B&B line shows the same incumbent, in the same unit
    last = [ln for ln in err.splitlines() if re.match(r"\s+[*du ]?\s+\d+\.\d\d \|", ln)][-1]
    assert float(last.split("|")[4].replace(",", "")) == obj
    assert re.search(r"time: \d+\.\d\d s \(build \d+\.\d\d s, ECOS \d+\.\d\d s\)", out)
    assert main(["solve", *WINDOW, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "tsodso B&B" not in err and "status      : optimal" in out
    assert main(["-q", "solve", *WINDOW]) == 0
    assert "tsodso B&B" not in capsys.readouterr().err
