"""sqlr1x.sql.extract: SQL-R1 format check, SQL extraction, fallbacks, robustness."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlr1x.sql.extract import Extraction, extract_answer

GOOD = "<think>\nThe salary column is in employees.\n</think>\n<answer>\n```sql\nSELECT name FROM employees\n```\n</answer>"


def test_well_formed_completion():
    e = extract_answer(GOOD)
    assert isinstance(e, Extraction)
    assert (e.format_ok, e.reason, e.sql) == (True, "ok", "SELECT name FROM employees")
    assert e.think.strip() == "The salary column is in employees."
    assert "```sql" in e.answer and e.response == GOOD


def test_last_sql_block_in_answer_wins():
    text = "<think>t</think><answer>```sql\nSELECT 1\n```\nbetter:\n```sql\nSELECT 2\n```</answer>"
    assert extract_answer(text).sql == "SELECT 2"


def test_prompt_plus_response_uses_last_assistant_turn():
    text = (
        "<|im_start|>system\nUse <think> and <answer>.<|im_end|>\n<|im_start|>user\nq<|im_end|>\n"
        "<|im_start|>assistant\n" + GOOD + "<|im_end|>"
    )
    e = extract_answer(text, prefilled_think=True)  # the pre-filled <think> is already in the text
    assert e.format_ok and e.sql == "SELECT name FROM employees" and e.response == GOOD
    plain = "User: q\nAssistant: " + GOOD
    assert extract_answer(plain).format_ok


def test_prefilled_think_for_bare_completion():
    completion = "I reason.</think>\n<answer>```sql\nSELECT 1\n```</answer>"
    assert extract_answer(completion, prefilled_think=True).format_ok
    e = extract_answer(completion)
    assert not e.format_ok and e.reason == "missing <think>" and e.sql == "SELECT 1"
    # the model opening its own second <think> fails, as in SQL-R1
    assert extract_answer("<think>" + completion, prefilled_think=True).reason == "duplicate <think>"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("<think>a</think>```sql\nSELECT 1\n```", "missing <answer>"),
        ("<think>a<answer>```sql\nSELECT 1\n```</answer>", "missing </think>"),
        ("<think>a</think><answer>```sql\nSELECT 1\n```", "missing </answer>"),
        ("<think>a</think><answer>x</answer><answer>```sql\nSELECT 1\n```</answer>", "duplicate <answer>"),
        ("<answer>```sql\nSELECT 1\n```</answer><think>a</think>", "tags out of order"),
        ("<think>a</think><answer>SELECT 1</answer>", "no sql block in answer"),
        ("<think>a</think>```sql\nSELECT 1\n```<answer>b</answer>", "no sql block in answer"),
        ("", "empty"),
        ("   \n ", "empty"),
    ],
)
def test_format_failures_have_reasons(text, reason):
    e = extract_answer(text)
    assert not e.format_ok and e.reason == reason


@pytest.mark.parametrize(
    "text, sql",
    [
        # last ```sql block anywhere
        ("<think>a</think>```sql\nSELECT 1\n```", "SELECT 1"),
        ("<think>a</think>```sql\nSELECT 1\n```<answer>b</answer>", "SELECT 1"),
        # any fenced block, language tag dropped
        ("Here:\n```sqlite\nSELECT 2\n```", "SELECT 2"),
        ("Here:\n```\nSELECT 3\n```", "SELECT 3"),
        # the answer body
        ("<think>a</think><answer>SELECT 4</answer>", "SELECT 4"),
        ("<think>a</think><answer> SELECT 5 FROM t", "SELECT 5 FROM t"),
        # bare text starting with SELECT / WITH
        ("I think the query is:\nselect a from t\n", "select a from t"),
        ("Plan.\nWITH c AS (SELECT 1) SELECT * FROM c</think>", "WITH c AS (SELECT 1) SELECT * FROM c"),
    ],
)
def test_fallbacks(text, sql):
    e = extract_answer(text)
    assert not e.format_ok and e.sql == sql


def test_no_sql_anywhere():
    e = extract_answer("I cannot answer this question.")
    assert e.sql is None and not e.format_ok


def test_empty_sql_block_passes_format_but_has_no_sql():
    e = extract_answer("<think>a</think><answer>```sql\n  \n```</answer>")
    assert e.format_ok and e.sql is None and e.reason == "empty sql block"


def test_sqlite_tag_does_not_leak_into_sql():
    e = extract_answer("<think>a</think><answer>```sqlite\nSELECT 1\n```</answer>")
    assert e.format_ok and e.sql == "SELECT 1"


@pytest.mark.parametrize("value", [None, b"<think>a</think>", 42, ["x"]])
def test_non_strings(value):
    e = extract_answer(value)  # type: ignore[arg-type]
    assert (e.sql, e.format_ok, e.reason, e.response) == (None, False, "not a string", "")


MEGABYTE_INPUTS = [
    ("```sql", 200_000),
    ("<think>", 150_000),
    ("`", 1_000_000),
    ("select ", 150_000),
]


def _best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(("unit", "count"), MEGABYTE_INPUTS)
def test_megabyte_inputs_are_linear(unit, count):
    """Time grows linearly with the input (a backtracking regex would be quadratic): 10× the text may
    take at most 30× the time. A ratio in one process, best of 3, so machine load does not decide it."""

    def run(text):
        return lambda: (extract_answer(text), extract_answer(text, prefilled_think=True))

    small, big = unit * (count // 10), unit * count
    assert _best_of(3, run(big)) < 30 * max(_best_of(3, run(small)), 1e-4)


def test_megabyte_think_and_answer_markers_are_scored():
    text = "<think>" + "a" * 1_000_000 + "</think><answer>```sql\nSELECT 1\n```</answer>"
    assert (extract_answer(text).sql, extract_answer(text).format_ok) == ("SELECT 1", True)
    fences = extract_answer("<answer>" + "```" * 300_000)  # 900 KB of empty fences: no SQL, no hang
    assert (fences.sql, fences.format_ok, fences.reason) == (None, False, "missing <think>")


TOKENS = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "```sql",
        "```",
        "\n",
        "SELECT a FROM t",
        "WITH",
        " ",
        "<|im_start|>assistant",
        "Assistant:",
        "<|im_end|>",
        "x",
        "`",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(TOKENS, max_size=30).map("".join)), st.booleans())
def test_never_raises_and_is_consistent(text, prefilled):
    e = extract_answer(text, prefilled_think=prefilled)
    assert isinstance(e, Extraction)
    assert e.reason == "ok" or not e.format_ok or e.reason == "empty sql block"
    assert e.sql is None or (isinstance(e.sql, str) and e.sql == e.sql.strip() and e.sql)
    if e.format_ok:
        assert e.answer is not None and e.think is not None
