"""Packaging (pyproject.toml, hatchling): what a non-editable install must carry.

CI installs the package with `pip install ".[test]"` and runs these tests from another
directory, so they check the installed layout: the version is single-sourced, every
subpackage of the source tree is in the install (automatic discovery), kernels/ installs as
tsodso.kernels, cases/ as package data tsodso/cases, and `python -m tsodso` is the CLI.
In an editable install (source tree) the layout checks are skipped: there kernels/ and
cases/ are found at the repository root instead.
"""
import importlib
import importlib.metadata
import os
import pkgutil
import subprocess
import sys

import pytest

import tsodso

PKG_DIR = os.path.dirname(tsodso.__file__)
SOURCE_TREE = os.path.exists(os.path.join(PKG_DIR, "..", "pyproject.toml"))
installed_only = pytest.mark.skipif(SOURCE_TREE, reason="editable install: kernels/ and cases/ "
                                    "live at the repository root, not inside the package")


def test_version_single_sourced():
    assert importlib.metadata.version("tsodso") == tsodso.__version__


def test_every_subpackage_importable():
    """Automatic discovery: every directory with an __init__.py under tsodso/ is a package
    of the install (walk_packages imports each one, so a missing one raises here)."""
    names = [m.name for m in pkgutil.walk_packages(tsodso.__path__, "tsodso.") if m.ispkg]
    for sub in ("tsodso.data", "tsodso.formulation", "tsodso.conic", "tsodso.solver"):
        assert sub in names
    for name in names:
        importlib.import_module(name)


@installed_only
def test_kernels_and_cases_inside_the_package():
    from importlib import resources
    from tsodso.kernels import assembly   # noqa: F401  (kernels/ -> tsodso.kernels)
    from tsodso.data import case_dir
    files = {p.name for p in resources.files("tsodso.cases").iterdir()}
    assert {"case30.m", "case33bw.m", "default_scenario.json", "profiles_24h.csv"} <= files
    assert os.path.samefile(case_dir(), os.path.join(PKG_DIR, "cases"))


def test_python_dash_m_is_the_cli(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tsodso", "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage: tsodso" in out.stdout and "solve" in out.stdout
