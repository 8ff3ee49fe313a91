"""Answer extraction in SQL-R1's format: ``<think>…</think><answer>…```sql …```…</answer>``.

>>> e = extract_answer("<think>t</think>\\n<answer>```sql\\nSELECT 1\\n```</answer>")
>>> e.format_ok, e.sql, e.reason
(True, 'SELECT 1', 'ok')
>>> extract_answer("</think><answer>```sql SELECT 2```</answer>", prefilled_think=True).format_ok
True
>>> e = extract_answer("no tags\\n```sql\\nSELECT 3\\n```")
>>> e.format_ok, e.sql, e.reason
(False, 'SELECT 3', 'missing <think>')
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

__all__ = ["Extraction", "extract_answer"]

THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "<think>", "</think>", "<answer>", "</answer>"
_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>")
_BARE_SQL = re.compile(r"^[ \t]*(?:SELECT|WITH)\b", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Extraction:
    """What was found in a completion.

    ``format_ok`` is SQL-R1's strict check; ``sql`` may still be set when it fails (fallbacks);
    ``reason`` is ``"ok"`` or a short description of the first format problem.
    """

    sql: str | None
    format_ok: bool
    reason: str
    think: str | None
    answer: str | None
    response: str


def extract_answer(text: str, *, prefilled_think: bool = False) -> Extraction:
    """Extract the SQL and check SQL-R1's format; never raises.

    ``text`` is a bare completion or prompt+completion: the response is what follows the last
    ``<|im_start|>assistant``, else the first ``Assistant:``, else the whole text (trailing end
    tokens such as ``<|im_end|>`` removed). ``prefilled_think=True`` says the prompt ended with
    ``<think>``: for a bare completion one ``<think>`` is implied at its start (when the text has an
    assistant header the pre-fill is already inside the response and nothing is added).

    Strict format (SQL-R1): ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` exactly once each,
    in that order, and the answer holds a ```` ```sql … ``` ```` block; ``sql`` is the last such
    block (unlike SQL-R1's regex, a ```` ```sqlite ```` tag does not leak ``ite`` into the SQL).
    When the format fails, ``sql`` falls back, in order, to: the last ```` ```sql ```` block
    anywhere in the response; the last fenced block of any language; the answer body (text between
    ``<answer>`` and ``</answer>``, or after a lone ``<answer>``); the text from the last line
    starting with SELECT or WITH. Otherwise ``sql`` is None. Non-string input gives reason
    ``"not a string"``. All scanning is linear (no regex backtracking on long inputs).
    """
    if not isinstance(text, str):
        return Extraction(None, False, "not a string", None, None, "")
    response, has_header = _response(text)
    checked = THINK_OPEN + response if prefilled_think and not has_header else response

    think = _between(checked, THINK_OPEN, THINK_CLOSE)
    answer = _between(checked, ANSWER_OPEN, ANSWER_CLOSE)
    reason = _format_problem(checked) if checked.strip() else "empty"
    if reason is None:
        blocks = _fenced(answer or "", "```sql")
        if not blocks:
            reason = "no sql block in answer"
        else:
            sql = blocks[-1].strip()
            return Extraction(sql or None, True, "ok" if sql else "empty sql block", think, answer, response)
    return Extraction(_fallback_sql(checked, answer), False, reason, think, answer, response)


def _response(text: str) -> tuple[str, bool]:
    i = text.rfind("<|im_start|>assistant")
    if i >= 0:
        response, header = text[i + len("<|im_start|>assistant") :], True
    else:
        j = text.find("Assistant:")
        response, header = (text[j + len("Assistant:") :], True) if j >= 0 else (text, False)
    response = response.strip()
    stripped = True
    while stripped:
        stripped = False
        for tok in _END_TOKENS:
            if response.endswith(tok):
                response = response[: -len(tok)].rstrip()
                stripped = True
    return response, header


def _format_problem(s: str) -> str | None:
    positions = []
    for tag in _TAGS:
        n = s.count(tag)
        if n == 0:
            return f"missing {tag}"
        if n > 1:
            return f"duplicate {tag}"
        positions.append(s.find(tag))
    if positions != sorted(positions):
        return "tags out of order"
    return None


def _between(s: str, open_tag: str, close_tag: str) -> str | None:
    i = s.find(open_tag)
    if i < 0:
        return None
    j = s.find(close_tag, i + len(open_tag))
    return s[i + len(open_tag) : j] if j >= 0 else None


def _fenced(s: str, opener: str) -> list[str]:
    """Bodies of non-overlapping ``opener…```` blocks, leftmost first (like the non-greedy regex)."""
    out = []
    pos = 0
    while True:
        i = s.find(opener, pos)
        if i < 0:
            return out
        j = s.find("```", i + len(opener))
        if j < 0:
            return out
        out.append(_drop_tag_rest(s[i + len(opener) : j]))
        pos = j + 3


def _drop_tag_rest(body: str) -> str:
    """``````sqlite\nSELECT…`` matched as ``````sql``: drop the rest of the language tag (``ite``)."""
    first, nl, rest = body.partition("\n")
    return rest if nl and first.isalnum() else body


def _fallback_sql(s: str, answer: str | None) -> str | None:
    blocks = _fenced(s, "```sql")
    if blocks and blocks[-1].strip():
        return blocks[-1].strip()
    for body in reversed(_fenced(s, "```")):
        # drop a language tag on the opening line (```sqlite, ```SQL, ...)
        first, nl, rest = body.partition("\n")
        code = (rest if nl and first.strip().isalnum() else body).strip()
        if code:
            return code
    if answer is None:
        i = s.rfind(ANSWER_OPEN)
        if i >= 0:
            answer = s[i + len(ANSWER_OPEN) :]
    if answer is not None:
        body = _strip_tags(answer).strip()
        if body:
            return body
    last = deque(_BARE_SQL.finditer(s), maxlen=1)
    if last:
        sql = _strip_tags(s[last[0].start() :]).strip()
        return sql or None
    return None


def _strip_tags(s: str) -> str:
    cut = len(s)
    for tag in (*_TAGS, "```"):
        i = s.find(tag)
        if 0 <= i < cut:
            cut = i
    return s[:cut]
