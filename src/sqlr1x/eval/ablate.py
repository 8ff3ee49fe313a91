"""Ablation: GRPO with the SQL-R1 baseline reward alone vs with the enhanced components, same budget.

For each seed, both variants start from the same policy (one cold-start SFT model shared by every
run when the config enables SFT, else the config's model), train ``steps`` GRPO steps with the same
config except ``reward.enable_enhanced``, and are evaluated greedily on the same split. The seed's
three claims become rows: claimed relative change vs the measured one with a 95 % interval.

The interval is a paired bootstrap over evaluation examples, each example's value averaged over
seeds; it captures which questions happen to be in the split, not the training randomness of
only ``K`` seeds — the per-seed table shows that spread.

This module holds the report side (claims, comparison, rendering); the runs themselves are
trained by ``sqlr1x.experiments.run_ablation``, above both training and evaluation.

Example::

    sqlr1x ablate --config configs/demo.yaml --steps 30 --seeds 2
    # -> outputs/ablation/ablation.md, ablation.json, ablation.png, {baseline,enhanced}/eval/...
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlr1x.eval.metrics import LOWER_IS_BETTER, METRICS, PredictionScore
from sqlr1x.eval.stats import paired_bootstrap


@dataclass(frozen=True)
class Claim:
    """A claim of the seed: ``metric`` changes by ``low``..``high`` relative (negative = fewer)."""

    text: str
    metric: str
    low: float
    high: float


CLAIMS: tuple[Claim, ...] = (
    Claim("10-20 % fewer hallucinated tables/columns", "hallucinated_elements", -0.20, -0.10),
    Claim("5-15 % better structural correctness", "structural", 0.05, 0.15),
    Claim("5-10 % fewer syntax errors", "syntax_error_rate", -0.10, -0.05),
)
VARIANTS: tuple[tuple[str, bool], ...] = (("baseline", False), ("enhanced", True))

DEMO_NOTE = """\
What this setting can and cannot show: on the bundled demo (template questions over five small
databases) with the offline tiny model (~0.6 M parameters, random initial weights, warm-started by SFT
on the same templates) and a few dozen CPU GRPO steps, the ablation tests the *mechanics* — both
rewards train from the same start with the same seeds and budget, and the evaluation measures
hallucinations, structure and syntax identically. It cannot test the seed's numbers, which concern
Qwen2.5-Coder-3B after hundreds of steps on Spider/BIRD-scale data: the tiny policy hardly ever
answers correctly (see `ex_spider`), so every reward mostly shapes surface patterns; the training
budget is tiny; and a couple of seeds cannot average out training randomness. Run it at full size
on a GPU, e.g. `sqlr1x ablate --config configs/train_24gb.yaml --steps 500 --seeds 3 --dataset
spider:/data/spider:dev`."""


def _seed_deltas(doc: dict[str, Any], metric: str) -> list[float]:
    by_seed: dict[int, dict[str, float]] = defaultdict(dict)
    for run in doc["runs"]:
        by_seed[run["seed"]][run["variant"]] = run["metrics"].get(metric, float("nan"))
    return [
        v["enhanced"] - v["baseline"]
        for _, v in sorted(by_seed.items())
        if {"baseline", "enhanced"} <= set(v)
    ]


def interpretation(doc: dict[str, Any]) -> str:
    """Plain-language caveats for this particular measurement."""
    setup, rows = doc["setup"], doc["rows"]
    notes = []
    demo = str(setup.get("eval_dataset", "")).startswith("demo:") or "tiny" in str(
        setup.get("start_model", "")
    )
    if demo:
        notes += [DEMO_NOTE, ""]
    for c in doc["claims"]:
        base = rows[c["metric"]]["mean_a"]
        if base is not None and not math.isnan(base) and abs(base) < 0.05:
            notes.append(
                f"- `{c['metric']}` is {base:.3f} for the baseline: a relative change of a near-zero value is "
                "undefined or dominated by noise."
            )
        deltas = [d for d in _seed_deltas(doc, c["metric"]) if not math.isnan(d)]
        if len(deltas) > 1:
            shown = ", ".join(f"{d:+.3f}" for d in deltas)
            agree = all(d > 0 for d in deltas) or all(d < 0 for d in deltas)
            notes.append(
                f"- `{c['metric']}` per-seed deltas (enhanced − baseline): {shown} — "
                + (
                    "same sign in every seed."
                    if agree
                    else "the seeds disagree in sign: within training noise, whatever the interval says."
                )
            )
    notes.append(
        f"- {setup['n_eval']} evaluation examples × {setup['seeds']} seed(s); the intervals cover example "
        "sampling only, not training randomness."
    )
    return "\n".join(notes)


def verdict(claim: Claim, row: dict[str, float]) -> str:
    """``holds`` | ``holds, larger than claimed`` | ``smaller than claimed`` | ``contradicted`` |
    ``inconclusive (interval includes 0)`` | ``not measurable (...)``."""
    rel, lo, hi = row.get("rel_delta"), row.get("rel_low"), row.get("rel_high")
    if rel is None or any(v is None or math.isnan(v) for v in (rel, lo, hi)):
        return "not measurable (baseline value is 0 or no data)"
    if lo <= 0 <= hi:
        return "inconclusive (interval includes 0)"
    fewer = claim.high < 0
    if (hi < 0) != fewer:
        return "contradicted (significant change in the other direction)"
    if claim.low <= rel <= claim.high:
        return "holds"
    beyond = rel < claim.low if fewer else rel > claim.high
    return "holds, larger than claimed" if beyond else "smaller than claimed"


def _averaged(runs: Sequence[Sequence[PredictionScore]], metric: str) -> dict[str, float]:
    """Per example id, the metric averaged over the seeds where it applies."""
    extract = METRICS[metric][0]
    acc: dict[str, list[float]] = defaultdict(list)
    for scores in runs:
        for s in scores:
            v = extract(s)
            if v is not None:
                acc[s.id].append(v)
    return {k: sum(v) / len(v) for k, v in acc.items()}


def compare_variants(
    baseline: Sequence[Sequence[PredictionScore]],
    enhanced: Sequence[Sequence[PredictionScore]],
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Per-metric paired bootstrap of enhanced vs baseline (one score list per seed each)."""
    rows = {}
    for metric in METRICS:
        a, b = _averaged(baseline, metric), _averaged(enhanced, metric)
        ids = [i for i in a if i in b]
        row = paired_bootstrap([a[i] for i in ids], [b[i] for i in ids], n_boot=n_boot, seed=seed)
        row["n"] = len(ids)
        rows[metric] = row
    return rows


def _pct(v: float | None) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{100 * v:+.1f} %"


def render_ablation(doc: dict[str, Any]) -> str:
    """``ablation.md`` from the ``ablation.json`` document."""
    rows, setup = doc["rows"], doc["setup"]
    out = [
        "# Ablation: SQL-R1 baseline reward vs baseline + enhanced components",
        "",
        f"- config: `{setup['config']}`, GRPO steps per run: {setup['steps']}, seeds: {setup['seeds']}",
        f"- start policy: `{setup['start_model']}`; evaluation: `{setup['eval_dataset']}`, "
        f"{setup['n_eval']} examples, greedy, max_new_tokens {setup['max_new_tokens']}",
        f"- wall time of this invocation: {setup['wall_s']:.0f} s; GRPO training of the "
        f"{len(doc['runs'])} runs: {sum(r['train_s'] for r in doc['runs']):.0f} s (a shared SFT start is not included)",
        "",
        "## The seed's claims",
        "",
        "Relative delta = (enhanced − baseline) / baseline, with a paired bootstrap 95 % interval over "
        "evaluation examples (each averaged over seeds).",
        "",
        "| claim | metric | claimed | baseline | enhanced | measured Δ rel [95 % CI] | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in doc["claims"]:
        r = rows[c["metric"]]
        out.append(
            f"| {c['text']} | `{c['metric']}` | {_pct(c['low'])} to {_pct(c['high'])} | {r['mean_a']:.3f} | "
            f"{r['mean_b']:.3f} | {_pct(r['rel_delta'])} [{_pct(r['rel_low'])}, {_pct(r['rel_high'])}] | {c['verdict']} |"
        )
    out += [
        "",
        "## All metrics (enhanced − baseline)",
        "",
        "| metric | baseline | enhanced | Δ abs [95 % CI] | Δ rel [95 % CI] |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        if not r["n"]:
            continue
        arrow = " ↓" if name in LOWER_IS_BETTER else ""
        out.append(
            f"| `{name}`{arrow} | {r['mean_a']:.3f} | {r['mean_b']:.3f} | {r['delta']:+.3f} "
            f"[{r['delta_low']:+.3f}, {r['delta_high']:+.3f}] | {_pct(r['rel_delta'])} [{_pct(r['rel_low'])}, {_pct(r['rel_high'])}] |"
        )
    cols = ["ex_spider", "hallucinated_elements", "structural", "syntax_error_rate", "format_valid_rate"]
    out += [
        "",
        "## Per seed",
        "",
        "| seed | variant | " + " | ".join(cols) + " | train s |",
        "|---|---|" + "---|" * (len(cols) + 1),
    ]
    for run in doc["runs"]:
        out.append(
            f"| {run['seed']} | {run['variant']} | "
            + " | ".join(f"{run['metrics'][c]:.3f}" for c in cols)
            + f" | {run['train_s']:.0f} |"
        )
    out += ["", "## What this shows", "", interpretation(doc)]
    return "\n".join(out) + "\n"


def _plot(doc: dict[str, Any], path: Path) -> Path:
    from sqlr1x.eval.report import pyplot

    plt = pyplot()
    claims = doc["claims"]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for i, c in enumerate(claims):
        r = doc["rows"][c["metric"]]
        ax.add_patch(
            plt.Rectangle(
                (i - 0.3, 100 * c["low"]), 0.6, 100 * (c["high"] - c["low"]), alpha=0.25, color="tab:green"
            )
        )
        if not math.isnan(r["rel_delta"]):
            lo, hi = 100 * (r["rel_delta"] - r["rel_low"]), 100 * (r["rel_high"] - r["rel_delta"])
            ax.errorbar(
                [i],
                [100 * r["rel_delta"]],
                yerr=[[max(lo, 0)], [max(hi, 0)]],
                fmt="o",
                color="black",
                capsize=4,
            )
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xticks(range(len(claims)))
    ax.set_xticklabels([c["metric"] for c in claims])
    ax.set_xlim(-0.6, len(claims) - 0.4)
    ax.set_ylabel("relative change, % (enhanced vs baseline)")
    ax.set_title("seed claims (green: claimed range) vs measured (95 % CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_ablation(
    out_dir: str | Path,
    baseline: Sequence[Sequence[PredictionScore]],
    enhanced: Sequence[Sequence[PredictionScore]],
    *,
    setup: dict[str, Any],
    runs: Sequence[dict[str, Any]] = (),
    n_boot: int = 2000,
) -> Path:
    """Write ``ablation.md``/``.json``/``.png`` and pooled ``{baseline,enhanced}/eval`` reports; returns the md path."""
    from sqlr1x.eval.report import json_safe, write_eval_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = compare_variants(baseline, enhanced, n_boot=n_boot)
    claims = [
        dict(text=c.text, metric=c.metric, low=c.low, high=c.high, verdict=verdict(c, rows[c.metric]))
        for c in CLAIMS
    ]
    doc = {"setup": dict(setup), "claims": claims, "rows": rows, "runs": list(runs)}
    (out / "ablation.json").write_text(json.dumps(json_safe(doc), indent=2) + "\n", encoding="utf-8")
    _plot(doc, out / "ablation.png")
    md = out / "ablation.md"
    md.write_text(render_ablation(doc) + "\n![claims](ablation.png)\n", encoding="utf-8")
    for name, per_seed in (("baseline", baseline), ("enhanced", enhanced)):
        pooled = []
        for k, scores in enumerate(per_seed):
            for s in scores:
                copy = PredictionScore.from_dict(s.to_dict())
                copy.id = f"seed{k}:{s.id}"
                pooled.append(copy)
        write_eval_report(
            out / name / "eval", {"greedy": pooled}, run={"name": f"ablation {name}"}, n_boot=n_boot
        )
    return md
