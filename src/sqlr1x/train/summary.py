"""End-of-run summary: reward components at start vs end (moving averages), validation before
vs after GRPO, printed as a table, written to ``summary.json`` and plotted to a PNG.

Example::

    from sqlr1x.train.callbacks import read_metrics
    from sqlr1x.train.summary import summarize, plot_rewards
    rows = read_metrics("outputs/demo/metrics.jsonl")
    summary = summarize(rows); plot_rewards(rows, "outputs/demo/reward_curves.png")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlr1x.eval.stats import moving_average

__all__ = ["moving_average", "plot_rewards", "print_summary", "reward_keys", "summarize", "write_summary"]

EVAL_KEYS = (
    "probe/reward",
    "probe/baseline",
    "probe/schema",
    "probe/structural",
    "probe/syntax",
    "execution_accuracy",
    "structural",
    "hallucination_rate",
    "syntax_error_rate",
    "exec_error_rate",
    "format_valid_rate",
)
DIAGNOSTIC_WORDS = ("accuracy", "hallucinat", "syntax", "format", "exec")
SKIP_KEYS = ("sqlr1x/reward_total_mean",)  # the same number as ``reward``


def reward_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Reward-like keys logged by GRPO: ``reward``, ``rewards/<func>/mean`` and the reward
    adapter's diagnostics (hallucination / syntax / format / execution rates)."""
    keys: list[str] = []
    for row in rows:
        if row.get("phase") != "grpo":
            continue
        for key, value in row.items():
            if key in keys or key in SKIP_KEYS or not isinstance(value, (int, float)):
                continue
            is_reward = key == "reward" or (key.startswith("rewards/") and key.endswith("/mean"))
            is_diag = not key.startswith(("eval/", "rewards/")) and any(w in key for w in DIAGNOSTIC_WORDS)
            if is_reward or is_diag:
                keys.append(key)
    return sorted(keys, key=lambda k: (k != "reward", not k.startswith("rewards/"), k))


def _start_end(values: list[float], window: int) -> tuple[float, float]:
    k = max(1, min(window, len(values) // 2 or 1))
    return sum(values[:k]) / k, sum(values[-k:]) / k


def summarize(rows: list[dict[str, Any]], *, window: int = 10) -> dict[str, Any]:
    """``{"rewards": {key: {"start", "end", "delta"}}, "validation": {metric: {"before", "after"}},
    "steps": n}`` from metrics rows; start/end are means of the first/last ``window`` logged steps."""
    grpo = [r for r in rows if r.get("phase") == "grpo"]
    rewards: dict[str, dict[str, float]] = {}
    for key in reward_keys(rows):
        values = [float(r[key]) for r in grpo if isinstance(r.get(key), (int, float))]
        if values:
            start, end = _start_end(values, window)
            rewards[key] = {"start": start, "end": end, "delta": end - start, "n": len(values)}
    evals = [r for r in rows if r.get("phase") == "eval"]
    validation: dict[str, dict[str, float]] = {}
    if evals:
        first, last = evals[0], evals[-1]
        for key in EVAL_KEYS:
            name = f"eval/{key}"
            if name in first and name in last:
                validation[key] = {
                    "before": first[name],
                    "after": last[name],
                    "delta": last[name] - first[name],
                }
    return {
        "steps": max((int(r["step"]) for r in grpo), default=0),
        "window": window,
        "rewards": rewards,
        "validation": validation,
        "validation_steps": [int(r["step"]) for r in evals],
    }


def print_summary(
    summary: dict[str, Any], *, title: str = "GRPO summary", extra: dict[str, Any] | None = None
) -> None:
    """Print the summary as two rich tables (plain text when rich is missing)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"{title}: training batches, first vs last {summary['window']} logged steps")
    t.add_column("component")
    t.add_column("start", justify="right")
    t.add_column("end", justify="right")
    t.add_column("Δ", justify="right")
    for key, v in summary["rewards"].items():
        t.add_row(key, f"{v['start']:.3f}", f"{v['end']:.3f}", f"{v['delta']:+.3f}")
    console.print(t)
    if summary["validation"]:
        v = Table(
            title="dev set before vs after GRPO (probe/*: sampled reward on fixed prompts; rest: greedy)"
        )
        v.add_column("metric")
        v.add_column("before", justify="right")
        v.add_column("after", justify="right")
        v.add_column("Δ", justify="right")
        for key, m in summary["validation"].items():
            v.add_row(key, f"{m['before']:.3f}", f"{m['after']:.3f}", f"{m['delta']:+.3f}")
        console.print(v)
    for key, value in (extra or {}).items():
        console.print(f"{key}: {value}")


def write_summary(summary: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return p


def plot_rewards(rows: list[dict[str, Any]], path: str | Path, *, window: int = 10) -> Path:
    """PNG of the GRPO reward curves (raw, faint; moving average, bold) and validation metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grpo = [r for r in rows if r.get("phase") == "grpo"]
    evals = [r for r in rows if r.get("phase") == "eval"]
    keys = [k for k in reward_keys(rows) if k == "reward" or k.startswith("rewards/")]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax_total, ax_comp, ax_eval = axes
    baseline = [k for k in keys if k == "reward" or "baseline" in k]
    dense = [k for k in keys if k not in baseline]
    for ax, selected in ((ax_total, baseline), (ax_comp, dense)):
        for key in selected:
            pts = [(r["step"], float(r[key])) for r in grpo if isinstance(r.get(key), (int, float))]
            if not pts:
                continue
            steps, values = zip(*pts, strict=True)
            line = ax.plot(steps, values, alpha=0.25, linewidth=0.8)[0]
            label = key.removeprefix("rewards/").removesuffix("/mean")
            ax.plot(
                steps, moving_average(list(values), window), color=line.get_color(), linewidth=2, label=label
            )
        ax.set_xlabel("GRPO step")
        ax.grid(alpha=0.3)
    probe = [(r["step"], r["eval/probe/reward"]) for r in evals if "eval/probe/reward" in r]
    if probe:
        steps, values = zip(*probe, strict=True)
        ax_total.plot(steps, values, "k--o", linewidth=1.5, label="reward, fixed dev probe")
    ax_total.set_title(f"total and SQL-R1 baseline reward (moving average {window})")
    ax_total.legend(fontsize=7, loc="best")
    ax_comp.set_title("dense reward components (mean per step)")
    if ax_comp.lines:
        ax_comp.legend(fontsize=7, loc="best")
    for key in ("execution_accuracy", "hallucination_rate", "syntax_error_rate", "format_valid_rate"):
        pts = [(r["step"], r[f"eval/{key}"]) for r in evals if f"eval/{key}" in r]
        if pts:
            steps, values = zip(*pts, strict=True)
            ax_eval.plot(steps, values, marker="o", label=key)
    ax_eval.set_title("validation (greedy, dev)")
    ax_eval.set_xlabel("GRPO step")
    ax_eval.set_ylim(-0.02, 1.02)
    ax_eval.grid(alpha=0.3)
    if ax_eval.lines:
        ax_eval.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
