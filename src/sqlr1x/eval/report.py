"""Evaluation reports on disk: ``predictions.jsonl``, ``metrics.json``, ``report.md`` and PNG plots.

Layout of ``<out>/`` (``outputs/<run>/eval/`` by convention)::

    predictions.jsonl           one scored prediction per dataset example (primary result)
    predictions_<label>.jsonl   the other results (``greedy`` when the primary is ``voted``)
    metrics.json                {"run": {...}, "primary": label, "results": {label: aggregate}, "input": {...}}
    report.md                   tables: metrics with 95 % intervals, failures, breakdowns
    metrics.png                 metric bars with bootstrap 95 % intervals, one bar per result
    by_difficulty.png           execution match per difficulty / Spider hardness level (when present)
    clauses.png                 query shape: clause presence in predictions vs gold (collapse check)

``plot_training_curves(run_dir)`` draws reward and validation curves from ``<run>/metrics.jsonl``.

Example::

    >>> paths = write_eval_report("outputs/run/eval", {"greedy": scores}, run={"model": "tiny"})  # doctest: +SKIP
    >>> sorted(p.name for p in paths)                                                             # doctest: +SKIP
    ['metrics.json', 'metrics.png', 'predictions.jsonl', 'report.md']
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlr1x.eval.metrics import LOWER_IS_BETTER, METRICS, RATE_METRICS, PredictionScore, aggregate
from sqlr1x.eval.shape import CLAUSE_LABELS, CLAUSES, COLLAPSE_FRACTION, collapsed
from sqlr1x.eval.stats import moving_average

PLOT_METRICS: tuple[str, ...] = RATE_METRICS


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def predictions_file(label: str, primary: str) -> str:
    """File name holding the per-example scores of result ``label``."""
    return "predictions.jsonl" if label == primary else f"predictions_{label}.jsonl"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` with NaN/inf as None, so the JSON written is strict."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_predictions(path: str | Path, scores: Sequence[PredictionScore]) -> Path:
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for s in scores:
            f.write(json.dumps(json_safe(s.to_dict()), ensure_ascii=False, default=_json_default) + "\n")
    return path


def read_predictions(path: str | Path) -> list[PredictionScore]:
    """Scores written by ``write_predictions``."""
    with Path(path).open(encoding="utf-8") as f:
        return [PredictionScore.from_dict(json.loads(line)) for line in f if line.strip()]


def _fmt(value: float | None, name: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.1f}" if name == "completion_chars" else f"{value:.3f}"


def _fmt_ci(m: Mapping[str, Any], name: str) -> str:
    if m.get("n", 0) == 0:
        return "n/a"
    return f"{_fmt(m['mean'], name)} [{_fmt(m['ci_low'], name)}, {_fmt(m['ci_high'], name)}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(doc: Mapping[str, Any], *, plots: Sequence[str] = ()) -> str:
    """``report.md`` text for a ``metrics.json`` document."""
    run, results, primary = doc.get("run", {}), doc["results"], doc["primary"]
    labels = [primary] + [k for k in results if k != primary]
    out = [f"# Evaluation report: {run.get('name') or run.get('model') or 'predictions'}", ""]
    out += [f"- {k}: `{v}`" for k, v in run.items() if v is not None and not isinstance(v, (dict, list))]
    out += [
        "",
        "## Metrics",
        "",
        "Mean over **all** dataset examples with a bootstrap 95 % interval; failures (missing "
        "predictions, no SQL, missing databases, failing gold) count as wrong. "
        "↓ marks metrics where lower is better.",
        "",
    ]
    rows = []
    for name, (_, desc) in METRICS.items():
        arrow = " ↓" if name in LOWER_IS_BETTER else ""
        rows.append(
            [f"`{name}`{arrow}", *(_fmt_ci(results[lb]["metrics"][name], name) for lb in labels), desc]
        )
    out += _table(["metric", *labels, "definition"], rows)

    out += ["", "## Failures and error kinds", ""]
    status_rows = [
        [k, *(results[lb]["status"].get(k, 0) for lb in labels)] for k in results[primary]["status"]
    ]
    out += _table(["status", *labels], status_rows)
    kinds = sorted({k for lb in labels for k in results[lb]["exec_error_kinds"]})
    if kinds:
        out += ["", "Prediction execution errors by kind:", ""]
        out += _table(
            ["error kind", *labels],
            [[k, *(results[lb]["exec_error_kinds"].get(k, 0) for lb in labels)] for k in kinds],
        )
    inp = doc.get("input") or {}
    issues = {k: v for k, v in inp.items() if v}
    if issues:
        out += ["", "Predictions file:", ""]
        out += [
            f"- {k}: {v if not isinstance(v, list) else ', '.join(map(str, v[:20])) + (' …' if len(v) > 20 else '')}"
            for k, v in issues.items()
        ]
    vote = results.get("voted", {}).get("vote")
    if vote:
        out += [
            "",
            f"Self-consistency: {vote['n_samples']} samples per question, mean winning-group size "
            f"{vote['mean_votes']:.2f}, fallback used on {vote['fallback_used']} questions (no sample executed).",
        ]

    for key, title in (
        ("by_difficulty", "By difficulty"),
        ("by_hardness", "By Spider hardness (of the gold SQL)"),
    ):
        groups = results[primary].get(key) or {}
        if not groups:
            continue
        cols = ["ex_spider", "ex_bird", "hallucination_rate", "syntax_error_rate", "structural"]
        out += ["", f"## {title} ({primary})", ""]
        out += _table(
            ["level", "n", *cols],
            [[lvl, g["n"], *(_fmt(g[c], c) for c in cols)] for lvl, g in groups.items()],
        )

    out += _shape_section(results, labels)

    top = results[primary].get("top_hallucinations") or {}
    if top:
        out += ["", f"## Most frequent hallucinated names ({primary})", ""]
        out += _table(["kind:name", "count"], [[k, v] for k, v in top.items()])
    if plots:
        out += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(out) + "\n"


def _shape_section(results: Mapping[str, Mapping[str, Any]], labels: Sequence[str]) -> list[str]:
    """Markdown: clause presence (predictions vs gold) per result, the length ratios, collapses."""
    shaped = [lb for lb in labels if results[lb].get("shape")]
    if not shaped:
        return []
    gold = results[shaped[0]]["shape"]
    out = [
        "",
        "## Query shape",
        "",
        "Share of examples whose SQL uses each clause (anywhere, nested queries included; sqlglot AST). "
        "**Bold**: below half of the gold rate, the sign of a policy collapsing to trivial queries.",
        "",
    ]
    rows = []
    for c in CLAUSES:
        cells = []
        for lb in shaped:
            v = results[lb]["shape"]["clauses"][c]
            cell = f"{v['pred']:.3f} ({v['pred_n']})"
            cells.append(f"**{cell}**" if c in collapsed(results[lb]["shape"]) else cell)
        g = gold["clauses"][c]
        rows.append([CLAUSE_LABELS[c], *cells, f"{g['gold']:.3f} ({g['gold_n']})"])
    for key, desc in (
        ("length_ratio", "length pred/gold (chars)"),
        ("size_ratio", "size pred/gold (AST nodes)"),
    ):
        rows.append([desc, *(_fmt(results[lb]["shape"].get(key), key) for lb in shaped), "1.000"])
    out += _table(["clause", *shaped, "gold"], rows)
    return out


def plot_clause_presence(
    results: Mapping[str, Mapping[str, Any]], path: str | Path, *, title: str = ""
) -> Path | None:
    """Grouped bars: per clause, the presence rate in each result's predictions and in the gold,
    with a dashed tick at half the gold rate (the collapse threshold). None without shape data."""
    labels = [lb for lb in results if results[lb].get("shape")]
    if not labels:
        return None
    plt = pyplot()
    gold = results[labels[0]]["shape"]["clauses"]
    series = [(lb, [results[lb]["shape"]["clauses"][c]["pred"] for c in CLAUSES]) for lb in labels]
    series.append(("gold", [gold[c]["gold"] for c in CLAUSES]))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(9.0, 4.0))
    for k, (label, values) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(CLAUSES))]
        ax.bar(xs, values, width, label=label, color="0.6" if label == "gold" else None)
    ax.hlines(
        [gold[c]["gold"] * COLLAPSE_FRACTION for c in CLAUSES],
        [i - 0.45 for i in range(len(CLAUSES))],
        [i + 0.45 for i in range(len(CLAUSES))],
        colors="k",
        linestyles="dashed",
        linewidth=0.8,
        label="½ gold (collapse)",
    )
    ax.set_xticks(range(len(CLAUSES)))
    ax.set_xticklabels([CLAUSE_LABELS[c] for c in CLAUSES], rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of examples with the clause")
    ax.set_title(title or "clause presence, predictions vs gold")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_metric_bars(results: Mapping[str, Mapping[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Grouped bars of the rate metrics, one bar per result label, with bootstrap 95 % error bars."""
    plt = pyplot()
    labels = list(results)
    names = [n for n in PLOT_METRICS if any(results[lb]["metrics"][n]["n"] for lb in labels)]
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names)), 4.0))
    for k, label in enumerate(labels):
        ms = [results[label]["metrics"][n] for n in names]
        means = [m["mean"] if m["n"] else 0.0 for m in ms]
        err = [
            [max(0.0, m["mean"] - m["ci_low"]) if m["n"] else 0.0 for m in ms],
            [max(0.0, m["ci_high"] - m["mean"]) if m["n"] else 0.0 for m in ms],
        ]
        xs = [i + (k - (len(labels) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, means, width, yerr=err, capsize=3, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n + (" ↓" if n in LOWER_IS_BETTER else "") for n in names], rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate / score (95 % bootstrap CI)")
    ax.set_title(title or "evaluation metrics")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_breakdown(agg: Mapping[str, Any], path: str | Path, *, title: str = "") -> Path | None:
    """Execution match (Spider and BIRD semantics) per difficulty and hardness level; None when no levels."""
    panels = [(k, agg.get(k) or {}) for k in ("by_difficulty", "by_hardness")]
    panels = [(k, g) for k, g in panels if g]
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, (key, groups) in zip(axes[0], panels, strict=True):
        levels = list(groups)
        for k, metric in enumerate(("ex_spider", "ex_bird")):
            ax.bar(
                [i + (k - 0.5) * 0.4 for i in range(len(levels))],
                [groups[lv][metric] for lv in levels],
                0.4,
                label=metric,
            )
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels([f"{lv}\n(n={groups[lv]['n']})" for lv in levels])
        ax.set_ylim(0, 1.05)
        ax.set_title(key.replace("by_", "by "))
        ax.legend()
    fig.suptitle(title or "execution match by level")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_eval_report(
    out_dir: str | Path,
    scores: Mapping[str, Sequence[PredictionScore]],
    *,
    run: Mapping[str, Any] | None = None,
    primary: str | None = None,
    input_issues: Mapping[str, Any] | None = None,
    aggregates: Mapping[str, Mapping[str, Any]] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Path]:
    """Write the report for one or more scored results (``{"greedy": [...], "voted": [...]}``).

    ``primary`` (default: ``voted`` when present, else the first label) is the result whose
    per-example scores go to ``predictions.jsonl``. Returns ``{file kind: path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not scores:
        raise ValueError("nothing to report: no scored results")
    primary = primary or ("voted" if "voted" in scores else next(iter(scores)))
    results = {}
    paths: dict[str, Path] = {}
    for label, sc in scores.items():
        agg = (
            dict(aggregates[label])
            if aggregates and label in aggregates
            else aggregate(sc, n_boot=n_boot, seed=seed)
        )
        agg["predictions_file"] = predictions_file(label, primary)
        results[label] = agg
        paths[f"predictions_{label}"] = write_predictions(out / agg["predictions_file"], sc)
    doc = {"run": dict(run or {}), "primary": primary, "results": results, "input": dict(input_issues or {})}
    name = doc["run"].get("name") or doc["run"].get("model") or ""
    paths["metrics_png"] = plot_metric_bars(results, out / "metrics.png", title=f"evaluation {name}".strip())
    breakdown = plot_breakdown(
        results[primary], out / "by_difficulty.png", title=f"{name} ({primary})".strip()
    )
    if breakdown:
        paths["breakdown_png"] = breakdown
    shape_png = plot_clause_presence(results, out / "clauses.png", title=f"clause presence {name}".strip())
    if shape_png:
        paths["clauses_png"] = shape_png
    (out / "metrics.json").write_text(
        json.dumps(json_safe(doc), indent=2, default=_json_default) + "\n", encoding="utf-8"
    )
    paths["metrics_json"] = out / "metrics.json"
    plots = [paths["metrics_png"]] + [p for p in (breakdown, shape_png) if p]
    (out / "report.md").write_text(render_markdown(doc, plots=[str(p) for p in plots]), encoding="utf-8")
    paths["report_md"] = out / "report.md"
    return paths


def read_metrics_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a training ``metrics.jsonl`` (one JSON object per line with ``step``); bad lines skipped."""
    records = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a killed run
            if isinstance(rec, dict) and isinstance(rec.get("step"), (int, float)):
                records.append(rec)
    return records


def _series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    pts = [
        (r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
    ]
    return [p[0] for p in pts], [float(p[1]) for p in pts]


def plot_training_curves(
    run_dir: str | Path, out_dir: str | Path | None = None, *, window: int = 10
) -> list[Path]:
    """Reward and validation curves from ``<run_dir>/metrics.jsonl`` (``sqlr1x.train.callbacks`` format).

    ``reward_curves.png``: total reward and each ``rewards/<component>/mean`` per step (thin) with a
    moving average over ``window`` logged points (thick). ``validation_curves.png``: every ``eval/``
    metric (execution accuracy, hallucination and syntax-error rates, ...) per step. Returns the
    files written (none when the log has no such keys).
    """
    run_dir = Path(run_dir)
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no training log at {path}")
    records = read_metrics_jsonl(path)
    out = Path(out_dir) if out_dir else run_dir
    out.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in records for k, v in r.items() if isinstance(v, (int, float))})
    reward_keys = [k for k in keys if k == "reward" or (k.startswith("rewards/") and k.endswith("/mean"))]
    eval_keys = [k for k in keys if k.startswith("eval/") and k not in ("eval/n",)]
    plt = pyplot()
    written = []
    for fname, group, title in (
        ("reward_curves.png", reward_keys, "training reward (thin: logged, thick: moving average)"),
        ("validation_curves.png", eval_keys, "validation (greedy)"),
    ):
        if not group:
            continue
        cols = min(3, len(group))
        rows = math.ceil(len(group) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
        for ax, key in zip(axes.flat, group, strict=False):
            xs, ys = _series(records, key)
            if fname == "reward_curves.png":
                ax.plot(xs, ys, linewidth=0.8, alpha=0.4)
                ax.plot(xs, moving_average(ys, window), linewidth=2.0)
            else:
                ax.plot(xs, ys, marker="o")
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(group) :]:
            ax.axis("off")
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=100)
        plt.close(fig)
        written.append(out / fname)
    return written
