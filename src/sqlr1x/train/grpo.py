"""GRPO training with TRL's ``GRPOTrainer`` on our rewards, LoRA via peft, atomic checkpoints.

How the config maps onto TRL 1.16 (docs/training.md has the full table):

- ``optimization.batch_size`` = prompts per device step → ``per_device_train_batch_size`` =
  ``batch_size × num_generations`` completions; ``gradient_accumulation_steps`` passes through;
  ``generation_batch_size`` (default: one micro-batch) must divide by ``num_generations``.
- ``max_response_length`` → ``max_completion_length``; ``max_prompt_length`` is enforced by our
  prompt truncation in ``sqlr1x.data`` (TRL 1.16 has no ``max_prompt_length``).
- Device and precision: ``sqlr1x.models.hardware_precision`` (bf16 where the GPU has it natively,
  fp16 on T4-class GPUs, fp32 on CPU with ``use_cpu=True``). On CUDA: gradient checkpointing,
  optional vLLM colocate with sleep mode (``vllm_kwargs``). On CPU: no gradient checkpointing (TRL
  defaults bf16/checkpointing on).

Example::

    from sqlr1x.config import load_config
    from sqlr1x.train.grpo import run_grpo
    result = run_grpo(load_config("configs/demo.yaml"), "outputs/run", model_path="outputs/run/tiny-model")
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlr1x import models
from sqlr1x.config import TrainConfig
from sqlr1x.models import ModelLoadError, cuda_available, load_policy
from sqlr1x.train.checkpoint import AtomicCheckpointMixin, resolve_resume

__all__ = [
    "GRPORunResult",
    "ModelLoadError",
    "build_grpo_args",
    "build_lora_config",
    "build_train_dataset",
    "cuda_available",
    "grpo_kwargs",
    "load_policy",
    "make_grpo_trainer",
    "resolve_model",
    "run_grpo",
    "vllm_kwargs",
]


# ----------------------------------------------------------------------------- model


def resolve_model(name: str, output_dir: str | Path, corpus: Any = None) -> str:
    """Turn ``--model`` into a loadable local path or hub name.

    ``"tiny"``: build (or reuse) the offline tiny model in ``<output_dir>/tiny-model``, its
    tokenizer trained on ``corpus`` (a list of texts or a zero-argument callable returning one).
    Anything else goes to ``sqlr1x.models.resolve_model``: a saved model folder, a LoRA adapter
    folder, or a hub name loadable now (offline: in the local cache); otherwise ``ModelLoadError``
    suggests a local path or ``--model tiny``.
    """
    if name == "tiny":
        from sqlr1x.train.tiny import create_tiny_model

        texts = corpus() if callable(corpus) else corpus
        return str(create_tiny_model(Path(output_dir) / "tiny-model", texts or []))
    return models.resolve_model(name)


def build_lora_config(config: TrainConfig) -> Any:
    """A peft ``LoraConfig`` from ``optimization.lora``, or None when LoRA is disabled."""
    lora = config.optimization.lora
    if not lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


# ----------------------------------------------------------------------------- data


def build_train_dataset(config: TrainConfig, tokenizer: Any, examples: list | None = None) -> Any:
    """The GRPO dataset: rendered prompts (``<think>`` pre-filled, truncated to
    ``max_prompt_length`` tokens) with the ``gold_sql`` / ``db_path`` columns the rewards use."""
    from sqlr1x.data import load_spec
    from sqlr1x.data.export import to_hf_dataset

    if examples is None:
        examples = load_spec(
            config.data.train, limit=config.data.train_limit, skip_failing_gold=config.data.skip_failing_gold
        )
    return to_hf_dataset(
        examples,
        tokenizer,
        style=config.data.prompt_style,
        max_prompt_length=config.optimization.max_prompt_length,
        sample_rows=config.data.sample_rows,
    )


# ----------------------------------------------------------------------------- trainer


def build_grpo_args(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    reward_weights: list[float] | None = None,
    precision: models.Precision | None = None,
    **extra: Any,
) -> Any:
    """``GRPOConfig`` for ``config`` (batch mapping and device choices as in the module docstring).

    ``precision`` defaults to ``sqlr1x.models.hardware_precision`` for the config: the same
    decision ``load_policy`` made for the weights.
    """
    from trl import GRPOConfig

    return GRPOConfig(
        **grpo_kwargs(config, run_dir, reward_weights=reward_weights, precision=precision, **extra)
    )


def grpo_kwargs(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    reward_weights: list[float] | None = None,
    precision: models.Precision | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The keyword arguments of ``build_grpo_args``'s ``GRPOConfig`` (inspectable for any hardware:
    ``GRPOConfig`` itself refuses fp16 on a machine without CUDA)."""
    opt, log = config.optimization, config.logging
    if precision is None:
        precision = models.hardware_precision(opt.mixed_precision, lora=opt.lora.enabled)
    cuda = precision.device == "cuda"
    use_vllm = False
    if opt.use_vllm:
        if cuda and importlib.util.find_spec("vllm") is not None:
            use_vllm = True
        else:
            warnings.warn(
                "optimization.use_vllm is true but vLLM or CUDA is missing: generating with transformers",
                stacklevel=2,
            )
    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir),
        per_device_train_batch_size=opt.per_device_train_batch_size,
        gradient_accumulation_steps=opt.gradient_accumulation_steps,
        generation_batch_size=opt.resolved_generation_batch_size,
        num_generations=opt.num_generations,
        max_completion_length=opt.max_response_length,
        temperature=opt.temperature,
        top_p=opt.top_p,
        beta=opt.beta,
        epsilon=opt.epsilon,
        loss_type=opt.loss_type,
        mask_truncated_completions=opt.mask_truncated_completions,
        learning_rate=opt.learning_rate,
        weight_decay=opt.weight_decay,
        max_grad_norm=opt.max_grad_norm,
        lr_scheduler_type=opt.lr_scheduler_type,
        warmup_steps=opt.warmup_steps,
        max_steps=opt.max_steps,
        num_train_epochs=opt.num_train_epochs,
        optim="adamw_torch" if opt.optimizer == "adamw" else "adamw_bnb_8bit",
        bf16=precision.bf16,
        fp16=precision.fp16,
        gradient_checkpointing=cuda and opt.gradient_checkpointing,
        use_cpu=not cuda,
        logging_steps=log.log_interval,
        save_strategy="steps",
        save_steps=log.save_interval,
        save_total_limit=None,
        report_to="none",
        disable_tqdm=True,
        seed=opt.seed,
        data_seed=opt.seed,
        reward_weights=reward_weights,
        log_completions=False,
        dataloader_num_workers=0,
    )
    if use_vllm:
        kwargs.update(vllm_kwargs(config))
    kwargs.update(extra)
    return kwargs


def vllm_kwargs(config: TrainConfig) -> dict[str, Any]:
    """TRL's colocated-vLLM arguments for ``optimization.use_vllm``: the memory share vLLM takes
    and sleep mode (weights and KV cache released during the optimizer step, so training gets the
    memory back; costs a host-device copy each wake-up).

    >>> from sqlr1x.config import load_config
    >>> cfg = load_config(None, ["optimization.vllm_enable_sleep_mode=true"])
    >>> vllm_kwargs(cfg)["vllm_enable_sleep_mode"], vllm_kwargs(cfg)["vllm_max_model_length"]
    (True, 3072)
    """
    opt = config.optimization
    return dict(
        use_vllm=True,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=opt.vllm_gpu_memory_utilization,
        vllm_enable_sleep_mode=opt.vllm_enable_sleep_mode,
        vllm_max_model_length=opt.max_prompt_length + opt.max_response_length,
    )


def _trainer_class() -> type:
    from trl import GRPOTrainer

    class SQLR1XGRPOTrainer(AtomicCheckpointMixin, GRPOTrainer):
        """TRL ``GRPOTrainer`` with atomic, rotated checkpoints carrying the resolved config."""

    return SQLR1XGRPOTrainer


def make_grpo_trainer(
    config: TrainConfig,
    run_dir: str | Path,
    model: Any,
    tokenizer: Any,
    train_dataset: Any,
    *,
    callbacks: list | None = None,
    reward_funcs: list | None = None,
    reward_weights: list[float] | None = None,
    args_overrides: dict[str, Any] | None = None,
    monitors: list | None = None,
) -> Any:
    """Build the trainer: our reward functions and weights (``make_reward_funcs``) unless given.

    ``monitors`` are reward-function-shaped observers that return ``None`` (e.g.
    ``train.callbacks.QueryShapeMonitor``): appended with weight 0, they only log."""
    if reward_funcs is None:
        from sqlr1x.integrations.trl import make_reward_funcs

        reward_funcs, reward_weights = make_reward_funcs(config.reward)
    if monitors:
        reward_weights = list(reward_weights or [1.0] * len(reward_funcs)) + [0.0] * len(monitors)
        reward_funcs = list(reward_funcs) + list(monitors)
    args = build_grpo_args(config, run_dir, reward_weights=reward_weights, **(args_overrides or {}))
    trainer = _trainer_class()(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=build_lora_config(config),
        callbacks=callbacks or [],
    )
    _quiet(trainer)
    trainer.checkpoint_config_yaml = config.to_yaml()
    trainer.keep_last_checkpoints = config.logging.keep_last_checkpoints
    return trainer


def _quiet(trainer: Any) -> None:
    """Drop transformers' PrinterCallback (raw log dicts on stdout): our MetricsLogger and
    progress bar report instead."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


@dataclass
class GRPORunResult:
    """What ``run_grpo`` leaves behind."""

    trainer: Any
    run_dir: Path
    final_dir: Path
    resumed_from: Path | None = None
    train_output: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)


def run_grpo(
    config: TrainConfig,
    output_dir: str | Path,
    *,
    model_path: str,
    resume: str | bool | None = None,
    callbacks: list | None = None,
    model: Any = None,
    tokenizer: Any = None,
    examples: list | None = None,
    args_overrides: dict[str, Any] | None = None,
    monitors: list | None = None,
) -> GRPORunResult:
    """Train with GRPO; checkpoints in ``<output_dir>/grpo``, final model/adapter in
    ``<output_dir>/grpo/final``. ``resume``: True/"latest" or a checkpoint path."""
    from transformers import set_seed

    set_seed(config.optimization.seed)
    run_dir = Path(output_dir) / "grpo"
    if model is None or tokenizer is None:
        model, tokenizer = load_policy(model_path, config)
    dataset = build_train_dataset(config, tokenizer, examples)
    trainer = make_grpo_trainer(
        config,
        run_dir,
        model,
        tokenizer,
        dataset,
        callbacks=callbacks,
        args_overrides=args_overrides,
        monitors=monitors,
    )
    checkpoint = resolve_resume(resume, run_dir)
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    final_dir = run_dir / "final"
    trainer.save_model(str(final_dir))
    tokenizer.save_pretrained(str(final_dir))
    (final_dir / "resolved_config.yaml").write_text(config.to_yaml(), encoding="utf-8")
    return GRPORunResult(
        trainer=trainer,
        run_dir=run_dir,
        final_dir=final_dir,
        resumed_from=checkpoint,
        train_output=output,
        metrics=dict(output.metrics) if output is not None else {},
    )
