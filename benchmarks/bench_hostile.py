"""Hostile completions through the default reward computer: in-process against pool execution.

One GRPO step of the 24 GB config scores ``batch_size 2 × num_generations 4 = 8`` completions, under
the executor's 16-query threshold, so by default it runs in the trainer's own process. This
benchmark scores such a batch in which half the completions are hostile (a query producing ~4 GB
of results, an infinite recursive CTE, a cross-join bomb, a huge printf) with the default computer
(gold limit 30 s, prediction limit 20 × gold in [1 s, 5 s], result budget 64 MiB, batch deadline
60 s), once in-process (``workers=1``) and once with the pool forced, each in a fresh process. It
prints the step's wall time, the slowest hostile completion alone, and peak RSS of the trainer
process and of the workers (``ru_maxrss``).

    python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

HOSTILE = {
    "gigabytes": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 4000) "
    "SELECT i, randomblob(1000000) FROM r",
    "infinite CTE": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "cross join": "SELECT count(*) FROM item a, item b, item c, item d, item e, item f, item g",
    "printf": "SELECT printf('%.*c', 2147483647, 'x')",
}
HONEST = [
    "SELECT name FROM item WHERE price > 5",
    "SELECT name FROM item",
    "SELECT name FROM item WHERE price >= 5",
    "SELECT nme FROM item",
]
GOLD = "SELECT name FROM item WHERE price > 5"


def completion(sql: str) -> str:
    return f"<think>answer</think>\n<answer>```sql\n{sql}\n```</answer>"


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _vm_hwm_mb(pid: int) -> float:
    """Peak RSS of another process (pool workers are the forkserver's children, not ours)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def child(mode: str, db: str) -> dict:
    from sqlr1x.rewards.computer import EnhancedRewardComputer

    computer = EnhancedRewardComputer(workers=1 if mode == "in-process" else 2)
    executor = computer.baseline_reward_fn.executor
    if mode == "pool":
        executor.parallel_threshold, executor.inline_budget = 0, 0.0
    items = [{"solution_str": completion(s), "ground_truth": GOLD, "db_path": db} for s in HONEST]
    computer.compute_rewards(items)  # warm: imports, gold cache, pool started
    before = peak_mb()
    items += [{"solution_str": completion(s), "ground_truth": GOLD, "db_path": db} for s in HOSTILE.values()]
    t0 = time.perf_counter()
    results = computer.compute_rewards(items)
    step = time.perf_counter() - t0
    step_growth = peak_mb() - before
    pool = executor._pool
    worker_peaks = [_vm_hwm_mb(pid) for pid in ((pool._processes or {}) if pool is not None else ())]
    alone = {}
    for name, sql in HOSTILE.items():
        t0 = time.perf_counter()
        r = computer.compute_reward(completion(sql + f" -- {mode}"), GOLD, db_path=db)
        alone[name] = (round(time.perf_counter() - t0, 2), r.baseline["status"])
    executor.close()
    return {
        "mode": mode,
        "step_s": round(step, 2),
        "statuses": [r.baseline["status"] for r in results],
        "alone": alone,
        "trainer_peak_mb": round(peak_mb(), 1),
        "trainer_peak_growth_mb": round(step_growth, 1),
        "pool_used": pool is not None,
        "workers_peak_mb": max(worker_peaks, default=0.0),
    }


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "shop.sqlite")
        con = sqlite3.connect(db)
        con.executescript(
            "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL);"
            + "".join(f"INSERT INTO item(name, price) VALUES ('n{i}', {i % 13});" for i in range(40))
        )
        con.close()
        print(
            f"{len(HONEST)} honest + {len(HOSTILE)} hostile completions ({', '.join(HOSTILE)}), default computer"
        )
        for mode in ("in-process", "pool"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, db], capture_output=True, text=True, timeout=600
            )
            if out.returncode:
                print(out.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            slowest = max(r["alone"].items(), key=lambda kv: kv[1][0])
            print(
                f"  {mode:>10}: step {r['step_s']:>5.2f} s; slowest hostile alone {slowest[1][0]:.2f} s "
                f"({slowest[0]}); trainer peak RSS {r['trainer_peak_mb']:.0f} MiB "
                f"(+{r['trainer_peak_growth_mb']:.0f} during the step); pool used: {r['pool_used']}, "
                f"worker peak RSS {r['workers_peak_mb']:.0f} MiB"
            )
            print(f"              alone: {r['alone']}")
            print(f"              statuses: {r['statuses']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
