"""Install tsodso: DSO-led bilevel TSO-DSO coordination with its own branch-and-bound.

`kernels/` (Numba assembly kernels) installs as `tsodso.kernels`; `cases/` ships as
package data under `tsodso/cases` so the default case is found after a non-editable install.
"""
from setuptools import setup

setup(
    name="tsodso",
    version="0.1.0",
    description="DSO-led bilevel TSO-DSO coordination: SOC-DistFlow + DC-OPF KKT MISOCP, "
                "solved by a custom branch-and-bound over ECOS",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=[
        "tsodso", "tsodso.data", "tsodso.formulation", "tsodso.conic", "tsodso.solver",
        "tsodso.schemes", "tsodso.report", "tsodso.experiments", "tsodso.kernels", "tsodso.cases",
    ],
    package_dir={"tsodso.kernels": "kernels", "tsodso.cases": "cases"},
    package_data={"tsodso.cases": ["*.m", "*.csv", "*.json", "*.md"]},
    # highspy: HiGHS' QP solver, the independent solver of the follower-optimality certificate
    # (a QP solver we would otherwise have to write; scipy exposes HiGHS only for LP/MILP).
    install_requires=["numpy>=1.23", "scipy>=1.10", "ecos>=2.0.10",
                      "numba>=0.57", "h5py>=3.8", "highspy>=1.7"],
    extras_require={
        # pyscipopt: the independent reference solver (SCIP) used only by tests and bench;
        # highspy: HiGHS QP solver, independent check of the quadratic-cost DC-OPF.
        # distributed: the sweep's serial-vs-Dask LocalCluster test (tests/test_sweep.py).
        "test": ["pytest>=7", "pyscipopt>=5.0", "distributed>=2023.1"],
        # dask.distributed: `tsodso sweep --scheduler tcp://HOST:PORT` (runs as tasks on a cluster;
        # scheduling, retries and data transfer we would otherwise write; docs/sweeps.md).
        "dask": ["distributed>=2023.1"],
        # matplotlib: figures of the scheme comparison (tsodso compare).
        "plot": ["matplotlib>=3.6"],
    },
    entry_points={"console_scripts": ["tsodso = tsodso.cli:main"]},
)
