"""Benchmark of the SQL core: analysis throughput and guarded-execution overhead.

Measures, on a temporary SQLite database (a few thousand rows) and ~50 varied queries:

1. Analysis throughput (``sqlr1x.sql.analysis``): ``parse_sql`` uncached (every SQL made unique by
   a trailing comment) and cached, ``find_hallucinations`` on a parsed query, ``clause_components``
   uncached and cached: queries/s and median µs per query.
2. Executor overhead: ``SQLiteExecutor.execute`` against bare ``sqlite3`` on the same queries in
   the same run, with a new connection per call (what the official evaluators do) and with one
   reused connection; printed as ratios of total time. Also the progress-handler cost on a
   CPU-bound query for several check intervals (how ``PROGRESS_STEPS`` was chosen), and batch
   execution in-process vs the process pool (how the ``execute_many`` thresholds were chosen).

Single-thread figures use the calling thread's CPU time (``time.thread_time``), so other processes
competing for the cores do not distort them; the batch comparison is wall time by nature.

Run from the repository root (takes ~30-60 s; numbers depend on the machine and its load):

    .venv/bin/python benchmarks/bench_sql_core.py
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlr1x.db import SQLiteExecutor
from sqlr1x.db import executor as executor_module
from sqlr1x.sql.analysis import clause_components, find_hallucinations, parse_sql
from sqlr1x.sql.schema import Schema

QUERIES = [
    "SELECT name FROM employees WHERE id = 42",
    "SELECT name, salary FROM employees WHERE salary > 90000",
    "SELECT count(*) FROM employees",
    "SELECT DISTINCT department_id FROM employees",
    "SELECT name FROM employees ORDER BY salary DESC LIMIT 10",
    "SELECT department_id, avg(salary) FROM employees GROUP BY department_id",
    "SELECT department_id, count(*) FROM employees GROUP BY department_id HAVING count(*) > 100",
    "SELECT e.name, d.name FROM employees AS e JOIN departments AS d ON e.department_id = d.id WHERE d.budget > 50000",
    "SELECT d.name, count(e.id) FROM departments AS d LEFT JOIN employees AS e ON e.department_id = d.id GROUP BY d.name",
    "SELECT T1.name FROM employees AS T1 JOIN assignments AS T2 ON T1.id = T2.employee_id JOIN projects AS T3 ON T2.project_id = T3.id WHERE T3.status = 'active'",
    "SELECT name FROM employees WHERE department_id IN (SELECT id FROM departments WHERE budget > 80000)",
    "SELECT name FROM employees WHERE salary > (SELECT avg(salary) FROM employees)",
    "SELECT name FROM employees AS e WHERE salary > (SELECT avg(salary) FROM employees WHERE department_id = e.department_id)",
    "SELECT name FROM employees WHERE NOT EXISTS (SELECT 1 FROM assignments WHERE employee_id = employees.id)",
    "WITH top AS (SELECT department_id, max(salary) AS m FROM employees GROUP BY department_id) SELECT e.name FROM employees AS e JOIN top ON e.department_id = top.department_id AND e.salary = top.m",
    "SELECT name FROM employees WHERE name LIKE 'A%' UNION SELECT name FROM projects WHERE name LIKE 'A%'",
    "SELECT name FROM employees WHERE department_id = 3 INTERSECT SELECT name FROM employees WHERE salary > 50000",
    "SELECT name FROM employees EXCEPT SELECT e.name FROM employees AS e JOIN assignments AS a ON a.employee_id = e.id",
    "SELECT name, rank() OVER (PARTITION BY department_id ORDER BY salary DESC) FROM employees",
    "SELECT project_id, sum(hours) FROM assignments GROUP BY project_id ORDER BY sum(hours) DESC LIMIT 5",
    "SELECT p.name, count(DISTINCT a.employee_id) FROM projects AS p JOIN assignments AS a ON a.project_id = p.id GROUP BY p.id",
    "SELECT name FROM employees WHERE hire_date BETWEEN '2015-01-01' AND '2016-12-31'",
    "SELECT strftime('%Y', hire_date) AS y, count(*) FROM employees GROUP BY y ORDER BY y",
    "SELECT name FROM employees WHERE department_id IS NULL",
    "SELECT CASE WHEN salary > 100000 THEN 'high' ELSE 'low' END, count(*) FROM employees GROUP BY 1",
    "SELECT min(salary), max(salary), avg(salary) FROM employees WHERE department_id = 7",
    "SELECT name FROM departments WHERE id NOT IN (SELECT department_id FROM employees WHERE department_id IS NOT NULL)",
    "SELECT e.name, p.name FROM employees AS e, assignments AS a, projects AS p WHERE e.id = a.employee_id AND a.project_id = p.id AND p.budget > 90000",
    "SELECT * FROM departments",
    "SELECT * FROM employees WHERE id < 2000",
    "SELECT name, salary * 1.1 AS raised FROM employees ORDER BY raised DESC LIMIT 3",
    "SELECT upper(name), length(name) FROM projects WHERE status != 'done'",
    "SELECT status, count(*) FROM projects GROUP BY status",
    "SELECT d.name FROM departments AS d WHERE d.budget = (SELECT max(budget) FROM departments)",
    "SELECT employee_id FROM assignments GROUP BY employee_id HAVING sum(hours) > 100",
    "SELECT count(*) FROM employees AS e1 JOIN employees AS e2 ON e1.department_id = e2.department_id WHERE e1.id < 300 AND e2.id < 300",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) SELECT sum(x) FROM n",
    "SELECT name FROM employees WHERE salary > 50000 AND department_id = 2 OR salary > 120000",
    "SELECT department_id, group_concat(name) FROM employees WHERE id < 100 GROUP BY department_id",
    "SELECT a.project_id, e.department_id, sum(a.hours) FROM assignments AS a JOIN employees AS e ON e.id = a.employee_id GROUP BY 1, 2",
    # hallucinations / errors: the executor reports them, the analysis finds them
    "SELECT name FROM customers",
    "SELECT nickname FROM employees",
    "SELECT e.name, x.total FROM employees AS e JOIN totals AS x ON x.eid = e.id",
    "SELECT name FROM employees WHERE",
    "SELEC name FROM employees",
    "SELECT name FROM employees; SELECT 1",
    "DELETE FROM employees WHERE id = 1",
    'SELECT name FROM employees WHERE name = "John"',
    "SELECT count(*) FROM (SELECT department_id FROM employees GROUP BY department_id)",
    "SELECT name FROM projects ORDER BY budget LIMIT 1 OFFSET 3",
]

HEAVY = "SELECT count(*) FROM employees AS a, employees AS b WHERE a.id < 200 AND b.salary > a.salary"


def build_db(path: Path, seed: int = 0) -> Path:
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE departments (id INTEGER PRIMARY KEY, name TEXT, budget REAL);
        CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT, salary REAL, hire_date TEXT,
                                department_id INTEGER REFERENCES departments(id));
        CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT, status TEXT, budget REAL);
        CREATE TABLE assignments (employee_id INTEGER REFERENCES employees(id),
                                  project_id INTEGER REFERENCES projects(id), hours REAL);
        CREATE INDEX employees_department ON employees(department_id);
        CREATE INDEX assignments_employee ON assignments(employee_id);
        CREATE INDEX assignments_project ON assignments(project_id);
        """
    )
    con.executemany(
        "INSERT INTO departments VALUES (?, ?, ?)",
        [(i, f"Dept {i}", rng.uniform(1e4, 1e5)) for i in range(1, 21)],
    )
    names = ["Alice", "Bob", "Carol", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "John"]
    con.executemany(
        "INSERT INTO employees VALUES (?, ?, ?, ?, ?)",
        [
            (
                i,
                f"{rng.choice(names)} {i}",
                rng.uniform(3e4, 1.5e5),
                f"{rng.randint(2005, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice([*range(1, 21), None]),
            )
            for i in range(1, 3001)
        ],
    )
    con.executemany(
        "INSERT INTO projects VALUES (?, ?, ?, ?)",
        [
            (
                i,
                f"{rng.choice(names)} project {i}",
                rng.choice(["active", "done", "paused"]),
                rng.uniform(1e3, 1e5),
            )
            for i in range(1, 2001)
        ],
    )
    con.executemany(
        "INSERT INTO assignments VALUES (?, ?, ?)",
        [(rng.randint(1, 3000), rng.randint(1, 2000), rng.uniform(1, 40)) for _ in range(5000)],
    )
    con.commit()
    con.close()
    return path


def per_query_us(fn: Callable[[str], object], queries: list[str], reps: int) -> list[float]:
    """Median CPU time of this thread (µs) of ``fn(q)`` for each query over ``reps`` repetitions."""
    samples: list[list[float]] = [[] for _ in queries]
    for _ in range(reps):
        for i, q in enumerate(queries):
            t = time.thread_time_ns()
            fn(q)
            samples[i].append((time.thread_time_ns() - t) / 1e3)
    return [statistics.median(s) for s in samples]


def report(label: str, times_us: list[float]) -> None:
    total_s = sum(times_us) / 1e6
    print(
        f"  {label:<38} {len(times_us) / total_s:>10,.0f} q/s   median {statistics.median(times_us):>8.1f} µs"
    )


def bench_analysis(db: Path, reps: int = 5) -> None:
    print(f"Analysis throughput ({len(QUERIES)} queries; thread CPU time, median of {reps} runs per query)")
    schema = Schema.from_sqlite(db)
    counter = iter(range(10**9))

    def unique(q: str) -> str:  # defeats every per-SQL cache without touching private state
        return f"{q} /* {next(counter)} */"

    report("parse_sql (uncached)", per_query_us(lambda q: parse_sql(unique(q)), QUERIES, reps))
    for q in QUERIES:
        parse_sql(q)
    report("parse_sql (cached)", per_query_us(parse_sql, QUERIES, reps))
    parsed = {q: parse_sql(q) for q in QUERIES}
    report(
        "find_hallucinations (parsed input)",
        per_query_us(lambda q: find_hallucinations(parsed[q], schema), QUERIES, reps),
    )
    report(
        "parse + find_hallucinations (uncached)",
        per_query_us(lambda q: find_hallucinations(unique(q), schema), QUERIES, reps),
    )
    report(
        "clause_components (uncached)", per_query_us(lambda q: clause_components(unique(q)), QUERIES, reps)
    )
    for q in QUERIES:
        clause_components(q)
    report("clause_components (cached)", per_query_us(clause_components, QUERIES, reps))


def bench_executor(db: Path, reps: int = 15) -> None:
    path = str(db)
    uri = f"file:{path}?mode=ro"  # bare connections read-only too, so the write attempt fails alike
    bare = sqlite3.connect(uri, uri=True)

    def bare_reused(q: str) -> object:
        try:
            return bare.execute(q).fetchall()
        except (sqlite3.Error, sqlite3.Warning) as e:
            return e

    def bare_new(q: str) -> object:
        con = sqlite3.connect(uri, uri=True)
        try:
            return con.execute(q).fetchall()
        except (sqlite3.Error, sqlite3.Warning) as e:
            return e
        finally:
            con.close()

    with SQLiteExecutor() as ex:
        n_fail = sum(not ex.execute(path, q).ok for q in QUERIES)
        print(
            f"\nExecutor overhead ({len(QUERIES)} queries, {n_fail} of them failing; thread CPU time, min of {reps} runs per query)"
        )
        fns = {"SQLiteExecutor.execute": lambda q: ex.execute(path, q)}
        fns["bare sqlite3, reused connection"] = bare_reused
        fns["bare sqlite3, new connection per call"] = bare_new
        for f in fns.values():  # warm the page cache and statement caches
            for q in QUERIES:
                f(q)
        # CPU time of this thread, interleaved per query, minimum over repetitions: robust against
        # other processes competing for the cores (wall time equals it on an idle machine).
        best = {label: [float("inf")] * len(QUERIES) for label in fns}
        for _ in range(reps):
            for i, q in enumerate(QUERIES):
                for label, f in fns.items():
                    t = time.thread_time_ns()
                    f(q)
                    best[label][i] = min(best[label][i], (time.thread_time_ns() - t) / 1e3)
        for label, times in best.items():
            report(label, times)
        ours, reused, new = best.values()
        print(f"  ratio ours / bare reused connection: {sum(ours) / sum(reused):.3f}")
        print(f"  ratio ours / bare new connection:    {sum(ours) / sum(new):.3f}")
        per_query = sorted(o / r for o, r in zip(ours, reused, strict=True))
        print(
            f"  per-query ratio ours / bare reused: median {statistics.median(per_query):.3f}, max {per_query[-1]:.3f}"
        )

    # Progress-handler cost on a CPU-bound query, for several check intervals (PROGRESS_STEPS).
    deadline = time.perf_counter() + 3600
    settings = [None, 100, 1000, executor_module.PROGRESS_STEPS, 10000]
    best_heavy = dict.fromkeys(settings, float("inf"))
    for _ in range(15):
        for steps in settings:
            bare.set_progress_handler(
                None if steps is None else (lambda: time.perf_counter() > deadline), steps or 0
            )
            t = time.thread_time()
            bare.execute(HEAVY).fetchall()
            best_heavy[steps] = min(best_heavy[steps], time.thread_time() - t)
    base = best_heavy[None]
    print(
        f"\nProgress handler on a CPU-bound query ({1e3 * base:.0f} ms without handler; thread CPU time, min of 15 runs)"
    )
    for steps in settings[1:]:
        mark = "  <- PROGRESS_STEPS" if steps == executor_module.PROGRESS_STEPS else ""
        print(f"  check every {steps:>5} VM steps: {100 * (best_heavy[steps] / base - 1):+5.1f} %{mark}")
    bare.close()


def bench_batches(db: Path) -> None:
    print("\nexecute_many: in-process vs process pool (pool forced; warm; workers = available CPUs)")
    path = str(db)
    light = [(path, q) for q in QUERIES]
    medium = [
        (
            path,
            f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {5000 + i}) SELECT sum(x) FROM n",
        )
        for i in range(64)
    ]
    with SQLiteExecutor() as ex:
        ex.parallel_threshold, ex.inline_budget = 0, 0.0
        t = time.perf_counter()
        ex.execute_many(light[:16])
        print(f"  pool start + first batch: {1e3 * (time.perf_counter() - t):.0f} ms (once per executor)")
        for label, items in (("benchmark queries", light), ("recursive CTEs", medium)):
            for n in (8, 16, 32, len(items)):
                batch = (items * 2)[:n]
                seq = min(_timed(lambda b=batch: [ex.execute(d, s) for d, s in b]) for _ in range(3))
                par = min(_timed(lambda b=batch: ex.execute_many(b)) for _ in range(3))
                print(
                    f"  {label:<20} n={n:<4} in-process {1e3 * seq:7.2f} ms ({1e3 * seq / n:.2f} ms/query)"
                    f"   pool {1e3 * par:7.2f} ms"
                )


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = build_db(Path(tmp) / "bench.sqlite")
        print(
            f"database: {os.path.getsize(db) / 1024:.0f} KiB, 3000 employees / 2000 projects / 5000 assignments\n"
        )
        bench_analysis(db)
        bench_executor(db)
        bench_batches(db)


if __name__ == "__main__":
    main()
