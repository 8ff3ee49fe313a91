"""Offline tiny policy: a small random Qwen-architecture model with a byte-level BPE tokenizer
trained in memory.

Used by ``--model tiny`` (demo, tests, CI): no hub access, seconds to build, everything saved to a
folder so later stages load it from disk like any checkpoint (``AutoTokenizer`` /
``AutoModelForCausalLM``).

Why Qwen3 and not Qwen2: same decoder (RMSNorm, SwiGLU, GQA, RoPE; Qwen3 adds QK-norm and drops the
qkv bias) and the same module names for LoRA, but transformers' ``AutoTokenizer`` always rebuilds a
``qwen2`` folder's tokenizer as ``Qwen2Tokenizer`` with Qwen's word-splitting regex, discarding
ours; for ``qwen3`` it loads our ``tokenizer.json`` unchanged.

Example::

    from sqlr1x.train.tiny import create_tiny_model
    path = create_tiny_model("outputs/tiny", ["SELECT name FROM employees", "How many employees?"])
    # AutoModelForCausalLM.from_pretrained(path); AutoTokenizer.from_pretrained(path)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "CHATML_TEMPLATE",
    "FORMAT_WORDS",
    "TinySpec",
    "build_tiny_model",
    "corpus_from_examples",
    "create_tiny_model",
    "is_tiny_model_dir",
    "train_tokenizer",
]

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = [PAD, BOS, EOS]

# ChatML, as Qwen2.5 writes it (without the default system prompt).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Words of the answer format, so the tokenizer learns merges for them.
FORMAT_WORDS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "```sql\nSELECT",
    "```",
    "<think>\nI use the table",
    "</think>\n<answer>\n```sql\n",
    "\n```\n</answer>",
]

MARKER = "sqlr1x_tiny.json"


@dataclass(frozen=True)
class TinySpec:
    """Architecture of the tiny model (cpu-grpo-notes: hidden 128 / 2 layers learns fastest on CPU;
    ~0.5 M parameters)."""

    vocab_size: int = 1000
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 512
    max_position_embeddings: int = 2048
    split_words: bool = False
    seed: int = 0


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 1000, *, split_words: bool = False):
    """Train a byte-level BPE tokenizer in memory; returns a left-padding ``PreTrainedTokenizerFast``.

    ``split_words=False`` (default) lets merges cross spaces: on the small, repetitive demo corpus
    the constant instructions and schema DDL collapse into a few tokens, so a prompt is ~80 tokens
    instead of ~350 and a CPU training step is ~4x cheaper. ``True`` is GPT-2-style word splitting.

    >>> tok = train_tokenizer(["SELECT name FROM employees"] * 10, vocab_size=300)
    >>> tok.decode(tok("SELECT name")["input_ids"])
    'SELECT name'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [t for t in corpus if t] + FORMAT_WORDS * 20
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split_words)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=PAD,
        bos_token=None,
        unk_token=None,
        padding_side="left",
        model_max_length=2048,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(tokenizer, spec: TinySpec | None = None):
    """A randomly initialised ``Qwen3ForCausalLM`` sized for ``tokenizer``, seeded by ``spec.seed``."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    spec = spec or TinySpec()
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    pad_id = tokenizer.convert_tokens_to_ids(PAD)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    torch.manual_seed(spec.seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=eos_id, pad_token_id=pad_id, bos_token_id=None, do_sample=False
    )
    return model


def create_tiny_model(
    output_dir: str | Path, corpus: Iterable[str], spec: TinySpec | None = None, *, overwrite: bool = False
) -> Path:
    """Train the tokenizer on ``corpus``, build the model, save both to ``output_dir``; return it.

    An existing tiny model folder is reused unless ``overwrite`` (deterministic for a given seed
    and corpus either way).
    """
    spec = spec or TinySpec()
    out = Path(output_dir)
    if is_tiny_model_dir(out) and not overwrite:
        return out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus, vocab_size=spec.vocab_size, split_words=spec.split_words)
    model = build_tiny_model(tokenizer, spec)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / MARKER).write_text(json.dumps(asdict(spec), indent=2), encoding="utf-8")
    return out


def is_tiny_model_dir(path: str | Path) -> bool:
    """True when ``path`` holds a complete tiny model written by ``create_tiny_model``."""
    p = Path(path)
    return (p / MARKER).is_file() and (p / "config.json").is_file() and (p / "tokenizer.json").is_file()


def corpus_from_examples(examples: Iterable) -> list[str]:
    """Tokenizer corpus from ``sqlr1x.data.Example`` objects: each example's prompt messages
    (instructions, schema DDL, question) and its gold completion (``<think>…<answer>```sql…``)."""
    from sqlr1x.data.prompt import build_messages, gold_completion

    texts: list[str] = []
    for ex in examples:
        for message in build_messages(ex):
            texts.append(message["content"])
        texts.append(gold_completion(ex))
    return texts
