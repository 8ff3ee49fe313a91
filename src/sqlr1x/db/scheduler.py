"""Batch scheduling: match tasks, time limits for predictions, a batch deadline, and the worker pool.

:class:`SQLiteExecutor` is a :class:`~sqlr1x.db.query.QueryExecutor` that also runs batches:
``execute_many`` (pairs of database and SQL) and ``submit_matches`` / ``compare_many``
(:class:`MatchTask`: a gold and its predictions, executed and compared with
:func:`~sqlr1x.db.results.results_match` where they ran). Batches run in-process when small and
spread over a process pool otherwise.

Time limits in a match (a deviation from SQL-R1's flat 30 s per query): the gold runs with the
executor's ``timeout`` (generous: gold queries are trusted and run once per process thanks to the
cache); each prediction gets ``PredictionLimit``: ``factor`` × the gold's measured time, clamped
to ``[floor, ceiling]`` and never above ``timeout``. A batch deadline (``batch_timeout``) bounds
the whole batch: queries still running then stop with ``error_kind="deadline"``.

>>> import sqlite3, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
>>> sqlite3.connect(path).executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").close()
>>> with SQLiteExecutor(timeout=1.0) as ex:
...     [o.matches for o in ex.compare_many([MatchTask(path, "SELECT x FROM t", ("SELECT x FROM t ORDER BY x DESC", "SELECT 1"))])]
[(True, False)]
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

from .guard import ExecResult
from .query import QueryExecutor
from .results import results_match

__all__ = [
    "DEFAULT_BATCH_TIMEOUT",
    "MatchOutcome",
    "MatchTask",
    "PendingMatches",
    "PredictionLimit",
    "SQLiteExecutor",
]

logger = logging.getLogger("sqlr1x.db")

# Batch scheduling, measured on 2 cores (benchmarks/bench_sql_core.py prints the comparison): a warm
# pool adds ~1-3 ms per batch, so typical Spider queries (~25 us each) never gain from it, while
# queries of >= 0.3 ms gain from ~8 items on. Batches under PARALLEL_THRESHOLD items run
# in-process; larger ones first run in-process for INLINE_BUDGET_S seconds and send only the rest
# to the pool, so cheap batches never pay the round trip and expensive ones lose at most the budget.
PARALLEL_THRESHOLD = 16
INLINE_BUDGET_S = 0.005
# Pool work is cut into about this many chunks per worker and handed out as workers free up, so a
# query that runs into its timeout holds back only its own small chunk (measured on the reward
# benchmark: 4 static chunks per worker put a 2 s runaway and ten 0.1 s queries, adjacent after
# sorting, into one chunk that finished 3 s after the rest).
CHUNKS_PER_WORKER = 16

# Wall-clock bound on one submit_matches batch (a reward step), whatever the policy writes.
DEFAULT_BATCH_TIMEOUT = 60.0


@dataclass(frozen=True)
class PredictionLimit:
    """Time limit of a prediction from its gold's measured time: ``factor`` × gold, in ``[floor, ceiling]``.

    >>> PredictionLimit(factor=20, floor=1.0, ceiling=5.0).seconds(0.001), PredictionLimit().seconds(None)
    (1.0, 5.0)
    """

    factor: float = 20.0
    floor: float = 1.0
    ceiling: float = 5.0

    def __post_init__(self) -> None:
        if not (self.factor > 0 and 0 < self.floor <= self.ceiling):
            raise ValueError(f"need factor > 0 and 0 < floor <= ceiling, got {self!r}")

    def seconds(self, gold_elapsed: float | None) -> float:
        """The limit for a gold that took ``gold_elapsed`` s (None: unknown or failed -> ``ceiling``)."""
        if gold_elapsed is None:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.factor * gold_elapsed))


@dataclass(frozen=True)
class MatchTask:
    """One gold query and the distinct predictions to compare with its result on one database.

    ``mode`` and ``order_matters`` are passed to :func:`sqlr1x.db.results.results_match`. ``gold``
    is a gold result the caller already has (e.g. from its cache); it is not executed again. With
    a prediction limit the gold runs first (its time sizes the predictions' limits); otherwise only
    when a prediction executed, unless ``gold_required`` (the caller compares it with rows of its
    own). ``cache``: whether ``gold_sql``'s result may come from / go into the executor's gold
    cache. ``gold_is_prediction``: the "gold" slot holds a policy's query (it gets a prediction's
    limit, not the gold's). ``deadline``: ``time.monotonic()`` after which nothing of the task runs
    (set by ``submit_matches`` from the batch deadline).
    """

    db_path: str
    gold_sql: str
    pred_sqls: tuple[str, ...] = ()
    order_matters: bool = False
    mode: str = "spider"
    gold: ExecResult | None = None
    gold_required: bool = False
    cache: bool = True
    gold_is_prediction: bool = False
    deadline: float | None = None


@dataclass(frozen=True)
class MatchOutcome:
    """What :meth:`SQLiteExecutor.run_match` found for a :class:`MatchTask`, per prediction.

    ``preds[i]`` is the prediction's result *without rows* (they stay where the comparison ran;
    ``pred_empty[i]`` says whether there were none). ``matches[i]`` is the comparison verdict, or
    None when it was not made (prediction or gold failed) or raised (``errors[i]`` says why).
    ``gold`` keeps its rows; it is None when it was not needed and did not run.
    """

    gold: ExecResult | None
    preds: tuple[ExecResult, ...]
    matches: tuple[bool | None, ...]
    pred_empty: tuple[bool, ...]
    errors: tuple[str | None, ...]
    failed: bool = False  # the task could not run (e.g. its worker died): every result is that error


def _failed_outcome(task: MatchTask, message: str) -> MatchOutcome:
    err = ExecResult(error_kind="runtime", error=message)
    n = len(task.pred_sqls)
    gold = task.gold if task.gold is not None or not task.gold_required else err
    return MatchOutcome(gold, (err,) * n, (None,) * n, (True,) * n, (None,) * n, failed=True)


class SQLiteExecutor(QueryExecutor):
    """Guarded read-only SQLite execution with connection reuse, a gold cache, batches and a process pool.

    Single queries: see :class:`~sqlr1x.db.query.QueryExecutor` (``timeout``, ``max_rows``,
    ``max_bytes``, ``max_connections``, ``cache_size``). Batches: ``pred_limit`` sizes the time
    limit of predictions in :meth:`run_match` from their gold's time (None: ``timeout`` for all);
    ``batch_timeout`` bounds a :meth:`submit_matches` batch (None: unbounded).

    >>> import sqlite3, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.sqlite")
    >>> sqlite3.connect(path).executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").close()
    >>> with SQLiteExecutor(timeout=1.0, max_rows=1) as ex:
    ...     r = ex.execute(path, "SELECT x FROM t ORDER BY x")
    >>> r.rows, r.truncated
    ([(1,)], True)
    """

    parallel_threshold: int = PARALLEL_THRESHOLD
    inline_budget: float = INLINE_BUDGET_S

    def __init__(
        self,
        timeout: float = 5.0,
        max_rows: int | None = 10_000,
        *,
        pred_limit: PredictionLimit | None = PredictionLimit(),  # noqa: B008 (frozen, shared safely)
        batch_timeout: float | None = DEFAULT_BATCH_TIMEOUT,
        **kw: object,
    ) -> None:
        if batch_timeout is not None and batch_timeout <= 0:
            raise ValueError(f"batch_timeout must be > 0 seconds or None, got {batch_timeout!r}")
        self.pred_limit = pred_limit
        self.batch_timeout = batch_timeout
        super().__init__(timeout, max_rows, **kw)  # type: ignore[arg-type]

    def _init_state(self) -> None:
        super()._init_state()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_workers = 0

    def _config(self) -> dict:
        return {**super()._config(), "pred_limit": self.pred_limit, "batch_timeout": self.batch_timeout}

    def close(self, wait: bool = True) -> None:
        """Shut down the worker pool and close every connection this executor opened."""
        if self._pid == os.getpid():
            with self._lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=wait, cancel_futures=True)
        super().close(wait)

    # ----------------------------------------------------------------------------- comparison
    def run_match(self, task: MatchTask) -> MatchOutcome:
        """Execute ``task``'s predictions here and compare each with the gold result (never raises).

        The gold runs at most once; a prediction whose SQL is the gold's reuses the gold result.
        This is what a pool worker runs, so the rows of the predictions never cross a process
        boundary.
        """
        try:
            return self._run_match(task)
        except Exception as exc:  # a bug or an unexpected sqlite3 error must not lose the batch
            return _failed_outcome(task, f"{type(exc).__name__}: {exc}")

    def _run_match(self, task: MatchTask) -> MatchOutcome:
        limit = self.pred_limit
        # 1. Limits: the gold's own is generous unless the slot holds a policy's query.
        gold_timeout = self.timeout
        if task.gold_is_prediction and limit is not None:
            gold_timeout = min(self.timeout, limit.ceiling)

        def run(sql: str, timeout: float) -> ExecResult:
            with self.limited(timeout, task.deadline):
                return self.execute(task.db_path, sql)

        def run_gold() -> ExecResult:
            return run(task.gold_sql, gold_timeout)

        # 2. With a prediction limit the gold runs first: its time sizes the predictions' limits.
        gold = task.gold
        others = any(sql != task.gold_sql for sql in task.pred_sqls)
        if gold is None and (task.gold_required or (limit is not None and others)):
            gold = run_gold()
        pred_timeout = self.timeout
        if limit is not None:
            gold_time = gold.elapsed if gold is not None and gold.ok and not task.gold_is_prediction else None
            pred_timeout = min(self.timeout, limit.seconds(gold_time))
        # 3. Each prediction, compared where its rows are.
        preds, matches, empty, errors = [], [], [], []
        for sql in task.pred_sqls:
            if sql == task.gold_sql:
                if gold is None:
                    gold = run_gold()
                pred = gold
            else:
                pred = run(sql, pred_timeout)
            verdict: bool | None = None
            error: str | None = None
            if pred.ok:
                if gold is None:
                    gold = run_gold()
                if gold.ok:
                    try:
                        verdict = results_match(
                            pred.rows, gold.rows, task.mode, order_matters=task.order_matters
                        )
                    except Exception as exc:
                        error = repr(exc)
            preds.append(replace(pred, rows=[]) if pred.rows else pred)
            matches.append(verdict)
            empty.append(not pred.rows)
            errors.append(error)
        return MatchOutcome(gold, tuple(preds), tuple(matches), tuple(empty), tuple(errors))

    def submit_matches(
        self,
        tasks: Iterable[MatchTask],
        *,
        workers: int | None = None,
        cache_gold: bool = True,
        deadline: float | None = None,
    ) -> PendingMatches:
        """Start :meth:`run_match` on every task; ``.result()`` of the returned handle gives the outcomes.

        Work goes to the process pool right away (after ``inline_budget`` seconds in-process, and
        not at all for batches under ``parallel_threshold`` queries, ``workers=1``, daemonic
        callers or a ``__main__`` read from standard input), so the caller can do other work meanwhile; ``result()`` then runs the chunks no
        worker has started yet in-process too. With ``cache_gold`` the gold results of tasks with
        ``cache=True`` come from / go into the ``execute_cached`` cache. ``deadline``: seconds
        from now for the whole batch (default ``batch_timeout``).
        """
        self._check_pid()
        seconds = self.batch_timeout if deadline is None else deadline
        until = None if seconds is None else time.monotonic() + seconds
        tasks = [t if until is None or t.deadline is not None else replace(t, deadline=until) for t in tasks]
        keys: list[tuple | None] = [None] * len(tasks)
        if cache_gold:
            for i, task in enumerate(tasks):
                if task.gold is not None or not task.cache:
                    continue
                keys[i] = key = self._cache_key(task.db_path, task.gold_sql)
                hit = self._cache_get(key)
                if hit is not None:
                    tasks[i] = replace(task, gold=hit)
        return PendingMatches(self, tasks, keys, workers)

    def compare_many(
        self,
        tasks: Iterable[MatchTask],
        *,
        workers: int | None = None,
        cache_gold: bool = True,
        deadline: float | None = None,
    ) -> list[MatchOutcome]:
        """:meth:`run_match` for every task, across worker processes like :meth:`execute_many`."""
        return self.submit_matches(tasks, workers=workers, cache_gold=cache_gold, deadline=deadline).result()

    # ----------------------------------------------------------------------------- batches
    def execute_many(
        self,
        pairs: Iterable[tuple[str | os.PathLike, str]],
        *,
        workers: int | None = None,
        cache: bool = False,
    ) -> list[ExecResult]:
        """Execute ``(db_path, sql)`` pairs, in order, across worker processes.

        Each worker holds its own executor with this one's limits, so a timed-out query costs its
        worker ``timeout`` seconds and nothing more. With ``cache=True`` identical pairs run once
        and results come from / go into the ``execute_cached`` cache. Batches under
        ``parallel_threshold`` items, ``workers=1`` and calls from daemonic processes (which may
        not have children) run in-process; larger batches run in-process for ``inline_budget``
        seconds and hand the rest to the pool.
        """
        self._check_pid()
        items = [(os.fspath(db), sql) for db, sql in pairs]
        results: list[ExecResult | None] = [None] * len(items)
        # todo: work item -> indices of ``items`` that take its result; only cache=True merges.
        todo: dict[tuple, list[int]] = {}
        keys: dict[tuple, tuple] = {}
        for i, (db, sql) in enumerate(items):
            if not cache:
                todo[(db, sql, i)] = [i]
                continue
            key = self._cache_key(db, sql)
            hit = self._cache_get(key)
            if hit is not None:
                results[i] = hit
                continue
            work = (key[0], sql)
            keys[work] = key
            todo.setdefault(work, []).append(i)

        work_items = list(todo)
        for work, out in zip(work_items, self._run_batch(work_items, workers), strict=True):
            if cache:
                self._cache_put(keys[work], out)
            first, *rest = todo[work]
            results[first] = replace(out, rows=list(out.rows)) if cache else out
            for i in rest:
                results[i] = replace(out, rows=list(out.rows))
        return results  # type: ignore[return-value]

    def _run_batch(self, work_items: Sequence[tuple], workers: int | None) -> list[ExecResult]:
        pairs = [(w[0], w[1]) for w in work_items]
        n_workers = workers if workers is not None else _available_cpus()
        if len(pairs) < self.parallel_threshold or n_workers <= 1 or not _pool_allowed():
            return [self.execute(db, sql) for db, sql in pairs]
        done: list[ExecResult] = []
        stop = time.perf_counter() + self.inline_budget
        while len(done) < len(pairs) and time.perf_counter() < stop:
            done.append(self.execute(*pairs[len(done)]))
        if len(done) == len(pairs):
            return done
        return done + self._run_in_pool(pairs[len(done) :], n_workers)

    def _run_in_pool(self, pairs: list[tuple[str, str]], n_workers: int) -> list[ExecResult]:
        pool = self._get_pool(n_workers)
        # IPC is paid per chunk (~0.1-0.3 ms warm), and small chunks keep a slow one from stalling the tail.
        size = max(1, math.ceil(len(pairs) / (n_workers * CHUNKS_PER_WORKER)))
        chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        futures: list[Future] = [pool.submit(_worker_run, chunk) for chunk in chunks]
        out: list[ExecResult] = []
        broken = False
        for chunk, fut in zip(chunks, futures, strict=True):
            try:
                out.extend(fut.result())
            except BrokenProcessPool as exc:
                # A worker died (e.g. killed for memory): report those items, rebuild the pool next time.
                broken = True
                out.extend(
                    ExecResult(error_kind="runtime", error=f"worker process died: {exc}") for _ in chunk
                )
        if broken:
            self._drop_pool()
        return out

    def _drop_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _get_pool(self, n_workers: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is not None and self._pool_workers == n_workers:
                return self._pool
            old, self._pool = self._pool, None
        if old is not None:
            old.shutdown(wait=True)
        pool = ProcessPoolExecutor(
            max_workers=n_workers,
            mp_context=_mp_context(),
            initializer=_worker_init,
            initargs=(self._config(),),
        )
        with self._lock:
            self._pool, self._pool_workers = pool, n_workers
        return pool


class PendingMatches:
    """Handle of :meth:`SQLiteExecutor.submit_matches`: ``result()`` returns the outcomes in task order."""

    def __init__(
        self, executor: SQLiteExecutor, tasks: list[MatchTask], keys: list[tuple | None], workers: int | None
    ) -> None:
        self._executor = executor
        self._tasks = tasks
        self._keys = keys
        self._outcomes: list[MatchOutcome | None] = [None] * len(tasks)
        self._chunks: list[tuple[int, int, Future]] = []  # (start, end, future) over task indices
        self._result: list[MatchOutcome] | None = None
        self._pool: ProcessPoolExecutor | None = None
        n_workers = workers if workers is not None else _available_cpus()
        n_queries = sum(1 + len(t.pred_sqls) for t in tasks)
        if n_queries < executor.parallel_threshold or n_workers <= 1 or not _pool_allowed():
            return  # everything runs in-process in result()
        # 1. Cheap batches finish here within the inline budget and never pay the pool's round trip.
        start, stop = 0, time.perf_counter() + executor.inline_budget
        while start < len(tasks) and time.perf_counter() < stop:
            self._outcomes[start] = executor.run_match(tasks[start])
            start += 1
        if start == len(tasks):
            return
        # 2. The rest goes to the pool in small chunks of about ``size`` queries, in batch order.
        try:
            self._pool = pool = executor._get_pool(n_workers)
            size = max(1, math.ceil(n_queries / (n_workers * CHUNKS_PER_WORKER)))
            while start < len(tasks):
                end, count = start, 0
                while end < len(tasks) and (count == 0 or count + 1 + len(tasks[end].pred_sqls) <= size):
                    count += 1 + len(tasks[end].pred_sqls)
                    end += 1
                self._chunks.append((start, end, pool.submit(_worker_match, tasks[start:end])))
                start = end
        except Exception as exc:  # no pool (e.g. no processes allowed here): result() runs the rest
            logger.warning("process pool unavailable (%r); executing in-process", exc)

    def result(self) -> list[MatchOutcome]:
        if self._result is not None:
            return self._result
        ex, tasks, out = self._executor, self._tasks, self._outcomes
        # 3. Chunks no worker has picked up yet run here, from the tail, while the workers go on.
        for start, end, fut in reversed(self._chunks):
            if getattr(self._pool, "_broken", False):
                break  # nothing to take back from a broken pool (its futures all fail)
            if fut.cancel():
                for i in range(start, end):
                    out[i] = ex.run_match(tasks[i])
        # 4. Wait for the workers; every query in them stops at the batch deadline at the latest.
        broken = False
        remaining = {fut for _, _, fut in self._chunks if not fut.cancelled()}
        while remaining:
            _, remaining = wait(remaining, timeout=0.25)
            if remaining and getattr(self._pool, "_broken", False):
                # A worker died. CPython < 3.12 may then leave futures unresolved for good (its
                # manager thread trips over the cancelled ones), so do not wait for them.
                broken = True
                break
        for start, end, fut in self._chunks:
            if fut.cancelled():
                continue
            try:
                if not fut.done():
                    raise BrokenProcessPool("a worker process died and the pool is broken")
                got = fut.result()
            except BrokenProcessPool as exc:
                # A worker died (e.g. killed for memory): report those items, rebuild the pool next time.
                broken = True
                got = [_failed_outcome(t, f"worker process died: {exc}") for t in tasks[start:end]]
            except Exception as exc:  # e.g. an unpicklable result: redo the chunk here
                logger.warning("pool chunk failed (%r); executing it in-process", exc)
                got = [ex.run_match(t) for t in tasks[start:end]]
            for i, outcome in zip(range(start, end), got, strict=True):
                # A gold the caller sent along is not shipped back.
                out[i] = (
                    outcome
                    if outcome.gold is not None or tasks[i].gold is None
                    else replace(outcome, gold=tasks[i].gold)
                )
        if broken:
            ex._drop_pool()
        # 5. Whatever is left runs here; fresh gold results go into the cache.
        for i, task in enumerate(tasks):
            if out[i] is None:
                out[i] = ex.run_match(task)
            gold, key = out[i].gold, self._keys[i]
            if key is not None and gold is not None and task.gold is None and not out[i].failed:
                ex._cache_put(key, gold)
        self._result = out  # type: ignore[assignment]
        return self._result


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _main_is_importable() -> bool:
    """Whether new worker processes can run ``__main__``'s preparation (its file, if it names one, exists).

    Under ``python - <<EOF`` ``__main__.__file__`` is ``'<stdin>'``: every forkserver or spawn worker
    would try to run that path, print a ``FileNotFoundError`` traceback and die.
    """
    main = sys.modules.get("__main__")
    if getattr(main, "__spec__", None) is not None:
        return True
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return True  # python -c, interactive: workers import nothing for __main__
    origin = getattr(multiprocessing.process, "ORIGINAL_DIR", None) or ""
    return os.path.isfile(os.path.join(origin, path))


def _pool_allowed() -> bool:
    """Whether this process may start workers; if not, batches run in-process (quietly)."""
    return not multiprocessing.current_process().daemon and _main_is_importable()


def _mp_context() -> multiprocessing.context.BaseContext:
    """'forkserver' where available, else 'spawn'; never 'fork'.

    Forking a parent that has imported torch (CUDA state, OpenMP/tokenizer threads) or that holds
    open SQLite connections can deadlock or corrupt state. 'forkserver' starts workers from a
    clean single-threaded server process, so it is safe whether the caller itself was started by
    fork or spawn, and cheaper per worker than 'spawn' (which re-imports ``__main__`` each time).
    """
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Have the server import this module once, so each worker it forks starts with it loaded:
    # measured ~20 ms per pool start instead of ~0.4 s of imports in every new worker. Takes
    # effect only before the server starts; keeps whatever else the process asked to preload,
    # except ``__main__`` when it is no file (``python - <<EOF``): the server would print a
    # FileNotFoundError traceback for '<stdin>'. Our workers need nothing from ``__main__``.
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        preload = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
        if not _main_is_importable():
            preload = [m for m in preload if m != "__main__"]
        if __name__ not in preload:
            preload.append(__name__)
        ctx.set_forkserver_preload(preload)
    return ctx


_WORKER: SQLiteExecutor | None = None


def _worker_init(config: dict) -> None:
    global _WORKER
    _WORKER = SQLiteExecutor(**config)


def _worker_run(chunk: list[tuple[str, str]]) -> list[ExecResult]:
    assert _WORKER is not None, "worker not initialised"
    return [_WORKER.execute(db, sql) for db, sql in chunk]


def _worker_match(chunk: list[MatchTask]) -> list[MatchOutcome]:
    assert _WORKER is not None, "worker not initialised"
    out = []
    for task in chunk:
        outcome = _WORKER.run_match(task)
        # The caller holds the gold it sent along: do not pickle its rows back.
        out.append(replace(outcome, gold=None) if task.gold is not None else outcome)
    return out
