"""The branch-and-bound log, in the style of SCIP's display.

One header, then a line every `log_every_nodes` nodes or `log_every_seconds` seconds, and
whenever the incumbent improves (marked with its source's first letter, as SCIP does):

     time |  nodes |  left | ECOS s |   incumbent  |  best bound  |   gap
    0.12s |      1 |     2 |   0.01 | 3.000000e+00 | 1.000000e+00 | 66.67%

`gap` is the relative gap of `bounds.gap`. Everything goes to one text stream (stderr by
default) so that stdout stays free for machine-readable output.
"""
from __future__ import annotations

import math
import sys
import time

__all__ = ["BnBLog"]

_HEAD = f"{'':1} {'time':>8} | {'nodes':>7} | {'left':>6} | {'ECOS s':>7} | {'incumbent':>13} | {'best bound':>13} | {'gap':>8}"


def _num(v):
    return f"{v:13.6e}" if math.isfinite(v) else f"{'--':>13}"


def _gap(r):
    if not math.isfinite(r):
        return f"{'inf':>8}"
    return f"{100 * r:7.3f}%"


class BnBLog:
    def __init__(self, opts, problem_size: dict = None):
        self.enabled = opts.verbose
        self.stream = opts.log_stream if opts.log_stream is not None else sys.stderr
        self.every_nodes = opts.log_every_nodes
        self.every_seconds = opts.log_every_seconds
        self._last_t = -math.inf
        self._last_nodes = 0
        self._lines = 0
        self.problem_size = problem_size or {}

    def _w(self, s):
        if self.enabled:
            print(s, file=self.stream, flush=True)

    def message(self, s):
        self._w(s)

    def header(self, opts):
        ps = self.problem_size
        self._w(f"tsodso B&B: {ps.get('variables', '?')} variables ({ps.get('integers', '?')} integer), "
                f"{ps.get('eq_rows', '?')} eq rows, {ps.get('ineq_rows', '?')} ineq rows, "
                f"{ps.get('cones', '?')} cones, {ps.get('pairs', 0)} complementarity pairs "
                f"[{opts.complementarity}]")
        self._w(f"  gap tolerance abs {opts.abs_gap:g} rel {opts.rel_gap:g}, branching {opts.branching}, "
                f"node selection {opts.node_selection}")
        self._w(_HEAD)

    def line(self, t, nodes, open_nodes, ecos_s, incumbent, bound, rel_gap, mark=" ", force=False):
        due = (force or mark != " " or nodes - self._last_nodes >= self.every_nodes
               or t - self._last_t >= self.every_seconds)
        if not due:
            return
        self._last_t, self._last_nodes = t, nodes
        self._lines += 1
        self._w(f"{mark:1} {t:7.2f}s | {nodes:7d} | {open_nodes:6d} | {ecos_s:7.2f} | "
                f"{_num(incumbent)} | {_num(bound)} | {_gap(rel_gap)}")

    def summary(self, res):
        self._w("")
        self._w(f"status        : {res.status} (stopped by {res.stop_reason})")
        self._w(f"objective     : {res.objective:.10g}" if res.x is not None else "objective     : --")
        self._w(f"best bound    : {res.best_bound:.10g}")
        self._w(f"gap           : abs {res.abs_gap:.3g}, rel {res.rel_gap:.3g}")
        self._w(f"nodes         : {res.nodes} ({res.node_solves} ECOS solves, "
                f"{res.inaccurate_solves} untrusted, {res.unresolved_nodes} unresolved nodes)")
        self._w(f"time          : {res.seconds:.3f} s (ECOS {res.ecos_seconds:.3f} s, other {res.other_seconds:.3f} s)")
