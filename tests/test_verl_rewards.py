"""verl adapter: compute_score(data_source, solution_str, ground_truth, extra_info) -> fixed-key dict."""

from __future__ import annotations

import inspect

import pytest

from conftest import make_db
from sqlr1x.integrations.verl import SCORE_KEYS, compute_score, get_computer
from sqlr1x.rewards import EnhancedRewardComputer
from sqlr1x.rewards.computer import bounded_schema_penalty

GOLD = "SELECT name FROM employees WHERE salary > 100"
RESPONSE = "<think>salary</think>\n<answer>```sql\n" + GOLD + "\n```</answer>"


def test_signature_matches_verl_custom_reward_function():
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert inspect.signature(compute_score).parameters["extra_info"].default is None


def test_keys_are_stable_and_numeric(employees_db):
    cases = [
        (RESPONSE, GOLD, {"db_path": str(employees_db)}),
        (
            "<think>x</think><answer>```sql\nSELECT nme FROM x\n```</answer>",
            GOLD,
            {"db_path": str(employees_db)},
        ),
        ("garbage", GOLD, {"db_path": str(employees_db)}),
        (None, None, None),
        (RESPONSE, GOLD, {"db_path": "/nowhere/x.sqlite"}),
        (RESPONSE, {"sql": GOLD, "db_path": str(employees_db)}, {}),
    ]
    for solution, truth, info in cases:
        out = compute_score("synsql", solution, truth, info)
        assert tuple(out) == SCORE_KEYS
        assert all(isinstance(v, float) for v in out.values())


def test_score_equals_computer_total(employees_db):
    out = compute_score("synsql", RESPONSE, GOLD, {"db_path": str(employees_db)})
    expected = EnhancedRewardComputer().compute_reward(RESPONSE, GOLD, db_path=employees_db)
    assert out["score"] == pytest.approx(expected.total)
    assert out["baseline"] == pytest.approx(expected.baseline_total)
    assert out["correct"] == 1.0 and out["format_ok"] == 1.0 and out["syntax_valid"] == 1.0
    assert out["score"] == pytest.approx(out["baseline"] + out["schema"] + out["structural"] + out["syntax"])


def test_db_id_with_root_from_env_or_kwarg(tmp_path, monkeypatch):
    make_db(tmp_path / "company" / "company.sqlite")
    monkeypatch.delenv("SQLR1X_DB_ROOT", raising=False)
    assert compute_score("synsql", RESPONSE, GOLD, {"db_id": "company"})["exec"] == 0.0  # not found
    assert (
        compute_score("synsql", RESPONSE, GOLD, {"db_id": "company"}, db_root=str(tmp_path))["correct"] == 1.0
    )
    monkeypatch.setenv("SQLR1X_DB_ROOT", str(tmp_path))
    assert compute_score("synsql", RESPONSE, GOLD, {"db_id": "company"})["correct"] == 1.0
    assert compute_score("synsql", RESPONSE, {"sql": GOLD, "db_id": "company"}, None)["correct"] == 1.0


def test_prefilled_think_from_extra_info(employees_db):
    body = RESPONSE.removeprefix("<think>")
    info = {"db_path": str(employees_db)}
    assert compute_score("synsql", body, GOLD, info)["format_ok"] == 0.0
    assert compute_score("synsql", body, GOLD, {**info, "prefilled_think": True})["correct"] == 1.0


def test_schema_from_extra_info(employees_db):
    info = {"db_path": str(employees_db), "schema": {"tables": {"employees": {"columns": ["name"]}}}}
    out = compute_score("synsql", RESPONSE, GOLD, info)
    assert out["n_hallucinations"] == 1.0
    assert out["schema"] == pytest.approx(bounded_schema_penalty(-0.5, 1, out["syntax"] + out["structural"]))


def test_weights_from_kwargs_and_computer_reuse(employees_db):
    info = {"db_path": str(employees_db)}
    off = compute_score("synsql", RESPONSE, GOLD, info, enable_enhanced=False)
    assert off["score"] == off["baseline"] and off["syntax"] == 0.0
    assert get_computer(syntax_weight=0.5) is get_computer(syntax_weight=0.5)
    assert compute_score("synsql", RESPONSE, GOLD, info, syntax_weight=0.5)["syntax"] == 0.5
