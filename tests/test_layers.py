"""The layer order of docs/architecture.md, asserted on every import in the package.

Every `import` / `from ... import` of every module under tsodso/ and kernels/ is read with `ast`
(module level and inside functions alike), resolved to the tsodso module it names, and checked:
a module may import only its own layer or layers below it (RANKS). Three more rules:
`conic` and `solver` are generic (no model layer, RANKS 0 and each other only), `data` and
`formulation` never import a solver (SOLVER_IMPORTS). Known violations being removed are listed
in ALLOWED with the reason; the list only shrinks.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# layer rank of each tsodso package / module (longest prefix wins); docs/architecture.md
RANKS = {
    "tsodso._version": 0, "tsodso.atomic": 0,           # base: no model knowledge at all
    "tsodso.data": 1, "tsodso.kernels": 1,
    "tsodso.conic": 2,
    "tsodso.solver": 3,
    "tsodso.formulation": 4,
    "tsodso.analysis": 5,
    "tsodso.evaluation": 6, "tsodso.validate": 6,
    "tsodso.schemes": 7,
    "tsodso.report": 8,
    "tsodso.experiments": 9,
    "tsodso.cli": 10, "tsodso.api": 10, "tsodso.__main__": 10, "tsodso": 10,
}
GENERIC = ("tsodso.conic", "tsodso.solver")   # may import only rank 0 and each other
# modules whose import means "this code calls a solver"
SOLVER_IMPORTS = ("tsodso.conic.ecos_adapter", "tsodso.conic.ecos_bb", "tsodso.conic.scip",
                  "tsodso.solver", "ecos", "highspy", "scipy.optimize", "pyscipopt")
NO_SOLVER = ("tsodso.data", "tsodso.formulation")

# (importer, imported) pairs still to be removed, with the reason; only shrinks
ALLOWED = {}


def _modules():
    """(module name, path) of every .py file of the package (kernels/ installs as tsodso.kernels)."""
    for top, pkg in (("tsodso", "tsodso"), ("kernels", "tsodso.kernels")):
        base = os.path.join(ROOT, top)
        for d, _, files in os.walk(base):
            for f in sorted(files):
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(d, f), base)[:-3].replace(os.sep, ".")
                parts = [p for p in rel.split(".") if p != "__init__"]
                yield ".".join([pkg] + parts), os.path.join(d, f), f == "__init__.py"


def _imports(name, path, is_pkg):
    """(imported module, line) of every import in the file, relative imports resolved."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = name if is_pkg else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield _canonical(a.name), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = _canonical(node.module)
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            for a in node.names:
                sub = f"{mod}.{a.name}"
                yield (sub if _is_module(sub) else mod), node.lineno


def _canonical(mod):
    # the source-tree fallback `from kernels import ...` is tsodso.kernels
    return "tsodso." + mod if mod == "kernels" or mod.startswith("kernels.") else mod


_ALL = None


def _is_module(mod):
    global _ALL
    if _ALL is None:
        _ALL = {m for m, _, _ in _modules()}
    return mod in _ALL


def _rank(mod):
    best = None
    for prefix, r in RANKS.items():
        if mod == prefix or mod.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, r)
    return None if best is None else best[1]


def _within(mod, pkgs):
    return any(mod == p or mod.startswith(p + ".") for p in pkgs)


def _violations():
    out = []
    for name, path, is_pkg in _modules():
        r = _rank(name)
        assert r is not None, f"{name}: module without a layer; add it to RANKS and docs/architecture.md"
        for mod, line in _imports(name, path, is_pkg):
            where = f"{os.path.relpath(path, ROOT)}:{line}"
            if _within(name, NO_SOLVER) and _within(mod, SOLVER_IMPORTS):
                out.append((name, mod, where, "calls a solver"))
            if not mod.startswith("tsodso"):
                continue
            rm = _rank(mod)
            if rm is None:
                continue
            if rm > r:
                out.append((name, mod, where, f"imports a layer above it ({rm} > {r})"))
            elif _within(name, GENERIC) and rm > 0 and not _within(mod, GENERIC):
                out.append((name, mod, where, "generic layer imports the model"))
    return out


def test_every_module_has_a_layer_and_imports_only_downwards():
    bad = [v for v in _violations() if (v[0], v[1]) not in ALLOWED]
    assert not bad, "layer violations:\n" + "\n".join(f"  {w}: {a} -> {b}: {why}" for a, b, w, why in bad)


def test_allow_list_has_no_stale_entries():
    seen = {(v[0], v[1]) for v in _violations()}
    stale = [k for k in ALLOWED if k not in seen]
    assert not stale, f"remove from ALLOWED (fixed): {stale}"


@pytest.mark.parametrize("src, expect", [
    ("from ..schemes.registry import x", "tsodso.schemes.registry"),
    ("from .. import __version__", "tsodso"),
    ("import kernels.assembly", "tsodso.kernels.assembly"),
])
def test_the_walker_resolves_imports(tmp_path, src, expect):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    " + src + "\n")
    assert [m for m, _ in _imports("tsodso.report.m", str(p), False)] == [expect]
