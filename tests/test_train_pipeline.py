"""The whole pipeline on the tiny model, shortened: SFT → validation → GRPO → summary artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from sqlr1x.config import load_config  # noqa: E402
from sqlr1x.train.callbacks import read_metrics  # noqa: E402
from sqlr1x.train.checkpoint import complete_checkpoints  # noqa: E402
from sqlr1x.train.pipeline import apply_cli, run_training  # noqa: E402
from sqlr1x.train.summary import moving_average, summarize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_pipeline_short(tmp_path):
    config = load_config(
        ROOT / "configs/demo.yaml",
        [
            "sft.max_steps=30",
            "optimization.max_steps=4",
            "optimization.batch_size=4",
            "optimization.max_response_length=24",
            "data.train_limit=48",
            "data.eval_size=8",
            "logging.eval_interval=2",
            "logging.save_interval=2",
            "logging.keep_last_checkpoints=1",
            "logging.progress_bar=false",
        ],
    )
    config = apply_cli(config, model="tiny", demo=True)
    summary = run_training(config, tmp_path / "run", say=lambda *_: None)

    out = tmp_path / "run"
    for name in ("metrics.jsonl", "summary.json", "reward_curves.png", "config.yaml"):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "grpo" / "final" / "config.json").is_file()
    assert [p.name for p in complete_checkpoints(out / "grpo")] == ["checkpoint-4"]  # keep_last_checkpoints=1
    assert (out / "grpo" / "checkpoint-4" / "resolved_config.yaml").is_file()

    rows = read_metrics(out / "metrics.jsonl")
    phases = {r["phase"] for r in rows}
    assert phases == {"sft", "grpo", "eval"}
    grpo = [r for r in rows if r["phase"] == "grpo" and "reward" in r]
    assert [r["step"] for r in grpo] == [1, 2, 3, 4]
    for key in (
        "rewards/sqlr1_baseline/mean",
        "rewards/schema/std",
        "rewards/structural/mean",
        "rewards/syntax/mean",
        "sqlr1x/hallucination_rate",
        "sqlr1x/syntax_valid_rate",
        "completions/mean_length",
        "learning_rate",
        "shape/where/pred",
        "shape/where/gold",
        "shape/length_ratio",
        "shape/collapsed",
    ):
        assert key in grpo[-1], key
    assert all(0.0 <= r["shape/join/pred"] <= 1.0 for r in grpo)
    assert "rewards/query_shape/mean" not in grpo[-1]  # the monitor scores nothing
    evals = [r for r in rows if r["phase"] == "eval"]
    assert [r["step"] for r in evals] == [0, 2, 4]
    assert 0.0 <= evals[-1]["eval/execution_accuracy"] <= 1.0 and evals[-1]["eval/n"] == 8
    assert all("eval/probe/reward" in r and "eval/probe/structural" in r for r in evals)

    assert json.loads((out / "summary.json").read_text())["rewards"] == summary["rewards"]
    assert set(summary["validation"]) >= {"execution_accuracy", "hallucination_rate", "syntax_error_rate"}
    assert summary["rewards"]["reward"]["n"] == 4
    assert all("eval/shape/where/pred" in r for r in evals)
    shape = summary["shape"]["clauses"]["where"]
    assert {"train_start", "train_end", "train_gold", "dev_before", "dev_after", "dev_gold"} <= set(shape)


def test_summary_start_end_and_moving_average():
    rows = [
        {"phase": "grpo", "step": i, "reward": float(i), "rewards/syntax/mean": 0.1} for i in range(1, 21)
    ]
    rows += [
        {"phase": "eval", "step": 0, "eval/execution_accuracy": 0.2},
        {"phase": "eval", "step": 20, "eval/execution_accuracy": 0.5},
    ]
    s = summarize(rows, window=5)
    assert s["rewards"]["reward"]["start"] == 3.0 and s["rewards"]["reward"]["end"] == 18.0
    assert s["validation"]["execution_accuracy"] == {"before": 0.2, "after": 0.5, "delta": 0.3}
    assert moving_average([1.0, 3.0, 5.0], 2) == [1.0, 2.0, 4.0]
