"""The branch-and-bound log, in the style of SCIP's display.

One header (problem size, tolerances, and what every column and marker means), then a line
every `log_every_nodes` nodes or `log_every_seconds` seconds, and whenever the incumbent
improves (marked with its source, as SCIP does):

    time s |  nodes |  left | ECOS s |     incumbent $ |   best bound $ |      gap
  *   0.12 |      1 |     2 |   0.01 |        3,000.00 |       1,000.00 |  66.667%

Units: times in seconds; objectives in the unit the problem declares (`meta["objective_unit"]`),
shown in $ when the model works in k$ (the conversion is printed in the header), so the log
and the result summary use the same unit; `gap` = (incumbent - bound) / max(1, |incumbent|)
of `bounds.gap`, in %. Markers: `*` a new incumbent from a node's relaxation (integral, or with
its integers fixed and re-solved), `d` from the rounding dive, `u` from a user (model-aware)
heuristic.

Where it goes: to `log_stream` when one is given (BnBOptions), else to the logging module,
logger "tsodso.bnb" at INFO. The `tsodso` command shows that logger on stderr; a library user
sees it after `logging.basicConfig(level=logging.INFO)`, and silences it by the logger's
level or `verbose=False`.
"""
from __future__ import annotations

import logging
import math

__all__ = ["BnBLog", "LOGGER"]

LOGGER = logging.getLogger("tsodso.bnb")

# model units the log converts for display: unit -> (factor, display unit)
_DISPLAY = {"k$": (1000.0, "$")}


class BnBLog:
    def __init__(self, opts, problem_size: dict = None, objective_unit: str = ""):
        self.enabled = opts.verbose
        self.stream = opts.log_stream
        self.every_nodes = opts.log_every_nodes
        self.every_seconds = opts.log_every_seconds
        self._last_t = -math.inf
        self._last_nodes = 0
        self._lines = 0
        self.problem_size = problem_size or {}
        self.model_unit = objective_unit or ""
        self.scale, self.unit = _DISPLAY.get(self.model_unit, (1.0, self.model_unit))

    def _w(self, s):
        if not self.enabled:
            return
        if self.stream is not None:
            print(s, file=self.stream, flush=True)
        else:
            LOGGER.info(s)

    def message(self, s):
        self._w(s)

    def warning(self, s):
        """A problem the user should see even with the table off (a heuristic that raised)."""
        if self.stream is not None:
            print(s, file=self.stream, flush=True)
        else:
            LOGGER.warning(s)

    def _num(self, v):
        if not math.isfinite(v):
            return f"{'--':>16}"
        v = v * self.scale
        return f"{v:16,.2f}" if abs(v) < 1e12 else f"{v:16.6e}"

    @staticmethod
    def _gap(r):
        return f"{'inf':>9}" if not math.isfinite(r) else f"{100 * r:8.3f}%"

    def header(self, opts):
        ps = self.problem_size
        u = f" {self.unit}" if self.unit else ""
        self._w(f"tsodso B&B: {ps.get('variables', '?')} variables ({ps.get('integers', '?')} integer), "
                f"{ps.get('eq_rows', '?')} eq rows, {ps.get('ineq_rows', '?')} ineq rows, "
                f"{ps.get('cones', '?')} cones, {ps.get('pairs', 0)} complementarity pairs "
                f"[{opts.complementarity}]")
        self._w(f"  gap tolerance abs {opts.abs_gap:g}"
                + (f" {self.model_unit}" if self.model_unit else "")
                + f" rel {opts.rel_gap:g}, branching {opts.branching}, node selection {opts.node_selection}")
        conv = (f" (the model's {self.model_unit} x {self.scale:g})" if self.scale != 1.0 else "")
        self._w(f"  columns: wall time since the start [s] | nodes solved | open nodes | ECOS time [s] | "
                f"incumbent and best bound [{self.unit or 'objective units'}]{conv} | "
                "gap = (incumbent - bound) / max(1, |incumbent|) [%]")
        self._w("  markers: * new incumbent from a node relaxation, d from the rounding dive, "
                "u from a user heuristic")
        self._w(f"  {'':1} {'time s':>7} | {'nodes':>7} | {'left':>6} | {'ECOS s':>7} | "
                f"{'incumbent' + u:>16} | {'best bound' + u:>16} | {'gap':>9}")

    def line(self, t, nodes, open_nodes, ecos_s, incumbent, bound, rel_gap, mark=" ", force=False):
        due = (force or mark != " " or nodes - self._last_nodes >= self.every_nodes
               or t - self._last_t >= self.every_seconds)
        if not due:
            return
        self._last_t, self._last_nodes = t, nodes
        self._lines += 1
        self._w(f"  {mark:1} {t:7.2f} | {nodes:7d} | {open_nodes:6d} | {ecos_s:7.2f} | "
                f"{self._num(incumbent)} | {self._num(bound)} | {self._gap(rel_gap)}")

    def summary(self, res):
        u = f" {self.unit}" if self.unit else ""
        self._w("")
        self._w(f"status        : {res.status} (stopped by {res.stop_reason})")
        self._w(f"objective     : {self._num(res.objective).strip()}{u}" if res.x is not None
                else "objective     : --")
        self._w(f"best bound    : {self._num(res.best_bound).strip()}{u}")
        self._w(f"gap           : {self._gap(res.rel_gap).strip()} (abs {self._num(res.abs_gap).strip()}{u})")
        self._w(f"nodes         : {res.nodes} ({res.node_solves} ECOS solves, "
                f"{res.inaccurate_solves} untrusted, {res.unresolved_nodes} unresolved nodes)")
        self._w(f"time          : {res.seconds:.2f} s (ECOS {res.ecos_seconds:.2f} s, "
                f"other {res.other_seconds:.2f} s)")
