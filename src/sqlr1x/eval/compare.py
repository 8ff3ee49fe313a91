"""Compare two evaluation runs metric by metric: absolute and relative deltas with 95 % intervals.

When both runs scored the same example ids the comparison is paired (a bootstrap over examples
resampling both runs jointly, on the ids they share); otherwise each run is resampled on its own.
``B - A`` is reported, so for ``↓`` metrics a negative delta is an improvement.

Example::

    >>> cmp = compare_runs("outputs/baseline", "outputs/enhanced")           # doctest: +SKIP
    >>> cmp.rows["ex_spider"]["delta"], cmp.paired                            # doctest: +SKIP
    (0.031, True)
    >>> write_comparison(cmp, "outputs/compare")                              # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlr1x.eval.metrics import LOWER_IS_BETTER, METRICS, PredictionScore
from sqlr1x.eval.report import json_safe, pyplot, read_predictions
from sqlr1x.eval.stats import paired_bootstrap, unpaired_bootstrap


@dataclass
class Comparison:
    """Per-metric comparison of run B against run A (``rows[metric]``: see ``paired_bootstrap``)."""

    name_a: str
    name_b: str
    label_a: str
    label_b: str
    paired: bool
    n_a: int
    n_b: int
    n_shared: int
    rows: dict[str, dict[str, float]] = field(default_factory=dict)


def eval_dir(run: str | Path) -> Path:
    """The folder holding ``metrics.json`` for a run folder (``<run>/eval``) or an eval folder itself."""
    run = Path(run)
    for candidate in (run, run / "eval"):
        if (candidate / "metrics.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"no evaluation found in {run}: expected {run}/eval/metrics.json (run `sqlr1x eval` first)"
    )


def load_run(run: str | Path, label: str | None = None) -> tuple[str, str, list[PredictionScore]]:
    """``(name, label, per-example scores)`` of a run's ``label`` result (default: its primary)."""
    folder = eval_dir(run)
    doc = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    label = label or doc["primary"]
    if label not in doc["results"]:
        raise ValueError(f"{folder}: no result {label!r}; it has {sorted(doc['results'])}")
    scores = read_predictions(folder / doc["results"][label]["predictions_file"])
    run = Path(run)
    name = run.parent.name if run.name == "eval" else run.name
    return name or str(run), label, scores


def compare_scores(
    a: Sequence[PredictionScore],
    b: Sequence[PredictionScore],
    *,
    metrics: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[bool, int, dict[str, dict[str, float]]]:
    """``(paired, n_shared, rows)``: per-metric deltas of ``b`` vs ``a`` with bootstrap intervals.

    Paired on the ids both score whenever they share ids; an example a metric does not apply to
    (e.g. ``format_valid_rate`` without a completion) is dropped from that metric's pairs.
    """
    by_a = {s.id: s for s in a}
    matched = [(by_a[s.id], s) for s in b if s.id in by_a]
    paired = bool(matched)
    rows = {}
    for name in metrics or list(METRICS):
        extract = METRICS[name][0]
        if paired:
            pairs = [(extract(x), extract(y)) for x, y in matched]
            pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
            row = paired_bootstrap([p[0] for p in pairs], [p[1] for p in pairs], n_boot=n_boot, seed=seed)
            row["n"] = len(pairs)
        else:
            xa = [v for v in map(extract, a) if v is not None]
            xb = [v for v in map(extract, b) if v is not None]
            row = unpaired_bootstrap(xa, xb, n_boot=n_boot, seed=seed)
            row["n"] = min(len(xa), len(xb))
        rows[name] = row
    return paired, len(matched), rows


def compare_runs(
    run_a: str | Path, run_b: str | Path, *, label: str | None = None, n_boot: int = 2000, seed: int = 0
) -> Comparison:
    """Compare the evaluation of ``run_b`` against ``run_a`` (their primary results, or ``label``)."""
    name_a, label_a, a = load_run(run_a, label)
    name_b, label_b, b = load_run(run_b, label)
    if name_a == name_b:
        name_a, name_b = str(run_a), str(run_b)
    paired, n_shared, rows = compare_scores(a, b, n_boot=n_boot, seed=seed)
    return Comparison(name_a, name_b, label_a, label_b, paired, len(a), len(b), n_shared, rows)


def verdict(name: str, row: dict[str, float]) -> str:
    """``better`` / ``worse`` when the delta's interval excludes 0, else ``no clear difference``."""
    lo, hi = row["delta_low"], row["delta_high"]
    if any(math.isnan(v) for v in (lo, hi)) or lo <= 0 <= hi:
        return "no clear difference"
    improved = (hi < 0) if name in LOWER_IS_BETTER else (lo > 0)
    return "better" if improved else "worse"


def _num(v: float, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{100 * v:+.1f} %" if pct else f"{v:+.3f}"


def render_comparison(cmp: Comparison) -> str:
    """Markdown table of a ``Comparison``."""
    how = (
        f"paired bootstrap over the {cmp.n_shared} examples both runs scored"
        if cmp.paired
        else "unpaired bootstrap (the runs share no example ids)"
    )
    lines = [
        f"# {cmp.name_b} vs {cmp.name_a}",
        "",
        f"A = `{cmp.name_a}` ({cmp.label_a}, {cmp.n_a} examples), B = `{cmp.name_b}` ({cmp.label_b}, {cmp.n_b} examples). "
        f"Deltas are B − A with 95 % intervals from a {how}; relative delta = (B − A) / |A|. "
        "↓: lower is better.",
        "",
        "| metric | A | B | Δ abs [95 % CI] | Δ rel [95 % CI] | B vs A |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in cmp.rows.items():
        if not r["n"]:
            continue
        arrow = " ↓" if name in LOWER_IS_BETTER else ""
        fmt = "{:.1f}" if name == "completion_chars" else "{:.3f}"
        lines.append(
            f"| `{name}`{arrow} | {fmt.format(r['mean_a'])} | {fmt.format(r['mean_b'])} | "
            f"{_num(r['delta'])} [{_num(r['delta_low'])}, {_num(r['delta_high'])}] | "
            f"{_num(r['rel_delta'], True)} [{_num(r['rel_low'], True)}, {_num(r['rel_high'], True)}] | {verdict(name, r)} |"
        )
    return "\n".join(lines) + "\n"


def plot_comparison(cmp: Comparison, path: str | Path) -> Path:
    """Absolute deltas (B − A) per metric with 95 % intervals; green where B is better."""
    plt = pyplot()
    names = [n for n, r in cmp.rows.items() if r["n"] and n != "completion_chars"]
    deltas = [cmp.rows[n]["delta"] for n in names]
    err = [
        [max(0.0, cmp.rows[n]["delta"] - cmp.rows[n]["delta_low"]) for n in names],
        [max(0.0, cmp.rows[n]["delta_high"] - cmp.rows[n]["delta"]) for n in names],
    ]
    colors = {"better": "tab:green", "worse": "tab:red", "no clear difference": "tab:gray"}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names)), 4.0))
    ax.bar(
        range(len(names)), deltas, yerr=err, capsize=3, color=[colors[verdict(n, cmp.rows[n])] for n in names]
    )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n + (" ↓" if n in LOWER_IS_BETTER else "") for n in names], rotation=30, ha="right")
    ax.set_ylabel("B − A (95 % bootstrap CI)")
    ax.set_title(f"{cmp.name_b} vs {cmp.name_a}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_comparison(cmp: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.json`` and ``compare.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "compare.md"
    md.write_text(render_comparison(cmp), encoding="utf-8")
    js = out / "compare.json"
    js.write_text(json.dumps(json_safe(cmp.__dict__), indent=2) + "\n", encoding="utf-8")
    return {"md": md, "json": js, "png": plot_comparison(cmp, out / "compare.png")}


def default_out_dir(run_a: str | Path, run_b: str | Path) -> Path:
    """``<parent of B>/compare_<A>_vs_<B>`` (run names, not eval folders)."""
    a, b = Path(run_a), Path(run_b)
    a, b = (a.parent if a.name == "eval" else a), (b.parent if b.name == "eval" else b)
    return b.parent / f"compare_{a.name}_vs_{b.name}"
