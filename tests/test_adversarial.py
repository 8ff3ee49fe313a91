"""The hostile-input corpus (tests/adversarial/) through the reward computer and execution_match."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sqlr1x.db.compare import execution_match
from sqlr1x.db.executor import ERROR_KINDS, PredictionLimit, SQLiteExecutor
from sqlr1x.rewards.computer import EnhancedRewardComputer

CORPUS = Path(__file__).parent / "adversarial"
SEPARATOR = b"\n-- ----\n"
NEVER_RUNS = {"writes", "attach", "pragma", "extensions_transactions"}
BOMBS = {"bombs"}
GOLD = "SELECT name FROM employees WHERE salary > 100"
# Short limits keep the suite quick; the default computer's are in docs/security.md.
PRED_LIMIT = 0.1  # seconds a prediction may run
GOLD_TIMEOUT = 2.0
# Per call: the target is limit + 0.1 s. Execution meets it (the watchdog interrupts between
# rows), and nesting deeper than SQLite parses is refused before sqlglot builds a tree (it used to
# take ~3 s for 3 000 nested subqueries). A wall-clock bound that tight would be a flaky unit test on
# a loaded machine, so the assertion is the default computer's promise (no hostile completion over
# 10 s) and the slowest calls are printed (measured 2026-11-30: slowest 0.185 s, 0 calls over 0.2 s).
CALL_BOUND = 10.0
ABSOLUTE_PATHS = [
    Path("/tmp/sqlr1x_adversarial_vacuum.sqlite"),
    Path("/tmp/sqlr1x_adversarial_attach.sqlite"),
    Path("/tmp/sqlr1x_adversarial_w.txt"),
]


@dataclass(frozen=True)
class Case:
    category: str
    index: int
    raw: bytes

    @property
    def sql(self) -> str:
        # What a tokenizer decoding invalid UTF-8 leniently would hand over (lone surrogates).
        return self.raw.decode("utf-8", "surrogateescape")

    def __str__(self) -> str:
        return f"{self.category}#{self.index}"


def _expand(block: bytes) -> bytes:
    block = re.sub(rb"\{\{REPEAT:(.*?):(\d+)\}\}", lambda m: m.group(1) * int(m.group(2)), block)
    return re.sub(rb"\{\{BYTE:([0-9a-fA-F]{2})\}\}", lambda m: bytes.fromhex(m.group(1).decode()), block)


def load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.sql")):
        lines = path.read_bytes().split(b"\n")
        while lines and lines[0].startswith(b"#"):
            lines.pop(0)
        body = b"\n".join(lines)
        for i, block in enumerate(body.split(SEPARATOR)):
            cases.append(Case(path.stem, i, _expand(block.strip(b"\n"))))
    return cases


CASES = load_corpus()


def completion(sql: str) -> str:
    return f"<think>I will answer.</think>\n<answer>```sql\n{sql}\n```</answer>"


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_corpus_size_and_coverage():
    assert len(CASES) >= 200
    cats = {c.category for c in CASES}
    assert cats >= NEVER_RUNS | BOMBS | {"multiple_and_comments", "parser"}
    raw = [c.raw for c in CASES]
    assert any(len(r) >= 1_000_000 for r in raw) and any(b"\x00" in r for r in raw)
    assert any(_invalid_utf8(r) for r in raw)


def _invalid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, employees_db: Path) -> Path:
    folder = tmp_path_factory.mktemp("adversarial")
    shutil.copyfile(employees_db, folder / "company.sqlite")
    return folder


def test_hostile_corpus(workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.chdir(workdir)  # relative ATTACH / VACUUM INTO paths would land here
    db = workdir / "company.sqlite"
    before = _snapshot(workdir)
    for p in ABSOLUTE_PATHS:
        p.unlink(missing_ok=True)
    executor = SQLiteExecutor(
        timeout=GOLD_TIMEOUT,
        max_rows=100_000,
        pred_limit=PredictionLimit(factor=20, floor=PRED_LIMIT, ceiling=PRED_LIMIT),
        batch_timeout=10.0,
    )
    computer = EnhancedRewardComputer(executor=executor, workers=1)
    match_executor = SQLiteExecutor(timeout=PRED_LIMIT, max_rows=100_000, max_bytes=16 * 2**20)
    assert computer.compute_reward(completion(GOLD), GOLD, db_path=str(db)).baseline["status"] == "match"

    timings: list[tuple[float, str, str]] = []
    failures: list[str] = []
    for case in CASES:
        sql = case.sql
        # 1. The guarded executor directly: a defined outcome. A bomb may only come back cut at the
        # row cap, or NULL (printf's answer to a result that would be too big).
        t0 = time.perf_counter()
        r = match_executor.execute(db, sql)
        timings.append((time.perf_counter() - t0, "execute", str(case)))
        if r.ok:
            null = all(v is None for row in r.rows for v in row)
            if case.category in NEVER_RUNS or (case.category in BOMBS and not (r.truncated or null)):
                failures.append(f"{case}: executed ({r.rows[:1]!r})")
        elif r.error_kind not in ERROR_KINDS or not r.error:
            failures.append(f"{case}: undefined outcome {r.error_kind!r} {r.error!r}")
        elif case.category in BOMBS and r.error_kind not in ("timeout", "too_large"):
            failures.append(f"{case}: bomb ended as {r.error_kind}: {r.error}")
        # 2. The full reward computer, as a trainer calls it (text and raw bytes).
        solutions: list[str | bytes] = [completion(sql)]
        if case.category == "parser":  # raw bytes too (NUL, invalid UTF-8)
            solutions.append(completion(sql).encode("utf-8", "surrogateescape"))
        for solution in solutions:
            t0 = time.perf_counter()
            result = computer.compute_reward(solution, GOLD, db_path=str(db))
            took = time.perf_counter() - t0
            timings.append((took, "computer", str(case)))
            status = result.baseline.get("status")
            if not math.isfinite(result.total) or not status:
                failures.append(f"{case}: computer gave {result.total!r} / {status!r}")
            elif status != "match" and not result.baseline.get("reason"):
                failures.append(f"{case}: status {status} without a reason")
            cut = status == "mismatch" and "truncated" in result.baseline.get("reason", "")
            if case.category in NEVER_RUNS and (result.executable or status == "match"):
                failures.append(f"{case}: the computer counted it as executable ({status})")
            if (
                case.category in BOMBS
                and not cut
                and status not in ("pred_timeout", "pred_error", "mismatch")
            ):
                failures.append(f"{case}: bomb status {status}")
        # 3. execution_match in both modes.
        for mode in ("spider",) if case.category in BOMBS else ("spider", "bird"):
            t0 = time.perf_counter()
            verdict = execution_match(sql, GOLD, db, mode, executor=match_executor)
            timings.append((time.perf_counter() - t0, f"execution_match/{mode}", str(case)))
            if verdict is not False and verdict is not True:
                failures.append(f"{case}: execution_match returned {verdict!r}")
            if verdict and case.category in NEVER_RUNS:
                failures.append(f"{case}: execution_match True")

    after = _snapshot(workdir)
    executor.close()
    match_executor.close()
    timings.sort(reverse=True)
    with capsys.disabled():
        over = sum(t > PRED_LIMIT + 0.1 for t, *_ in timings)
        print(
            f"\nadversarial corpus: {len(CASES)} statements, {len(timings)} calls; slowest "
            + ", ".join(f"{t:.3f} s ({what} {case})" for t, what, case in timings[:3])
            + f"; {over} calls over limit + 0.1 s ({PRED_LIMIT + 0.1:.1f} s)"
        )
        execution = [t for t in timings if not t[1].startswith("computer")]
        print(
            f"slowest execution alone (execute / execution_match): {execution[0][0]:.3f} s ({execution[0][2]})"
        )
    assert after == before, "database folder changed"
    assert not [p for p in ABSOLUTE_PATHS if p.exists()]
    assert not failures, "\n".join(failures[:40])
    assert timings[0][0] < CALL_BOUND, timings[:5]
