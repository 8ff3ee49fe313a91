"""Property tests (hypothesis) on the answer extractor and the three reward components' public API."""

from __future__ import annotations

import math

from extensions.reward_enhanced import EnhancedSyntaxReward, SchemaAwareReward, StructuralReward
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlr1x.sql.analysis import find_hallucinations
from sqlr1x.sql.extract import extract_answer

SCHEMA = {
    "tables": {
        "employees": {"columns": ["id", "name", "salary", "department"]},
        "departments": {"columns": ["id", "title", "budget"]},
    }
}
KNOWN = {t: SCHEMA["tables"][t]["columns"] for t in SCHEMA["tables"]}
UNKNOWN_TABLES = ["customers", "orders"]
UNKNOWN_COLUMNS = ["bogus", "salry"]
ALIASES = ["a", "b", "e", "d", "x1", "emp", "t_2", "q"]
WEIGHTS = {"select_weight": 0.3, "where_weight": 0.3, "join_weight": 0.2}
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text close to what a policy writes: tags, fences, SQL words, and arbitrary unicode.
FRAGMENTS = st.sampled_from(
    ["<think>", "</think>", "<answer>", "</answer>", "```sql", "```", "\n", "SELECT ", "FROM ", "employees",
     "WHERE ", ";", "'", '"', "(", ")", "--", "/*", "*/", "\x00", "\ud800", "ＳＥＬＥＣＴ", " "]
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=300), st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join)
)


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A query over the schema (and some unknown names) as a template with alias slots {A}, {B}."""
    t1 = draw(st.sampled_from(list(KNOWN) + UNKNOWN_TABLES))
    cols1 = KNOWN.get(t1, ["id", "name"]) + UNKNOWN_COLUMNS
    c = [draw(st.sampled_from(cols1)) for _ in range(3)]
    n = draw(st.integers(0, 1000))
    if draw(st.booleans()):
        t2 = draw(st.sampled_from(list(KNOWN) + UNKNOWN_TABLES))
        cols2 = KNOWN.get(t2, ["id"]) + UNKNOWN_COLUMNS
        d = [draw(st.sampled_from(cols2)) for _ in range(2)]
        sql = (
            f"SELECT {{A}}.{c[0]}, {{B}}.{d[0]} FROM {t1} AS {{A}} JOIN {t2} AS {{B}} "
            f"ON {{A}}.{c[1]} = {{B}}.{d[1]} WHERE {{A}}.{c[2]} > {n}"
        )
    else:
        sql = (
            f"SELECT {{A}}.{c[0]}, COUNT(*) FROM {t1} AS {{A}} WHERE {{A}}.{c[1]} < {n} GROUP BY {{A}}.{c[2]}"
        )
    a, b = draw(st.lists(st.sampled_from(ALIASES), min_size=2, max_size=2, unique=True))
    return sql, {"A": a, "B": b}


def _flip_case(sql: str, data: st.DataObject) -> str:
    flags = data.draw(st.lists(st.booleans(), min_size=len(sql), max_size=len(sql)))
    return "".join(ch.upper() if f else ch.lower() for ch, f in zip(sql, flags, strict=True))


# ----------------------------------------------------------------------------------- never raises
@PROPS
@given(TEXT, st.booleans())
def test_extractor_never_raises(text: str, prefilled: bool):
    ext = extract_answer(text, prefilled_think=prefilled)
    assert ext.sql is None or isinstance(ext.sql, str)
    assert isinstance(ext.format_ok, bool)


@PROPS
@given(TEXT)
def test_schema_reward_never_raises_and_counts_whole_elements(text: str):
    score = SchemaAwareReward(weight=-0.5).compute(text, SCHEMA)
    assert math.isfinite(score) and score <= 0
    assert abs(score / -0.5 - round(score / -0.5)) < 1e-9  # weight x a whole number of elements


@PROPS
@given(TEXT, TEXT)
def test_structural_reward_never_raises_and_stays_in_bounds(pred: str, gold: str):
    score = StructuralReward(**WEIGHTS).compute(pred, gold)
    assert 0.0 <= score <= sum(WEIGHTS.values()) + 1e-9


@PROPS
@given(TEXT)
def test_syntax_reward_is_all_or_nothing(text: str):
    assert EnhancedSyntaxReward(weight=0.2).compute(text) in (0.0, 0.2)


# ----------------------------------------------------------------------------------- invariances
@PROPS
@given(queries(), st.data())
def test_hallucinations_ignore_alias_names(query: tuple[str, dict[str, str]], data: st.DataObject):
    template, aliases = query
    other = dict(zip(aliases, data.draw(st.permutations(ALIASES))[:2], strict=False))
    first = find_hallucinations(template.format(**aliases), SCHEMA)
    second = find_hallucinations(template.format(**other), SCHEMA)
    assert len(first) == len(second)
    assert sorted(first) == sorted(second)  # the elements themselves never mention aliases


@PROPS
@given(queries(), st.data())
def test_hallucinations_ignore_letter_case(query: tuple[str, dict[str, str]], data: st.DataObject):
    template, aliases = query
    sql = template.format(**aliases)
    flipped = _flip_case(sql, data)
    assert len(find_hallucinations(flipped, SCHEMA)) == len(find_hallucinations(sql, SCHEMA))
    assert SchemaAwareReward(weight=-0.5).compute(flipped, SCHEMA) == SchemaAwareReward(weight=-0.5).compute(
        sql, SCHEMA
    )


@PROPS
@given(queries())
def test_identical_queries_get_the_full_structural_score(query: tuple[str, dict[str, str]]):
    template, aliases = query
    sql = template.format(**aliases)
    assert math.isclose(StructuralReward(**WEIGHTS).compute(sql, sql), sum(WEIGHTS.values()), abs_tol=1e-9)
