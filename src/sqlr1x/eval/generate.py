"""Batched generation of completions for evaluation: transformers, or vLLM on a GPU when installed.

``generate`` returns ``n`` completions per prompt (the text after the prompt, special tokens
removed). ``temperature == 0`` is greedy decoding: one deterministic completion, repeated ``n``
times (transformers refuses ``num_return_sequences > 1`` without sampling or beams). Otherwise
it samples with ``num_return_sequences=n``; ``seed`` makes a run reproducible.

Example::

    >>> outs = generate(model, tokenizer, ["<|im_start|>user\\nhi<|im_end|>\\n"], n=2,
    ...                 temperature=0.8, max_new_tokens=16, seed=0)   # doctest: +SKIP
    >>> len(outs), len(outs[0])                                        # doctest: +SKIP
    (1, 2)
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Sequence
from typing import Any


def vllm_available() -> bool:
    """True when vLLM is importable and a CUDA device is visible (the only setting it serves)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a completion: the tokenizer's eos plus the model's generation eos ids."""
    ids: list[int] = []
    candidates: list[Any] = [tokenizer.eos_token_id]
    gen_cfg = getattr(model, "generation_config", None)
    if gen_cfg is not None:
        candidates.append(gen_cfg.eos_token_id)
    for c in candidates:
        for i in c if isinstance(c, (list, tuple)) else [c]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    return ids


@contextlib.contextmanager
def _left_padding(tokenizer: Any) -> Iterator[None]:
    """Decoder-only batching needs left padding and a pad token; restore the tokenizer afterwards."""
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        yield
    finally:
        tokenizer.padding_side = side
        if pad is None:
            tokenizer.pad_token = pad


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 256,
    batch_size: int = 16,
    top_p: float = 1.0,
    seed: int | None = None,
    progress: bool = False,
) -> list[list[str]]:
    """Generate ``n`` completions for each already-rendered prompt with a transformers model.

    ``batch_size`` counts sequences per forward pass, so each batch holds ``batch_size // n``
    prompts (at least one). Prompts are tokenized without adding special tokens: they are
    rendered with the chat template already.
    """
    import torch

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not prompts:
        return []
    greedy = temperature <= 0
    per_batch = max(1, batch_size // (1 if greedy else n))
    device = next(model.parameters()).device
    if seed is not None:
        torch.manual_seed(seed)
    kwargs: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "eos_token_id": _eos_ids(model, tokenizer),
    }
    if greedy:
        kwargs.update(do_sample=False, num_return_sequences=1, temperature=None, top_p=None, top_k=None)
    else:
        kwargs.update(do_sample=True, num_return_sequences=n, temperature=temperature, top_p=top_p, top_k=0)

    starts = range(0, len(prompts), per_batch)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="generate", unit="batch")
    out: list[list[str]] = []
    was_training = model.training
    model.eval()
    try:
        with _left_padding(tokenizer), torch.inference_mode():
            kwargs["pad_token_id"] = tokenizer.pad_token_id
            for start in starts:
                batch = list(prompts[start : start + per_batch])
                enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
                seqs = model.generate(**enc, **kwargs)
                texts = tokenizer.batch_decode(seqs[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
                k = 1 if greedy else n
                for i in range(len(batch)):
                    group = texts[i * k : (i + 1) * k]
                    out.append(group * n if greedy else group)
    finally:
        if was_training:
            model.train()
    return out


def load_vllm(model_path: str, *, seed: int = 0, gpu_memory_utilization: float = 0.85) -> Any:
    """Load a local model folder into a vLLM engine once, for repeated ``generate_vllm`` calls."""
    from vllm import LLM

    return LLM(model=str(model_path), seed=seed, gpu_memory_utilization=gpu_memory_utilization)


def generate_vllm(
    llm: Any,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 256,
    top_p: float = 1.0,
    seed: int | None = None,
) -> list[list[str]]:
    """Generate with a vLLM engine (``load_vllm``; GPU only); same output shape as ``generate``."""
    from vllm import SamplingParams

    greedy = temperature <= 0
    params = SamplingParams(
        n=1 if greedy else n,
        temperature=0.0 if greedy else temperature,
        top_p=1.0 if greedy else top_p,
        max_tokens=max_new_tokens,
        seed=seed,
    )
    results = llm.generate(list(prompts), params)
    return [[o.text for o in r.outputs] * (n if greedy else 1) for r in results]
