"""End-of-run summary: reward components at start vs end (moving averages), validation before
vs after GRPO, query shape (clause presence in sampled and greedy dev SQL vs gold, with the steps
where a clause collapsed), printed as tables, written to ``summary.json`` and plotted to a PNG.

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

from sqlr1x.eval.shape import CLAUSE_LABELS, CLAUSES, COLLAPSE_FRACTION
from sqlr1x.eval.stats import moving_average

__all__ = [
    "moving_average",
    "plot_rewards",
    "print_summary",
    "reward_keys",
    "shape_summary",
    "summarize",
    "write_summary",
]

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
        "shape": shape_summary(rows, window=window),
    }


def shape_summary(rows: list[dict[str, Any]], *, window: int = 10) -> dict[str, Any]:
    """Per clause: presence in the sampled training SQL (first vs last ``window`` logged steps) and
    its gold rate, presence in the greedy dev SQL (first vs last validation) and its gold rate, and
    ``collapse_steps``: the logged GRPO steps at which the monitor counted a collapsed clause.
    Empty when the run logged no ``shape/`` metrics."""
    grpo = [r for r in rows if r.get("phase") == "grpo"]
    evals = [r for r in rows if r.get("phase") == "eval" and "eval/shape/where/pred" in r]
    clauses: dict[str, dict[str, float]] = {}
    for c in CLAUSES:
        entry: dict[str, float] = {}
        pred = [float(r[f"shape/{c}/pred"]) for r in grpo if f"shape/{c}/pred" in r]
        gold = [float(r[f"shape/{c}/gold"]) for r in grpo if f"shape/{c}/gold" in r]
        if pred:
            entry["train_start"], entry["train_end"] = _start_end(pred, window)
            entry["train_gold"] = sum(gold) / len(gold)
        key = f"eval/shape/{c}/pred"
        if evals and key in evals[0] and key in evals[-1]:
            entry["dev_before"] = evals[0][key]
            entry["dev_after"] = evals[-1][key]
            entry["dev_gold"] = evals[0].get(f"eval/shape/{c}/gold", float("nan"))
        if entry:
            clauses[c] = entry
    if not clauses:
        return {}
    ratios = [float(r["shape/length_ratio"]) for r in grpo if "shape/length_ratio" in r]
    out: dict[str, Any] = {"clauses": clauses}
    if ratios:
        out["length_ratio_train"] = dict(zip(("start", "end"), _start_end(ratios, window), strict=True))
    if evals and "eval/shape/length_ratio" in evals[0] and "eval/shape/length_ratio" in evals[-1]:
        out["length_ratio_dev"] = {
            "before": evals[0]["eval/shape/length_ratio"],
            "after": evals[-1]["eval/shape/length_ratio"],
        }
    out["collapse_steps"] = [int(r["step"]) for r in grpo if float(r.get("shape/collapsed", 0) or 0) > 0]
    dev_collapsed = [
        c
        for c, e in clauses.items()
        if "dev_after" in e and e["dev_gold"] > 0 and e["dev_after"] < COLLAPSE_FRACTION * e["dev_gold"]
    ]
    out["dev_collapsed_after"] = dev_collapsed
    return out


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
    shape = summary.get("shape") or {}
    if shape.get("clauses"):
        w = summary["window"]
        q = Table(title="query shape: share of SQL with each clause (training: sampled; dev: greedy)")
        for col in (
            "clause",
            f"train first {w}",
            f"train last {w}",
            "train gold",
            "dev before",
            "dev after",
            "dev gold",
        ):
            q.add_column(col, justify="left" if col == "clause" else "right")
        keys = ("train_start", "train_end", "train_gold", "dev_before", "dev_after", "dev_gold")
        for c, e in shape["clauses"].items():
            q.add_row(CLAUSE_LABELS[c], *(f"{e[k]:.2f}" if k in e else "—" for k in keys))
        console.print(q)
        steps = shape.get("collapse_steps") or []
        if steps:
            console.print(
                f"[bold red]query-shape collapse[/] in training batches at {len(steps)} logged steps "
                f"(first {steps[0]}, last {steps[-1]})"
            )
        if shape.get("dev_collapsed_after"):
            names = ", ".join(CLAUSE_LABELS[c] for c in shape["dev_collapsed_after"])
            console.print(f"[bold red]dev predictions after GRPO use below half of the gold rate:[/] {names}")
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
    fig, axes = plt.subplots(1, 4, figsize=(22, 4.8))
    ax_total, ax_comp, ax_eval, ax_shape = axes
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
    _plot_shape(ax_shape, grpo, evals, window)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# the clauses drawn in the plot (all are in summary.json): the ones the demo's gold uses most
PLOT_CLAUSES = ("where", "join", "group_by", "order_by")


def _plot_shape(ax: Any, grpo: list[dict[str, Any]], evals: list[dict[str, Any]], window: int) -> None:
    """Clause presence over the steps: sampled training SQL (moving average), greedy dev SQL
    (markers) and the gold rate of the dev set (dotted)."""
    for c in PLOT_CLAUSES:
        pts = [(r["step"], float(r[f"shape/{c}/pred"])) for r in grpo if f"shape/{c}/pred" in r]
        color = None
        if pts:
            steps, values = zip(*pts, strict=True)
            line = ax.plot(
                steps, moving_average(list(values), window), linewidth=2, label=f"{CLAUSE_LABELS[c]} (train)"
            )[0]
            color = line.get_color()
        dev = [(r["step"], r[f"eval/shape/{c}/pred"]) for r in evals if f"eval/shape/{c}/pred" in r]
        if dev:
            steps, values = zip(*dev, strict=True)
            line = ax.plot(steps, values, "o--", color=color, linewidth=1, label=f"{CLAUSE_LABELS[c]} (dev)")[
                0
            ]
            ax.axhline(evals[0][f"eval/shape/{c}/gold"], color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_title("clause presence (dotted: dev gold)")
    ax.set_xlabel("GRPO step")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="best")
