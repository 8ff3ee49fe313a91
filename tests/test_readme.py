"""The README's quick start and the seed's public API (docs/rewards.md, README) run verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


def test_readme_quick_start_runs_and_its_comments_hold(monkeypatch):
    blocks = _python_blocks((ROOT / "README.md").read_text())
    assert blocks, "README.md lost its python quick start"
    assert len(blocks[0].strip().splitlines()) <= 10, "the quick start is meant to stay ten lines"
    monkeypatch.chdir(ROOT)  # the quick start runs from the repository root, on a bundled demo database
    monkeypatch.syspath_prepend(str(ROOT))  # `extensions` lives at the repository root
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    # the completion answers with the gold query itself: full SQL-R1 reward plus all enhanced credit
    assert result.baseline_total > 6.0
    assert result.schema == 0.0
    assert result.structural == pytest.approx(0.8)
    assert result.syntax == pytest.approx(0.2)
    assert result.total == pytest.approx(result.baseline_total + 1.0)


def test_readme_inline_results(employees_schema):
    from extensions.reward_enhanced import EnhancedSyntaxReward, SchemaAwareReward, StructuralReward

    from sqlr1x.sql.analysis import find_hallucinations

    assert SchemaAwareReward(weight=-0.5).compute("SELECT name FROM customers", employees_schema) == -0.5
    structural = StructuralReward(select_weight=0.3, where_weight=0.3, join_weight=0.2)
    assert structural.compute(
        "SELECT salary, name FROM employees WHERE salary > 10",
        "SELECT name, salary FROM employees WHERE 10 < salary",
    ) == pytest.approx(0.8)
    assert EnhancedSyntaxReward(weight=0.2).compute("SELECT a, FROM t") == 0.0
    assert find_hallucinations("SELECT name FROM customers", employees_schema) == [("table", "customers")]


def test_makefile_and_ci_call_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    # CPU torch must be installed before the package, or pip pulls CUDA wheels
    assert makefile.index("torch==2.13.0") < makefile.index("-e '.[dev]'")
