"""Prompts: the SQL-R1 training structure (``sqlr1``) and a plain chat variant (``chat``).

``sqlr1`` (training, and evaluation of our RL models): a system message with the instructions
(reason inside ``<think>``, answer inside ``<answer>`` with one ```` ```sql ```` block), the schema as
CREATE TABLE DDL, the external knowledge and a worked example of the output format; a user message
with the question. The rendered text is the tokenizer's chat template with the generation prompt,
followed by exactly ``THINK_PREFILL`` (``"<think>\\n"``): **the prompt ends with ``<think>`` and a
newline**, so completions start inside the think block and must close it themselves
(``extract_answer(..., prefilled_think=True)``).

``chat`` (evaluation of instruction models, OmniSQL-like): one user message with schema,
knowledge, question and the request for a ```` ```sql ```` block; no pre-fill.

Without a chat template the text is the documented plain fallback
``"System: {system}\\n\\nUser: {user}\\n\\nAssistant: "`` (``+ THINK_PREFILL`` for ``sqlr1``); the
``Assistant:`` header is what the answer extractor looks for in decoded prompt+response text.

Truncation (``max_prompt_length`` tokens): drop the sample values first, then, for training only,
the tables the gold SQL does not reference. ``RenderedPrompt.truncated`` says which step was needed
(``""``, ``"sample_values"``, ``"tables"``); ``over_limit`` marks prompts still too long.
Token counts come from the tokenizer, or without one from ``estimate_tokens`` (a word/punctuation
count, labelled as an estimate wherever it is reported).

Example::

    >>> from sqlr1x.data import load_spec
    >>> ex = load_spec("demo:train", limit=1)[0]
    >>> p = render_prompt(ex, None)
    >>> p.text.endswith("Assistant: <think>\\n"), "CREATE TABLE" in p.text
    (True, True)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlr1x.data.example import Example

log = logging.getLogger(__name__)

THINK_PREFILL = "<think>\n"
STYLES = ("sqlr1", "chat")

SQLR1_INSTRUCTIONS = """You are an SQLite expert. Given a database schema, optional external knowledge and a question, write one SQLite query that answers the question.
First reason about the question, the schema and the knowledge inside <think> </think>. Then give the final query inside <answer> </answer>, as a single ```sql code block.

Database Schema:
{schema}

External Knowledge:
{evidence}

Output format:
<think>
Which tables and columns the question needs, and how to filter, join, group and sort them.
</think>
<answer>
```sql
SELECT ...
```
</answer>"""

CHAT_SYSTEM = "You are a helpful assistant who writes correct SQLite queries."
CHAT_USER = """Database engine: SQLite

Database schema:
{schema}

External knowledge: {evidence}

Question: {question}

Write one SQLite query that answers the question. Think it through briefly, then give the final query in a ```sql code block."""


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt as text, its token count and what was cut to fit ``max_prompt_length``."""

    text: str
    n_tokens: int
    truncated: str = ""  # "", "sample_values" or "tables"
    messages: tuple[dict, ...] = ()
    over_limit: bool = False
    estimated: bool = False  # n_tokens is estimate_tokens(), no tokenizer given


@dataclass
class PromptStats:
    """How many prompts were rendered, cut (and how) and still over the limit."""

    total: int = 0
    cut_sample_values: int = 0
    cut_tables: int = 0
    over_limit: int = 0
    max_prompt_length: int | None = None
    lengths: list[int] = field(default_factory=list, repr=False)
    estimated: bool = False

    @property
    def cut(self) -> int:
        return self.cut_sample_values + self.cut_tables

    def add(self, p: RenderedPrompt) -> None:
        self.total += 1
        self.lengths.append(p.n_tokens)
        self.estimated = self.estimated or p.estimated
        self.cut_sample_values += p.truncated == "sample_values"
        self.cut_tables += p.truncated == "tables"
        self.over_limit += p.over_limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "cut": self.cut,
            "cut_sample_values": self.cut_sample_values,
            "cut_tables": self.cut_tables,
            "over_limit": self.over_limit,
            "max_prompt_length": self.max_prompt_length,
            "max_tokens": max(self.lengths, default=0),
            "estimated_tokens": self.estimated,
        }

    def summary(self) -> str:
        unit = "estimated tokens" if self.estimated else "tokens"
        return (
            f"{self.total} prompts, longest {max(self.lengths, default=0)} {unit} (limit {self.max_prompt_length}); "
            f"cut {self.cut}: {self.cut_sample_values} lost sample values, {self.cut_tables} lost unreferenced "
            f"tables; {self.over_limit} still over the limit"
        )


def estimate_tokens(text: str) -> int:
    """Tokenizer-free length estimate: words and punctuation marks counted separately.

    >>> estimate_tokens("SELECT name FROM t WHERE x = 'a b'")
    11
    """
    return len(re.findall(r"\w+|[^\w\s]", text))


def count_tokens(text: str, tokenizer: Any) -> int:
    """Tokens of ``text`` (special-token strings included as written), or the estimate without a tokenizer."""
    if tokenizer is None:
        return estimate_tokens(text)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_messages(
    example: Example, style: str = "sqlr1", sample_rows: int = 0, *, tables: Iterable[str] | None = None
) -> list[dict]:
    """Chat messages for ``example``; ``tables`` restricts the schema DDL to those tables.

    The ``sqlr1`` pre-fill is not a message: ``render_prompt`` appends it after the chat template.
    """
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; expected one of {STYLES}")
    schema = example.schema.to_ddl(sample_rows=sample_rows, tables=tables)
    evidence = example.evidence.strip() or "None"
    if style == "sqlr1":
        return [
            {"role": "system", "content": SQLR1_INSTRUCTIONS.format(schema=schema, evidence=evidence)},
            {"role": "user", "content": example.question},
        ]
    return [
        {"role": "system", "content": CHAT_SYSTEM},
        {
            "role": "user",
            "content": CHAT_USER.format(schema=schema, evidence=evidence, question=example.question),
        },
    ]


def apply_template(messages: Sequence[dict], tokenizer: Any, style: str = "sqlr1") -> str:
    """Messages as prompt text: the chat template (or the plain fallback) plus the ``sqlr1`` pre-fill."""
    prefill = THINK_PREFILL if style == "sqlr1" else ""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return text + prefill
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant: " + prefill


def render_prompt(
    example: Example,
    tokenizer: Any,
    style: str = "sqlr1",
    max_prompt_length: int | None = None,
    sample_rows: int = 0,
    training: bool = True,
) -> RenderedPrompt:
    """Render ``example``; shrink the schema when the prompt exceeds ``max_prompt_length`` tokens."""

    def render(rows: int, tables: Iterable[str] | None, truncated: str) -> RenderedPrompt:
        messages = build_messages(example, style, rows, tables=tables)
        text = apply_template(messages, tokenizer, style)
        n = count_tokens(text, tokenizer)
        over = max_prompt_length is not None and n > max_prompt_length
        return RenderedPrompt(text, n, truncated, tuple(messages), over, tokenizer is None)

    out = render(sample_rows, None, "")
    if not out.over_limit:
        return out
    if sample_rows > 0:
        out = render(0, None, "sample_values")
        if not out.over_limit:
            return out
    if training:
        from sqlr1x.sql.analysis import referenced_tables

        names = example.schema.table_names
        used = referenced_tables(example.gold_sql)
        keep = [t for t in names if t.lower() in used]
        if keep and len(keep) < len(names):
            out = render(0, keep, "tables")
    return out


def render_prompts(
    examples: Sequence[Example],
    tokenizer: Any,
    *,
    style: str = "sqlr1",
    max_prompt_length: int | None = None,
    sample_rows: int = 0,
    training: bool = True,
) -> tuple[list[RenderedPrompt], PromptStats]:
    """Render many prompts; returns them with ``PromptStats`` and logs how many were cut."""
    stats = PromptStats(max_prompt_length=max_prompt_length)
    out = []
    for ex in examples:
        p = render_prompt(ex, tokenizer, style, max_prompt_length, sample_rows, training)
        stats.add(p)
        out.append(p)
    if stats.cut or stats.over_limit:
        log.warning("prompts: %s", stats.summary())
    else:
        log.info("prompts: %s", stats.summary())
    return out, stats


def gold_completion(example: Example, reasoning: str | None = None) -> str:
    """The completion that follows a ``sqlr1`` prompt for the gold SQL (SFT target, tests).

    It starts inside the pre-filled think block: ``"{reasoning}\\n</think>\\n<answer>\\n```sql\\n...```\\n</answer>"``.

    >>> ex = Example("1", "q", "", "d", "d.sqlite", "SELECT name FROM employees", "demo", "train")
    >>> print(gold_completion(ex))
    The query reads the tables employees.
    </think>
    <answer>
    ```sql
    SELECT name FROM employees
    ```
    </answer>
    """
    if reasoning is None:
        from sqlr1x.sql.analysis import referenced_tables

        tables = sorted(referenced_tables(example.gold_sql))
        reasoning = (
            f"The query reads the tables {', '.join(tables)}." if tables else "The query needs no table."
        )
    return f"{reasoning}\n</think>\n<answer>\n```sql\n{example.gold_sql}\n```\n</answer>"
