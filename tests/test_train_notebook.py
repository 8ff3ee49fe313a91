"""The Colab notebook is a valid notebook whose code cells compile and that runs the seed flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
from IPython.core.inputtransformer2 import TransformerManager  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "SQL_R1_Extension_Colab.ipynb"


def test_notebook_is_valid_and_cells_compile():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    manager = TransformerManager()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for i, cell in enumerate(code):
        python = manager.transform_cell(cell.source)  # `!cmd` and `%magic` → get_ipython() calls
        compile(python, f"{NOTEBOOK.name}[cell {i}]", "exec")
        assert not cell.get("outputs"), "commit the notebook without outputs"


def test_notebook_runs_the_seed_flow():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"]) for c in cells)
    for needle in (
        "pip install",
        "from extensions.reward_enhanced import",
        "SchemaAwareReward(weight=-0.5)",
        "EnhancedRewardComputer(",
        "load_config('configs/train_24gb.yaml')",
        "train_colab.py --model tiny --config configs/demo.yaml --output-dir outputs/demo --demo",
        '--model "Qwen/Qwen2.5-Coder-3B-Instruct"',
        "--num-steps 10",
        "--batch-size 2",
    ):
        assert needle in text, needle
