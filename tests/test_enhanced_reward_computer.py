"""EnhancedRewardComputer: seed API, total = baseline + components, batch scoring, never raises."""

from __future__ import annotations

import json
import logging

import pytest

import sqlr1x.rewards.computer as computer_module
import sqlr1x.rewards.schema_aware as schema_module
import sqlr1x.rewards.structural as structural_module
import sqlr1x.rewards.syntax as syntax_module
from conftest import make_db
from sqlr1x.db.executor import SQLiteExecutor
from sqlr1x.rewards import EnhancedRewardComputer, RewardResult, SQLR1Baseline
from sqlr1x.rewards.computer import bounded_schema_penalty
from sqlr1x.sql.schema import Schema

GOLD = "SELECT name FROM employees WHERE salary > 100"


def completion(sql: str) -> str:
    return f"<think>reasoning</think>\n<answer>```sql\n{sql}\n```</answer>"


def baseline_reward(solution_str, ground_truth):
    """A seed-style baseline: 1.0 when the gold SQL appears in the output."""
    return 1.0 if ground_truth in solution_str else 0.0


def test_seed_usage_verbatim(employees_schema):
    from extensions.reward_enhanced import EnhancedRewardComputer

    computer = EnhancedRewardComputer(
        baseline_reward_fn=baseline_reward,
        enable_enhanced=True,
        schema_weight=-0.5,
        structural_select_weight=0.3,
        structural_where_weight=0.3,
        structural_join_weight=0.2,
        syntax_weight=0.2,
    )
    model_output = completion("SELECT name FROM customers")
    ground_truth = "SELECT name FROM employees"
    result = computer.compute_reward(
        solution_str=model_output, ground_truth=ground_truth, schema=employees_schema
    )
    assert result.baseline_total == 0.0
    assert result.hallucinations == [("table", "customers")]
    # SchemaAwareReward's -0.5, bounded by 3/4 of syntax + structural (R5: see docs/rewards.md)
    assert result.schema == pytest.approx(bounded_schema_penalty(-0.5, 1, 0.2 + 0.3))
    assert -0.75 * (0.2 + 0.3) < result.schema < 0
    assert result.structural == pytest.approx(0.3)  # WHERE absent on both sides; SELECT and JOIN differ
    assert result.syntax == 0.2
    assert result.total == result.baseline_total + result.schema + result.structural + result.syntax


def test_total_is_sum_of_terms_with_default_baseline(employees_db):
    computer = EnhancedRewardComputer()
    result = computer.compute_reward(completion(GOLD), GOLD, db_path=employees_db)
    assert result.baseline["status"] == "match"
    assert result.schema == 0.0 and result.structural == 0.3 + 0.3 + 0.2 and result.syntax == 0.2
    assert result.total == result.baseline_total + 0.8 + 0.2
    assert result.baseline_total == result.baseline["score"]
    assert result.sql == GOLD and result.hallucinations == []


def test_disabled_enhanced_means_baseline_only(employees_db):
    computer = EnhancedRewardComputer(enable_enhanced=False)
    result = computer.compute_reward(completion("SELECT nme FROM custs"), GOLD, db_path=employees_db)
    assert result.total == result.baseline_total == -1.0
    assert (result.schema, result.structural, result.syntax) == (0.0, 0.0, 0.0)
    assert result.hallucinations == []


def test_schema_defaults_to_the_database(employees_db):
    result = EnhancedRewardComputer().compute_reward(
        completion("SELECT bonus FROM employees"), GOLD, db_path=employees_db
    )
    assert result.hallucinations == [("column", "bonus")]
    earned = result.syntax + result.structural
    assert result.schema == pytest.approx(bounded_schema_penalty(-0.5, 1, earned)) and result.schema < 0


def test_schema_forms_agree(employees_db, employees_schema):
    computer = EnhancedRewardComputer(baseline_reward_fn=baseline_reward)
    text = completion("SELECT name, budget FROM employees")
    values = {
        computer.compute_reward(text, GOLD, schema=s).schema
        for s in (employees_schema, Schema.coerce(employees_schema), str(employees_db), employees_db)
    }
    assert len(values) == 1 and values.pop() < 0


@pytest.mark.parametrize("schema", [12, ["a"], {"tables": 5}, "/no/such/file.sqlite", object()])
def test_unusable_schema_gives_zero_and_reason(schema, employees_db):
    result = EnhancedRewardComputer().compute_reward(
        completion("SELECT nme FROM x"), GOLD, schema=schema, db_path=employees_db
    )
    assert result.schema == 0.0 and "schema" in result.reason
    assert result.total == result.baseline_total + result.structural + result.syntax


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        b"\x80\x81\xfe",
        bytearray(b"<think>"),
        "\udcff\ud800",
        12345,
        3.5,
        [{"bad": 1}],
        "x" * 1_000_000,
        "",
    ],
)
def test_garbage_never_raises(garbage, employees_db, employees_schema, caplog):
    result = EnhancedRewardComputer().compute_reward(
        garbage, GOLD, schema=employees_schema, db_path=employees_db
    )
    assert isinstance(result, RewardResult)
    assert result.baseline_total == -1.0 and result.total == -1.0
    assert (result.schema, result.structural, result.syntax) == (0.0, 0.0, 0.0)
    assert result.reason


def test_huge_sql_is_executed_but_not_analysed(employees_db):
    sql = f"SELECT name FROM employees WHERE salary > 100 AND name <> '{'x' * 150_000}'"
    result = EnhancedRewardComputer(timeout=5).compute_reward(completion(sql), GOLD, db_path=employees_db)
    assert result.baseline["status"] == "match"
    assert (result.schema, result.structural, result.syntax) == (0.0, 0.0, 0.0)
    assert "not analysed" in result.reason


@pytest.mark.parametrize("truth", [None, 42, {"sql": None}, ["x"], "{not json"])
def test_bad_ground_truth_never_raises(truth, employees_db):
    result = EnhancedRewardComputer().compute_reward(completion(GOLD), truth, db_path=employees_db)
    assert isinstance(result.total, float)
    assert result.structural == 0.0


def test_custom_baseline_forms(employees_db):
    as_dict = EnhancedRewardComputer(
        baseline_reward_fn=lambda solution_str, ground_truth: {"score": 2.5, "x": 1}
    )
    r = as_dict.compute_reward(completion(GOLD), GOLD)
    assert r.baseline_total == 2.5 and r.baseline["x"] == 1 and r.total == 2.5 + 0.8 + 0.2

    seen = {}

    def with_kwargs(solution_str, ground_truth, **kw):
        seen.update(kw)
        return 1

    EnhancedRewardComputer(baseline_reward_fn=with_kwargs).compute_reward(
        completion(GOLD), GOLD, db_path=employees_db
    )
    assert seen["db_path"] == str(employees_db)
    # a seed-style fn without **kw still works when db_path is given
    r = EnhancedRewardComputer(baseline_reward_fn=baseline_reward).compute_reward(
        completion(GOLD), GOLD, db_path=employees_db
    )
    assert r.baseline_total == 1.0


def test_failing_custom_baseline_is_logged_not_raised(caplog):
    def broken(solution_str, ground_truth):
        raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, logger="sqlr1x.rewards"):
        r = EnhancedRewardComputer(baseline_reward_fn=broken).compute_reward(completion(GOLD), GOLD)
    assert r.baseline_total == -1.0 and "boom" in r.reason
    assert any("boom" in rec.getMessage() for rec in caplog.records)
    nan = EnhancedRewardComputer(baseline_reward_fn=lambda solution_str, ground_truth: float("nan"))
    assert nan.compute_reward(completion(GOLD), GOLD).baseline_total == -1.0


def test_each_completion_is_parsed_once(monkeypatch, employees_db):
    calls = []
    real = computer_module.parse_sql

    def counting(sql):
        calls.append(sql)
        return real(sql)

    def forbidden(sql):
        raise AssertionError("components must reuse the computer's parse")

    monkeypatch.setattr(computer_module, "parse_sql", counting)
    for module in (schema_module, structural_module, syntax_module):
        monkeypatch.setattr(module, "parse_sql", forbidden)
    sql = "SELECT name, 'parse-once-probe' FROM employees"
    r = EnhancedRewardComputer().compute_reward(completion(sql), GOLD, db_path=employees_db)
    assert r.syntax == 0.2 and r.structural > 0
    assert calls.count(sql) == 1


class CountingExecutor(SQLiteExecutor):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.ran: list[str] = []

    def execute(self, db_path, sql):
        self.ran.append(sql)
        return super().execute(db_path, sql)


def test_batch_executes_each_distinct_query_once(employees_db):
    executor = CountingExecutor(timeout=5)
    computer = EnhancedRewardComputer(executor=executor, workers=1)
    wrong = completion("SELECT name FROM employees")
    items = [{"solution_str": wrong, "ground_truth": GOLD, "db_path": employees_db}] * 6
    items += [{"solution_str": completion(GOLD), "ground_truth": GOLD, "db_path": employees_db}] * 2
    results = computer.compute_rewards(items)
    assert [r.baseline["status"] for r in results] == ["mismatch"] * 6 + ["match"] * 2
    # gold once (the correct predictions reuse it), the wrong prediction once
    assert sorted(executor.ran) == sorted([GOLD, "SELECT name FROM employees"])
    # the gold result is cached across batches
    computer.compute_rewards(items[:1])
    assert executor.ran.count(GOLD) == 1


def test_prediction_shared_by_several_golds_runs_once(employees_db):
    executor = CountingExecutor(timeout=5)
    computer = EnhancedRewardComputer(executor=executor, workers=1)
    other = "SELECT name FROM employees WHERE salary < 100"
    shared = "SELECT name FROM employees"  # a wrong answer to both questions
    items = [
        {"solution_str": completion(sql), "ground_truth": gold, "db_path": employees_db}
        for gold in (GOLD, other)
        for sql in (shared, gold, GOLD)  # GOLD is also a prediction for the other question
    ]
    results = computer.compute_rewards(items)
    assert [r.baseline["status"] for r in results] == ["mismatch", "match", "match"] + [
        "mismatch",
        "match",
        "mismatch",
    ]
    assert sorted(executor.ran) == sorted([GOLD, other, shared])
    single = [EnhancedRewardComputer().compute_reward(**item) for item in items]
    assert [r.to_dict() for r in results] == [r.to_dict() for r in single]


def test_batch_planning_failure_does_not_raise(employees_db, monkeypatch):
    def broken(jobs):
        raise RuntimeError("planner bug")

    monkeypatch.setattr(EnhancedRewardComputer, "_plan", staticmethod(broken))
    items = [
        {"solution_str": completion(GOLD), "ground_truth": GOLD, "db_path": employees_db},
        {"solution_str": "no format", "ground_truth": GOLD, "db_path": employees_db},
    ]
    results = EnhancedRewardComputer().compute_rewards(items)
    assert [r.baseline["status"] for r in results] == ["internal_error", "format_error"]
    assert results[0].baseline_total == -1.0 and results[0].syntax == 0.2


def test_batch_through_the_pool_equals_in_process(tmp_path):
    db = make_db(
        tmp_path / "n.sqlite",
        "CREATE TABLE n(x INTEGER, y TEXT); "
        + "".join(f"INSERT INTO n VALUES ({i}, 'v{i % 7}');" for i in range(60)),
    )
    golds = [
        "SELECT x, y FROM n WHERE x < 20",
        "SELECT y, count(*) FROM n GROUP BY y ORDER BY y",
        "SELECT 1 WHERE 0",
    ]
    preds = [
        "SELECT y, x FROM n WHERE x < 20",
        "SELECT x, y FROM n WHERE x <= 20",
        "SELECT y, count(*) FROM n GROUP BY y ORDER BY y DESC",
        "SELECT DISTINCT y, count(*) FROM n GROUP BY y ORDER BY y",
        "SELECT nope FROM n",
        "SELECT 2 WHERE 0",
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c",
        "SELECT x, y FROM n",
    ]
    items = [
        {"solution_str": completion(p), "ground_truth": g, "db_path": db} for g in golds for p in [*preds, g]
    ]
    items.append({"solution_str": "no format", "ground_truth": golds[0], "db_path": db})
    for guard in (False, True):
        local = EnhancedRewardComputer(workers=1, timeout=0.5, empty_result_guard=guard).compute_rewards(
            items
        )
        pooled_computer = EnhancedRewardComputer(workers=2, timeout=0.5, empty_result_guard=guard)
        executor = pooled_computer.baseline_reward_fn.executor
        executor.inline_budget = executor.parallel_threshold = 0  # everything through the pool
        pooled = pooled_computer.compute_rewards(items)
        assert executor._pool is not None
        executor.close()
        assert [r.to_dict() for r in pooled] == [r.to_dict() for r in local]
    statuses = {r.baseline["status"] for r in pooled}
    assert {"match", "mismatch", "pred_error", "pred_timeout", "empty_match", "format_error"} <= statuses


def test_batch_equals_single_calls(employees_db, tmp_path):
    other = make_db(tmp_path / "other.sqlite", "CREATE TABLE t(a); INSERT INTO t VALUES (1), (2);")
    computer = EnhancedRewardComputer()
    items = [
        {"solution_str": completion(GOLD), "ground_truth": GOLD, "db_path": employees_db},
        {
            "solution_str": completion("SELECT name FROM employees"),
            "ground_truth": GOLD,
            "db_path": employees_db,
        },
        {
            "solution_str": completion("SELECT nope FROM employees"),
            "ground_truth": GOLD,
            "db_path": employees_db,
        },
        {"solution_str": "no format", "ground_truth": GOLD, "db_path": employees_db},
        {"solution_str": completion("SELECT a FROM t"), "ground_truth": "SELECT a FROM t", "db_path": other},
        {
            "solution_str": completion("SELECT a FROM t"),
            "ground_truth": {"sql": "SELECT a FROM t", "db_path": str(other)},
        },
        {"solution_str": None, "ground_truth": None},
    ]
    batch = computer.compute_rewards(items)
    single = [computer.compute_reward(**item) for item in items]
    assert [r.total for r in batch] == [r.total for r in single]
    assert [r.baseline["status"] for r in batch] == [
        "match",
        "mismatch",
        "pred_error",
        "format_error",
        "match",
        "match",
        "format_error",
    ]


def test_batch_in_worker_processes(tmp_path):
    db = make_db(
        tmp_path / "n.sqlite",
        "CREATE TABLE n(x INTEGER); " + "".join(f"INSERT INTO n VALUES ({i});" for i in range(120)),
    )
    gold = "SELECT count(*) FROM n AS a, n AS b WHERE a.x < b.x"
    # distinct, slow-ish predictions so the executor hands the batch to its process pool
    preds = [f"SELECT count(*) FROM n AS a, n AS b WHERE a.x < b.x + {k} - {k}" for k in range(16)]
    items = [{"solution_str": completion(p), "ground_truth": gold, "db_path": db} for p in preds]
    items.append({"solution_str": completion("SELECT 1"), "ground_truth": gold, "db_path": db})
    results = EnhancedRewardComputer(workers=2, timeout=10).compute_rewards(items)
    assert [r.baseline["status"] for r in results] == ["match"] * 16 + ["mismatch"]


def test_db_id_and_root(tmp_path):
    make_db(tmp_path / "company" / "company.sqlite")
    computer = EnhancedRewardComputer(db_root=tmp_path)
    r = computer.compute_reward(completion("SELECT nme FROM employees"), {"sql": GOLD, "db_id": "company"})
    assert r.baseline["status"] == "pred_error"
    assert r.hallucinations == [("column", "nme")]  # schema read from the located database


def test_prefilled_think_option(employees_db):
    text = "thinking</think><answer>```sql\n" + GOLD + "\n```</answer>"
    assert EnhancedRewardComputer().compute_reward(text, GOLD, db_path=employees_db).baseline_total == -1.0
    on = EnhancedRewardComputer().compute_reward(text, GOLD, db_path=employees_db, prefilled_think=True)
    assert on.baseline["status"] == "match"
    assert (
        EnhancedRewardComputer(prefilled_think=True).compute_reward(text, GOLD, db_path=employees_db).total
        == on.total
    )


def test_result_serialises(employees_db):
    r = EnhancedRewardComputer().compute_reward(
        completion("SELECT nme FROM employees"), GOLD, db_path=employees_db
    )
    d = json.loads(json.dumps(r.to_dict()))
    assert d["hallucinations"] == [["column", "nme"]]
    assert set(d["structural_diff"]) == {"select", "where", "join"}
    assert d["total"] == r.total
    assert r.components == {"schema": r.schema, "structural": r.structural, "syntax": r.syntax}
    assert r.format_ok and not r.executable and not r.correct


def test_empty_result_guard_passes_through(employees_db):
    gold = "SELECT name FROM employees WHERE salary > 10000"
    text = completion("SELECT name FROM employees WHERE id = 99")
    assert (
        EnhancedRewardComputer(empty_result_guard=True)
        .compute_reward(text, gold, db_path=employees_db)
        .baseline["status"]
        == "empty_match"
    )


def test_uses_given_baseline_instance(employees_db):
    baseline = SQLR1Baseline(timeout=3.0, empty_result_guard=True)
    computer = EnhancedRewardComputer(baseline_reward_fn=baseline)
    assert computer.baseline_reward_fn is baseline
    r = computer.compute_reward(completion("SELECT 1 WHERE 0"), "SELECT 1 WHERE 0", db_path=employees_db)
    assert r.baseline["status"] == "empty_match"
