"""TRL adapter: per-term reward functions with TRL's signature and names, sharing one computation."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest

from sqlr1x.integrations import trl as trl_adapter
from sqlr1x.integrations.trl import BatchScorer, last_batch_results, last_batch_stats, make_reward_funcs
from sqlr1x.rewards import EnhancedRewardComputer
from sqlr1x.rewards.computer import bounded_schema_penalty

GOLD = "SELECT name FROM employees WHERE salary > 100"
PROMPT = "<|im_start|>system\nYou write SQL.<|im_end|>\n<|im_start|>user\nWho earns > 100?<|im_end|>\n<|im_start|>assistant\n<think>"

COMPLETIONS = [
    "The salary column.</think>\n<answer>```sql\n" + GOLD + "\n```</answer>",
    "Hmm.</think>\n<answer>```sql\nSELECT name FROM employees\n```</answer>",
    "Guess.</think>\n<answer>```sql\nSELECT nme FROM staff\n```</answer>",
    "no closing tag, no answer",
]


def columns(db, n):
    return {"gold_sql": [GOLD] * n, "db_path": [str(db)] * n}


def test_names_and_weights():
    funcs, weights = make_reward_funcs(
        SimpleNamespace(
            enable_enhanced=True,
            schema_weight=-0.5,
            structural_select_weight=0.3,
            structural_where_weight=0.3,
            structural_join_weight=0.2,
            syntax_weight=0.2,
        )
    )
    assert [f.__name__ for f in funcs] == ["sqlr1_baseline", "schema_hallucination", "structural", "syntax"]
    assert weights == [1.0, 1.0, 1.0, 1.0]


def test_trl_derives_the_same_names():
    from trl.trainer.utils import get_callable_name

    funcs, _ = make_reward_funcs({})
    assert [get_callable_name(f) for f in funcs] == [
        "sqlr1_baseline",
        "schema_hallucination",
        "structural",
        "syntax",
    ]


def test_disabled_enhanced_returns_only_the_baseline():
    funcs, weights = make_reward_funcs({"enable_enhanced": False})
    assert [f.__name__ for f in funcs] == ["sqlr1_baseline"] and weights == [1.0]


@pytest.mark.parametrize("conversational", [False, True])
def test_weighted_sum_equals_computer_total(employees_db, conversational):
    config = {
        "enable_enhanced": True,
        "schema_weight": -1.0,
        "structural_select_weight": 0.5,
        "structural_where_weight": 0.25,
        "structural_join_weight": 0.125,
        "syntax_weight": 0.3,
    }
    funcs, weights = make_reward_funcs(config)
    if conversational:
        prompts = [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>"}]] * len(
            COMPLETIONS
        )
        completions = [[{"role": "assistant", "content": c}] for c in COMPLETIONS]
    else:
        prompts, completions = [PROMPT] * len(COMPLETIONS), COMPLETIONS
    per_func = [
        f(prompts=prompts, completions=completions, **columns(employees_db, len(COMPLETIONS))) for f in funcs
    ]
    assert all(len(v) == len(COMPLETIONS) and all(isinstance(x, float) for x in v) for v in per_func)
    totals = [sum(w * v[i] for w, v in zip(weights, per_func, strict=True)) for i in range(len(COMPLETIONS))]

    computer = EnhancedRewardComputer(
        schema_weight=-1.0,
        structural_select_weight=0.5,
        structural_where_weight=0.25,
        structural_join_weight=0.125,
        syntax_weight=0.3,
    )
    expected = [
        computer.compute_reward(c, GOLD, db_path=employees_db, prefilled_think=True).total
        for c in COMPLETIONS
    ]
    assert totals == pytest.approx(expected)
    assert (
        per_func[0][0] > 6.0 and per_func[0][1] == 0.0 and per_func[0][2] == -1.0 and per_func[0][3] == -1.0
    )
    # table staff: one element (its unqualified column is not counted again), -1.0 bounded (R5)
    assert per_func[1][2] == pytest.approx(bounded_schema_penalty(-1.0, 1, per_func[3][2] + per_func[2][2]))
    assert per_func[1][0] == 0.0 and per_func[2][0] == 0.5 + 0.25 + 0.125
    assert per_func[3][3] == 0.0


def test_components_are_computed_once_per_batch(employees_db, monkeypatch):
    funcs, _ = make_reward_funcs({})
    scorer = funcs[0].scorer
    calls = []
    original = scorer.computer.compute_rewards

    def spy(items):
        calls.append(len(items))
        return original(items)

    monkeypatch.setattr(scorer.computer, "compute_rewards", spy)
    kw = columns(employees_db, len(COMPLETIONS))
    for f in funcs:
        f(prompts=[PROMPT] * len(COMPLETIONS), completions=COMPLETIONS, **kw)
    assert calls == [len(COMPLETIONS)]


def test_duplicate_completions_in_a_batch_are_scored_once(employees_db, monkeypatch):
    funcs, _ = make_reward_funcs({})
    scorer = funcs[0].scorer
    sizes = []
    original = scorer.computer.compute_rewards
    monkeypatch.setattr(
        scorer.computer, "compute_rewards", lambda items: sizes.append(len(items)) or original(items)
    )
    out = funcs[0](prompts=[PROMPT] * 8, completions=[COMPLETIONS[0]] * 8, **columns(employees_db, 8))
    assert sizes == [1] and len(set(out)) == 1 and len(out) == 8


def test_prefilled_think_auto_and_forced(employees_db):
    with_think = "<think>" + COMPLETIONS[0]
    funcs, _ = make_reward_funcs({})
    # prompt without a pre-filled <think>: the completion must open it itself
    assert funcs[0](prompts=["plain prompt"], completions=[with_think], **columns(employees_db, 1))[0] > 6.0
    assert (
        funcs[0](prompts=["plain prompt"], completions=[COMPLETIONS[0]], **columns(employees_db, 1))[0]
        == -1.0
    )
    # pre-filled prompt: the completion starts inside <think>
    assert funcs[0](prompts=[PROMPT], completions=[COMPLETIONS[0]], **columns(employees_db, 1))[0] > 6.0
    forced, _ = make_reward_funcs({}, prefilled_think=False)
    assert forced[0](prompts=[PROMPT], completions=[COMPLETIONS[0]], **columns(employees_db, 1))[0] == -1.0


def test_log_metric_and_log_extra(employees_db):
    metrics, extra = {}, {}
    funcs, _ = make_reward_funcs({})
    kw = columns(employees_db, len(COMPLETIONS))
    for f in funcs:
        f(
            prompts=[PROMPT] * 4,
            completions=COMPLETIONS,
            log_metric=metrics.__setitem__,
            log_extra=extra.__setitem__,
            trainer_state=None,
            completion_ids=[[1]] * 4,
            **kw,
        )
    assert metrics["sqlr1x/accuracy"] == 0.25
    assert metrics["sqlr1x/format_ok_rate"] == 0.75
    assert metrics["sqlr1x/hallucination_rate"] == 0.25
    assert metrics["sqlr1x/syntax_valid_rate"] == 0.75
    assert extra["reward_status"] == ["match", "mismatch", "pred_error", "format_error"]


def test_last_batch_accessors(employees_db):
    funcs, _ = make_reward_funcs({})
    funcs[1](prompts=[PROMPT] * 4, completions=COMPLETIONS, **columns(employees_db, 4))
    results = last_batch_results()
    assert [r.baseline["status"] for r in results] == ["match", "mismatch", "pred_error", "format_error"]
    stats = last_batch_stats()
    assert stats["exec_rate"] == 0.5 and stats["accuracy"] == 0.25


def test_db_id_and_schema_columns(tmp_path):
    from conftest import make_db

    make_db(tmp_path / "company" / "company.sqlite")
    funcs, _ = make_reward_funcs({"db_root": str(tmp_path)})
    schema = {"tables": {"employees": {"columns": ["id", "name"]}}}
    kw = {"gold_sql": [GOLD], "db_id": ["company"], "schema": [schema]}
    assert funcs[0](prompts=[PROMPT], completions=[COMPLETIONS[0]], **kw)[0] > 6.0
    # the given schema (without 'salary') is used instead of the database's
    assert funcs[1](prompts=[PROMPT], completions=[COMPLETIONS[0]], **kw)[0] == pytest.approx(
        bounded_schema_penalty(-0.5, 1, 0.2 + 0.8)
    )


def test_garbage_completions_do_not_raise(employees_db):
    funcs, _ = make_reward_funcs({})
    garbage = [None, b"\xff", "", 7, [{"role": "assistant", "content": None}], "x" * 100_000]
    for f in funcs:
        out = f(prompts=[PROMPT] * len(garbage), completions=garbage, **columns(employees_db, len(garbage)))
        assert len(out) == len(garbage) and all(isinstance(x, float) for x in out)


def test_reward_functions_pickle(employees_db):
    funcs, _ = make_reward_funcs({})
    clone = pickle.loads(pickle.dumps(funcs[0]))
    assert clone.__name__ == "sqlr1_baseline"
    assert clone(prompts=[PROMPT], completions=[COMPLETIONS[0]], **columns(employees_db, 1))[0] > 6.0


def test_make_reward_funcs_reads_baseline_options():
    computer = trl_adapter.make_computer(
        SimpleNamespace(
            exec_timeout=7.0, empty_result_guard=True, db_root="/r", enable_enhanced=True, schema_weight=-0.25
        )
    )
    assert computer.baseline_reward_fn.timeout == 7.0 and computer.baseline_reward_fn.empty_result_guard
    assert computer.baseline_reward_fn.db_root == "/r" and computer.schema_reward.weight == -0.25
    funcs, _ = make_reward_funcs(computer=computer)
    assert isinstance(funcs[0].scorer, BatchScorer) and funcs[0].scorer.computer is computer
