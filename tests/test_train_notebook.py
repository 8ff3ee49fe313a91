"""The Colab notebook runs top to bottom: executed by nbclient in demo mode, offline, a few steps.

CI mode (``SQLR1X_NOTEBOOK_CI=1``) keeps every cell and command of the notebook and only shrinks the
step counts; any cell error fails the test. ``SQLR1X_NOTEBOOK_OUT`` sends the run's files to a
temporary folder instead of ``outputs/notebook``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "SQL_R1_Extension_Colab.ipynb"


def _code_cells() -> list:
    return [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]


def test_notebook_is_valid_committed_without_outputs_and_compiles():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    manager = TransformerManager()
    for i, cell in enumerate(_code_cells()):
        assert not cell.get("outputs"), f"cell {i}: commit the notebook without outputs"
        assert cell.get("execution_count") is None, f"cell {i}: commit the notebook without execution counts"
        compile(manager.transform_cell(cell.source), f"{NOTEBOOK.name}[cell {i}]", "exec")
    assert "YOUR_USERNAME" not in NOTEBOOK.read_text(encoding="utf-8")


def test_first_code_cell_holds_the_parameters():
    first = _code_cells()[0]
    assert "parameters" in first.metadata.get("tags", [])
    for name in ("REPO_URL", "MODE", "OUTPUT_DIR", "CI"):
        assert f"{name} = " in first.source, name


@pytest.mark.slow
def test_notebook_runs_in_demo_mode(tmp_path, monkeypatch):
    out = tmp_path / "nb"
    monkeypatch.setenv("SQLR1X_NOTEBOOK_CI", "1")
    monkeypatch.setenv("SQLR1X_NOTEBOOK_MODE", "demo")
    monkeypatch.setenv("SQLR1X_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # demo mode is the CPU path, even on a GPU machine
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(key, "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    print(f"notebook executed in {time.perf_counter() - t0:.1f} s (load {os.getloadavg()[0]:.2f})")

    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "all requirements already installed" in text  # the install check read pyproject.toml and passed
    assert "hallucination penalty: -0.5" in text
    assert "Structural diff" in text  # `sqlr1x reward --explain` printed its per-clause table
    for variant in ("baseline", "enhanced"):
        summary = json.loads((out / variant / "summary.json").read_text())
        assert Path(summary["final_model"]).is_dir()
        assert (out / variant / "eval" / "metrics.json").is_file()
    baseline_cfg = (out / "baseline" / "config.yaml").read_text()
    assert "enable_enhanced: false" in baseline_cfg
    assert str(out / "enhanced" / "sft" / "final") in baseline_cfg  # same start as the enhanced run
    assert (out / "compare" / "compare.md").is_file()
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the reward curves were not shown inline"
