"""Query-shape metrics (clause presence vs gold, length ratio) and the collapse warning."""

from __future__ import annotations

import json
import logging

import pytest

from sqlr1x.data import load_spec
from sqlr1x.eval.metrics import aggregate, score_sql
from sqlr1x.eval.report import write_eval_report
from sqlr1x.eval.shape import CLAUSES, clauses, collapsed, format_table, shape_stats, sql_size
from sqlr1x.train.callbacks import QueryShapeMonitor
from sqlr1x.train.summary import plot_rewards, shape_summary, summarize


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT name FROM employees", set()),
        ("SELECT name FROM employees WHERE salary > 10", {"where"}),
        ("SELECT e.name FROM employees AS e JOIN departments AS d ON e.dept = d.id", {"join"}),
        ("SELECT e.name FROM employees e, departments d WHERE e.dept = d.id", {"join", "where"}),
        ("SELECT dept, COUNT(*) FROM employees GROUP BY dept HAVING COUNT(*) > 2", {"group_by", "having"}),
        ("SELECT name FROM employees ORDER BY salary DESC LIMIT 3", {"order_by", "limit"}),
        (
            "SELECT name FROM employees WHERE salary > (SELECT AVG(salary) FROM employees)",
            {"where", "subquery"},
        ),
        ("WITH top AS (SELECT name FROM employees) SELECT name FROM top", {"subquery"}),
        ("SELECT name FROM a INTERSECT SELECT name FROM b", {"set_op"}),
        ("SELECT name FROM a EXCEPT SELECT name FROM b WHERE x = 1", {"set_op", "where"}),
        # a parenthesised branch of a set operation is not a nested query
        ("(SELECT name FROM a) UNION (SELECT name FROM b)", {"set_op"}),
        # keywords inside string literals are not clauses (why an AST, not a regex)
        ("SELECT name FROM t WHERE note = 'GROUP BY x ORDER BY y LIMIT 1'", {"where"}),
    ],
)
def test_clauses_from_the_ast(sql, expected):
    assert clauses(sql) == frozenset(expected)


def test_unparseable_and_missing_sql_have_no_shape():
    assert clauses(None) is None and clauses("   ") is None
    assert clauses("SELECT FROM WHERE (") is None
    assert sql_size("SELECT a FROM t WHERE b = 1") > sql_size("SELECT a FROM t")


def test_shape_stats_rates_and_ratios():
    golds = [
        "SELECT a FROM t WHERE b = 1",
        "SELECT a FROM t JOIN u ON t.id = u.id ORDER BY a",
        "SELECT a FROM t",
    ]
    preds = ["SELECT a FROM t WHERE b = 1", None, "SELECT a FROM t LIMIT 1"]
    s = shape_stats(preds, golds)
    assert s["n"] == 3
    assert s["clauses"]["where"] == {"pred": 1 / 3, "gold": 1 / 3, "pred_n": 1, "gold_n": 1}
    assert s["clauses"]["join"]["pred_n"] == 0 and s["clauses"]["join"]["gold_n"] == 1
    assert s["clauses"]["limit"]["pred_n"] == 1 and s["clauses"]["limit"]["gold_n"] == 0
    chars = sum(len(p) for p in preds if p) / sum(len(g) for g in golds)
    assert s["length_ratio"] == pytest.approx(chars)
    assert s["pred_parsed"] == pytest.approx(2 / 3)
    assert collapsed(s, min_gold=1) == ["join", "order_by"]
    assert collapsed(s, min_gold=2) == []  # too rare in the gold to call it a trend
    with pytest.raises(ValueError):
        shape_stats(["SELECT 1"], [])


def test_eval_aggregate_and_report_show_clause_presence(tmp_path):
    examples = load_spec("demo:dev", limit=40)
    with_where = [ex for ex in examples if clauses(ex.gold_sql) and "where" in clauses(ex.gold_sql)]
    assert len(with_where) >= 10
    # predictions that drop every clause: the gold query's FROM table only
    scores = [score_sql(ex, f"SELECT * FROM {ex.gold_sql.split('FROM')[1].split()[0]}") for ex in examples]
    agg = aggregate(scores, n_boot=50)
    shape = agg["shape"]
    assert shape["clauses"]["where"]["pred_n"] == 0
    assert shape["clauses"]["where"]["gold_n"] == len(with_where)
    assert 0 < shape["length_ratio"] < 1
    assert "where" in collapsed(shape)
    table = "\n".join(format_table(shape))
    assert "WHERE" in table and "COLLAPSE" in table

    paths = write_eval_report(tmp_path, {"greedy": scores}, run={"name": "dropped"}, n_boot=50)
    assert paths["clauses_png"].is_file()
    report = (tmp_path / "report.md").read_text()
    assert "## Query shape" in report and "**0.000 (0)**" in report
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert set(doc["results"]["greedy"]["shape"]["clauses"]) == set(CLAUSES)

    gold_scores = [score_sql(ex, ex.gold_sql) for ex in examples]
    gold_shape = aggregate(gold_scores, n_boot=50)["shape"]
    assert collapsed(gold_shape) == [] and gold_shape["length_ratio"] == 1.0
    assert "COLLAPSE" not in "\n".join(format_table(gold_shape))


def _completion(sql: str) -> str:
    # the SFT/GRPO completion format after the pre-filled "<think>"
    return f"\nI use the table t.\n</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


class _State:
    def __init__(self, step: int) -> None:
        self.global_step = step


def _run_monitor(drop_where_from: int | None, steps: int = 8) -> tuple[QueryShapeMonitor, list[dict]]:
    """Feed the monitor ``steps`` batches (16 completions, half of whose gold has WHERE); from step
    ``drop_where_from`` on the predictions drop their WHERE clause."""
    examples = load_spec("demo:train", limit=200)
    where = [ex.gold_sql for ex in examples if "where" in (clauses(ex.gold_sql) or ())][:8]
    plain = [ex.gold_sql for ex in examples if not clauses(ex.gold_sql)][:8]
    golds = where + plain
    monitor = QueryShapeMonitor(window=2, min_gold=4)
    logged: list[dict] = []
    for step in range(steps):
        dropping = drop_where_from is not None and step >= drop_where_from
        preds = [g.split(" WHERE ")[0] if dropping else g for g in golds]
        metrics: dict = {}
        out = monitor(
            prompts=["p"] * len(golds),
            completions=[_completion(p) for p in preds],
            gold_sql=golds,
            trainer_state=_State(step),
            log_metric=lambda k, v, m=metrics: m.__setitem__(k, v),
        )
        assert out == [None] * len(golds)  # never a reward
        logged.append(metrics)
    return monitor, logged


def test_collapse_warning_when_predictions_drop_where(caplog):
    with caplog.at_level(logging.WARNING, logger="sqlr1x.train"):
        monitor, logged = _run_monitor(drop_where_from=3)
    warnings = [r.getMessage() for r in caplog.records if "collapse" in r.getMessage()]
    assert len(warnings) == 1  # once, when the clause enters collapse
    # steps 4-5 (trainer steps 3-4 + 1): the pooled window of 2 batches falls below half at the 2nd
    assert "step 5" in warnings[0] and "WHERE" in warnings[0]
    assert [(step, clause) for step, clause, _, _ in monitor.events] == [(5, "where")]
    assert logged[0]["shape/where/pred"] == 0.5 == logged[0]["shape/where/gold"]
    assert logged[-1]["shape/where/pred"] == 0.0 and logged[-1]["shape/collapsed"] == 1.0
    assert logged[-1]["shape/length_ratio"] < 1.0


def test_no_collapse_warning_when_predictions_keep_where(caplog):
    with caplog.at_level(logging.WARNING, logger="sqlr1x.train"):
        monitor, logged = _run_monitor(drop_where_from=None)
    assert not [r for r in caplog.records if "collapse" in r.getMessage()]
    assert monitor.events == []
    assert all(m["shape/collapsed"] == 0.0 and m["shape/where/pred"] == 0.5 for m in logged)
    assert logged[-1]["shape/length_ratio"] == 1.0


def test_monitor_never_raises_on_garbage():
    monitor = QueryShapeMonitor(window=1, min_gold=1)
    assert monitor(
        completions=[None, 3, [{"role": "assistant", "content": "SELECT"}]], gold_sql=["x"] * 3
    ) == [
        None,
        None,
        None,
    ]
    assert monitor(completions=["a"]) == [None]  # no gold column: nothing to compare


def test_summary_and_plot_show_clause_presence_over_steps(tmp_path):
    _, logged = _run_monitor(drop_where_from=10, steps=20)
    rows = [{"phase": "grpo", "step": i + 1, "reward": 1.0, **m} for i, m in enumerate(logged)]
    rows += [
        {"phase": "eval", "step": 0, "eval/shape/where/pred": 0.5, "eval/shape/where/gold": 0.5},
        {"phase": "eval", "step": 20, "eval/shape/where/pred": 0.1, "eval/shape/where/gold": 0.5},
    ]
    s = summarize(rows, window=5)["shape"]
    assert s["clauses"]["where"]["train_start"] == 0.5 and s["clauses"]["where"]["train_end"] == 0.0
    assert s["clauses"]["where"]["dev_before"] == 0.5 and s["clauses"]["where"]["dev_after"] == 0.1
    assert s["collapse_steps"][0] == 12 and s["dev_collapsed_after"] == ["where"]
    assert shape_summary([{"phase": "grpo", "step": 1, "reward": 1.0}]) == {}
    assert plot_rewards(rows, tmp_path / "reward_curves.png").stat().st_size > 0
