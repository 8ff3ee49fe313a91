"""SQL-R1 baseline: reproduces the published reward on correct inputs, differs exactly on upstream's bugs.

``upstream_score`` below is an independent re-statement of SQL-R1's published rules
(``synsql.compute_score`` + Spider ``eval_exec_match``), *including* their bugs, used as an oracle.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_db
from sqlr1x.db.executor import SQLiteExecutor
from sqlr1x.rewards.baseline import BREAKDOWN_KEYS, SQLR1Baseline, length_term, spider_postprocess

GOLD = "SELECT name FROM employees WHERE salary > 100"


def upstream_score(text: str, gold_sql: str, db_path: Path) -> float:
    """SQL-R1's published reward (format, exec, result, length), bugs included."""
    for header in ("Assistant:", "<|im_start|>assistant"):
        if header in text:
            text = text.split(header, 1)[1]
            break
    else:
        raise ValueError("no assistant header")  # upstream: unpacking a 2-tuple into 3 names
    answers = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)
    thinks = re.findall(r"<think>(.*?)</think>", text, re.DOTALL)
    answer = answers[-1].strip() if answers else None
    think = thinks[-1].strip() if thinks else ""
    tags = ["<think>", "</think>", "<answer>", "</answer>"]
    positions = [text.find(t) for t in tags]
    if answer is None or any(text.count(t) != 1 for t in tags) or positions != sorted(positions):
        return -1.0
    blocks = re.findall(r"```sql(.*?)```", answer, re.DOTALL)
    pred = blocks[-1].strip() if blocks else ""
    if not pred:
        return -1.0
    pred = re.sub(r"\s+", " ", pred)
    gold = re.sub(r"\s+", " ", gold_sql)

    def prep(sql: str) -> str:
        sql = sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")
        return re.sub(r"\bdistinct\b\s*", "", sql, flags=re.IGNORECASE)  # every DISTINCT token

    def run(sql: str):
        con = sqlite3.connect(db_path)
        try:
            return "result", con.execute(sql).fetchall()
        except Exception as exc:
            return "exception", exc
        finally:
            con.close()

    os.listdir(os.path.dirname(db_path))  # upstream lists the folder's databases first
    g_flag, g_rows = run(prep(gold))
    p_flag, p_rows = run(prep(pred))
    if p_flag == "exception":
        return 1.0 - 2.0
    if g_flag == "exception":
        match = True  # the `pred_passes == 3` bug: falls through as a match
    else:
        order = "order by" in gold.lower()
        match = _result_eq(g_rows, p_rows, order)
    if not match:
        return 1.0 + 2.0 - 3.0
    p = len(think) + len(answer)
    length = (p / 2048 * 0.5 if p <= 2048 else 0.5) + len(pred) / len(answer)
    return 1.0 + 2.0 + 3.0 + length


def _result_eq(gold: list, pred: list, order_matters: bool) -> bool:
    if not gold and not pred:
        return True
    if len(gold) != len(pred) or len(gold[0]) != len(pred[0]):
        return False
    for perm in itertools.permutations(range(len(gold[0]))):
        permuted = [tuple(row[i] for i in perm) for row in pred]
        if (gold == permuted) if order_matters else (Counter(gold) == Counter(permuted)):
            return True
    return False


def completion(
    sql: str, think: str = "Find the well-paid employees.", header: str = "<|im_start|>assistant\n"
):
    return f"{header}<think>{think}</think>\n<answer>\nHere it is:\n```sql\n{sql}\n```\n</answer><|im_end|>"


CORRECT_INPUT_CASES = [
    # (completion, gold): every case is well-formed and the gold runs, so upstream has no bug to hit
    (completion(GOLD), GOLD),
    (completion("SELECT name\n   FROM employees\n  WHERE salary > 100"), GOLD),
    (completion("SELECT name FROM employees WHERE salary > = 200"), GOLD),
    (completion("SELECT name FROM employees"), GOLD),
    (completion("SELECT nam FROM employees"), GOLD),
    (
        completion("SELECT name, id FROM employees WHERE salary > 100"),
        "SELECT id, name FROM employees WHERE salary > 100",
    ),
    (completion("SELECT name FROM employees ORDER BY name"), "SELECT name FROM employees ORDER BY name"),
    (completion("SELECT name FROM employees ORDER BY name DESC"), "SELECT name FROM employees ORDER BY name"),
    (completion("SELECT name FROM employees ORDER BY name DESC"), "SELECT name FROM employees"),
    (completion("SELECT DISTINCT department FROM employees"), "SELECT department FROM employees"),
    (
        completion("SELECT name FROM employees WHERE id > 100"),
        "SELECT name FROM employees WHERE salary > 1000",
    ),
    (completion(GOLD, think="x" * 5000), GOLD),
    (completion(GOLD, header="User: q\nAssistant: "), GOLD),
    (completion(GOLD).replace("<think>", "<think><think>"), GOLD),
    (completion(GOLD).replace("```sql", "```"), GOLD),
    ("<|im_start|>assistant\n<answer>```sql\nSELECT 1\n```</answer><think>t</think>", GOLD),
    (completion("SELECT 1; SELECT 2"), GOLD),
]


@pytest.mark.parametrize(("text", "gold"), CORRECT_INPUT_CASES)
def test_reproduces_upstream_on_correct_inputs(text, gold, employees_db):
    got = SQLR1Baseline()(text, gold, db_path=employees_db)
    assert got["score"] == pytest.approx(upstream_score(text, gold, employees_db), abs=1e-12)


def test_values_per_outcome(employees_db):
    reward = SQLR1Baseline()
    fmt_fail = reward("SELECT 1", GOLD, db_path=employees_db)
    pred_fail = reward(completion("SELECT nope FROM employees"), GOLD, db_path=employees_db)
    wrong = reward(completion("SELECT name FROM employees"), GOLD, db_path=employees_db)
    right = reward(completion(GOLD), GOLD, db_path=employees_db)
    assert (fmt_fail["score"], fmt_fail["format"], fmt_fail["status"]) == (-1.0, -1.0, "format_error")
    assert (pred_fail["format"], pred_fail["exec"], pred_fail["result"], pred_fail["score"]) == (
        1.0,
        -2.0,
        0.0,
        -1.0,
    )
    assert pred_fail["pred_error"] and "nope" in pred_fail["pred_error"]
    assert (wrong["exec"], wrong["result"], wrong["score"], wrong["status"]) == (2.0, -3.0, 0.0, "mismatch")
    assert right["status"] == "match" and 6.0 < right["score"] <= 7.5
    assert right["score"] == pytest.approx(6.0 + right["length"])


def test_breakdown_has_every_key(employees_db):
    for text in (None, "garbage", completion(GOLD), completion("SELECT x FROM y")):
        out = SQLR1Baseline()(text, GOLD, db_path=employees_db)
        assert set(BREAKDOWN_KEYS) <= set(out)
        assert out["score"] == pytest.approx(out["format"] + out["exec"] + out["result"] + out["length"])


def test_length_term_formula():
    answer = "```sql\nSELECT  a\nFROM t\n```"
    expected = 0.5 * (10 + len(answer)) / 2048 + len("SELECT a FROM t") / len(answer)
    assert length_term("0123456789", answer, "SELECT  a\nFROM t") == pytest.approx(expected)
    # P is capped at 2048 characters
    assert length_term("x" * 10_000, answer, "SELECT a FROM t") == pytest.approx(0.5 + 15 / len(answer))


def test_prefilled_think(employees_db):
    reward = SQLR1Baseline()
    body = "reasoning</think>\n<answer>```sql\n" + GOLD + "\n```</answer>"
    assert reward(body, GOLD, db_path=employees_db, prefilled_think=True)["status"] == "match"
    assert reward(body, GOLD, db_path=employees_db)["status"] == "format_error"
    # a model that opens a second <think> after the pre-filled one fails, as in SQL-R1
    assert reward("<think>" + body, GOLD, db_path=employees_db, prefilled_think=True)["score"] == -1.0


def test_ground_truth_dict_with_db_id_and_root(tmp_path, monkeypatch):
    root = tmp_path / "databases"
    make_db(root / "company" / "company.sqlite")
    truth = {"sql": GOLD, "db_id": "company"}
    assert SQLR1Baseline(db_root=root)(completion(GOLD), truth)["status"] == "match"
    assert SQLR1Baseline(db_root=root)(completion(GOLD), {"ground_truth": truth})["status"] == "match"
    assert SQLR1Baseline(db_root=root)(completion(GOLD), str(truth))["status"] == "match"
    monkeypatch.setenv("SQLR1X_DB_ROOT", str(root))
    assert SQLR1Baseline()(completion(GOLD), truth)["status"] == "match"


def test_db_path_in_ground_truth(employees_db):
    truth = {"sql": GOLD, "db_path": str(employees_db)}
    assert SQLR1Baseline()(completion(GOLD), truth)["status"] == "match"


def test_default_timeout_is_upstreams_30s_and_configurable():
    assert SQLR1Baseline().timeout == 30.0
    assert SQLR1Baseline().executor.timeout == 30.0
    assert SQLR1Baseline(timeout=2.5).executor.timeout == 2.5


def test_prediction_cannot_write(employees_db):
    """Upstream executes on a writable connection (a DELETE "runs" and scores 0); ours refuses it: -1."""
    before = sqlite3.connect(employees_db).execute("SELECT count(*) FROM employees").fetchone()
    out = SQLR1Baseline()(completion("DELETE FROM employees"), GOLD, db_path=employees_db)
    after = sqlite3.connect(employees_db).execute("SELECT count(*) FROM employees").fetchone()
    assert out["score"] == -1.0 and out["status"] == "pred_error"
    assert before == after


# --- deviations from upstream ---------------------------------------------------------------------------
def test_deviation_a_failing_gold_gives_no_result_reward(employees_db):
    """Upstream's ``pred_passes == 3`` makes any executable prediction a full-reward match."""
    bad_gold = "SELECT name FROM employes"
    text = completion("SELECT name FROM employees")
    assert upstream_score(text, bad_gold, employees_db) > 6.0
    out = SQLR1Baseline()(text, bad_gold, db_path=employees_db)
    assert out["status"] == "gold_error"
    assert (out["format"], out["exec"], out["result"], out["length"], out["score"]) == (
        1.0,
        0.0,
        0.0,
        0.0,
        1.0,
    )
    assert "employes" in out["gold_error"]
    # a failing prediction is still a failing prediction
    assert SQLR1Baseline()(completion("SELECT x FROM y"), bad_gold, db_path=employees_db)["score"] == -1.0


def test_deviation_b_keeps_aggregate_distinct(employees_db):
    """Upstream strips DISTINCT inside COUNT(DISTINCT x): 4 rows counted equals 2 distinct values."""
    gold = "SELECT COUNT(DISTINCT department) FROM employees"
    wrong = completion("SELECT COUNT(department) FROM employees")
    assert upstream_score(wrong, gold, employees_db) > 6.0
    assert SQLR1Baseline()(wrong, gold, db_path=employees_db)["status"] == "mismatch"
    assert SQLR1Baseline()(completion(gold), gold, db_path=employees_db)["status"] == "match"
    # top-level DISTINCT is still removed from both, as upstream does
    top = SQLR1Baseline()(
        completion("SELECT DISTINCT department FROM employees"),
        "SELECT department FROM employees",
        db_path=employees_db,
    )
    assert top["status"] == "match"


def test_deviation_c_timeout_interrupts_the_query(employees_db):
    """Upstream abandons a timed-out query in a thread that keeps burning CPU; ours is interrupted."""
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    reward = SQLR1Baseline(timeout=0.3)
    threads_before = threading.active_count()
    start = time.perf_counter()
    out = reward(completion(endless), GOLD, db_path=employees_db)
    elapsed = time.perf_counter() - start
    assert out["status"] == "pred_timeout" and out["exec"] == -2.0 and out["score"] == -1.0
    assert elapsed < 2.0
    assert threading.active_count() == threads_before
    # the connection is usable at once: nothing is still running on it
    assert reward(completion(GOLD), GOLD, db_path=employees_db)["status"] == "match"


def test_deviation_d_missing_database_and_missing_header(tmp_path, employees_db):
    missing = tmp_path / "nowhere" / "x.sqlite"
    with pytest.raises(FileNotFoundError):
        upstream_score(completion(GOLD), GOLD, missing)  # os.listdir / connect in upstream
    out = SQLR1Baseline()(completion(GOLD), GOLD, db_path=missing)
    assert (out["status"], out["score"], out["exec"], out["result"]) == ("missing_db", 1.0, 0.0, 0.0)
    assert str(missing) in out["reason"]
    no_db = SQLR1Baseline()(completion(GOLD), {"sql": GOLD, "db_id": "ghost"})
    assert no_db["status"] == "missing_db" and no_db["reason"]
    # no assistant header: upstream raises; ours treats the text as the response
    bare = completion(GOLD, header="")
    with pytest.raises(ValueError):
        upstream_score(bare, GOLD, employees_db)
    assert SQLR1Baseline()(bare, GOLD, db_path=employees_db)["score"] == pytest.approx(
        upstream_score("<|im_start|>assistant\n" + bare, GOLD, employees_db)
    )


def test_deviation_e_whitespace_inside_literals_is_kept(tmp_path):
    db = make_db(
        tmp_path / "ws.sqlite",
        "CREATE TABLE t(id INTEGER, name TEXT); INSERT INTO t VALUES (1, 'a  b'), (2, 'a b');",
    )
    gold = "SELECT id FROM t WHERE name = 'a  b'"
    wrong = completion("SELECT id FROM t WHERE name = 'a b'")
    assert upstream_score(wrong, gold, db) > 6.0  # both collapse to 'a b'
    assert SQLR1Baseline()(wrong, gold, db_path=db)["status"] == "mismatch"
    right = SQLR1Baseline()(completion(gold), gold, db_path=db)
    assert right["status"] == "match"
    assert right["score"] == pytest.approx(upstream_score(completion(gold), gold, db))


def test_spider_postprocess_leaves_literals_alone():
    assert spider_postprocess("SELECT a FROM t WHERE b > = 1 AND c ! = 'x > = y'") == (
        "SELECT a FROM t WHERE b >= 1 AND c != 'x > = y'"
    )


# --- empty_result_guard ----------------------------------------------------------------------------------
def test_empty_result_guard(employees_db):
    gold = "SELECT name FROM employees WHERE salary > 10000"
    empty_pred = completion("SELECT name FROM employees WHERE id = 99")
    assert SQLR1Baseline()(empty_pred, gold, db_path=employees_db)["status"] == "match"  # upstream default
    guarded = SQLR1Baseline(empty_result_guard=True)(empty_pred, gold, db_path=employees_db)
    assert (guarded["status"], guarded["exec"], guarded["result"], guarded["length"]) == (
        "empty_match",
        2.0,
        0.0,
        0.0,
    )
    assert guarded["score"] == 3.0
    # non-empty matches are untouched by the guard
    assert (
        SQLR1Baseline(empty_result_guard=True)(completion(GOLD), GOLD, db_path=employees_db)["status"]
        == "match"
    )


def test_injected_executor_is_used(employees_db):
    calls = []

    class Spy(SQLiteExecutor):
        def execute(self, db_path, sql):
            calls.append(sql)
            return super().execute(db_path, sql)

    SQLR1Baseline(executor=Spy(timeout=5))(completion(GOLD), GOLD, db_path=employees_db)
    assert GOLD in calls


@pytest.mark.parametrize(
    "garbage",
    [None, b"\xff\xfe<think>", 42, ["not", "messages"], "\ud800 lone surrogate", "x" * 1_000_000, ""],
)
def test_garbage_never_raises(garbage, employees_db):
    out = SQLR1Baseline()(garbage, GOLD, db_path=employees_db)
    assert out["score"] == -1.0 and out["status"] == "format_error" and out["reason"]


@pytest.mark.parametrize("truth", [None, 3.5, {"db_id": "x"}, "", "   ", ["SELECT 1"]])
def test_unusable_ground_truth_scores_format_only(truth, employees_db):
    out = SQLR1Baseline()(completion(GOLD), truth, db_path=employees_db)
    assert (out["status"], out["score"]) == ("no_gold", 1.0) and out["reason"]


def test_bytes_ground_truth_is_decoded(employees_db):
    assert SQLR1Baseline()(completion(GOLD), GOLD.encode(), db_path=employees_db)["status"] == "match"


def test_order_matters_only_for_an_outer_order_by(employees_db):
    """Upstream tests ``'order by' in gold.lower()``, which also fires on a string literal."""
    gold = "SELECT name FROM employees WHERE name <> 'order by'"
    text = completion("SELECT name FROM employees ORDER BY name DESC")
    assert upstream_score(text, gold, employees_db) == 0.0
    assert SQLR1Baseline()(text, gold, db_path=employees_db)["status"] == "match"


def test_only_the_given_database_is_used(tmp_path):
    """Upstream also runs both queries on every other ``.sqlite`` file of the folder."""
    db = make_db(tmp_path / "a.sqlite", "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
    make_db(tmp_path / "b.sqlite", "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);")
    out = SQLR1Baseline()(completion("SELECT 1"), "SELECT max(x) FROM t", db_path=db)
    assert out["status"] == "match"
