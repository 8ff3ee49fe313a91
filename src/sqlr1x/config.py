"""Training configuration: pydantic v2 models loaded from YAML, with clear errors.

Sections (the seed's ``configs/train_24gb.yaml`` keys plus ours): ``reward``, ``optimization``,
``logging``, ``data``, ``sft``. Every model forbids unknown keys, so a typo fails loudly with the
file, the dotted key path and a suggestion. ``reward`` is :class:`sqlr1x.rewards.config.RewardConfig`
(re-exported here): the rewards layer owns the reward options and their defaults.

Example::

    from sqlr1x.config import load_config
    config = load_config("configs/train_24gb.yaml", overrides=["optimization.learning_rate=1e-6"])
    config.reward.enable_enhanced, config.optimization.per_device_train_batch_size

Overrides are ``section.key=value`` (values parsed as YAML); ``training.`` is accepted as an alias
of ``optimization.`` (``training.learning_rate=1e-6``).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# The reward section is the rewards layer's own model (the one place of reward defaults).
from sqlr1x.rewards.config import RewardConfig

__all__ = [
    "ConfigError",
    "DataConfig",
    "LoggingConfig",
    "LoraConfigModel",
    "OptimizationConfig",
    "RewardConfig",
    "SFTSection",
    "TrainConfig",
    "apply_overrides",
    "load_config",
]

SECTION_ALIASES = {"training": "optimization"}


class ConfigError(ValueError):
    """A configuration problem, with the file, the key path and how to fix it in one message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraConfigModel(_Strict):
    """LoRA adapter settings (peft ``LoraConfig``)."""

    enabled: bool = True
    r: int = Field(32, gt=0)
    alpha: int = Field(64, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


class OptimizationConfig(_Strict):
    """Model and GRPO optimisation settings.

    Batch mapping onto TRL: ``batch_size`` is *prompts* per device step; TRL's
    ``per_device_train_batch_size`` counts completions = ``batch_size × num_generations``.
    ``gradient_accumulation_steps`` passes through. ``generation_batch_size`` (completions generated
    at once per device, default ``per_device_train_batch_size``) must divide by ``num_generations``
    and by ``per_device_train_batch_size``.
    """

    model_name: str = "Qwen/Qwen2.5-Coder-3B-Instruct"
    batch_size: int = Field(2, gt=0)
    gradient_accumulation_steps: int = Field(8, gt=0)
    gradient_checkpointing: bool = True
    mixed_precision: Literal["bf16", "fp16", "no"] = "bf16"
    learning_rate: float = Field(1e-5, gt=0)
    max_prompt_length: int = Field(2048, gt=0)
    max_response_length: int = Field(1024, gt=0)
    num_generations: int = Field(4, ge=2)
    generation_batch_size: int | None = Field(None, gt=0)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1.0)
    beta: float = Field(0.0, ge=0)
    epsilon: float = Field(0.2, gt=0)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    mask_truncated_completions: bool = Field(
        False, description="completions cut at max_response_length get no loss (TRL, DAPO)"
    )
    lora: LoraConfigModel = Field(default_factory=LoraConfigModel)
    optimizer: Literal["adamw", "adamw_8bit"] = "adamw"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    lr_scheduler_type: Literal["constant", "constant_with_warmup", "linear", "cosine"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    max_steps: int = Field(-1, ge=-1, description="-1: run num_train_epochs")
    num_train_epochs: float = Field(1.0, gt=0)
    use_vllm: bool = False
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, le=1.0, description="share of GPU memory vLLM colocate takes (weights + KV cache)"
    )
    vllm_enable_sleep_mode: bool = Field(
        True,
        description="vLLM colocate releases its memory during the optimizer step (TRL vllm_enable_sleep_mode); "
        "needed on 24 GB, costs a host-device copy per wake-up",
    )
    seed: int = 42

    @property
    def per_device_train_batch_size(self) -> int:
        """Completions per device step, as TRL counts them."""
        return self.batch_size * self.num_generations

    @property
    def resolved_generation_batch_size(self) -> int:
        return self.generation_batch_size or self.per_device_train_batch_size

    @model_validator(mode="after")
    def _check_batches(self) -> OptimizationConfig:
        gen = self.generation_batch_size
        if gen is not None:
            if gen % self.num_generations:
                raise ValueError(
                    f"generation_batch_size ({gen}) must be divisible by num_generations "
                    f"({self.num_generations}): every prompt gets a full group of completions; "
                    f"use a multiple of {self.num_generations}"
                )
            per_device = self.per_device_train_batch_size
            if gen % per_device:
                raise ValueError(
                    f"generation_batch_size ({gen}) must be a multiple of batch_size × num_generations "
                    f"({self.batch_size} × {self.num_generations} = {per_device}); e.g. {per_device} or "
                    f"{per_device * self.gradient_accumulation_steps}"
                )
        return self


class LoggingConfig(_Strict):
    """Logging, checkpoint and validation cadence (seed keys plus ours)."""

    log_interval: int = Field(10, gt=0)
    save_interval: int = Field(500, gt=0)
    eval_interval: int = Field(100, gt=0)
    detailed_rewards: bool = True
    track_gpu_memory: bool = True
    keep_last_checkpoints: int = Field(3, ge=1)
    report_to: list[Literal["jsonl", "tensorboard", "wandb"]] = Field(
        default_factory=lambda: ["jsonl", "tensorboard"]
    )
    wandb_project: str = "sql-r1-extension"
    progress_bar: bool = True
    # validation memory: sequences per generate call (null: 32 greedy / 64 sampled on CPU, 8 / 8 on
    # CUDA, where 64 sequences of a 2048-token prompt + 512 new tokens do not fit next to training)
    eval_batch_size: int | None = Field(None, gt=0, description="greedy validation sequences per batch")
    probe_batch_size: int | None = Field(None, gt=0, description="reward-probe sequences per batch")
    probe_size: int = Field(32, ge=0, description="prompts in the sampled-reward probe (0: no probe)")

    def validation_batch_sizes(self, cuda: bool) -> tuple[int, int]:
        """``(eval_batch_size, probe_batch_size)`` with the device defaults filled in.

        >>> LoggingConfig().validation_batch_sizes(cuda=True), LoggingConfig().validation_batch_sizes(cuda=False)
        ((8, 8), (32, 64))
        """
        default = (8, 8) if cuda else (32, 64)
        return (self.eval_batch_size or default[0], self.probe_batch_size or default[1])


class DataConfig(_Strict):
    """Dataset specs (see ``sqlr1x.data.load_spec``) and prompt options."""

    train: str = "demo:train"
    eval: str | None = "demo:dev"
    eval_size: int = Field(50, ge=0)
    train_limit: int | None = Field(None, gt=0)
    prompt_style: Literal["sqlr1", "chat"] = "sqlr1"
    sample_rows: int = Field(0, ge=0)
    skip_failing_gold: bool = True


class SFTSection(_Strict):
    """Cold-start SFT on gold SQL in the ``<think>/<answer>`` format (before GRPO)."""

    enabled: bool = False
    max_steps: int = Field(200, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    batch_size: int = Field(4, gt=0)
    gradient_accumulation_steps: int = Field(4, gt=0)
    max_length: int = Field(3072, gt=0)
    warmup_steps: int = Field(0, ge=0)
    lr_scheduler_type: Literal["constant", "constant_with_warmup", "linear", "cosine"] = "linear"


class TrainConfig(_Strict):
    """The whole training configuration; ``load_config`` builds it from YAML."""

    reward: RewardConfig = Field(default_factory=RewardConfig)
    optimization: OptimizationConfig = Field(default_factory=OptimizationConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    sft: SFTSection = Field(default_factory=SFTSection)

    @model_validator(mode="after")
    def _check_combinations(self) -> TrainConfig:
        opt = self.optimization
        if opt.model_name == "tiny" and opt.use_vllm:
            raise ValueError(
                "optimization.use_vllm is true with model_name 'tiny': vLLM needs CUDA and a hub-style "
                "model; set use_vllm: false for the CPU tiny model"
            )
        if self.data.eval is None and self.data.eval_size > 0:
            raise ValueError(
                "data.eval_size > 0 but data.eval is null: set data.eval (e.g. 'demo:dev') or eval_size: 0"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------------------- loading and errors


def _fields_at(loc: tuple) -> list[str]:
    """Valid field names of the model that holds the key at ``loc`` (all but the last part)."""
    model: Any = TrainConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return []
    return list(model.model_fields)


def _suggest(name: str, options: list[str], *, sections: bool = False) -> str:
    candidates = options + (list(SECTION_ALIASES) if sections else [])
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if match:
        target = SECTION_ALIASES.get(match[0], match[0]) if sections else match[0]
        return f"did you mean '{target}'?"
    return f"valid keys here: {', '.join(sorted(options))}"


def _describe(err: dict, source: str) -> str:
    loc = tuple(err.get("loc", ()))
    path = ".".join(str(p) for p in loc) or "<root>"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        where = "section" if len(loc) == 1 else "key"
        hint = _suggest(str(loc[-1]), _fields_at(loc), sections=len(loc) == 1)
        return f"unknown {where} '{path}' in {source} — {hint}"
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "value_error" or not loc:
        prefix = f"'{path}' in {source}" if loc else f"{source}"
        return f"invalid combination in {prefix}: {msg}"
    got = err.get("input")
    return f"wrong value for '{path}' in {source}: {msg} (got {got!r}); fix the value of '{path}'"


def _raise_from_validation(exc: ValidationError, source: str) -> None:
    lines = [_describe(e, source) for e in exc.errors()]
    if len(lines) == 1:
        raise ConfigError(lines[0]) from None
    raise ConfigError(f"{len(lines)} problems in {source}:\n  - " + "\n  - ".join(lines)) from None


def _parse_override(item: str, source: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(
            f"bad override '{item}' ({source}): expected section.key=value, e.g. optimization.learning_rate=1e-6"
        )
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if len(parts) < 2:
        raise ConfigError(
            f"bad override '{item}' ({source}): the key needs a section, e.g. optimization.{key.strip()}={raw}"
        )
    parts[0] = SECTION_ALIASES.get(parts[0], parts[0])
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None, source: str = "overrides") -> dict:
    """Set ``section.key=value`` items into a nested dict (``training.`` = ``optimization.``)."""
    for item in overrides or []:
        parts, value = _parse_override(item, source)
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"bad override '{item}': '{'.'.join(parts[: i + 1])}' is not a section")
            node = child
        node[parts[-1]] = value
    return data


def load_config(
    path: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
) -> TrainConfig:
    """Load a YAML file (or defaults when ``path`` is None) and apply ``overrides``.

    Raises ``ConfigError`` with the file, the key path and the fix; never a raw pydantic error.

    >>> load_config(None, ["training.learning_rate=1e-6"]).optimization.learning_rate
    1e-06
    """
    source = str(path) if path is not None else "<defaults>"
    data: Any = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"config file not found: {source} (try configs/train_24gb.yaml or configs/demo.yaml)"
            )
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: the top level must be a mapping of sections (reward, optimization, ...)"
            )
    if overrides:
        label = f"{source} + overrides" if path is not None else "overrides"
        data = apply_overrides(data, overrides, label)
        source = label
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        _raise_from_validation(exc, source)
        raise  # unreachable
    return config
