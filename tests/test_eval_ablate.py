"""Ablation report: claims verdicts and the written comparison (training itself is the training module's)."""

from __future__ import annotations

import json
import math

import pytest

from sqlr1x.eval.ablate import CLAIMS, compare_variants, verdict, write_ablation
from sqlr1x.eval.metrics import PredictionScore

FEWER = CLAIMS[0]  # 10-20 % fewer hallucinated elements
BETTER = CLAIMS[1]  # 5-15 % better structural


def row(rel, lo, hi):
    return {"rel_delta": rel, "rel_low": lo, "rel_high": hi}


@pytest.mark.parametrize(
    ("claim", "r", "expected"),
    [
        (FEWER, row(-0.15, -0.25, -0.05), "holds"),
        (FEWER, row(-0.40, -0.50, -0.30), "holds, larger than claimed"),
        (FEWER, row(-0.05, -0.08, -0.02), "smaller than claimed"),
        (FEWER, row(-0.15, -0.40, 0.10), "inconclusive (interval includes 0)"),
        (FEWER, row(0.20, 0.10, 0.30), "contradicted (significant change in the other direction)"),
        (BETTER, row(0.10, 0.02, 0.20), "holds"),
        (BETTER, row(-0.10, -0.20, -0.02), "contradicted (significant change in the other direction)"),
        (
            BETTER,
            row(float("nan"), float("nan"), float("nan")),
            "not measurable (baseline value is 0 or no data)",
        ),
    ],
)
def test_claim_verdicts(claim, r, expected):
    assert verdict(claim, r) == expected


def score(i, hall, structural, syntax):
    return PredictionScore(
        id=f"q{i}",
        db_id="d",
        gold_sql="SELECT 1",
        sql="SELECT 1",
        hallucinations=[("column", f"c{k}") for k in range(hall)],
        structural=structural,
        syntax_error=syntax,
    )


def test_variants_are_paired_per_example_and_averaged_over_seeds(tmp_path):
    # baseline: 2 hallucinations on q0 in both seeds; enhanced: 2 then 0 -> mean 1 (50 % fewer)
    base = [[score(0, 2, 0.5, True), score(1, 0, 0.5, False)]] * 2
    enh = [
        [score(0, 2, 0.6, True), score(1, 0, 0.6, False)],
        [score(0, 0, 0.6, False), score(1, 0, 0.6, False)],
    ]
    rows = compare_variants(base, enh, n_boot=200)
    h = rows["hallucinated_elements"]
    assert (h["mean_a"], h["mean_b"], h["rel_delta"], h["n"]) == (1.0, 0.5, -0.5, 2)
    assert rows["structural"]["rel_delta"] == pytest.approx(0.2)
    assert rows["syntax_error_rate"]["mean_b"] == pytest.approx(0.25)

    setup = {
        "config": "c.yaml",
        "steps": 3,
        "seeds": 2,
        "start_model": "m",
        "eval_dataset": "demo:dev",
        "n_eval": 2,
        "max_new_tokens": 8,
        "wall_s": 1.0,
    }
    runs = [
        {"seed": k, "variant": v, "train_s": 1.0, "metrics": {m: 0.5 for m in rows}}
        for k in (0, 1)
        for v in ("baseline", "enhanced")
    ]
    md = write_ablation(tmp_path, base, enh, setup=setup, runs=runs, n_boot=200)
    text = md.read_text()
    assert (
        "| 10-20 % fewer hallucinated tables/columns | `hallucinated_elements` | -20.0 % to -10.0 % | 1.000 | 0.500 | -50.0 %"
        in text
    )
    assert "| 0 | enhanced |" in text and "What this setting can and cannot show" in text
    doc = json.loads((tmp_path / "ablation.json").read_text())
    assert [c["metric"] for c in doc["claims"]] == [
        "hallucinated_elements",
        "structural",
        "syntax_error_rate",
    ]
    assert (tmp_path / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    pooled = json.loads((tmp_path / "enhanced" / "eval" / "metrics.json").read_text())["results"]["greedy"]
    assert pooled["n"] == 4 and math.isclose(pooled["metrics"]["hallucinated_elements"]["mean"], 0.5)


def test_resume_reuses_finished_runs_without_training(tmp_path):
    from pathlib import Path

    from sqlr1x.eval.report import write_predictions
    from sqlr1x.experiments import run_ablation

    config = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    for variant, hall in (("baseline", 2), ("enhanced", 1)):
        run_dir = tmp_path / "seed0" / variant
        (run_dir / "eval").mkdir(parents=True)
        (run_dir / "summary.json").write_text("{}")
        write_predictions(
            run_dir / "eval" / "predictions.jsonl", [score(0, hall, 0.5, False), score(1, 0, 0.5, False)]
        )
        metrics = {"ex_spider": 0.0, "hallucinated_elements": hall / 2, "structural": 0.5}
        metrics |= {"syntax_error_rate": 0.0, "format_valid_rate": 1.0}
        run = {"seed": 0, "variant": variant, "train_s": 1.0, "metrics": metrics}
        (run_dir / "eval" / "ablation_run.json").write_text(json.dumps(run))
    said = []
    md = run_ablation(
        config,
        steps=1,
        seeds=1,
        out_dir=tmp_path,
        eval_limit=2,
        overrides=["sft.enabled=false"],
        resume=True,
        say=said.append,
    )
    assert sum("reusing the finished run" in s for s in said) == 2 and not any(
        "GRPO steps" in s for s in said
    )
    assert (
        "| 10-20 % fewer hallucinated tables/columns | `hallucinated_elements` | -20.0 % to -10.0 % | 1.000 | 0.500 |"
        in md.read_text()
    )
