"""GRPO training with TRL's ``GRPOTrainer`` on our rewards, LoRA via peft, atomic checkpoints.

How the config maps onto TRL 1.16 (docs/training.md has the full table):

- ``optimization.batch_size`` = prompts per device step → ``per_device_train_batch_size`` =
  ``batch_size × num_generations`` completions; ``gradient_accumulation_steps`` passes through;
  ``generation_batch_size`` (default: one micro-batch) must divide by ``num_generations``.
- ``max_response_length`` → ``max_completion_length``; ``max_prompt_length`` is enforced by our
  prompt truncation in ``sqlr1x.data`` (TRL 1.16 has no ``max_prompt_length``).
- On CUDA: bf16 (weights loaded in bf16), gradient checkpointing, optional vLLM colocate. On CPU:
  ``use_cpu=True``, fp32, no gradient checkpointing (TRL defaults bf16/checkpointing on).

Example::

    from sqlr1x.config import load_config
    from sqlr1x.train.grpo import run_grpo
    result = run_grpo(load_config("configs/demo.yaml"), "outputs/run", model_path="outputs/run/tiny-model")
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlr1x.config import TrainConfig
from sqlr1x.train.checkpoint import AtomicCheckpointMixin, resolve_resume

__all__ = [
    "GRPORunResult",
    "ModelLoadError",
    "build_grpo_args",
    "build_lora_config",
    "build_train_dataset",
    "cuda_available",
    "load_policy",
    "make_grpo_trainer",
    "resolve_model",
    "run_grpo",
]


class ModelLoadError(RuntimeError):
    """The policy model cannot be found or loaded; the message says what to pass instead."""


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# ----------------------------------------------------------------------------- model


def resolve_model(name: str, output_dir: str | Path, corpus: Any = None) -> str:
    """Turn ``--model`` into a loadable local path or hub name.

    ``"tiny"``: build (or reuse) the offline tiny model in ``<output_dir>/tiny-model``, its
    tokenizer trained on ``corpus`` (a list of texts or a zero-argument callable returning one).
    A local folder must hold a ``config.json``. A hub name must be loadable now (offline: in the
    local cache); otherwise ``ModelLoadError`` suggests a local path or ``--model tiny``.
    """
    if name == "tiny":
        from sqlr1x.train.tiny import create_tiny_model

        texts = corpus() if callable(corpus) else corpus
        return str(create_tiny_model(Path(output_dir) / "tiny-model", texts or []))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {path} has no config.json: pass a saved transformers model folder "
                "(save_pretrained) or --model tiny"
            )
        return str(path)
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(name)
    except Exception as exc:  # noqa: BLE001 - any failure means "not loadable here"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = (
            "offline (HF_HUB_OFFLINE=1) and it is not in the local Hugging Face cache" if offline else "here"
        )
        raise ModelLoadError(
            f"cannot load model '{name}' {where}. Pass a local folder (--model /path/to/model, e.g. "
            f"after `hf download {name}` on a machine with network) or --model tiny for the offline demo "
            f"model. [{type(exc).__name__}: {first[:200]}]"
        ) from None
    return name


def load_policy(model_path: str, config: TrainConfig) -> tuple[Any, Any]:
    """Load model and tokenizer: bf16 weights on CUDA with ``mixed_precision: bf16``, else fp32;
    left padding; a pad token (eos when the tokenizer has none)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        dtype = (
            torch.bfloat16
            if cuda_available() and config.optimization.mixed_precision == "bf16"
            else torch.float32
        )
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load model '{model_path}': {str(exc).splitlines()[0]}. Pass a local model folder or --model tiny"
        ) from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


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
    config: TrainConfig, run_dir: str | Path, *, reward_weights: list[float] | None = None, **extra: Any
) -> Any:
    """``GRPOConfig`` for ``config`` (batch mapping and device choices as in the module docstring)."""
    from trl import GRPOConfig

    opt, log = config.optimization, config.logging
    cuda = cuda_available()
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
        bf16=cuda and opt.mixed_precision == "bf16",
        fp16=cuda and opt.mixed_precision == "fp16",
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
        kwargs.update(
            use_vllm=True,
            vllm_mode="colocate",
            vllm_gpu_memory_utilization=opt.vllm_gpu_memory_utilization,
            vllm_max_model_length=opt.max_prompt_length + opt.max_response_length,
        )
    kwargs.update(extra)
    return GRPOConfig(**kwargs)


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
