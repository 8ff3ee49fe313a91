"""Reward throughput: our batch reward vs. a reference that mirrors SQL-R1's published approach.

Workload: GRPO-shaped batch of 2,000 completions = 250 questions x 8 rollouts over a fixture
database built in a temporary folder (customers 2k, products 300, orders 15k rows). Per question:
the exact gold SQL (x3, the common late-training case), a correct rewrite, two wrong queries, one
erroring query (hallucinated column or syntax error) and one format failure; every 25th question
one wrong rollout is a slow query (~0.1 s) and two rollouts in the batch are runaway queries (~5 s)
that hit the timeout. Both sides use the same 2 s timeout (SQL-R1: 30 s, shortened to bound runtime).

* ours: ``EnhancedRewardComputer.compute_rewards`` (SQL-R1 baseline + the three components),
  fresh computer and executor, empty caches, process-pool start-up included.
* reference: what SQL-R1's ``synsql.compute_score`` does per sample: regex extraction, a fresh
  ``sqlite3`` connection per query on every ``.sqlite`` file of the folder, DISTINCT removal and
  whitespace collapsing, Spider result comparison, one thread per call joined with the timeout
  (``func_timeout``-like: a timed-out query is abandoned, not stopped), sequential.

Prints samples/s for both, the median milliseconds of the three enhanced components per sample,
and as the last line ``speedup_vs_sqlr1_reference=<x>``.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlr1x.db.compare import remove_distinct, results_match
from sqlr1x.rewards import EnhancedRewardComputer
from sqlr1x.rewards.computer import RewardResult
from sqlr1x.rewards.schema_aware import distinct_hallucinations
from sqlr1x.rewards.structural import StructuralReward
from sqlr1x.rewards.syntax import _CHECKS, check_syntax
from sqlr1x.sql import analysis
from sqlr1x.sql.schema import Schema

TIMEOUT = 2.0
N_QUESTIONS = 250
ROLLOUTS = 8
SEED = 1234

SEGMENTS = ["retail", "corporate", "online", "wholesale"]
CITIES = ["Paris", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Prague", "Dublin"]
STATUSES = ["paid", "shipped", "cancelled", "returned"]
CATEGORIES = ["tools", "toys", "books", "garden", "food"]


def build_db(path: Path) -> Path:
    rng = random.Random(SEED)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, segment TEXT, since INTEGER);
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
                             product_id INTEGER REFERENCES products(id), quantity INTEGER, amount REAL,
                             status TEXT, day INTEGER);
        """
    )
    con.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
        [
            (i, f"cust{i}", rng.choice(CITIES), rng.choice(SEGMENTS), rng.randint(2000, 2024))
            for i in range(2000)
        ],
    )
    con.executemany(
        "INSERT INTO products VALUES (?, ?, ?, ?)",
        [(i, f"prod{i}", rng.choice(CATEGORIES), round(rng.uniform(1, 500), 2)) for i in range(300)],
    )
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                rng.randrange(2000),
                rng.randrange(300),
                rng.randint(1, 9),
                round(rng.uniform(5, 900), 2),
                rng.choice(STATUSES),
                rng.randint(1, 365),
            )
            for i in range(15_000)
        ],
    )
    con.commit()
    con.close()
    return path


def question(rng: random.Random) -> tuple[str, str, list[str], list[str]]:
    """(gold, correct rewrite, two wrong queries, erroring queries) from a random template."""
    city, seg, status = rng.choice(CITIES), rng.choice(SEGMENTS), rng.choice(STATUSES)
    amount, year, day = rng.randint(50, 800), rng.randint(2005, 2020), rng.randint(30, 300)
    templates = [
        (
            f"SELECT name FROM customers WHERE city = '{city}' AND segment = '{seg}'",
            f"SELECT c.name FROM customers AS c WHERE c.segment = '{seg}' AND c.city = '{city}'",
            [
                f"SELECT name FROM customers WHERE city = '{city}'",
                f"SELECT id FROM customers WHERE segment = '{seg}'",
            ],
            [
                f"SELECT name FROM customers WHERE town = '{city}'",
                f"SELECT name FROM customers WHERE city = '{city}' AND",
            ],
        ),
        (
            f"SELECT customers.city, COUNT(*) FROM orders JOIN customers ON orders.customer_id = customers.id "
            f"WHERE orders.status = '{status}' GROUP BY customers.city",
            f"SELECT T2.city, COUNT(T1.id) FROM orders AS T1 JOIN customers AS T2 ON T2.id = T1.customer_id "
            f"WHERE T1.status = '{status}' GROUP BY T2.city",
            [
                "SELECT customers.city, COUNT(*) FROM orders JOIN customers ON orders.customer_id = customers.id "
                "GROUP BY customers.city",
                f"SELECT customers.segment, COUNT(*) FROM orders JOIN customers ON orders.customer_id = customers.id "
                f"WHERE orders.status = '{status}' GROUP BY customers.segment",
            ],
            [
                "SELECT city, COUNT(*) FROM orders JOIN clients ON orders.customer_id = clients.id GROUP BY city",
                "SELECT city, COUNT(* FROM orders GROUP BY city",
            ],
        ),
        (
            f"SELECT products.category, SUM(orders.amount) FROM orders JOIN products ON orders.product_id = products.id "
            f"WHERE orders.amount > {amount} GROUP BY products.category ORDER BY SUM(orders.amount) DESC",
            f"SELECT p.category, SUM(o.amount) AS total FROM products AS p JOIN orders AS o ON o.product_id = p.id "
            f"WHERE {amount} < o.amount GROUP BY p.category ORDER BY total DESC",
            [
                f"SELECT products.category, SUM(orders.amount) FROM orders JOIN products ON orders.product_id = products.id "
                f"WHERE orders.amount > {amount} GROUP BY products.category ORDER BY SUM(orders.amount) ASC",
                f"SELECT products.category, AVG(orders.amount) FROM orders JOIN products ON orders.product_id = products.id "
                f"WHERE orders.amount > {amount} GROUP BY products.category",
            ],
            [
                "SELECT category, SUM(total) FROM orders JOIN products ON orders.product_id = products.id GROUP BY category",
                "SELECT category, SUM(amount) FROM orders JOIN products ON GROUP BY category",
            ],
        ),
        (
            f"SELECT COUNT(DISTINCT customer_id) FROM orders WHERE day < {day} AND status = '{status}'",
            f"SELECT COUNT(DISTINCT o.customer_id) FROM orders o WHERE o.status = '{status}' AND o.day < {day}",
            [
                f"SELECT COUNT(customer_id) FROM orders WHERE day < {day} AND status = '{status}'",
                f"SELECT COUNT(DISTINCT customer_id) FROM orders WHERE day > {day}",
            ],
            [
                f"SELECT COUNT(DISTINCT client_id) FROM orders WHERE day < {day}",
                "SELECT COUNT(DISTINCT) FROM orders",
            ],
        ),
        (
            f"SELECT name FROM customers WHERE since > {year} AND id IN "
            f"(SELECT customer_id FROM orders WHERE amount > {amount}) ORDER BY name LIMIT 20",
            f"SELECT c.name FROM customers c WHERE c.id IN (SELECT o.customer_id FROM orders o WHERE o.amount > {amount}) "
            f"AND c.since > {year} ORDER BY c.name LIMIT 20",
            [
                f"SELECT name FROM customers WHERE since > {year} ORDER BY name LIMIT 20",
                f"SELECT name FROM customers WHERE since > {year} AND id IN "
                f"(SELECT customer_id FROM orders WHERE amount > {amount}) ORDER BY name DESC LIMIT 20",
            ],
            [
                f"SELECT name FROM customers WHERE joined > {year}",
                "SELECT name FROM customers WHERE since > AND",
            ],
        ),
    ]
    return rng.choice(templates)


SLOW = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT count(*) FROM c"


def wrap(sql: str, rng: random.Random) -> str:
    think = "Let me look at the schema. " * rng.randint(2, 30)
    return f"{think}</think>\n<answer>\nThe query:\n```sql\n{sql}\n```\n</answer>"


def make_workload(db: Path) -> list[dict]:
    rng = random.Random(SEED)
    items = []
    for q in range(N_QUESTIONS):
        gold, rewrite, wrong, errors = question(rng)
        sqls = [gold, gold, gold, rewrite, wrong[0], wrong[1], rng.choice(errors)]
        if q % 25 == 7:
            sqls[5] = SLOW.format(n=400_000 + q)
        texts = [wrap(s, rng) for s in sqls]
        texts.append("I think the answer is " + gold)  # format failure
        if q in (50, 150):
            texts[4] = wrap(SLOW.format(n=15_000_000), rng)  # runaway: ~5 s, hits the 2 s timeout
        items += [
            {"solution_str": t, "ground_truth": gold, "db_path": str(db), "prefilled_think": True}
            for t in texts
        ]
    return items


# --------------------------------------------------------------------------- SQL-R1-style reference
def _ref_exec(db: str, sql: str):
    con = sqlite3.connect(db)  # fresh connection per query, as exec_eval.get_cursor_from_path
    con.text_factory = lambda b: b.decode(errors="ignore")
    try:
        return "result", con.execute(sql).fetchall()
    except Exception as exc:
        return "exception", exc
    finally:
        con.close()


def _ref_match(db_path: str, pred: str, gold: str) -> str:
    pred = remove_distinct(pred.replace("> =", ">="), keep_aggregate=False)
    gold = remove_distinct(gold.replace("> =", ">="), keep_aggregate=False)
    order_matters = "order by" in gold.lower()
    folder = os.path.dirname(db_path)
    for name in os.listdir(folder):
        if ".sqlite" not in name:
            continue
        path = os.path.join(folder, name)
        g_flag, g_rows = _ref_exec(path, gold)
        p_flag, p_rows = _ref_exec(path, pred)
        if p_flag == "exception":
            return "Unexecutable"
        if g_flag == "exception":
            return "Match"
        if not results_match(p_rows, g_rows, "spider", order_matters=order_matters):
            return "Mismatch"
    return "Match"


def _with_thread_timeout(fn, args, timeout: float):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("v", fn(*args)), daemon=True)
    thread.start()
    thread.join(timeout)  # a timed-out call is abandoned and keeps running, like func_timeout's
    if thread.is_alive():
        raise TimeoutError
    return box["v"]


def reference_score(text: str, gold: str, db_path: str) -> float:
    processed = "<think>" + text
    answers = re.findall(r"<answer>(.*?)</answer>", processed, re.DOTALL)
    thinks = re.findall(r"<think>(.*?)</think>", processed, re.DOTALL)
    tags = ["<think>", "</think>", "<answer>", "</answer>"]
    pos = [processed.find(t) for t in tags]
    if not answers or any(processed.count(t) != 1 for t in tags) or pos != sorted(pos):
        return -1.0
    answer, think = answers[-1].strip(), thinks[-1].strip() if thinks else ""
    blocks = re.findall(r"```sql(.*?)```", answer, re.DOTALL)
    if not blocks or not blocks[-1].strip():
        return -1.0
    pred = re.sub(r"\s+", " ", blocks[-1].strip())
    try:
        status = _with_thread_timeout(_ref_match, (db_path, pred, re.sub(r"\s+", " ", gold)), TIMEOUT)
    except TimeoutError:
        status = "Unexecutable"
    if status == "Unexecutable":
        return -1.0
    if status == "Mismatch":
        return 0.0
    p = len(think) + len(answer)
    return 6.0 + 0.5 * min(p, 2048) / 2048 + len(pred) / len(answer)


# ------------------------------------------------------------------------------------------ timing
def clear_caches() -> None:
    analysis._parse_cached.cache_clear()
    analysis._components_cached.cache_clear()
    _CHECKS.clear()


def component_ms(results: list[RewardResult], items: list[dict], schema: Schema) -> tuple[float, float]:
    """Median ms of parse + the three components per sample: in batch order, and per distinct SQL (all cold)."""
    structural = StructuralReward()

    def one(sql: str, gold: str) -> float:
        start = time.perf_counter()
        parsed = analysis.parse_sql(sql)
        check_syntax(parsed)
        structural.diff(parsed, analysis.parse_sql(gold))
        distinct_hallucinations(parsed, schema)
        return (time.perf_counter() - start) * 1000

    clear_caches()
    for item in items:  # gold parses are cached in a real batch too (8 rollouts share one gold)
        analysis.parse_sql(item["ground_truth"])
    batch = [one(r.sql, it["ground_truth"]) for r, it in zip(results, items, strict=True) if r.sql]
    clear_caches()
    seen: dict[str, str] = {}
    for r, it in zip(results, items, strict=True):
        if r.sql and r.sql not in seen:
            seen[r.sql] = it["ground_truth"]
    cold = []
    for sql, gold in seen.items():
        analysis.parse_sql(gold)
        cold.append(one(sql, gold))
    return statistics.median(batch), statistics.median(cold)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench_rewards_") as tmp:
        folder = Path(tmp) / "shop"
        folder.mkdir()
        db = build_db(folder / "shop.sqlite")
        items = make_workload(db)
        n = len(items)
        print(
            f"workload: {n} completions, {N_QUESTIONS} questions x {ROLLOUTS} rollouts, timeout {TIMEOUT} s, "
            f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}"
        )

        clear_caches()
        computer = EnhancedRewardComputer(timeout=TIMEOUT)
        start = time.perf_counter()
        ours = computer.compute_rewards(items)
        t_ours = time.perf_counter() - start
        computer.baseline_reward_fn.executor.close()

        start = time.perf_counter()
        ref = [reference_score(it["solution_str"], it["ground_truth"], it["db_path"]) for it in items]
        t_ref = time.perf_counter() - start

        statuses: dict[str, int] = {}
        for r in ours:
            statuses[r.baseline["status"]] = statuses.get(r.baseline["status"], 0) + 1
        differ = [
            (r, it) for r, x, it in zip(ours, ref, items, strict=True) if abs(r.baseline_total - x) > 1e-9
        ]
        aggregate_distinct = sum("COUNT(DISTINCT" in it["ground_truth"] for _, it in differ)
        batch_ms, cold_ms = component_ms(ours, items, Schema.from_sqlite(db))

        print(f"statuses (ours): {dict(sorted(statuses.items()))}")
        print(
            f"baseline equal to reference on {n - len(differ)}/{n} samples; of the {len(differ)} others, "
            f"{aggregate_distinct} have COUNT(DISTINCT ...) golds (deviation b)"
        )
        print(f"ours (enhanced, batch API): {t_ours:7.2f} s  {n / t_ours:9.1f} samples/s")
        print(f"SQL-R1 reference:           {t_ref:7.2f} s  {n / t_ref:9.1f} samples/s")
        print(
            f"enhanced components (parse + schema + structural + syntax) median per sample: "
            f"{batch_ms:.3f} ms in batch order, {cold_ms:.3f} ms per distinct SQL with cold caches"
        )
        print(
            f"floor: the runaway query must run to its exact {TIMEOUT:g} s timeout, so ours takes >= {TIMEOUT:g} s "
            f"and the speedup is <= {t_ref / TIMEOUT:.1f} in this run"
        )
        print(f"speedup_vs_sqlr1_reference={t_ref / t_ours:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
