"""Self-consistency voting: grouping by result set, ties, fallbacks, real execution."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sqlr1x.eval.vote import result_key, self_consistency, vote


def ok(*rows):
    return SimpleNamespace(ok=True, rows=list(rows))


FAIL = SimpleNamespace(ok=False, rows=[])


def test_result_key_is_a_set_of_rows_robust_to_none_nan_and_unhashable_cells():
    assert result_key([(1, None), (1, None)]) == result_key([(1, None)])
    assert result_key([(2,), (1,)]) == result_key([(1,), (2,)])
    assert result_key([(float("nan"),)]) == result_key([(float("nan"),)])
    assert result_key([([1, 2], {"a": 1})]) == result_key([((1, 2), {"a": 1})])
    assert result_key([(1, 2)]) != result_key([(2, 1)])  # column order matters, as in frozenset(rows)
    assert result_key([]) == frozenset()


def test_majority_group_wins_and_its_first_sql_is_the_answer():
    v = vote(["A", "B", "C", "D"], [ok((1,)), ok((2,)), ok((2,), (2,)), ok((1,), (3,))])
    assert (v.sql, v.index, v.votes, v.n_executable, v.n_groups, v.fallback) == ("B", 1, 2, 4, 3, None)


def test_ties_go_to_the_group_seen_first():
    v = vote(["A", "B", "C", "D"], [ok((2,)), ok((1,)), ok((1,)), ok((2,))])
    assert (v.sql, v.votes) == ("A", 2)
    v = vote(["A", "B", "C"], [FAIL, ok((1,)), ok((2,))])
    assert v.sql == "B"


def test_only_executable_candidates_with_sql_vote():
    # three failures agreeing on "no rows" must not outvote one executable answer
    v = vote(["X", "Y", "Z", "W"], [FAIL, FAIL, FAIL, ok((5,))])
    assert (v.sql, v.votes, v.n_executable) == ("W", 1, 1)
    v = vote([None, "", "S"], [ok(), ok(), ok((1,))])
    assert (v.sql, v.n_executable) == ("S", 1)


def test_empty_results_form_a_group_like_any_other():
    v = vote(["A", "B", "C"], [ok(), ok((1,)), ok()])
    assert (v.sql, v.votes) == ("A", 2)


@pytest.mark.parametrize(
    ("fallback", "expected"),
    [("first", ("B", 1)), ("error", (None, None))],
)
def test_all_fail_fallbacks(fallback, expected):
    v = vote([None, "B", "C"], [FAIL, FAIL, FAIL], fallback=fallback)
    assert (v.sql, v.index) == expected
    assert v.fallback == fallback and v.votes == 0 and v.n_executable == 0


def test_random_fallback_is_seeded_and_picks_a_candidate_with_sql():
    cands = [None, "B", "C", "D", "E"]
    picks = {vote(cands, [FAIL] * 5, fallback="random", seed=s).sql for s in range(20)}
    assert picks <= {"B", "C", "D", "E"} and len(picks) > 1
    assert (
        vote(cands, [FAIL] * 5, fallback="random").sql
        == vote(cands, [FAIL] * 5, fallback="random", seed=42).sql
    )


def test_no_candidate_with_sql_gives_no_answer_and_bad_arguments_raise():
    assert vote([None, None], [None, None]).sql is None
    with pytest.raises(ValueError, match="fallback"):
        vote(["A"], [ok()], fallback="best")
    with pytest.raises(ValueError, match="results"):
        vote(["A", "B"], [ok()])


def test_self_consistency_executes_on_a_real_database(employees_db):
    cands = [
        "SELECT name FROM employees WHERE salary = 200",
        "SELECT nme FROM employees",  # no such column: does not vote
        "SELECT name FROM employees WHERE salary > 150",  # same set as the first
        "SELECT name FROM employees WHERE salary < 150",
        "SELEC broken",
    ]
    v = self_consistency(cands, str(employees_db))
    assert (v.index, v.votes, v.n_executable, v.n_groups) == (0, 2, 3, 2)
    v = self_consistency(["SELECT x FROM nowhere", "SELEC"], str(employees_db), fallback="error")
    assert v.sql is None and v.fallback == "error"
