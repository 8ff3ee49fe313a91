"""Report files, run comparison deltas and training curves."""

from __future__ import annotations

import json

import pytest

from sqlr1x.cli import main
from sqlr1x.data.example import Example
from sqlr1x.eval.compare import compare_runs, compare_scores, verdict, write_comparison
from sqlr1x.eval.metrics import score_sql
from sqlr1x.eval.report import plot_training_curves, read_predictions, write_eval_report

PNG = b"\x89PNG\r\n\x1a\n"
GOLD = "SELECT name FROM employees WHERE salary >= 100"


def scored(db, preds, difficulty="easy"):
    return [
        score_sql(
            Example(
                id=f"q{i}",
                question="?",
                evidence="",
                db_id="company",
                db_path=str(db),
                gold_sql=GOLD,
                source="test",
                split="dev",
                difficulty=difficulty,
            ),
            p,
        )
        for i, p in enumerate(preds)
    ]


def assert_png(path):
    assert path.is_file() and path.read_bytes()[:8] == PNG and path.stat().st_size > 1000


def test_report_files_are_written_and_readable(tmp_path, employees_db):
    greedy = scored(employees_db, [GOLD, "SELECT name FROM employees", "SELECT x FROM ghosts", None])
    voted = scored(employees_db, [GOLD, GOLD, "SELECT x FROM ghosts", None])
    paths = write_eval_report(
        tmp_path / "eval", {"greedy": greedy, "voted": voted}, run={"name": "demo"}, n_boot=200
    )
    doc = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert doc["primary"] == "voted" and set(doc["results"]) == {"greedy", "voted"}
    assert doc["results"]["voted"]["metrics"]["ex_spider"]["mean"] == 0.5
    assert doc["results"]["greedy"]["metrics"]["ex_spider"]["mean"] == 0.25
    assert doc["results"]["greedy"]["metrics"]["format_valid_rate"]["mean"] is None  # NaN -> null
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "| metric | voted | greedy | definition |" in md
    assert "| `ex_spider` | 0.500 [" in md and "| no_sql | 1 | 1 |" in md
    assert "table:ghosts" in md and "![metrics](metrics.png)" in md
    assert_png(paths["metrics_png"])
    assert_png(paths["breakdown_png"])
    back = read_predictions(tmp_path / "eval" / "predictions.jsonl")
    assert [s.ex_spider for s in back] == [s.ex_spider for s in voted]
    assert back[2].hallucinations == [("table", "ghosts")]
    assert (tmp_path / "eval" / "predictions_greedy.jsonl").is_file()


def test_compare_deltas_are_numerically_right(tmp_path, employees_db):
    a = scored(employees_db, [GOLD, "SELECT x FROM ghosts", "SELECT x FROM ghosts", "SELECT x FROM ghosts"])
    b = scored(employees_db, [GOLD, GOLD, GOLD, "SELECT x FROM ghosts"])
    paired, n, rows = compare_scores(a, b, n_boot=500)
    assert paired and n == 4
    r = rows["ex_spider"]
    assert (r["mean_a"], r["mean_b"], r["delta"], r["rel_delta"]) == (0.25, 0.75, 0.5, 2.0)
    assert r["delta_low"] <= 0.5 <= r["delta_high"]
    h = rows["hallucination_rate"]
    assert (h["delta"], h["rel_delta"]) == (-0.5, pytest.approx(-2 / 3))
    assert verdict("hallucination_rate", {"delta_low": -0.6, "delta_high": -0.1}) == "better"
    assert verdict("ex_spider", {"delta_low": -0.6, "delta_high": -0.1}) == "worse"
    assert verdict("ex_spider", {"delta_low": -0.1, "delta_high": 0.3}) == "no clear difference"
    # no shared ids: unpaired
    c = scored(employees_db, [GOLD])
    c[0].id = "other"
    assert compare_scores(a, c, n_boot=50)[0] is False

    write_eval_report(tmp_path / "A" / "eval", {"greedy": a}, run={"name": "A"}, n_boot=50)
    write_eval_report(tmp_path / "B" / "eval", {"greedy": b}, run={"name": "B"}, n_boot=50)
    cmp = compare_runs(tmp_path / "A", tmp_path / "B" / "eval", n_boot=200)
    assert (cmp.name_a, cmp.name_b, cmp.paired) == ("A", "B", True)
    files = write_comparison(cmp, tmp_path / "cmp")
    md = files["md"].read_text()
    assert "| `ex_spider` | 0.250 | 0.750 | +0.500 [" in md and "+200.0 %" in md
    assert_png(files["png"])
    assert json.loads(files["json"].read_text())["rows"]["ex_spider"]["delta"] == 0.5


def test_report_commands(tmp_path, employees_db, capsys):
    a = scored(employees_db, [GOLD, "SELECT x FROM ghosts"])
    write_eval_report(tmp_path / "runA" / "eval", {"greedy": a}, n_boot=50)
    write_eval_report(tmp_path / "runB" / "eval", {"greedy": a}, n_boot=50)
    assert main(["report", "compare", str(tmp_path / "runA"), str(tmp_path / "runB"), "--n-boot", "50"]) == 0
    assert "| `ex_spider` | 0.500 | 0.500 | +0.000" in capsys.readouterr().out
    assert (tmp_path / "compare_runA_vs_runB" / "compare.md").is_file()
    assert main(["report", "compare", str(tmp_path / "runA"), str(tmp_path / "nope")]) == 2
    assert "no evaluation found" in capsys.readouterr().err

    run = tmp_path / "train"
    run.mkdir()
    rows = [
        {"step": s, "phase": "grpo", "reward": s / 10, "rewards/schema/mean": -0.1, "loss": 0.5}
        for s in range(1, 12)
    ]
    rows += [{"step": s, "phase": "eval", "eval/execution_accuracy": s / 20, "eval/n": 8} for s in (5, 10)]
    (run / "metrics.jsonl").write_text(
        "\n".join(map(json.dumps, rows)) + '\n{"step": 12, "rew'
    )  # torn last line
    assert main(["report", "curves", str(run)]) == 0
    assert_png(run / "reward_curves.png")
    assert_png(run / "validation_curves.png")
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    assert plot_training_curves(run, tmp_path / "none") == []
