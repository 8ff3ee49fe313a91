"""Training metrics: one logger writing JSONL, TensorBoard and W&B (when installed and enabled).

``MetricsLogger`` is a ``transformers.TrainerCallback``: every ``log_interval`` steps TRL hands it
its logs — ``reward``, ``reward_std``, ``rewards/<func>/mean|std`` per reward component, the reward
adapter's diagnostics (hallucination rate, syntax-valid rate, ...), ``completions/mean_length``,
``learning_rate``, ``loss`` — and it adds GPU memory (allocated / reserved / peak, GiB) when
``track_gpu_memory`` and CUDA. Validation metrics go through ``log_metrics`` under ``eval/``.

``QueryShapeMonitor`` watches the *shape* of the sampled SQL: it rides along as a reward function
that scores nothing (``None`` for every completion, so TRL leaves it out of the reward) and logs,
through TRL's ``log_metric``, the share of completions using each clause next to the gold's
(``shape/<clause>/pred|gold``) and the length ratio. When a clause falls below half of its gold
rate over the last ``window`` batches it logs a collapse WARNING with the step.

Example::

    logger = MetricsLogger("outputs/run", report_to=["jsonl", "tensorboard"], phase="grpo")
    trainer.add_callback(logger)            # or MetricsLogger(...).log_metrics(step, {"eval/ex": 0.5})
    logger.history                          # list of dicts, also in outputs/run/metrics.jsonl
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

__all__ = [
    "MetricsLogger",
    "ProgressBarCallback",
    "QueryShapeMonitor",
    "gpu_memory_stats",
    "read_metrics",
]

log = logging.getLogger("sqlr1x.train")

_GIB = 1024**3


def gpu_memory_stats() -> dict[str, float]:
    """Allocated / reserved / peak CUDA memory in GiB; empty without CUDA."""
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    return {
        "gpu/allocated_gib": torch.cuda.memory_allocated() / _GIB,
        "gpu/reserved_gib": torch.cuda.memory_reserved() / _GIB,
        "gpu/peak_gib": torch.cuda.max_memory_allocated() / _GIB,
    }


def _clean(value: Any) -> float | int | str | None:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    return None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` file back (lines that fail to parse, e.g. a torn last line, are skipped)."""
    rows = []
    p = Path(path)
    if not p.is_file():
        return rows
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class MetricsLogger(TrainerCallback):
    """Write every TRL log (and extra metrics) to ``metrics.jsonl``, TensorBoard and W&B.

    ``phase`` tags rows (``sft`` / ``grpo`` / ``eval``) and ``step_offset`` shifts the step so
    consecutive phases share one time axis. ``report_to`` ⊆ {"jsonl", "tensorboard", "wandb"};
    W&B is used only when installed (a missing install is reported once, not raised).
    """

    def __init__(
        self,
        output_dir: str | Path,
        *,
        report_to: list[str] | tuple[str, ...] = ("jsonl", "tensorboard"),
        track_gpu_memory: bool = True,
        phase: str = "train",
        step_offset: int = 0,
        wandb_project: str = "sql-r1-extension",
        run_config: dict[str, Any] | None = None,
        jsonl_name: str = "metrics.jsonl",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.report_to = set(report_to)
        self.track_gpu_memory = track_gpu_memory
        self.phase = phase
        self.step_offset = step_offset
        self.history: list[dict[str, Any]] = []
        self.jsonl_path = self.output_dir / jsonl_name
        self._tb = None
        self._wandb = None
        self._t0 = time.time()
        if "tensorboard" in self.report_to:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.output_dir / "tensorboard"))
        if "wandb" in self.report_to:
            if importlib.util.find_spec("wandb") is None:
                print("[sqlr1x] report_to includes wandb but it is not installed: pip install wandb")
            else:
                import wandb

                self._wandb = wandb
                if wandb.run is None:
                    wandb.init(project=wandb_project, config=run_config or {}, dir=str(self.output_dir))

    # ------------------------------------------------------------------ public API
    def log_metrics(self, step: int, metrics: dict[str, Any], *, phase: str | None = None) -> dict[str, Any]:
        """Record ``metrics`` at ``step`` (already offset) in every backend; returns the row."""
        row: dict[str, Any] = {
            "step": int(step),
            "phase": phase or self.phase,
            "time": round(time.time() - self._t0, 3),
        }
        for key, value in metrics.items():
            clean = _clean(value)
            if clean is not None:
                row[key] = clean
        self.history.append(row)
        if "jsonl" in self.report_to:
            with open(self.jsonl_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        numeric = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in ("step", "time")}
        if self._tb is not None:
            for key, value in numeric.items():
                self._tb.add_scalar(f"{row['phase']}/{key}", value, row["step"])
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log({f"{row['phase']}/{k}": v for k, v in numeric.items()}, step=row["step"])
        return row

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    # ------------------------------------------------------------------ trainer hooks
    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if not logs:
            return
        metrics = dict(logs)
        if self.track_gpu_memory:
            metrics.update(gpu_memory_stats())
        self.log_metrics(state.global_step + self.step_offset, metrics)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102
        if self._tb is not None:
            self._tb.flush()


class ProgressBarCallback(TrainerCallback):
    """A compact tqdm bar: step, reward (moving average) and the latest validation accuracy."""

    def __init__(self, desc: str = "train", keys: tuple[str, ...] = ("reward", "loss")) -> None:
        self.desc = desc
        self.keys = keys
        self.bar = None
        self.postfix: dict[str, str] = {}

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if self.bar is None or not logs:
            return
        for key in self.keys:
            if key in logs and isinstance(logs[key], (int, float)):
                self.postfix[key] = f"{logs[key]:.3f}"
        self.bar.set_postfix(self.postfix, refresh=False)

    def set_postfix(self, **items: float) -> None:
        self.postfix.update({k: f"{v:.3f}" for k, v in items.items()})
        if self.bar is not None:
            self.bar.set_postfix(self.postfix)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _completion_text(completion: Any) -> str:
    """A TRL completion as text: a string, or a conversational ``[{"role", "content"}, ...]``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, Mapping))
    return str(completion or "")


class QueryShapeMonitor:
    r"""Clause presence of the sampled SQL per training batch, and the collapse warning.

    Called by ``GRPOTrainer`` like a reward function (``prompts, completions, gold_sql, log_metric,
    trainer_state, ...``); returns ``None`` for every completion, which TRL leaves out of the reward
    (``nansum``) while the other reward functions score the completion as before. Add it with
    weight 0 (``make_grpo_trainer(..., monitors=[QueryShapeMonitor()])``).

    Each call logs ``shape/<clause>/pred`` and ``shape/<clause>/gold`` (share of completions whose
    SQL, resp. whose prompt's gold SQL, has the clause), ``shape/length_ratio``, ``shape/size_ratio``
    and ``shape/collapsed`` (number of collapsed clauses). A clause is collapsed when, pooled over
    the last ``window`` batches, its rate in the predictions is below half of the gold's, among
    clauses the gold used at least ``min_gold`` times in that window. Entering collapse logs a
    WARNING naming the step and the clause; ``events`` keeps ``(step, clause, pred, gold)``.

    >>> m = QueryShapeMonitor(window=1, min_gold=2)
    >>> gold = ["SELECT a FROM t WHERE b = 1"] * 4
    >>> m(completions=["<answer>```sql\nSELECT a FROM t\n```</answer>"] * 4, gold_sql=gold)
    [None, None, None, None]
    >>> m.events
    [(1, 'where', 0.0, 1.0)]
    """

    __name__ = "query_shape"

    def __init__(self, *, window: int = 4, min_gold: int = 8, prefilled_think: bool = True) -> None:
        self.window = window
        self.min_gold = min_gold
        self.prefilled_think = prefilled_think
        self._batches: deque[tuple[list[str | None], list[str]]] = deque(maxlen=max(1, window))
        self._collapsed: set[str] = set()
        self.events: list[tuple[int, str, float, float]] = []
        self.calls = 0

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        gold_sql: Sequence[str] | None = None,
        trainer_state: Any = None,
        log_metric: Any = None,
        **kwargs: Any,
    ) -> list[None]:
        n = len(completions)
        try:
            self._observe(completions, gold_sql, trainer_state, log_metric)
        except Exception:  # a monitor never breaks training
            log.exception("query-shape monitor failed on a batch")
        return [None] * n

    def _observe(
        self, completions: Sequence[Any], gold_sql: Any, trainer_state: Any, log_metric: Any
    ) -> None:
        from sqlr1x.eval.shape import collapsed, flat_metrics, shape_stats
        from sqlr1x.sql.extract import extract_answer

        if not gold_sql:
            return
        self.calls += 1
        # the batch is generated before the optimizer step that the trainer then logs as global_step
        step = (
            (int(getattr(trainer_state, "global_step", 0)) + 1) if trainer_state is not None else self.calls
        )
        preds = [
            extract_answer(_completion_text(c), prefilled_think=self.prefilled_think).sql for c in completions
        ]
        golds = [str(g) for g in gold_sql]
        batch = shape_stats(preds, golds)
        self._batches.append((preds, golds))
        pooled = shape_stats(
            [p for ps, _ in self._batches for p in ps], [g for _, gs in self._batches for g in gs]
        )
        now = set(collapsed(pooled, min_gold=self.min_gold))
        for clause in sorted(now - self._collapsed):
            v = pooled["clauses"][clause]
            self.events.append((step, clause, v["pred"], v["gold"]))
            log.warning(
                "query-shape collapse at step %d: %s in %.0f%% of sampled queries vs %.0f%% of gold "
                "(below half; last %d batches)",
                step,
                clause.upper().replace("_", " "),
                100 * v["pred"],
                100 * v["gold"],
                len(self._batches),
            )
        for clause in sorted(self._collapsed - now):
            log.info("query shape recovered at step %d: %s", step, clause)
        self._collapsed = now
        if callable(log_metric):
            for key, value in flat_metrics(batch).items():
                log_metric(key, value)
            log_metric("shape/collapsed", float(len(now)))
