"""Predictions files from any system: formats, and bad input that must be counted or refused."""

from __future__ import annotations

import json

import pytest

from sqlr1x.data.example import Example
from sqlr1x.eval.predictions import PredictionsError, read_predictions_file
from sqlr1x.eval.runner import evaluate

GOLD = ["SELECT name FROM employees", "SELECT COUNT(*) FROM employees", "SELECT name FROM departments"]


@pytest.fixture
def examples(employees_db):
    return [
        Example(
            id=f"q{i}",
            question="?",
            evidence="",
            db_id="company",
            db_path=str(employees_db),
            gold_sql=g,
            source="test",
            split="dev",
        )
        for i, g in enumerate(GOLD)
    ]


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_id_keyed_sql_and_completion_lines(tmp_path, examples):
    f = write(
        tmp_path / "p.jsonl",
        [
            json.dumps({"id": "q2", "sql": GOLD[2]}),
            json.dumps({"id": "q0", "completion": f"x</think><answer>```sql\n{GOLD[0]}\n```</answer>"}),
            json.dumps({"id": "q1", "sqls": ["SELECT 1", GOLD[1], GOLD[1]]}),
        ],
    )
    res = evaluate(examples, predictions=f, n_boot=0)
    sc = res.scores["predictions"]
    assert [s.id for s in sc] == ["q0", "q1", "q2"]
    assert [s.ex_spider for s in sc] == [True, True, True]
    assert sc[0].format_ok is True and sc[2].format_ok is None
    assert (sc[1].n_samples, sc[1].votes) == (3, 2)


def test_missing_ids_are_counted_as_failures_not_skipped(tmp_path, examples):
    f = write(
        tmp_path / "p.jsonl",
        [json.dumps({"id": "q0", "sql": GOLD[0]}), "", json.dumps({"id": "zz", "sql": "SELECT 1"})],
    )
    res = evaluate(examples, predictions=f, n_boot=0)
    agg = res.metrics["predictions"]
    assert agg["n"] == 3 and agg["metrics"]["ex_spider"]["mean"] == pytest.approx(1 / 3)
    assert agg["status"]["missing_prediction"] == 2
    assert res.input_issues == {"missing_ids": ["q1", "q2"], "unknown_ids": ["zz"], "blank_lines": 1}


def test_positional_raw_lines_empty_lines_and_official_formats(tmp_path, examples):
    f = write(tmp_path / "pred.txt", [f"{GOLD[0]}\tcompany", "", f"{GOLD[2]}\t----- bird -----\tcompany"])
    items = read_predictions_file(f, examples).items
    assert [it.sqls for it in items] == [[GOLD[0]], [None], [GOLD[2]]]
    res = evaluate(examples, predictions=f, n_boot=0)
    assert [s.status for s in res.scores["predictions"]] == ["ok", "no_sql", "ok"]
    assert res.metrics["predictions"]["metrics"]["ex_bird"]["mean"] == pytest.approx(2 / 3)
    # fewer lines than examples: the rest are missing predictions
    f = write(tmp_path / "short.txt", ["not sql at all"])
    res = evaluate(examples, predictions=f, n_boot=0)
    assert [s.status for s in res.scores["predictions"]] == ["ok", "missing_prediction", "missing_prediction"]
    assert res.scores["predictions"][0].syntax_error
    # BIRD's index-keyed JSON and a JSON list
    bird = tmp_path / "predict_dev.json"
    bird.write_text(json.dumps({str(i): f"{g}\t----- bird -----\tcompany" for i, g in enumerate(GOLD)}))
    assert evaluate(examples, predictions=bird, n_boot=0).summary()["ex_bird"] == 1.0
    lst = tmp_path / "list.json"
    lst.write_text(json.dumps(GOLD[:2]))
    assert evaluate(examples, predictions=lst, n_boot=0).summary()["ex_bird"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        ([json.dumps({"id": "q0", "sql": "x"}), json.dumps({"id": "q0", "sql": "y"})], "duplicate id"),
        ([json.dumps({"id": "q0", "sql": "x"}), "SELECT 1"], "ids on every line"),
        ([json.dumps({"id": "a", "sql": "x"})], "none of its 1 ids"),
        (["SELECT 1"] * 4, "4 positional predictions for 3"),
        ([json.dumps({"id": "q0", "answer": "x"})], "needs 'sql' or 'completion'"),
    ],
)
def test_unusable_files_raise_a_clear_error(tmp_path, examples, lines, match):
    with pytest.raises(PredictionsError, match=match):
        read_predictions_file(write(tmp_path / "p.jsonl", lines), examples)


def test_missing_file_and_trailing_blank_lines(tmp_path, examples):
    with pytest.raises(PredictionsError, match="not found"):
        read_predictions_file(tmp_path / "nope.jsonl", examples)
    pf = read_predictions_file(write(tmp_path / "p.txt", [*GOLD, "", ""]), examples)
    assert pf.issues["ignored_trailing_blank_lines"] == 2 and not pf.issues["missing_ids"]
