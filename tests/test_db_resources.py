"""Resource bounds of the executor: connection pool, result bytes, prediction limits, batch deadline, soak."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import make_db
from sqlr1x.db.executor import (
    DEFAULT_MAX_BYTES,
    ConnectionPool,
    MatchTask,
    PredictionLimit,
    SQLiteExecutor,
)
from sqlr1x.rewards.computer import EnhancedRewardComputer

ROOT = Path(__file__).resolve().parent.parent
INFINITE_CTE = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
# ~4 GB of results: 4000 rows of a 1 MB blob each.
GIGABYTES = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 4000) "
    "SELECT i, randomblob(1000000) FROM r"
)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


@pytest.fixture(scope="module")
def many_dbs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("many")
    return [
        make_db(root / f"d{i}.sqlite", f"CREATE TABLE t(x); INSERT INTO t VALUES ({i});") for i in range(6)
    ]


# ------------------------------------------------------------------------------- connection pool
def test_pool_closes_the_least_recently_used_connection(many_dbs):
    pool = ConnectionPool(max_size=3)
    conns = []
    for path in many_dbs[:3]:
        conn = pool.acquire(str(path))
        pool.release(conn)
        conns.append(conn)
    again = pool.acquire(str(many_dbs[0]))  # db 0 is now the most recent; db 1 the least
    pool.release(again)
    assert again is conns[0]
    pool.release(pool.acquire(str(many_dbs[3])))
    assert len(pool) == 3
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conns[1].con.execute("SELECT 1")  # evicted and closed
    assert conns[0].run("SELECT x FROM t", timeout=1.0).rows == [(0,)]
    pool.close()


def test_pool_never_closes_a_connection_in_use(many_dbs):
    pool = ConnectionPool(max_size=1)
    busy = pool.acquire(str(many_dbs[0]))
    other = pool.acquire(str(many_dbs[1]))  # over the bound while the first is in use
    assert len(pool) == 2 and busy.run("SELECT x FROM t", timeout=1.0).rows == [(0,)]
    pool.release(busy)
    pool.release(other)
    pool.release(pool.acquire(str(many_dbs[2])))
    assert len(pool) == 1
    pool.close()


def test_executor_bound_on_open_connections(many_dbs):
    with SQLiteExecutor(timeout=1.0, max_connections=2) as ex:
        for _ in range(3):
            for i, path in enumerate(many_dbs):
                assert ex.execute(path, "SELECT x FROM t").rows == [(i,)]
        assert len(ex._connections) == 2
    with pytest.raises(ValueError, match="max_connections"):
        SQLiteExecutor(max_connections=0)


def test_soak_short_no_missing_db_and_stable_resources():
    """4 000 reward calls over 2 000 databases under RLIMIT_NOFILE=256 (the long one: make bench)."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak_rewards.py"),
            "--calls",
            "4000",
            "--dbs",
            "2000",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"soak: before {out['before']}, start {out['start']}, end {out['end']}, statuses {out['statuses']}")
    assert out["nofile"] == 256 and out["calls"] == 4000
    assert "missing_db" not in out["statuses"] and "internal_error" not in out["statuses"]
    assert out["problems"] == [], out["problems"]
    assert out["end"]["fds"] <= out["before"]["fds"] + out["max_connections"] + 16


# ------------------------------------------------------------------------------- result bytes
def test_byte_budget_stops_a_huge_result(employees_db):
    with SQLiteExecutor(timeout=30.0, max_rows=None, max_bytes=8 * 1024 * 1024) as ex:
        r = ex.execute(employees_db, GIGABYTES)
    assert r.error_kind == "too_large" and "byte budget" in r.error and r.rows == []
    with SQLiteExecutor(max_bytes=8 * 1024 * 1024) as ex:  # ordinary results are untouched
        assert ex.execute(employees_db, "SELECT name FROM employees ORDER BY id").rows[0] == ("Alice",)


def test_gigabytes_of_results_keep_rss_bounded(tmp_path):
    """A query producing ~4 GB returns ``too_large`` and peak RSS grows less than 3 x the budget."""
    db = make_db(tmp_path / "t.sqlite", "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
    script = textwrap.dedent(
        f"""
        import json, resource
        from sqlr1x.db.executor import SQLiteExecutor
        def peak_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with SQLiteExecutor(timeout=60.0, max_rows=100_000) as ex:
            ex.execute({str(db)!r}, "SELECT 1")
            before = peak_mb()
            r = ex.execute({str(db)!r}, {GIGABYTES!r})
        print(json.dumps({{"kind": r.error_kind, "before": before, "after": peak_mb(), "elapsed": r.elapsed}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    growth = out["after"] - out["before"]
    bound = 3 * DEFAULT_MAX_BYTES / 2**20
    print(
        f"gigabyte query: {out['kind']} after {out['elapsed']:.2f} s, peak RSS +{growth:.0f} MiB (bound {bound:.0f})"
    )
    assert out["kind"] == "too_large"
    assert growth < bound


# ------------------------------------------------------------------------------- time limits
def test_prediction_limit_follows_the_gold_time(employees_db):
    limit = PredictionLimit(factor=20, floor=0.2, ceiling=0.5)
    task = MatchTask(
        str(employees_db), "SELECT id FROM employees", (INFINITE_CTE, "SELECT id FROM employees")
    )
    with SQLiteExecutor(timeout=5.0, pred_limit=limit) as ex:
        outcome = ex.run_match(task)
    hostile, honest = outcome.preds
    assert hostile.error_kind == "timeout" and outcome.matches == (None, True)
    # Cut by the prediction's limit (at most 0.5 s), not by the executor's 5 s timeout.
    assert 0.2 <= hostile.elapsed < 5.0
    assert outcome.gold.ok


def test_prediction_limit_bounds():
    limit = PredictionLimit(factor=10, floor=0.5, ceiling=3.0)
    assert limit.seconds(0.0001) == 0.5 and limit.seconds(0.1) == 1.0 and limit.seconds(10) == 3.0
    assert limit.seconds(None) == 3.0
    with pytest.raises(ValueError):
        PredictionLimit(floor=2.0, ceiling=1.0)


def test_default_computer_bounds_hostile_completions():
    ex = EnhancedRewardComputer().baseline_reward_fn.executor
    # The gold keeps upstream's generous 30 s; a prediction never gets more than 10 s.
    assert ex.timeout == 30.0 and ex.pred_limit is not None and ex.pred_limit.ceiling <= 10.0
    assert ex.batch_timeout is not None and ex.max_bytes is not None and ex.max_connections >= 1


def test_batch_deadline_stops_every_query(employees_db):
    tasks = [MatchTask(str(employees_db), f"SELECT {i}", (INFINITE_CTE + f" -- {i}",)) for i in range(4)]
    with SQLiteExecutor(timeout=30.0, pred_limit=PredictionLimit(ceiling=30.0)) as ex:
        t0 = time.perf_counter()
        outcomes = ex.compare_many(tasks, workers=1, deadline=0.5)
        took = time.perf_counter() - t0
    kinds = [o.preds[0].error_kind for o in outcomes]
    assert kinds[0] == "deadline" and set(kinds) == {"deadline"}
    assert all(o.gold.ok for o in outcomes[:1])
    assert took < 30.0  # one query's own limit is 30 s: the deadline cut the whole batch
    with pytest.raises(ValueError, match="batch_timeout"):
        SQLiteExecutor(batch_timeout=0)


def test_deadline_results_are_not_cached(employees_db):
    with SQLiteExecutor(timeout=5.0) as ex:
        gold = "SELECT count(*) FROM employees"
        out = ex.compare_many([MatchTask(str(employees_db), gold, ("SELECT 1",))], workers=1, deadline=1e-9)
        assert out[0].gold.error_kind == "deadline"
        assert ex.execute_cached(employees_db, gold).ok  # the deadline result did not stick


# ------------------------------------------------------------------------------- worker start
def test_pool_from_a_stdin_main_falls_back_quietly(tmp_path):
    """``python - <<EOF`` used to print a FileNotFoundError '<stdin>' traceback from every worker."""
    db = make_db(tmp_path / "t.sqlite", "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
    script = textwrap.dedent(
        f"""
        from sqlr1x.db.executor import MatchTask, SQLiteExecutor
        with SQLiteExecutor(timeout=2.0) as ex:
            ex.inline_budget = 0
            rows = ex.execute_many([({str(db)!r}, f"SELECT x + {{i}} FROM t") for i in range(40)], workers=2)
            outs = ex.compare_many([MatchTask({str(db)!r}, "SELECT x FROM t", ("SELECT 1", "SELECT 2"))] * 20, workers=2)
            print(rows[5].rows, sum(o.matches == (True, False) for o in outs))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-"],
        input=script,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "<stdin>" not in proc.stderr, proc.stderr
    assert proc.stdout.split() == ["[(6,)]", "20"]


def test_watchdog_interrupts_between_rows_when_the_progress_handler_is_late(employees_db):
    """Each row costs 20 ms in one VM instruction; the progress handler would first run after
    ~2 000 instructions (~200 rows, ~4 s), the watchdog stops the query within a few rows."""
    calls = []

    def slow(x):
        calls.append(x)
        time.sleep(0.02)
        return x

    pool = ConnectionPool(max_size=1)
    conn = pool.acquire(str(employees_db))
    conn.con.create_function("slow", 1, slow)
    r = conn.run(f"{INFINITE_CTE.replace('count(*)', 'sum(slow(x))')}", timeout=0.1)
    pool.release(conn)
    pool.close()
    assert r.error_kind == "timeout"
    assert len(calls) < 50  # 0.1 s / 20 ms = 5 rows, plus the watchdog's 10 ms polling and slack
