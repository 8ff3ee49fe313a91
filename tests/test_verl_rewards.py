"""verl adapter: compute_score(data_source, solution_str, ground_truth, extra_info) -> fixed-key dict.

Dispatch on data_source (Spider test-suite vs BIRD set semantics), portable database paths, checked
options. The real-verl side is in tests/test_verl_real.py (make verl-check).
"""

from __future__ import annotations

import inspect

import pytest

from conftest import make_db
from sqlr1x.data.export import DATA_SOURCES
from sqlr1x.db.compare import execution_match
from sqlr1x.integrations import verl as adapter
from sqlr1x.integrations.verl import (
    OPTIONS,
    SCORE_KEYS,
    DatabaseNotFoundError,
    compare_mode_for,
    compute_score,
    get_computer,
)
from sqlr1x.rewards import EnhancedRewardComputer, SQLR1Baseline
from sqlr1x.rewards.computer import bounded_schema_penalty

GOLD = "SELECT name FROM employees WHERE salary > 100"
RESPONSE = "<think>salary</think>\n<answer>```sql\n" + GOLD + "\n```</answer>"

# A table with a repeated value: the gold keeps duplicates, the prediction drops them without DISTINCT
# (which Spider's evaluator would strip). BIRD compares sets (correct), Spider bags (wrong).
DUP_SQL = "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (1, 'x'), (2, 'y');"
DUP_GOLD = "SELECT a FROM t"
DUP_PRED = "SELECT a FROM t GROUP BY a"


def _answer(sql: str) -> str:
    return f"<think>I read the table.</think>\n<answer>```sql\n{sql}\n```</answer>"


@pytest.fixture(scope="module")
def dup_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dup_root")
    make_db(root / "dup" / "dup.sqlite", DUP_SQL)
    return root


def test_signature_matches_verl_custom_reward_function():
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert inspect.signature(compute_score).parameters["extra_info"].default is None


def test_keys_are_stable_and_numeric(employees_db):
    cases = [
        (RESPONSE, GOLD, {"db_path": str(employees_db)}),
        (
            "<think>x</think><answer>```sql\nSELECT nme FROM x\n```</answer>",
            GOLD,
            {"db_path": str(employees_db)},
        ),
        ("garbage", GOLD, {"db_path": str(employees_db)}),
        (None, None, None),
        (RESPONSE, GOLD, {"db_path": "/nowhere/x.sqlite"}),
        (RESPONSE, {"sql": GOLD, "db_path": str(employees_db)}, {}),
    ]
    for solution, truth, info in cases:
        for source in ("synsql", "bird"):
            out = compute_score(source, solution, truth, info)
            assert tuple(out) == SCORE_KEYS
            assert all(isinstance(v, float) for v in out.values())


def test_score_equals_computer_total(employees_db):
    out = compute_score("synsql", RESPONSE, GOLD, {"db_path": str(employees_db)})
    expected = EnhancedRewardComputer().compute_reward(RESPONSE, GOLD, db_path=employees_db)
    assert out["score"] == pytest.approx(expected.total)
    assert out["baseline"] == pytest.approx(expected.baseline_total)
    assert out["correct"] == 1.0 and out["format_ok"] == 1.0 and out["syntax_valid"] == 1.0
    assert out["score"] == pytest.approx(out["baseline"] + out["schema"] + out["structural"] + out["syntax"])


# -- dispatch on data_source ----------------------------------------------------------------------------
def test_bird_rows_use_sets_spider_rows_use_bags(dup_root):
    db = str(dup_root / "dup" / "dup.sqlite")
    # The two official semantics really differ on this case.
    assert execution_match(DUP_PRED, DUP_GOLD, db, mode="bird") is True
    assert execution_match(DUP_PRED, DUP_GOLD, db, mode="spider") is False
    info = {"db_id": "dup", "db_relpath": "dup/dup.sqlite"}
    for source in ("bird", "BIRD", "sqlr1x/bird"):
        out = compute_score(source, _answer(DUP_PRED), DUP_GOLD, info, db_root=str(dup_root))
        assert (out["correct"], out["result"]) == (1.0, 3.0), source
    for source in ("spider", "synsql", "wikisql", "sqlr1x/demo", "sqlr1x/spider", "SynSQL"):
        out = compute_score(source, _answer(DUP_PRED), DUP_GOLD, info, db_root=str(dup_root))
        assert (out["correct"], out["result"], out["exec"]) == (0.0, -3.0, 2.0), source
    # Spider's evaluator strips DISTINCT from both queries before running them: a DISTINCT prediction
    # is correct in both semantics (that is why the case above drops duplicates with GROUP BY).
    distinct = compute_score(
        "spider", _answer("SELECT DISTINCT a FROM t"), DUP_GOLD, info, db_root=str(dup_root)
    )
    assert distinct["correct"] == 1.0
    assert (
        compute_score("bird", _answer("SELECT DISTINCT a FROM t"), DUP_GOLD, info, db_root=str(dup_root))[
            "correct"
        ]
        == 1.0
    )
    # BIRD compares columns in order; Spider allows a permutation.
    swapped = _answer("SELECT b, a FROM t")
    assert (
        compute_score("spider", swapped, "SELECT a, b FROM t", info, db_root=str(dup_root))["correct"] == 1.0
    )
    assert compute_score("bird", swapped, "SELECT a, b FROM t", info, db_root=str(dup_root))["correct"] == 0.0


def test_every_exported_data_source_has_semantics():
    for source, data_source in DATA_SOURCES.items():
        assert compare_mode_for(data_source) == ("bird" if source == "bird" else "spider")


def test_unknown_source_errors_by_default_or_uses_the_configured_semantics(dup_root):
    info = {"db_id": "dup", "db_relpath": "dup/dup.sqlite"}
    with pytest.raises(NotImplementedError, match=r"data_source='gsm8k'.*unknown_source"):
        compute_score("gsm8k", _answer(DUP_PRED), DUP_GOLD, info, db_root=str(dup_root))
    as_bird = compute_score(
        "my/sql-set", _answer(DUP_PRED), DUP_GOLD, info, db_root=str(dup_root), unknown_source="bird"
    )
    as_spider = compute_score(
        "my/sql-set", _answer(DUP_PRED), DUP_GOLD, info, db_root=str(dup_root), unknown_source="spider"
    )
    assert (as_bird["correct"], as_spider["correct"]) == (1.0, 0.0)
    with pytest.raises(ValueError, match=r"unknown_source='sets'.*\['error', 'spider', 'bird'\]"):
        compute_score("bird", _answer(DUP_PRED), DUP_GOLD, info, db_root=str(dup_root), unknown_source="sets")


def test_batch_computer_keeps_modes_apart(dup_root):
    db = str(dup_root / "dup" / "dup.sqlite")
    items = [
        {"solution_str": _answer(sql), "ground_truth": DUP_GOLD, "db_path": db}
        for sql in (DUP_PRED, DUP_GOLD, DUP_PRED)
    ]
    bird = EnhancedRewardComputer(compare_mode="bird").compute_rewards(items)
    spider = EnhancedRewardComputer(compare_mode="spider").compute_rewards(items)
    assert [r.correct for r in bird] == [True, True, True]
    assert [r.correct for r in spider] == [False, True, False]
    with pytest.raises(ValueError, match="compare_mode"):
        SQLR1Baseline(compare_mode="sets")


# -- portable databases --------------------------------------------------------------------------------
def test_relative_paths_resolve_against_db_root_from_kwarg_or_env(dup_root, tmp_path, monkeypatch):
    monkeypatch.delenv("SQLR1X_DB_ROOT", raising=False)
    info = {"db_id": "dup", "db_relpath": "dup/dup.sqlite"}
    gold = _answer(DUP_GOLD)
    assert compute_score("spider", gold, DUP_GOLD, info, db_root=str(dup_root))["correct"] == 1.0
    monkeypatch.setenv("SQLR1X_DB_ROOT", str(dup_root))
    assert compute_score("spider", gold, DUP_GOLD, info)["correct"] == 1.0
    # db_id only: <root>/<db_id>/<db_id>.sqlite, from extra_info or the ground truth dict.
    assert compute_score("spider", gold, DUP_GOLD, {"db_id": "dup"})["correct"] == 1.0
    assert compute_score("spider", gold, {"sql": DUP_GOLD, "db_id": "dup"}, None)["correct"] == 1.0
    # The kwarg wins over the environment.
    moved = tmp_path / "elsewhere"
    make_db(moved / "dup" / "dup.sqlite", DUP_SQL)
    monkeypatch.setenv("SQLR1X_DB_ROOT", str(tmp_path / "gone"))
    assert compute_score("spider", gold, DUP_GOLD, info, db_root=str(moved))["correct"] == 1.0


def test_missing_root_or_file_is_an_error_naming_it(dup_root, tmp_path, monkeypatch):
    monkeypatch.delenv("SQLR1X_DB_ROOT", raising=False)
    info = {"db_id": "dup", "db_relpath": "dup/dup.sqlite"}
    with pytest.raises(
        DatabaseNotFoundError, match=r"db_relpath 'dup/dup.sqlite'.*no database root.*db_root"
    ):
        compute_score("spider", _answer(DUP_GOLD), DUP_GOLD, info)
    with pytest.raises(DatabaseNotFoundError, match=r"db_id 'dup'.*SQLR1X_DB_ROOT"):
        compute_score("spider", _answer(DUP_GOLD), DUP_GOLD, {"db_id": "dup"})
    nowhere = str(tmp_path / "nowhere")
    with pytest.raises(DatabaseNotFoundError, match=f"database root '{nowhere}'.*not a folder"):
        compute_score("spider", _answer(DUP_GOLD), DUP_GOLD, info, db_root=nowhere)
    missing = {"db_id": "other", "db_relpath": "other/other.sqlite"}
    expected = str(dup_root / "other" / "other.sqlite")
    with pytest.raises(DatabaseNotFoundError, match=f"database '{expected}' not found") as err:
        compute_score("spider", _answer(DUP_GOLD), DUP_GOLD, missing, db_root=str(dup_root))
    assert isinstance(err.value, FileNotFoundError) and str(dup_root) in str(err.value)


# -- options -----------------------------------------------------------------------------------------------
def test_unknown_option_lists_the_valid_ones(employees_db):
    info = {"db_path": str(employees_db)}
    with pytest.raises(ValueError, match=r"unknown reward option\(s\) \['schema_wieght'\]") as err:
        compute_score("spider", RESPONSE, GOLD, info, schema_wieght=-1.0)
    for name in ("schema_weight", "workers", "db_root", "unknown_source", "exec_timeout"):
        assert f"'{name}'" in str(err.value)
    assert set(OPTIONS) >= {"workers", "enable_enhanced", "empty_result_guard", "prefilled_think"}
    # The keywords verl's own managers add are accepted.
    out = compute_score(
        "spider", RESPONSE, GOLD, info, reward_router_address=None, reward_model_tokenizer=None
    )
    assert out["correct"] == 1.0


def test_computer_options_pass_through(employees_db):
    info = {"db_path": str(employees_db)}
    assert not any(c.workers == 7 for c in adapter._COMPUTERS.values())
    out = compute_score("bird", RESPONSE, GOLD, info, workers=7, exec_timeout=5, empty_result_guard=True)
    assert out["correct"] == 1.0
    made = [c for c in adapter._COMPUTERS.values() if c.workers == 7]
    assert len(made) == 1
    baseline = made[0].baseline_reward_fn
    assert (baseline.timeout, baseline.empty_result_guard, baseline.compare_mode) == (5.0, True, "bird")


def test_prefilled_think_from_extra_info_or_option(employees_db):
    body = RESPONSE.removeprefix("<think>")
    info = {"db_path": str(employees_db)}
    assert compute_score("synsql", body, GOLD, info)["format_ok"] == 0.0
    assert compute_score("synsql", body, GOLD, {**info, "prefilled_think": True})["correct"] == 1.0
    assert compute_score("synsql", body, GOLD, info, prefilled_think=True)["correct"] == 1.0


def test_schema_from_extra_info(employees_db):
    info = {"db_path": str(employees_db), "schema": {"tables": {"employees": {"columns": ["name"]}}}}
    out = compute_score("synsql", RESPONSE, GOLD, info)
    assert out["n_hallucinations"] == 1.0
    assert out["schema"] == pytest.approx(bounded_schema_penalty(-0.5, 1, out["syntax"] + out["structural"]))


def test_weights_from_kwargs_and_computer_reuse(employees_db):
    info = {"db_path": str(employees_db)}
    off = compute_score("synsql", RESPONSE, GOLD, info, enable_enhanced=False)
    assert off["score"] == off["baseline"] and off["syntax"] == 0.0
    assert get_computer(syntax_weight=0.5) is get_computer(syntax_weight=0.5)
    assert get_computer(compare_mode="bird") is not get_computer(compare_mode="spider")
    assert compute_score("synsql", RESPONSE, GOLD, info, syntax_weight=0.5)["syntax"] == 0.5
