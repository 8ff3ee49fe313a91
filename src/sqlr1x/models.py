"""Model and tokenizer loading shared by training and evaluation: device, dtype, LoRA adapters.

One decision for every stage: ``decide_precision`` turns the hardware and
``optimization.mixed_precision`` into the device, the dtype the weights load in and the trainer's
``bf16`` / ``fp16`` flags:

- CPU: fp32, no mixed precision (``use_cpu``).
- CUDA with native bf16 (compute capability >= 8.0: A10, L4, A100, H100, ...) and ``bf16``: bf16.
- CUDA without native bf16 (T4, V100) and ``bf16``: fp16 weights and fp16 training instead, with a
  one-line message (bf16 there runs through slow emulation).
- ``fp16``: fp16 weights for LoRA (the frozen base; peft keeps the adapter in fp32, which fp16
  gradient scaling needs); full fine-tuning keeps fp32 master weights under fp16 autocast.
- ``no``: fp32.

``load_policy`` loads a saved model folder, a cached hub name or a LoRA adapter folder (the base
from ``adapter_config.json``'s ``base_model_name_or_path``, the adapter merged in), puts it on the
chosen device, and sets left padding and a pad token.

Example::

    >>> decide_precision("bf16", cuda=False, bf16_supported=False).dtype
    'float32'
    >>> p = decide_precision("bf16", cuda=True, bf16_supported=False, device_name="Tesla T4")
    >>> p.dtype, p.fp16, p.bf16
    ('float16', True, False)
    >>> p.message.startswith("Tesla T4 has no native bf16")
    True
"""

from __future__ import annotations

import gc
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlr1x.config import TrainConfig

__all__ = [
    "ModelLoadError",
    "Precision",
    "adapter_base",
    "cuda_available",
    "decide_precision",
    "free_memory",
    "hardware_precision",
    "is_adapter_dir",
    "load_policy",
    "load_tokenizer",
    "merged_model_dir",
    "resolve_model",
]


class ModelLoadError(RuntimeError):
    """The policy model cannot be found or loaded; the message says what to pass instead."""


def cuda_available() -> bool:
    """True when torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


# ----------------------------------------------------------------------------- precision


@dataclass(frozen=True)
class Precision:
    """Where and in which dtype a model loads and trains.

    ``dtype`` is the torch dtype's name for the weights; ``bf16`` / ``fp16`` are the trainer's
    mixed-precision flags; ``message`` is a one-line notice when the config was overridden.
    """

    device: Literal["cuda", "cpu"]
    dtype: Literal["bfloat16", "float16", "float32"]
    bf16: bool = False
    fp16: bool = False
    message: str | None = None

    @property
    def torch_dtype(self) -> Any:
        """The ``torch.dtype`` of ``dtype``."""
        import torch

        return getattr(torch, self.dtype)


def decide_precision(
    mixed_precision: str,
    *,
    cuda: bool,
    bf16_supported: bool,
    lora: bool = True,
    device_name: str = "this GPU",
) -> Precision:
    """Device, weight dtype and trainer flags from the hardware and ``optimization.mixed_precision``.

    Pure function: the hardware comes in as arguments (``hardware_precision`` reads it from torch).

    >>> decide_precision("bf16", cuda=True, bf16_supported=True)
    Precision(device='cuda', dtype='bfloat16', bf16=True, fp16=False, message=None)
    >>> decide_precision("fp16", cuda=True, bf16_supported=True, lora=False).dtype
    'float32'
    >>> decide_precision("no", cuda=True, bf16_supported=True).dtype
    'float32'
    """
    if mixed_precision not in ("bf16", "fp16", "no"):
        raise ValueError(f"mixed_precision must be 'bf16', 'fp16' or 'no', got {mixed_precision!r}")
    if not cuda:
        return Precision("cpu", "float32")
    if mixed_precision == "no":
        return Precision("cuda", "float32")
    message = None
    if mixed_precision == "bf16":
        if bf16_supported:
            return Precision("cuda", "bfloat16", bf16=True)
        message = (
            f"{device_name} has no native bf16 (needs compute capability >= 8.0): using fp16 weights and "
            "fp16 mixed precision instead; set optimization.mixed_precision: fp16 to silence this"
        )
    # fp16: a frozen base in fp16 is safe (peft keeps LoRA weights fp32 for the gradient scaler);
    # trainable fp16 weights are not (GradScaler refuses to unscale fp16 gradients).
    return Precision("cuda", "float16" if lora else "float32", fp16=True, message=message)


def hardware_precision(mixed_precision: str, *, lora: bool = True) -> Precision:
    """``decide_precision`` for the GPU torch sees now (device 0), or the CPU."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and torch.cuda.is_bf16_supported(including_emulation=False))
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    return decide_precision(mixed_precision, cuda=cuda, bf16_supported=bf16, lora=lora, device_name=name)


_SAID: set[str] = set()


def _notice(message: str | None) -> None:
    """Print a precision notice once per process (training and eval may both decide)."""
    if message and message not in _SAID:
        _SAID.add(message)
        print(f"[sqlr1x] {message}", file=sys.stderr)


def free_memory() -> None:
    """Collect garbage (trainers hold reference cycles) and return cached CUDA blocks to the driver."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- folders


def is_adapter_dir(path: str | Path) -> bool:
    """True for a peft adapter folder (``adapter_config.json``, e.g. ``<run>/grpo/final`` of a LoRA run)."""
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base(path: str | Path) -> str:
    """The base model an adapter folder was trained on (``base_model_name_or_path``).

    A relative base path that does not exist from the current folder is also tried relative to
    the adapter folder's run (``<run>/grpo/final`` → ``<run>/tiny-model``), so a run folder can move.
    """
    cfg_path = Path(path) / "adapter_config.json"
    try:
        base = json.loads(cfg_path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {cfg_path}: {exc}") from None
    if not base:
        raise ModelLoadError(
            f"{cfg_path} names no base_model_name_or_path: merge the adapter into its base model "
            "(peft merge_and_unload + save_pretrained) and pass that folder"
        )
    p = Path(base).expanduser()
    if not p.is_absolute() and not p.exists():
        for parent in Path(path).resolve().parents:
            if (parent / p.name / "config.json").is_file():
                return str(parent / p.name)
    return str(base)


def _hub_loadable(name: str) -> None:
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


def resolve_model(name: str) -> str:
    """Check that ``name`` is loadable and return it: a saved model folder (``config.json``), a LoRA
    adapter folder whose base is loadable, or a hub name in the local cache.

    Raises ``ModelLoadError`` naming what to pass instead. (``--model tiny`` is built by the
    training package, ``sqlr1x.train.grpo.resolve_model``.)
    """
    path = Path(name).expanduser()
    if path.exists():
        if is_adapter_dir(path):
            base = adapter_base(path)
            try:
                resolve_model(base)
            except ModelLoadError as exc:
                raise ModelLoadError(f"LoRA adapter {path}: its base model is not loadable: {exc}") from None
            return str(path)
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {path} has no config.json and no adapter_config.json: pass a saved "
                "transformers model folder (save_pretrained), a LoRA adapter folder, or --model tiny"
            )
        return str(path)
    _hub_loadable(name)
    return name


# ----------------------------------------------------------------------------- loading


def load_tokenizer(model_path: str | Path) -> Any:
    """The tokenizer of a model or adapter folder (an adapter without one uses its base's), with
    left padding and a pad token (eos when it has none)."""
    from transformers import AutoTokenizer

    source = str(model_path)
    if is_adapter_dir(model_path) and not (Path(model_path) / "tokenizer_config.json").is_file():
        source = adapter_base(model_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load the tokenizer of '{source}': {str(exc).splitlines()[0]}. "
            "Pass a local model folder or --model tiny"
        ) from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_policy(
    model_path: str | Path,
    config: TrainConfig | None = None,
    *,
    precision: Precision | None = None,
    device: str | None = None,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` on the chosen device, in the chosen dtype, ready to generate.

    ``config`` is a ``TrainConfig`` (its ``optimization.mixed_precision`` and LoRA setting decide
    the precision, ``hardware_precision``) or None (bf16 where native, else as decided for
    ``bf16``). A LoRA adapter folder loads its base and merges the adapter. The model goes to the
    GPU right away, so validation before training generates there, not on the CPU.
    """
    import torch
    from transformers import AutoModelForCausalLM

    if precision is None:
        opt = config.optimization if config is not None else None
        precision = hardware_precision(
            opt.mixed_precision if opt is not None else "bf16",
            lora=opt.lora.enabled if opt is not None else True,
        )
    _notice(precision.message)
    target = device or precision.device
    dtype = precision.torch_dtype
    tokenizer = load_tokenizer(model_path)
    try:
        if is_adapter_dir(model_path):
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(adapter_base(model_path), dtype=dtype)
            model = PeftModel.from_pretrained(base, str(model_path)).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=dtype)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load model '{model_path}': {str(exc).splitlines()[0]}. Pass a local model folder or --model tiny"
        ) from None
    if target != "cpu":
        model = model.to(torch.device(target))
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def merged_model_dir(model_path: str | Path, work_dir: str | Path) -> str:
    """A full model folder for engines that load from disk (vLLM): ``model_path`` itself, or for a
    LoRA adapter folder the adapter merged into its base on the CPU and saved in
    ``<work_dir>/merged-model`` (reused when it is newer than the adapter). Nothing stays on the GPU."""
    if not is_adapter_dir(model_path):
        return str(model_path)
    out = Path(work_dir) / "merged-model"
    adapter = Path(model_path) / "adapter_config.json"
    if (out / "config.json").is_file() and (out / "config.json").stat().st_mtime >= adapter.stat().st_mtime:
        return str(out)
    model, tokenizer = load_policy(
        model_path, precision=Precision("cpu", "bfloat16"), device="cpu"
    )  # bf16 on disk: vLLM picks fp16 itself on GPUs without bf16
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    del model
    free_memory()
    return str(out)
