"""The offline tiny model: tokenizer round trip through AutoTokenizer, chat template, eos, determinism."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from sqlr1x.train.tiny import TinySpec, create_tiny_model, is_tiny_model_dir, train_tokenizer  # noqa: E402

CORPUS = [
    "You are an SQLite expert. Database Schema:\nCREATE TABLE employees (\n  id INTEGER,\n  name TEXT\n);",
    "How many employees are in 'Sales'?",
    "The query reads the tables employees.\n</think>\n<answer>\n```sql\nSELECT COUNT(*) FROM employees\n```\n</answer>",
] * 20
SPEC = TinySpec(
    vocab_size=400, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return create_tiny_model(tmp_path_factory.mktemp("tiny"), CORPUS, SPEC)


def test_saved_tokenizer_loads_unchanged_through_autotokenizer(tiny_dir):
    in_memory = train_tokenizer(CORPUS, vocab_size=SPEC.vocab_size)
    loaded = AutoTokenizer.from_pretrained(tiny_dir)
    for text in CORPUS[:3] + ["SELECT name FROM employees WHERE salary > 100", "unseen wörds ✓"]:
        assert loaded(text)["input_ids"] == in_memory(text)["input_ids"]
        assert loaded.decode(loaded(text)["input_ids"]) == text
    assert loaded.padding_side == "left"
    assert loaded.eos_token == "<|im_end|>" and loaded.pad_token == "<|endoftext|>"
    assert loaded.eos_token_id != loaded.pad_token_id


def test_chatml_template_and_generation_prompt(tiny_dir):
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    text = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text)["input_ids"]
    assert tok.convert_tokens_to_ids("<|im_start|>") in ids  # special tokens are single ids


def test_model_stops_at_im_end_and_is_small(tiny_dir):
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert model.generation_config.eos_token_id == im_end
    assert model.config.vocab_size == len(tok)
    assert sum(p.numel() for p in model.parameters()) < 200_000
    # force <|im_end|> to be the most likely token: greedy generation must stop after it
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.weight[im_end] = 1.0
        model.model.norm.weight.fill_(1.0)
    enc = tok(["<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=10, do_sample=False)
    assert out.shape[1] - enc["input_ids"].shape[1] == 1


def test_deterministic_and_reused(tmp_path, tiny_dir):
    again = create_tiny_model(tmp_path / "again", CORPUS, SPEC)
    a = AutoModelForCausalLM.from_pretrained(tiny_dir).state_dict()
    b = AutoModelForCausalLM.from_pretrained(again).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (again / "tokenizer.json").read_text() == (tiny_dir / "tokenizer.json").read_text()
    assert is_tiny_model_dir(again)
    mtime = (again / "config.json").stat().st_mtime_ns
    create_tiny_model(again, ["different corpus"], SPEC)  # reused, not rebuilt
    assert (again / "config.json").stat().st_mtime_ns == mtime


def test_cross_space_merges_shorten_repetitive_text():
    words = train_tokenizer(CORPUS, vocab_size=1000, split_words=True)
    merged = train_tokenizer(CORPUS, vocab_size=1000)
    text = CORPUS[0]
    assert len(merged(text)["input_ids"]) * 3 < len(words(text)["input_ids"])
