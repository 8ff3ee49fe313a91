"""Soak test of the reward: many reward calls over thousands of databases under a small fd limit.

A training run scores millions of completions on thousands of databases (SynSQL: ~16 k). This
script generates ``--dbs`` SQLite files, lowers ``RLIMIT_NOFILE`` to ``--nofile`` (256 by default)
and scores ``--calls`` completions through the default :class:`EnhancedRewardComputer` in
batches of ``--batch`` (a GRPO group per question), cycling over the databases. It prints open
files, threads and RSS at the start (after a warm-up batch), in between and at the end, and the
count of each baseline status; a ``missing_db`` means a database could not be opened (before the
connection pool was bounded: 24 of 120 samples with 100 fds).

Exit status 1 when any sample came back ``missing_db`` or ``internal_error``, or open files,
threads or RSS grew: open files beyond the pool bound (fds before the first call +
``max_connections`` + ``--fd-slack``), threads beyond the pool's two helper threads or changing in the second half, RSS beyond
``--max-rss-growth-mb`` over the second half (bounded caches fill during the first).

    python benchmarks/soak_rewards.py                    # 100 000 calls over 2 000 databases (make bench)
    python benchmarks/soak_rewards.py --calls 4000 --json   # the short version tests/ runs
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sqlr1x.rewards.computer import EnhancedRewardComputer  # noqa: E402


def process_stats() -> dict:
    """Open file descriptors, threads and resident memory (MiB) of this process (Linux /proc)."""
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": int(fields["Threads"].strip()),
        "py_threads": threading.active_count(),
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
    }


def make_databases(root: Path, n: int) -> list[Path]:
    """``n`` small databases with the same schema and different rows (no fsync: they are scratch)."""
    paths = []
    for i in range(n):
        path = root / f"db{i:05d}.sqlite"
        con = sqlite3.connect(path)
        con.executescript(
            f"""PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL, shop_id INTEGER);
            CREATE TABLE shop(id INTEGER PRIMARY KEY, city TEXT);
            INSERT INTO shop VALUES (1, 'Oslo'), (2, 'Lima'), (3, 'Pune');
            INSERT INTO item(name, price, shop_id) VALUES
              ('a{i}', {i % 50}, 1), ('b{i}', {i % 7 + 3}, 2), ('c{i}', 12.5, 3), ('d{i}', {i % 11}, 1);"""
        )
        con.close()
        paths.append(path)
    return paths


GOLDS = [
    "SELECT name FROM item WHERE price > 5",
    "SELECT s.city, COUNT(*) FROM item AS i JOIN shop AS s ON i.shop_id = s.id GROUP BY s.city",
    "SELECT name FROM item ORDER BY price DESC LIMIT 2",
]
PREDICTIONS = [
    "{gold}",  # correct
    "SELECT name FROM item",  # wrong
    "SELECT name FROM item WHERE price >= 5",  # near miss
    "SELECT nme FROM item",  # no such column
    "SELECT name FROM items",  # hallucinated table
    "SELEC name FROM item",  # syntax error
    "SELECT name FROM item WHERE price > 5 ORDER BY name",
    "SELECT COUNT(*) FROM item",
]


def completion(sql: str) -> str:
    return f"<think>the question asks for this</think>\n<answer>```sql\n{sql}\n```</answer>"


def soak(n_dbs: int, n_calls: int, batch: int, nofile: int, workers: int | None, seed: int = 0) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
    rng = random.Random(seed)
    statuses: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        t0 = time.perf_counter()
        dbs = make_databases(Path(tmp), n_dbs)
        made = time.perf_counter() - t0
        before = process_stats()  # fds before any connection: the pool may add max_connections
        computer = EnhancedRewardComputer(workers=workers)
        done = 0
        start = None
        trace = []
        t0 = time.perf_counter()
        while done < n_calls:
            # A batch holds groups of 4 rollouts, each group on the next database in turn.
            items = []
            for k in range(done, min(done + batch, n_calls)):
                gold = GOLDS[(k // 4) % len(GOLDS)]
                items.append(
                    {
                        "solution_str": completion(rng.choice(PREDICTIONS).format(gold=gold)),
                        "ground_truth": gold,
                        "db_path": str(dbs[(k // 4) % len(dbs)]),
                    }
                )
            for r in computer.compute_rewards(items):
                statuses[r.baseline.get("status", "?")] += 1
            done += len(items)
            if start is None:
                start = process_stats()  # after one warm-up batch: imports, caches, pool started
                trace.append((done, start))
            elif done % max(batch, n_calls // 4 // batch * batch) == 0 or done >= n_calls:
                trace.append((done, process_stats()))
        elapsed = time.perf_counter() - t0
        end = process_stats()
        executor = computer.baseline_reward_fn.executor
        open_connections = len(executor._connections)
        executor.close()
    return {
        "dbs": n_dbs,
        "calls": done,
        "batch": batch,
        "nofile": min(nofile, hard),
        "max_connections": executor.max_connections,
        "open_connections_at_end": open_connections,
        "seconds_making_dbs": round(made, 1),
        "seconds": round(elapsed, 1),
        "calls_per_s": round(done / elapsed, 1),
        "before": before,
        "start": start,
        "end": end,
        "trace": trace,
        "statuses": dict(statuses),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbs", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=16, help="completions per compute_rewards call")
    ap.add_argument("--nofile", type=int, default=256, help="RLIMIT_NOFILE soft limit to run under")
    ap.add_argument("--workers", type=int, default=None, help="executor pool workers (default: CPUs)")
    ap.add_argument("--fd-slack", type=int, default=16, help="fds allowed beyond the pool bound")
    ap.add_argument(
        "--max-rss-growth-mb", type=float, default=32.0, help="RSS growth allowed over the second half"
    )
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args(argv)
    out = soak(args.dbs, args.calls, args.batch, args.nofile, args.workers)
    start, end = out["start"], out["end"]
    problems = []
    for bad in ("missing_db", "internal_error", "baseline_error"):
        if out["statuses"].get(bad):
            problems.append(f"{out['statuses'][bad]} samples came back {bad}")
    fd_bound = out["before"]["fds"] + out["max_connections"] + args.fd_slack
    if max(st["fds"] for _, st in out["trace"] + [(0, end)]) > fd_bound:
        problems.append(f"open files exceeded {fd_bound}: {[st['fds'] for _, st in out['trace']]}")
    # The executor's process pool, once started, holds two helper threads (manager, queue feeder).
    if (
        end["threads"] > start["threads"] + 2
        or len({st["threads"] for _, st in out["trace"][len(out["trace"]) // 2 :]}) > 1
    ):
        problems.append(f"threads grew: {[st['threads'] for _, st in out['trace']]}")
    # Bounded caches (gold results, parsed SQL, schemas) fill during the first half; after that
    # RSS must stay flat.
    half = out["trace"][len(out["trace"]) // 2][1]
    if end["rss_mb"] - half["rss_mb"] > args.max_rss_growth_mb:
        problems.append(f"RSS grew {half['rss_mb']} -> {end['rss_mb']} MiB over the second half")
    out["problems"] = problems
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"soak: {out['calls']} reward calls over {out['dbs']} databases, RLIMIT_NOFILE={out['nofile']}, "
            f"batch {out['batch']}, {out['seconds']} s ({out['calls_per_s']} calls/s; databases made in "
            f"{out['seconds_making_dbs']} s)"
        )
        print(
            f"  connection pool bound {out['max_connections']}, open at end {out['open_connections_at_end']}"
        )
        for done, st in out["trace"]:
            print(
                f"  after {done:>7} calls: open files {st['fds']:>4}, threads {st['threads']:>3}, RSS {st['rss_mb']:>7} MiB"
            )
        print(f"  start: {start}\n  end:   {end}")
        print(f"  statuses: {out['statuses']}")
        print("  OK" if not problems else "  PROBLEMS: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
