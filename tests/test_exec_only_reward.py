"""Execution-only ablation baselines: Arctic-Text2SQL-R1's 1 / 0.1 / 0 and a row-overlap reward."""

from __future__ import annotations

import sqlite3

import pytest

from sqlr1x.config import ConfigError, TrainConfig, load_config
from sqlr1x.db.executor import SQLiteExecutor
from sqlr1x.integrations.trl import make_computer, make_reward_funcs
from sqlr1x.rewards.exec_only import (
    ExecutionOnlyReward,
    RowOverlapReward,
    baseline_from_config,
    row_f1,
)

GOLD = "SELECT name FROM emp WHERE dept = 'y'"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("exec_only") / "company.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE emp(id INTEGER PRIMARY KEY, name TEXT, dept TEXT);"
        "INSERT INTO emp(name, dept) VALUES ('a', 'x'), ('b', 'y'), ('c', 'y'), ('d', 'z');"
    )
    con.close()
    return str(path)


def answer(sql: str) -> str:
    return f"<think>look at emp</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


@pytest.mark.parametrize(
    ("sql", "score", "status"),
    [
        (GOLD, 1.0, "match"),
        ("SELECT e.name FROM emp AS e WHERE e.dept IN ('y')", 1.0, "match"),  # equivalent rewrite
        ("SELECT name FROM emp", 0.1, "mismatch"),  # the collapse query: executes, wrong
        ("SELECT nme FROM emp", 0.0, "exec_error"),
        ('SELECT name FROM emp WHERE dept = "nosuchcol"', 0.1, "mismatch"),  # literal position: a string
        ('SELECT "nosuchcol" FROM emp', 0.0, "hallucinated"),  # runs only as a string constant
        ("", 0.0, "no_sql"),
    ],
)
def test_arctic_exec_reward(db, sql, score, status):
    out = ExecutionOnlyReward(timeout=5.0)(answer(sql), GOLD, db_path=db)
    assert (out["score"], out["status"]) == (score, status)
    assert out["format"] == 1.0


def test_not_the_policys_fault_is_zero_with_a_status(db, tmp_path):
    reward = ExecutionOnlyReward(timeout=5.0)
    assert reward(answer(GOLD), "SELECT nope FROM emp", db_path=db)["status"] == "gold_error"
    missing = reward(answer(GOLD), GOLD, db_path=str(tmp_path / "none.sqlite"))
    assert missing["score"] == 0.0 and missing["status"] in {"missing_db", "gold_error"}
    assert reward(answer(GOLD), GOLD)["status"] == "missing_db"
    capped = ExecutionOnlyReward(executor=SQLiteExecutor(max_rows=1))
    assert capped(answer("SELECT name FROM emp"), GOLD, db_path=db)["status"] == "truncated"


def test_ground_truth_dict_and_bare_completion(db):
    reward = ExecutionOnlyReward(timeout=5.0)
    assert reward(f"```sql\n{GOLD}\n```", {"sql": GOLD, "db_path": db})["score"] == 1.0
    # the answer is extracted as for SQL-R1's reward: text without an SQL block has no answer
    assert reward("the names in dept y", GOLD, db_path=db)["status"] == "no_sql"


def test_bird_mode_compares_sets(db):
    spider = ExecutionOnlyReward(timeout=5.0)
    bird = ExecutionOnlyReward(timeout=5.0, mode="bird")
    pred = "SELECT dept, name FROM emp WHERE dept = 'y'"
    gold = "SELECT name, dept FROM emp WHERE dept = 'y'"
    assert spider(answer(pred), gold, db_path=db)["score"] == 1.0  # column permutation allowed
    assert bird(answer(pred), gold, db_path=db)["score"] == 0.1


def test_row_overlap_orders_near_misses(db):
    reward = RowOverlapReward(timeout=5.0)
    exact = reward(answer(GOLD), GOLD, db_path=db)["score"]
    near = reward(answer("SELECT name FROM emp WHERE dept IN ('y', 'z')"), GOLD, db_path=db)["score"]
    trivial = reward(answer("SELECT name FROM emp"), GOLD, db_path=db)["score"]
    disjoint = reward(answer("SELECT name FROM emp WHERE dept = 'x'"), GOLD, db_path=db)["score"]
    assert exact == 1.0
    assert near == pytest.approx(0.1 + 0.5 * 0.8)  # P 2/3, R 1
    assert trivial == pytest.approx(0.1 + 0.5 * (2 * 0.5 / 1.5))  # P 1/2, R 1
    assert exact > near > trivial > disjoint == 0.1
    assert reward(answer("SELECT nme FROM emp"), GOLD, db_path=db)["score"] == 0.0
    with pytest.raises(ValueError):
        RowOverlapReward(overlap=0.95)


def test_row_f1_ignores_order_and_column_order():
    assert row_f1([(1, "a"), (2, "b")], [("b", 2), ("a", 1)]) == 1.0
    assert row_f1([(1,), (1,)], [(1,)]) == pytest.approx(2 / 3)  # bags: duplicates count
    assert row_f1([], [(1,)]) == 0.0


def test_config_baseline_choice_reaches_the_computer(db):
    config = load_config("configs/demo.yaml", ["reward.baseline=arctic_exec", "reward.enable_enhanced=false"])
    assert config.reward.baseline == "arctic_exec"
    computer = make_computer(config.reward)
    assert isinstance(computer.baseline_reward_fn, ExecutionOnlyReward)
    for sql, total in ((GOLD, 1.0), ("SELECT name FROM emp", 0.1), ("SELECT nme FROM emp", 0.0)):
        result = computer.compute_reward(answer(sql), GOLD, db_path=db)
        assert result.total == pytest.approx(total) and result.baseline_total == pytest.approx(total)
    wrong = computer.compute_reward(answer("SELECT name FROM emp"), GOLD, db_path=db)
    assert wrong.executable and not wrong.correct and wrong.format_ok  # the trainer's rates read it
    assert not computer.compute_reward("SELECT name FROM emp", GOLD, db_path=db).format_ok
    funcs, weights = make_reward_funcs(config.reward)
    scores = funcs[0](prompts=["p"], completions=[answer(GOLD)], gold_sql=[GOLD], db_path=[db])
    assert scores == [1.0]
    assert make_computer(TrainConfig().reward).baseline_reward_fn.__class__.__name__ == "SQLR1Baseline"
    assert baseline_from_config("row_overlap").__class__ is RowOverlapReward
    with pytest.raises(ValueError):
        baseline_from_config("nope")
    with pytest.raises(ConfigError, match="baseline"):
        load_config("configs/demo.yaml", ["reward.baseline=nope"])


def test_grpo_knobs_reach_trl(tmp_path):
    pytest.importorskip("trl")
    from sqlr1x.train.grpo import build_grpo_args

    config = load_config(
        "configs/demo.yaml",
        [
            "optimization.mask_truncated_completions=true",
            "optimization.beta=0.02",
            "optimization.temperature=0.7",
            "optimization.num_generations=8",
            "optimization.batch_size=4",
            "optimization.learning_rate=5e-5",
            "optimization.max_steps=7",
        ],
    )
    args = build_grpo_args(config, tmp_path)
    assert args.mask_truncated_completions is True
    assert (args.beta, args.temperature, args.num_generations) == (0.02, 0.7, 8)
    assert args.per_device_train_batch_size == 32 and args.learning_rate == 5e-5 and args.max_steps == 7


def test_row_cap_follows_the_shared_rule(db):
    """As in the SQL-R1 baseline (db.results.truncation_outcome): a prediction alone over the cap is
    a mismatch under Spider's bags, undecided under BIRD's sets; a cut gold is undecided."""
    capped = SQLiteExecutor(timeout=5.0, max_rows=2)
    bomb = answer("SELECT a.name FROM emp a, emp b")
    spider = ExecutionOnlyReward(executor=capped)(bomb, GOLD, db_path=db)
    assert (spider["status"], spider["score"]) == ("mismatch", 0.1)
    assert ExecutionOnlyReward(executor=capped, mode="bird")(bomb, GOLD, db_path=db)["status"] == "truncated"
    cut_gold = ExecutionOnlyReward(executor=capped)(
        answer("SELECT name FROM emp"), "SELECT name FROM emp", db_path=db
    )
    assert (cut_gold["status"], cut_gold["score"]) == ("truncated", 0.0)
