"""Cold-start SFT (TRL ``SFTTrainer``): teach the ``<think>…</think><answer>```sql…```</answer>``
format on gold SQL before GRPO, as SQL-R1 does. Completion-only loss on prompt/completion pairs.

The target (``sqlr1x.data.prompt.gold_completion``) is a short rule-written reasoning line naming the
tables of the gold query, then the gold SQL in the answer block: enough for the format.

Example::

    from sqlr1x.config import load_config
    from sqlr1x.train.sft import run_sft
    out = run_sft(load_config("configs/demo.yaml"), "outputs/run", model_path="outputs/run/tiny-model")
    out.final_dir  # outputs/run/sft/final, a full model folder for GRPO
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlr1x.config import TrainConfig

__all__ = ["SFTRunResult", "build_sft_args", "build_sft_dataset", "run_sft", "sft_completion"]


def sft_completion(example: Any, prompt: str = "<think>") -> str:
    """The SFT target after ``prompt`` (pre-filled with ``<think>``): ``sqlr1x.data.prompt.gold_completion``,
    with a newline first when the prompt does not end with one."""
    from sqlr1x.data.prompt import gold_completion

    text = gold_completion(example)
    return text if prompt.endswith("\n") or text.startswith("\n") else "\n" + text


def build_sft_dataset(config: TrainConfig, tokenizer: Any, examples: list | None = None) -> Any:
    """``datasets.Dataset`` with ``prompt`` (rendered, ``<think>`` pre-filled) and ``completion``."""
    from datasets import Dataset

    from sqlr1x.eval.runner import render_prompts

    if examples is None:
        from sqlr1x.data import load_spec

        examples = load_spec(
            config.data.train, limit=config.data.train_limit, skip_failing_gold=config.data.skip_failing_gold
        )
    prompts = render_prompts(
        examples,
        tokenizer,
        style=config.data.prompt_style,
        max_prompt_length=config.optimization.max_prompt_length,
        sample_rows=config.data.sample_rows,
        training=True,
    )
    rows = [
        {"prompt": p, "completion": sft_completion(ex, p)} for ex, p in zip(examples, prompts, strict=True)
    ]
    return Dataset.from_list(rows)


def build_sft_args(config: TrainConfig, run_dir: str | Path, **extra: Any) -> Any:
    """``SFTConfig`` for the ``sft`` section (device choices as for GRPO)."""
    from trl import SFTConfig

    from sqlr1x.models import hardware_precision

    sft, opt = config.sft, config.optimization
    precision = hardware_precision(opt.mixed_precision, lora=opt.lora.enabled)
    cuda = precision.device == "cuda"
    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir),
        max_steps=sft.max_steps,
        per_device_train_batch_size=sft.batch_size,
        gradient_accumulation_steps=sft.gradient_accumulation_steps,
        learning_rate=sft.learning_rate,
        lr_scheduler_type=sft.lr_scheduler_type,
        warmup_steps=sft.warmup_steps,
        max_length=sft.max_length,
        completion_only_loss=True,
        packing=False,
        bf16=precision.bf16,
        fp16=precision.fp16,
        gradient_checkpointing=cuda and opt.gradient_checkpointing,
        use_cpu=not cuda,
        logging_steps=config.logging.log_interval,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=opt.seed,
        data_seed=opt.seed,
        dataloader_num_workers=0,
    )
    kwargs.update(extra)
    return SFTConfig(**kwargs)


@dataclass
class SFTRunResult:
    """What ``run_sft`` leaves behind: a full model folder (LoRA merged) ready for GRPO."""

    trainer: Any
    final_dir: Path
    model: Any
    tokenizer: Any
    metrics: dict[str, Any] = field(default_factory=dict)


def run_sft(
    config: TrainConfig,
    output_dir: str | Path,
    *,
    model_path: str,
    callbacks: list | None = None,
    model: Any = None,
    tokenizer: Any = None,
    examples: list | None = None,
    args_overrides: dict[str, Any] | None = None,
) -> SFTRunResult:
    """SFT ``model_path`` on ``data.train``; saves ``<output_dir>/sft/final`` (with LoRA, merged)."""
    from transformers import set_seed
    from trl import SFTTrainer

    from sqlr1x.models import load_policy
    from sqlr1x.train.grpo import _quiet, build_lora_config

    set_seed(config.optimization.seed)
    run_dir = Path(output_dir) / "sft"
    if model is None or tokenizer is None:
        model, tokenizer = load_policy(model_path, config)
    dataset = build_sft_dataset(config, tokenizer, examples)
    trainer = SFTTrainer(
        model=model,
        args=build_sft_args(config, run_dir, **(args_overrides or {})),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=build_lora_config(config),
        callbacks=callbacks or [],
    )
    _quiet(trainer)
    output = trainer.train()
    trained = trainer.model
    if hasattr(trained, "merge_and_unload"):
        trained = trained.merge_and_unload()
    final_dir = run_dir / "final"
    trained.save_pretrained(str(final_dir))
    tokenizer.save_pretrained(str(final_dir))
    (final_dir / "resolved_config.yaml").write_text(config.to_yaml(), encoding="utf-8")
    return SFTRunResult(
        trainer=trainer, final_dir=final_dir, model=trained, tokenizer=tokenizer, metrics=dict(output.metrics)
    )
