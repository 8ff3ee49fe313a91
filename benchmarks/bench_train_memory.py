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

Run it::

    python benchmarks/bench_train_memory.py            # GPU: full size; CPU: smoke test
    python benchmarks/bench_train_memory.py --steps 2 --no-vllm
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2, help="GRPO optimizer steps per run (default: %(default)s)")
    p.add_argument("--prompt-len", type=int, default=2048)
    p.add_argument("--completion-len", type=int, default=1024)
    p.add_argument("--no-vllm", action="store_true", help="skip the vLLM colocate run")
    args = p.parse_args()

    import importlib.util

    import torch

    runs = [False]
    if not args.no_vllm and torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        runs.append(True)
    elif not args.no_vllm:
        print("vLLM run skipped: needs CUDA and `pip install vllm`")
    for use_vllm in runs:
        try:
            r = run(args, use_vllm=use_vllm)
        except Exception as exc:  # report, keep the other run's figures
            print(f"vllm={use_vllm}: failed: {type(exc).__name__}: {exc}")
            continue
        print(
            f"{r['device']} vllm={r['vllm']}: peak {r['peak_gib']:.2f} GiB (reserved {r['reserved_gib']:.2f}), "
            f"{r['samples_per_s']:.2f} completions/s ({r['completions']} completions of "
            f"{r['mean_completion_tokens']:.0f} tokens after {r['prompt_tokens']}-token prompts, {r['seconds']:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
