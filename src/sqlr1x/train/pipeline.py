"""The training pipeline behind ``train_colab.py`` and ``sqlr1x train``: resolve the model (hub,
local or ``tiny``), optional cold-start SFT, validation before GRPO, GRPO with logging,
checkpoints and periodic validation, then a summary table, ``summary.json`` and a reward plot.

Output folder layout::

    config.yaml  metrics.jsonl  tensorboard/  summary.json  reward_curves.png
    tiny-model/  sft/final/  grpo/checkpoint-<step>/  grpo/final/

Example::

    from sqlr1x.config import load_config
    from sqlr1x.train.pipeline import apply_cli, run_training
    config = apply_cli(load_config("configs/demo.yaml"), model="tiny", demo=True)
    summary = run_training(config, "outputs/demo")
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from sqlr1x.config import ConfigError, TrainConfig
from sqlr1x.models import cuda_available, free_memory, load_policy
from sqlr1x.train.checkpoint import find_latest_checkpoint

__all__ = [
    "apply_cli",
    "configure_cpu_threads",
    "load_examples",
    "run_sft_only",
    "run_training",
    "validation_callback",
]

DEMO_EVAL_CAP = 160


def apply_cli(
    config: TrainConfig,
    *,
    model: str | None = None,
    num_steps: int | None = None,
    batch_size: int | None = None,
    demo: bool = False,
    source: str = "command line",
) -> TrainConfig:
    """Apply the seed's flags: ``--model`` → ``optimization.model_name``, ``--num-steps`` →
    ``optimization.max_steps``, ``--batch-size`` → ``optimization.batch_size`` (prompts),
    ``--demo`` → the bundled ``demo:train`` / ``demo:dev`` data with at most 160 eval examples
    (``eval_size: 0`` stays 0)."""
    data = config.to_dict()
    if model:
        data["optimization"]["model_name"] = model
    if num_steps is not None:
        data["optimization"]["max_steps"] = num_steps
    if batch_size is not None:
        data["optimization"]["batch_size"] = batch_size
    if demo:
        data["data"]["train"] = "demo:train"
        data["data"]["eval"] = "demo:dev"
        # a cap, never a raise: an explicit eval_size 0 (no validation) stays 0
        data["data"]["eval_size"] = min(data["data"]["eval_size"], DEMO_EVAL_CAP)
    try:
        return TrainConfig.model_validate(data)
    except Exception as exc:  # pydantic ValidationError → one clear message
        from pydantic import ValidationError

        from sqlr1x.config import _raise_from_validation

        if isinstance(exc, ValidationError):
            _raise_from_validation(exc, source)
        raise


def load_examples(config: TrainConfig) -> tuple[list, list]:
    """``(train, eval)`` examples from ``data.train`` / ``data.eval`` (``eval_size`` of them)."""
    from sqlr1x.data import load_spec

    train = load_spec(
        config.data.train, limit=config.data.train_limit, skip_failing_gold=config.data.skip_failing_gold
    )
    if not train:
        raise ConfigError(f"data.train '{config.data.train}' has no examples")
    evals: list = []
    if config.data.eval and config.data.eval_size > 0:
        evals = load_spec(config.data.eval, limit=config.data.eval_size, skip_failing_gold=True)
    return train, evals


def _quiet_libraries() -> None:
    """No per-file progress bars from datasets / transformers (saving, loading, map): our bars only."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def configure_cpu_threads() -> int:
    """On CPU use one torch thread unless ``OMP_NUM_THREADS`` says otherwise; returns the count.

    The tiny model's matrices are too small to gain from a second thread, and on a shared 2-core
    machine OpenMP threads spin-waiting for a descheduled partner made SFT steps 13x slower
    (3.3 s vs 0.26 s per step, measured with one other busy process).
    """
    import os

    import torch

    _quiet_libraries()
    if torch.cuda.is_available() or os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    torch.set_num_threads(1)
    return 1


def _fresh_start(output_dir: Path, say: Any) -> None:
    stale = [output_dir / n for n in ("metrics.jsonl", "tensorboard", "grpo", "sft", "summary.json")]
    stale = [p for p in stale if p.exists()]
    if stale:
        say(
            f"starting fresh: removing the previous run's {', '.join(p.name for p in stale)} in {output_dir} "
            "(pass --resume to continue it instead)"
        )
    for p in stale:
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _model_path(config: TrainConfig, output_dir: Path, train: list) -> str:
    from sqlr1x.train.grpo import resolve_model  # "tiny" is built by the training package
    from sqlr1x.train.tiny import corpus_from_examples

    return resolve_model(
        config.optimization.model_name, output_dir, corpus=lambda: corpus_from_examples(train)
    )


def _make_logger(config: TrainConfig, output_dir: Path, phase: str) -> Any:
    from sqlr1x.train.callbacks import MetricsLogger

    return MetricsLogger(
        output_dir,
        report_to=config.logging.report_to,
        track_gpu_memory=config.logging.track_gpu_memory,
        phase=phase,
        wandb_project=config.logging.wandb_project,
        run_config=config.to_dict(),
    )


def _probe_computer(config: TrainConfig) -> Any:
    from sqlr1x.integrations.trl import make_computer

    return make_computer(config.reward)


def _sft(config: TrainConfig, output_dir: Path, model_path: str, train: list, logger: Any) -> str:
    """Run SFT and release it: GRPO loads the saved model, so the SFT trainer, its model, optimizer
    states and cached CUDA blocks must be gone first (on 24 GB they would not fit beside GRPO)."""
    from sqlr1x.train import sft
    from sqlr1x.train.callbacks import ProgressBarCallback

    logger.phase = "sft"
    callbacks = [logger] + (
        [ProgressBarCallback("SFT", keys=("loss",))] if config.logging.progress_bar else []
    )
    result = sft.run_sft(config, output_dir, model_path=model_path, examples=train, callbacks=callbacks)
    final = str(result.final_dir)
    del result
    free_memory()
    return final


def validation_callback(
    config: TrainConfig, tokenizer: Any, evals: list, logger: Any, bar: Any = None
) -> Any:
    """The ``ValidationCallback`` for ``config``: greedy validation on ``evals`` plus the sampled-reward
    probe, with the memory-safe batch sizes of ``logging`` (``validation_batch_sizes``)."""
    from sqlr1x.train.validation import ValidationCallback

    eval_bs, probe_bs = config.logging.validation_batch_sizes(cuda_available())
    return ValidationCallback(
        tokenizer,
        evals,
        eval_interval=config.logging.eval_interval,
        logger=logger,
        max_new_tokens=min(config.optimization.max_response_length, 512),
        batch_size=eval_bs,
        style=config.data.prompt_style,
        max_prompt_length=config.optimization.max_prompt_length,
        on_result=(lambda step, m: bar.set_postfix(val_ex=m["execution_accuracy"])) if bar else None,
        reward_computer=_probe_computer(config),
        probe_size=config.logging.probe_size,
        probe_batch_size=probe_bs,
        probe_temperature=config.optimization.temperature,
        probe_samples=config.optimization.num_generations,
    )


def run_sft_only(config: TrainConfig, output_dir: str | Path, *, say: Any = print) -> Path:
    """``sqlr1x train-sft``: cold-start SFT only; returns the saved model folder."""
    configure_cpu_threads()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, _ = load_examples(config)
    model_path = _model_path(config, out, train)
    logger = _make_logger(config, out, "sft")
    try:
        final = _sft(config, out, model_path, train, logger)
    finally:
        logger.close()
    say(f"SFT model saved to {final}")
    return Path(final)


def run_training(
    config: TrainConfig,
    output_dir: str | Path,
    *,
    resume: str | bool | None = None,
    say: Any = print,
    validate_before: bool = True,
) -> dict[str, Any]:
    """SFT (when ``sft.enabled``) → validation → GRPO → summary. Returns the summary dict."""
    from sqlr1x.train.callbacks import ProgressBarCallback, QueryShapeMonitor, read_metrics
    from sqlr1x.train.grpo import run_grpo
    from sqlr1x.train.summary import plot_rewards, print_summary, summarize, write_summary

    t0 = time.time()
    configure_cpu_threads()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    resuming = bool(resume) and (
        resume not in (True, "latest") or find_latest_checkpoint(out / "grpo") is not None
    )
    train, evals = load_examples(config)
    model_path = _model_path(config, out, train)  # fails early (and clearly) before touching old files
    if not resuming:
        _fresh_start(out, say)
    (out / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")
    logger = _make_logger(config, out, "grpo")
    timings: dict[str, float] = {}
    try:
        sft_final = out / "sft" / "final"
        if config.sft.enabled:
            if resuming and (sft_final / "config.json").is_file():
                say(f"resuming: reusing the SFT model in {sft_final}")
            else:
                t = time.time()
                _sft(config, out, model_path, train, logger)
                timings["sft_s"] = time.time() - t
            model_path = str(sft_final)

        model, tokenizer = load_policy(model_path, config)  # on the GPU: validation generates there
        logger.phase = "grpo"
        val_cb = None
        callbacks: list = [logger]
        bar = ProgressBarCallback("GRPO", keys=("reward",)) if config.logging.progress_bar else None
        if evals:
            val_cb = validation_callback(config, tokenizer, evals, logger, bar)
            if validate_before and not resuming:
                t = time.time()
                before = val_cb.run(model, 0)
                timings["validation_s"] = time.time() - t
                say(
                    f"validation before GRPO: sampled reward {before.get('probe/reward', float('nan')):.3f}, "
                    f"EX {before['execution_accuracy']:.3f}, "
                    f"hallucination {before['hallucination_rate']:.3f}, syntax errors {before['syntax_error_rate']:.3f}"
                )
            callbacks.append(val_cb)
        if bar is not None:
            callbacks.append(bar)
        t = time.time()
        result = run_grpo(
            config,
            out,
            model_path=model_path,
            model=model,
            tokenizer=tokenizer,
            examples=train,
            resume=resume if resuming else None,
            callbacks=callbacks,
            monitors=[QueryShapeMonitor()],
        )
        timings["grpo_s"] = time.time() - t
        if result.resumed_from is not None:
            say(f"resumed from {result.resumed_from}")
    finally:
        logger.close()

    rows = read_metrics(out / "metrics.jsonl") if "jsonl" in config.logging.report_to else logger.history
    summary = summarize(rows)
    summary["timings"] = {k: round(v, 1) for k, v in timings.items()} | {
        "total_s": round(time.time() - t0, 1)
    }
    summary["final_model"] = str(result.final_dir)
    write_summary(summary, out / "summary.json")
    plot = plot_rewards(rows, out / "reward_curves.png")
    print_summary(
        summary, extra={"plot": plot, "final model": result.final_dir, "timings": summary["timings"]}
    )
    return summary
