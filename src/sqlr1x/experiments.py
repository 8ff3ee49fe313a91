"""Experiments that train and then evaluate: they sit above ``sqlr1x.train`` and ``sqlr1x.eval``
(evaluation never imports training).

``run_ablation``: GRPO with the SQL-R1 baseline reward alone vs with the enhanced components, same
budget, per seed; every run is evaluated greedily on the same split and the report is written by
``sqlr1x.eval.ablate``.

Example::

    from sqlr1x.experiments import run_ablation
    md = run_ablation("configs/demo.yaml", steps=30, seeds=2, out_dir="outputs/ablation")
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlr1x.eval.ablate import VARIANTS, write_ablation
from sqlr1x.eval.metrics import METRICS, PredictionScore, metric_values

__all__ = ["run_ablation"]


def _run_config(config: Any, overrides: list[str]) -> Any:
    """``config`` with ``overrides`` applied, from memory: every run sees the same file contents."""
    from sqlr1x.config import TrainConfig, apply_overrides

    return TrainConfig.model_validate(apply_overrides(config.to_dict(), overrides, "ablation"))


def _finished(run_dir: Path) -> bool:
    return (run_dir / "summary.json").is_file() and (run_dir / "eval" / "ablation_run.json").is_file()


def run_ablation(
    config_path: str | Path,
    *,
    steps: int,
    seeds: int = 1,
    out_dir: str | Path = "outputs/ablation",
    eval_dataset: str | None = None,
    eval_limit: int | None = None,
    model: str | None = None,
    max_new_tokens: int | None = None,
    overrides: Sequence[str] = (),
    resume: bool = False,
    say: Any = print,
) -> Path:
    """Train both variants per seed through ``sqlr1x.train`` and write the ablation report.

    ``resume`` reuses runs that finished training and evaluation in ``out_dir`` (and the shared
    SFT start), so an interrupted ablation continues where it stopped.
    """
    from sqlr1x.config import load_config
    from sqlr1x.data import load_spec
    from sqlr1x.eval.report import read_predictions
    from sqlr1x.eval.runner import evaluate
    from sqlr1x.models import free_memory, load_policy
    from sqlr1x.train.pipeline import run_sft_only, run_training

    if steps < 1 or seeds < 1:
        raise ValueError("--steps and --seeds must be >= 1")
    t0 = time.perf_counter()
    out = Path(out_dir)
    base = [*overrides, f"optimization.max_steps={steps}"] + (
        [f"optimization.model_name={model}"] if model else []
    )
    config = load_config(config_path, base)
    eval_spec = eval_dataset or config.data.eval
    if not eval_spec:
        raise ValueError("no evaluation split: pass --dataset or set data.eval in the config")
    examples = load_spec(eval_spec, limit=eval_limit)
    max_new = max_new_tokens or config.optimization.max_response_length

    start = config.optimization.model_name
    if config.sft.enabled:
        sft_final = out / "start" / "sft" / "final"
        if resume and (sft_final / "config.json").is_file():
            start = str(sft_final)
        else:
            say(f"[ablate] cold-start SFT once, shared by every run ({config.sft.max_steps} steps)")
            start = str(run_sft_only(config, out / "start", say=say))
    results: dict[str, list[list[PredictionScore]]] = {"baseline": [], "enhanced": []}
    runs = []
    for seed in range(seeds):
        for variant, enhanced in VARIANTS:
            run_dir = out / f"seed{seed}" / variant
            if resume and _finished(run_dir):
                say(f"[ablate] seed {seed}, {variant}: reusing the finished run in {run_dir}")
                run = json.loads((run_dir / "eval" / "ablation_run.json").read_text(encoding="utf-8"))
                results[variant].append(read_predictions(run_dir / "eval" / "predictions.jsonl"))
                runs.append(run)
                continue
            cfg = _run_config(
                config,
                [
                    f"optimization.seed={seed}",
                    f"optimization.model_name={start}",
                    f"reward.enable_enhanced={str(enhanced).lower()}",
                    "sft.enabled=false",
                    "data.eval_size=0",
                    f"logging.save_interval={steps}",
                    "logging.progress_bar=false",
                ],
            )
            say(f"[ablate] seed {seed}, {variant}: {steps} GRPO steps -> {run_dir}")
            t = time.perf_counter()
            summary = run_training(cfg, run_dir, say=say, validate_before=False)
            train_s = time.perf_counter() - t
            policy, tokenizer = load_policy(summary["final_model"], cfg)
            res = evaluate(
                examples,
                model=policy,
                tokenizer=tokenizer,
                n=1,
                max_new_tokens=max_new,
                prompt_style=cfg.data.prompt_style,
                max_prompt_length=cfg.optimization.max_prompt_length,
                n_boot=200,
                run={"name": f"seed{seed}-{variant}", "dataset": eval_spec, "model": summary["final_model"]},
            )
            del policy
            free_memory()
            res.write(run_dir / "eval")
            scores = res.scores["greedy"]
            results[variant].append(scores)
            means = {m: _mean(metric_values(scores, m)) for m in METRICS}
            run = {"seed": seed, "variant": variant, "train_s": train_s, "metrics": means}
            (run_dir / "eval" / "ablation_run.json").write_text(json.dumps(run), encoding="utf-8")
            runs.append(run)
    setup = {
        "config": str(config_path),
        "steps": steps,
        "seeds": seeds,
        "start_model": start,
        "eval_dataset": eval_spec,
        "n_eval": len(examples),
        "max_new_tokens": max_new,
        "overrides": list(overrides),
        "wall_s": time.perf_counter() - t0,
    }
    md = write_ablation(out, results["baseline"], results["enhanced"], setup=setup, runs=runs)
    say(f"[ablate] report: {md}")
    return md


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
