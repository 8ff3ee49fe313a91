"""GRPO training memory and throughput of Qwen2.5-Coder-3B-Instruct at the 24 GB settings.

Builds the Qwen2.5-Coder-3B architecture from its config in code (hidden 2048, 36 layers, 16
heads, 2 KV heads, intermediate 11008, vocab 151 936, tied embeddings; random weights, nothing
downloaded) and runs GRPO steps with ``configs/train_24gb.yaml`` (batch 2 prompts × 4
generations, accumulation 8, bf16, gradient checkpointing, LoRA r=32) through our own
``build_grpo_args`` / ``make_grpo_trainer``, with prompts of exactly 2048 tokens and completions
forced to 1024 tokens (``min_new_tokens``). Runs without vLLM, then with vLLM colocate when it is
installed. Prints peak GPU memory (GiB) and completions/s; the reward is a cheap random function
(the SQL reward's cost is measured by bench_rewards.py).

Without CUDA it runs a scaled-down model (hidden 64, 2 layers) for a few steps as a CI smoke test
(< 60 s) of the same code path.

It first prints the first-principles estimate (``estimate_train_memory``) next to which the
measured peak can be read. ``--memory-gib 24`` caps this process at 24 GiB of a larger card
(``torch.cuda.set_per_process_memory_fraction``), emulating a 24 GB GPU.

Run it::

    python benchmarks/bench_train_memory.py            # GPU: full size; CPU: smoke test
    python benchmarks/bench_train_memory.py --steps 2 --no-vllm
    python benchmarks/bench_train_memory.py --steps 1 --grad-accum 1 --no-vllm --memory-gib 24
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Qwen/Qwen2.5-Coder-3B-Instruct config.json
QWEN25_CODER_3B = dict(
    hidden_size=2048,
    intermediate_size=11008,
    num_hidden_layers=36,
    num_attention_heads=16,
    num_key_value_heads=2,
    vocab_size=151936,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    bos_token_id=151643,
    eos_token_id=151645,
)
SMOKE = dict(
    QWEN25_CODER_3B,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=1024,
    bos_token_id=None,
    eos_token_id=2,
    max_position_embeddings=512,
)


GIB = 1024**3


def lora_params(arch: dict, r: int) -> int:
    """LoRA parameters on q,k,v,o,gate,up,down of every layer: ``r × (in + out)`` per matrix."""
    h, i = arch["hidden_size"], arch["intermediate_size"]
    kv = h // arch["num_attention_heads"] * arch["num_key_value_heads"]
    per_layer = (h + h) * 2 + (h + kv) * 2 + (h + i) * 3
    return r * per_layer * arch["num_hidden_layers"]


def base_params(arch: dict) -> int:
    """Parameters of a Qwen2 decoder (tied embeddings, qkv bias): 3.09 B for Qwen2.5-Coder-3B."""
    h, i, v, n = arch["hidden_size"], arch["intermediate_size"], arch["vocab_size"], arch["num_hidden_layers"]
    kv = h // arch["num_attention_heads"] * arch["num_key_value_heads"]
    per_layer = h * h * 2 + h * kv * 2 + (h + 2 * kv) + 3 * h * i + 2 * h
    return v * h * (1 if arch.get("tie_word_embeddings", True) else 2) + n * per_layer + h


# Activations one decoder layer keeps for its backward, per token, when gradient checkpointing
# recomputes it (bf16, LoRA r=32 with dropout, SDPA attention): norms, q/k/v/o inputs and outputs,
# the three 11008-wide MLP tensors and their LoRA dropout copies and masks. ≈158 KiB.
LAYER_RECOMPUTE_BYTES_PER_TOKEN = 158 * 1024


def estimate_train_memory(
    arch: dict,
    *,
    prompt_len: int,
    completion_len: int,
    sequences: int,
    lora_r: int = 32,
    fused_lm_head: bool = True,
) -> dict[str, float]:
    """First-principles peak *allocated* GiB of one GRPO micro-batch (bf16, LoRA, gradient
    checkpointing, no KL reference): weights + LoRA states + layer checkpoints + one recomputed
    layer + the LM head's output, summed (upper side: the LM head and the recomputed layer peak at
    different moments of the backward). ``nvidia-smi`` shows more: the allocator's reserve and the
    CUDA context (the seed's 20-22 GB).

    ``fused_lm_head``: TRL 1.16 scores completions with a chunked LM head (``add_fused_lm_head``,
    ``trl/kernels/chunked_logprob.py``: 4096-token x 32768-vocab tiles), never the full logits;
    False counts materialised bf16 completion logits plus one sequence upcast to fp32.

    >>> q = dict(prompt_len=2048, completion_len=1024)
    >>> [round(estimate_train_memory(QWEN25_CODER_3B, sequences=s, **q)["total_gib"]) for s in (8, 16)]
    [14, 22]
    >>> [round(estimate_train_memory(QWEN25_CODER_3B, sequences=s, fused_lm_head=False, **q)["total_gib"])
    ...  for s in (8, 16)]
    [17, 26]
    """
    tokens = sequences * (prompt_len + completion_len)
    h, v, n = arch["hidden_size"], arch["vocab_size"], arch["num_hidden_layers"]
    parts = {
        "weights_bf16": base_params(arch) * 2,
        # fp32 LoRA weights, gradients and two AdamW moments
        "lora_states_fp32": lora_params(arch, lora_r) * 4 * 4,
        # gradient checkpointing keeps each layer's bf16 input
        "layer_checkpoints": n * tokens * h * 2,
        "recomputed_layer": tokens * LAYER_RECOMPUTE_BYTES_PER_TOKEN,
    }
    if fused_lm_head:
        # one tile: bf16 GEMM output and its fp32 statistics
        parts["lm_head_tile"] = 4096 * min(v, 32768) * (2 + 4)
    else:
        parts["completion_logits"] = sequences * completion_len * v * 2
        parts["log_softmax_fp32"] = completion_len * v * 4
    out = {k: b / GIB for k, b in parts.items()}
    out["total_gib"] = sum(parts.values()) / GIB
    return out


def word_tokenizer(n_words: int):
    """A word-level tokenizer: every ``w<i>`` is one token, so prompt lengths are exact."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    vocab.update({f"w{i}": i + 3 for i in range(n_words)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )
    return fast


def random_reward(completions, **kwargs):
    return [random.random() for _ in completions]


def run(args, *, use_vllm: bool) -> dict:
    import torch
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from sqlr1x.config import load_config
    from sqlr1x.train.grpo import make_grpo_trainer

    cuda = torch.cuda.is_available()
    if not cuda and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(1)  # tiny matrices; 2 OpenMP threads on a shared 2-core CI box are far slower
    arch = QWEN25_CODER_3B if cuda else SMOKE
    prompt_len, completion_len = (args.prompt_len, args.completion_len) if cuda else (48, 16)
    overrides = [
        f"optimization.max_steps={args.steps}",
        f"optimization.max_response_length={completion_len}",
        f"optimization.max_prompt_length={prompt_len}",
        f"optimization.use_vllm={str(use_vllm).lower()}",
        "optimization.vllm_gpu_memory_utilization=0.35",
        "logging.log_interval=1",
    ]
    if args.grad_accum is not None:
        overrides.append(f"optimization.gradient_accumulation_steps={args.grad_accum}")
    if not cuda:
        overrides += ["optimization.gradient_accumulation_steps=2", "optimization.lora.r=4"]
    config = load_config(ROOT / "configs/train_24gb.yaml", overrides)
    opt = config.optimization
    tok = word_tokenizer(min(arch["vocab_size"], 50_000) - 3)
    rng = random.Random(0)
    n_prompts = args.steps * opt.batch_size * opt.gradient_accumulation_steps
    prompts = [
        " ".join(f"w{rng.randrange(tok.vocab_size - 3)}" for _ in range(prompt_len)) for _ in range(n_prompts)
    ]
    assert len(tok(prompts[0])["input_ids"]) == prompt_len
    dataset = Dataset.from_dict({"prompt": prompts})

    dtype = torch.bfloat16 if cuda else torch.float32
    torch.manual_seed(0)
    cfg = Qwen2Config(**arch)
    with torch.device("cuda" if cuda else "cpu"):
        old = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            model = Qwen2ForCausalLM(cfg)
        finally:
            torch.set_default_dtype(old)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    tmp = tempfile.TemporaryDirectory(prefix="bench_train_")
    if use_vllm:  # vLLM colocate loads model.name_or_path, then receives our weights every step
        model.save_pretrained(tmp.name)
        tok.save_pretrained(tmp.name)
        model.name_or_path = model.config._name_or_path = tmp.name
    gen_kwargs = {"min_tokens": completion_len} if use_vllm else {"min_new_tokens": completion_len}
    trainer = make_grpo_trainer(
        config,
        Path(tmp.name) / "run",
        model,
        tok,
        dataset,
        reward_funcs=[random_reward],
        reward_weights=[1.0],
        args_overrides={"generation_kwargs": gen_kwargs, "save_strategy": "no", "report_to": "none"},
    )
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    completions = args.steps * opt.per_device_train_batch_size * opt.gradient_accumulation_steps
    lengths = [
        h.get("completions/mean_length") for h in trainer.state.log_history if "completions/mean_length" in h
    ]
    result = {
        "device": torch.cuda.get_device_name() if cuda else "cpu (scaled-down smoke test)",
        "vllm": use_vllm,
        "peak_gib": torch.cuda.max_memory_allocated() / 1024**3 if cuda else float("nan"),
        "reserved_gib": torch.cuda.max_memory_reserved() / 1024**3 if cuda else float("nan"),
        "samples_per_s": completions / elapsed,
        "seconds": elapsed,
        "completions": completions,
        "mean_completion_tokens": sum(lengths) / len(lengths) if lengths else float("nan"),
        "prompt_tokens": prompt_len,
    }
    del trainer, model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    tmp.cleanup()
    return result


def emulate_memory(gib: float | None) -> str:
    """Cap this process at ``gib`` GiB of GPU memory (a 24 GB card on a larger one); returns a note."""
    import torch

    if not gib or not torch.cuda.is_available():
        return "no memory cap"
    total = torch.cuda.get_device_properties(0).total_memory
    fraction = min(1.0, gib * GIB / total)
    torch.cuda.set_per_process_memory_fraction(fraction, 0)
    return f"memory capped at {gib:g} GiB ({fraction:.3f} of {total / GIB:.1f} GiB)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2, help="GRPO optimizer steps per run (default: %(default)s)")
    p.add_argument("--prompt-len", type=int, default=2048)
    p.add_argument("--completion-len", type=int, default=1024)
    p.add_argument(
        "--grad-accum",
        type=int,
        default=None,
        help="micro-batches per step (default: the config's 8; the peak is per micro-batch)",
    )
    p.add_argument("--memory-gib", type=float, default=None, help="emulate a GPU of this many GiB")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--no-vllm", action="store_true", help="skip the vLLM colocate run")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    import importlib.util
    import json

    import torch

    print(emulate_memory(args.memory_gib))
    est = estimate_train_memory(
        QWEN25_CODER_3B, prompt_len=args.prompt_len, completion_len=args.completion_len, sequences=8
    )
    print(
        f"estimate (Qwen2.5-Coder-3B, 2 prompts x 4 generations, {args.prompt_len}+{args.completion_len} tokens): "
        + ", ".join(f"{k} {v:.2f}" for k, v in est.items())
        + " GiB"
    )
    runs = [False]
    if not args.no_vllm and torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        runs.append(True)
    elif not args.no_vllm:
        print("vLLM run skipped: needs CUDA and `pip install vllm`")
    results = []
    for use_vllm in runs:
        try:
            r = run(args, use_vllm=use_vllm)
        except Exception as exc:  # report, keep the other run's figures
            print(f"vllm={use_vllm}: failed: {type(exc).__name__}: {exc}")
            results.append({"vllm": use_vllm, "error": f"{type(exc).__name__}: {exc}"})
            continue
        results.append(r)
        print(
            f"{r['device']} vllm={r['vllm']}: peak {r['peak_gib']:.2f} GiB (reserved {r['reserved_gib']:.2f}), "
            f"{r['samples_per_s']:.2f} completions/s ({r['completions']} completions of "
            f"{r['mean_completion_tokens']:.0f} tokens after {r['prompt_tokens']}-token prompts, {r['seconds']:.1f} s)"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"estimate_gib": est, "runs": results}, indent=2), encoding="utf-8"
        )
    return 0 if results and all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
