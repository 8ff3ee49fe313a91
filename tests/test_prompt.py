"""Prompts: SQL-R1 structure with the <think> pre-fill, chat variant, fallback, truncation order."""

from __future__ import annotations

import pytest

from sqlr1x.data import (
    THINK_PREFILL,
    Example,
    build_messages,
    gold_completion,
    load_spec,
    render_prompt,
    render_prompts,
    to_hf_dataset,
)
from sqlr1x.data.prompt import estimate_tokens

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    """A byte-level BPE trained in memory with a ChatML template (never from the hub)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [ex.question + " " + ex.gold_sql for ex in load_spec("demo:train", limit=200)]
    tok.train_from_iterator(corpus * 2, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


@pytest.fixture(scope="module")
def company_example() -> Example:
    return next(
        e
        for e in load_spec("demo:train")
        if e.db_id == "company" and e.gold_sql == "SELECT COUNT(*) FROM departments"
    )


def test_sqlr1_prompt_structure_and_prefill(company_example, tokenizer):
    p = render_prompt(company_example, tokenizer)
    assert p.text.endswith("<|im_start|>assistant\n" + THINK_PREFILL)
    assert THINK_PREFILL == "<think>\n"
    system, user = p.messages
    assert system["role"] == "system" and user == {"role": "user", "content": company_example.question}
    for needed in ("<think>", "</think>", "<answer>", "```sql", "Database Schema:", "External Knowledge:"):
        assert needed in system["content"]
    for table in ("departments", "employees", "projects", "assignments"):
        assert f"CREATE TABLE {table} (" in p.text
    assert '"hire date"' in p.text
    assert p.n_tokens == len(tokenizer(p.text, add_special_tokens=False)["input_ids"])
    assert not p.truncated and not p.over_limit and not p.estimated


def test_chat_style_has_no_prefill_and_carries_evidence(company_example, tokenizer):
    from dataclasses import replace

    ex = replace(company_example, evidence="budget is in euros")
    p = render_prompt(ex, tokenizer, style="chat")
    assert p.text.endswith("<|im_start|>assistant\n")
    user = p.messages[-1]["content"]
    assert "budget is in euros" in user and ex.question in user and "CREATE TABLE departments" in user
    with pytest.raises(ValueError, match="style"):
        build_messages(ex, style="fancy")


def test_plain_fallback_without_chat_template(company_example):
    p = render_prompt(company_example, None)
    assert p.text.startswith("System: ") and p.text.endswith("\n\nAssistant: <think>\n")
    assert p.text.count("Assistant:") == 1
    assert p.estimated and p.n_tokens == estimate_tokens(p.text)


def test_sample_values_in_ddl(company_example):
    with_values = render_prompt(company_example, None, sample_rows=2).text
    assert "-- examples:" in with_values and "'Sales'" in with_values
    assert "-- examples:" not in render_prompt(company_example, None).text


def test_truncation_drops_sample_values_first_then_unreferenced_tables(company_example, tokenizer):
    full = render_prompt(company_example, tokenizer, sample_rows=3)
    plain = render_prompt(company_example, tokenizer)
    assert plain.n_tokens < full.n_tokens

    step1 = render_prompt(company_example, tokenizer, sample_rows=3, max_prompt_length=plain.n_tokens)
    assert step1.truncated == "sample_values" and step1.text == plain.text and not step1.over_limit

    step2 = render_prompt(company_example, tokenizer, sample_rows=3, max_prompt_length=plain.n_tokens - 1)
    assert step2.truncated == "tables"
    assert "CREATE TABLE departments" in step2.text and "CREATE TABLE employees" not in step2.text
    assert "-- examples:" not in step2.text and not step2.over_limit

    # evaluation never drops tables (that would leak the gold SQL); the prompt is flagged instead
    at_eval = render_prompt(
        company_example, tokenizer, sample_rows=3, max_prompt_length=plain.n_tokens - 1, training=False
    )
    assert at_eval.truncated == "sample_values" and at_eval.over_limit
    assert "CREATE TABLE employees" in at_eval.text

    tiny = render_prompt(company_example, tokenizer, max_prompt_length=10)
    assert tiny.truncated == "tables" and tiny.over_limit


def test_stats_count_cuts(tokenizer):
    examples = load_spec("demo:dev", limit=20)
    lengths = [render_prompt(e, tokenizer).n_tokens for e in examples]
    limit = sorted(lengths)[len(lengths) // 2]
    _, stats = render_prompts(examples, tokenizer, max_prompt_length=limit)
    assert stats.total == 20
    assert stats.cut_tables + stats.over_limit >= sum(n > limit for n in lengths) > 0
    assert stats.cut_sample_values == 0
    assert stats.as_dict()["cut"] == stats.cut_tables
    assert "still over the limit" in stats.summary()


def test_gold_completion_continues_the_prefill(company_example):
    from sqlr1x.sql.extract import extract_answer

    text = gold_completion(company_example)
    assert text.count("</think>") == 1 and "<think>" not in text
    got = extract_answer(text, prefilled_think=True)
    assert got.format_ok and got.sql.strip() == company_example.gold_sql


def test_hf_dataset_columns(tokenizer):
    examples = load_spec("demo:dev", limit=4)
    ds, stats = to_hf_dataset(examples, tokenizer, max_prompt_length=2048, return_stats=True)
    assert ds.column_names == ["prompt", "gold_sql", "db_path", "db_id", "id", "question", "difficulty"]
    assert len(ds) == 4 and stats.total == 4
    row = ds[0]
    assert row["prompt"].endswith("<|im_start|>assistant\n<think>\n")
    assert row["gold_sql"] == examples[0].gold_sql and row["db_path"] == examples[0].db_path
    no_difficulty = [Example("x", "q?", "", "company", examples[0].db_path, "SELECT 1", "demo", "dev")]
    assert to_hf_dataset(no_difficulty, None)[0]["difficulty"] == ""
