"""The worked examples of the documentation run as written (docs/examples/*.md).

Every ```python block of a page is executed, in order, in one namespace, in a temporary
directory (the examples write files). The examples check their own results with `assert`s
(statuses, certificates, the documented numbers within the proven gap), so a page whose code
or numbers went stale fails here. CI copies docs/ next to tests/ (see .ci/run).
"""
import os
import re
from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("xarray")

DOCS = Path(__file__).resolve().parents[1] / "docs" / "examples"
PAGES = sorted(DOCS.glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_the_examples_are_there():
    assert len(PAGES) >= 2, f"no worked examples found in {DOCS}"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_example_runs_as_documented(page, tmp_path, monkeypatch):
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name}: no python blocks"
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": f"docs_example_{page.stem}"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), ns)   # noqa: S102
    assert os.listdir(tmp_path) is not None
