"""One reward config (RewardConfig, the only place of reward defaults) and the component registry."""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from sqlr1x.config import TrainConfig, load_config
from sqlr1x.integrations import trl as trl_adapter
from sqlr1x.integrations import verl as verl_adapter
from sqlr1x.rewards import registry
from sqlr1x.rewards.baseline import SQLR1Baseline
from sqlr1x.rewards.computer import EnhancedRewardComputer, RewardResult
from sqlr1x.rewards.config import REWARD_DEFAULTS, RewardConfig
from sqlr1x.rewards.registry import Component, Term
from sqlr1x.rewards.schema_aware import SchemaAwareReward
from sqlr1x.rewards.structural import StructuralReward
from sqlr1x.rewards.syntax import EnhancedSyntaxReward

ROOT = Path(__file__).resolve().parents[1]
GOLD = "SELECT name FROM employees WHERE salary > 100"


def completion(sql: str) -> str:
    return f"<think>\nok\n</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


# -- RewardConfig -------------------------------------------------------------------------------------------
def test_train_config_reward_section_is_the_rewards_layer_model():
    assert TrainConfig.model_fields["reward"].annotation is RewardConfig
    assert type(load_config(None).reward) is RewardConfig


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_yaml_reward_sections_keep_working(path):
    section = yaml.safe_load(path.read_text())["reward"]
    reward = load_config(path).reward
    assert {k: getattr(reward, k) for k in section} == section
    computer = EnhancedRewardComputer.from_config(reward)
    assert computer.config == reward
    assert computer.baseline_reward_fn.timeout == reward.exec_timeout


def test_seed_yaml_keys_are_fields():
    seed = {
        "enable_enhanced",
        "schema_weight",
        "structural_select_weight",
        "structural_where_weight",
        "structural_join_weight",
        "syntax_weight",
    }
    ours = {"exec_timeout", "empty_result_guard", "workers", "db_root", "prefilled_think", "unknown_source"}
    assert seed | ours | {"compare_mode"} <= set(RewardConfig.model_fields)


def test_unknown_key_is_rejected_everywhere(tmp_path):
    with pytest.raises(ValueError, match="sytax_weight"):
        RewardConfig(sytax_weight=0.2)
    with pytest.raises(ValueError, match="sytax_weight"):
        EnhancedRewardComputer.from_config({"sytax_weight": 0.2})
    with pytest.raises(ValueError, match="sytax_weight"):
        trl_adapter.make_reward_funcs({"sytax_weight": 0.2})
    with pytest.raises(TypeError, match="sytax_weight"):
        EnhancedRewardComputer(sytax_weight=0.2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("reward:\n  sytax_weight: 0.2\n")
    with pytest.raises(ValueError, match=r"unknown key 'reward.sytax_weight'.*did you mean 'syntax_weight'"):
        load_config(bad)


def test_bad_values_fail_when_the_computer_is_built():
    with pytest.raises(ValueError, match="exec_timeout"):
        EnhancedRewardComputer(timeout=0)
    with pytest.raises(ValueError, match="workers"):
        EnhancedRewardComputer.from_config(workers=0)


def test_coerce_reads_mappings_objects_and_overrides():
    assert RewardConfig.coerce(None) == REWARD_DEFAULTS
    assert RewardConfig.coerce({"exec_timeout": None}).exec_timeout == REWARD_DEFAULTS.exec_timeout
    obj = SimpleNamespace(schema_weight=-1.0, workers=None, colour="red")  # other attributes: ignored
    assert RewardConfig.coerce(obj).schema_weight == -1.0
    base = RewardConfig(syntax_weight=0.4, workers=2)
    merged = RewardConfig.coerce(base, workers=3)
    assert (merged.syntax_weight, merged.workers) == (0.4, 3) and base.workers == 2


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


@pytest.mark.parametrize(
    ("fn", "param", "key"),
    [
        (EnhancedRewardComputer.__init__, "enable_enhanced", "enable_enhanced"),
        (EnhancedRewardComputer.__init__, "schema_weight", "schema_weight"),
        (EnhancedRewardComputer.__init__, "structural_select_weight", "structural_select_weight"),
        (EnhancedRewardComputer.__init__, "structural_where_weight", "structural_where_weight"),
        (EnhancedRewardComputer.__init__, "structural_join_weight", "structural_join_weight"),
        (EnhancedRewardComputer.__init__, "syntax_weight", "syntax_weight"),
        (EnhancedRewardComputer.__init__, "timeout", "exec_timeout"),
        (EnhancedRewardComputer.__init__, "empty_result_guard", "empty_result_guard"),
        (EnhancedRewardComputer.__init__, "workers", "workers"),
        (EnhancedRewardComputer.__init__, "db_root", "db_root"),
        (EnhancedRewardComputer.__init__, "compare_mode", "compare_mode"),
        (EnhancedRewardComputer.__init__, "prefilled_think", "prefilled_think"),
        (SQLR1Baseline.__init__, "timeout", "exec_timeout"),
        (SQLR1Baseline.__init__, "empty_result_guard", "empty_result_guard"),
        (SQLR1Baseline.__init__, "compare_mode", "compare_mode"),
        (SchemaAwareReward.__init__, "weight", "schema_weight"),
        (StructuralReward.__init__, "select_weight", "structural_select_weight"),
        (StructuralReward.__init__, "where_weight", "structural_where_weight"),
        (StructuralReward.__init__, "join_weight", "structural_join_weight"),
        (EnhancedSyntaxReward.__init__, "weight", "syntax_weight"),
    ],
)
def test_keyword_defaults_are_reward_config_defaults(fn, param, key):
    assert _default(fn, param) == getattr(REWARD_DEFAULTS, key)


def test_every_builder_starts_from_the_config_defaults():
    assert EnhancedRewardComputer().config == REWARD_DEFAULTS
    assert EnhancedRewardComputer.from_config().config == REWARD_DEFAULTS
    assert trl_adapter.make_computer({}).config == REWARD_DEFAULTS
    verl = verl_adapter.get_computer()
    assert verl.config == REWARD_DEFAULTS and verl.baseline_reward_fn.timeout == REWARD_DEFAULTS.exec_timeout


def test_importing_the_config_loads_neither_torch_nor_the_reward_code():
    code = (
        "import sys, sqlr1x.config; "
        "print(sorted(m for m in ('torch', 'sqlglot', 'sqlr1x.rewards.computer') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=None
    )
    assert out.stdout.strip() == "[]"


# -- from_config: the four paths that build the computer ----------------------------------------------------
def test_from_config_equals_the_seed_constructor(employees_db):
    weights = {
        "schema_weight": -1.0,
        "structural_select_weight": 0.5,
        "structural_where_weight": 0.25,
        "structural_join_weight": 0.125,
        "syntax_weight": 0.3,
    }
    seed = EnhancedRewardComputer(**weights, timeout=5)
    for made in (
        EnhancedRewardComputer.from_config(weights, exec_timeout=5),
        EnhancedRewardComputer.from_config(RewardConfig(**weights, exec_timeout=5)),
        trl_adapter.make_computer(SimpleNamespace(**weights, exec_timeout=5)),
    ):
        assert made.config == seed.config
        for sql in (GOLD, "SELECT nme FROM staff", "SELECT name FROM employees"):
            a = made.compute_reward(completion(sql), GOLD, db_path=employees_db)
            b = seed.compute_reward(completion(sql), GOLD, db_path=employees_db)
            assert a.to_dict() == b.to_dict()


def test_from_config_overrides_and_objects():
    computer = EnhancedRewardComputer.from_config(
        {"syntax_weight": 0.4, "compare_mode": "bird"}, syntax_weight=0.1, db_root="/r"
    )
    assert computer.syntax_reward.weight == 0.1
    assert computer.baseline_reward_fn.compare_mode == "bird" and computer.baseline_reward_fn.db_root == "/r"
    custom = EnhancedRewardComputer.from_config(baseline_reward_fn=lambda solution_str, ground_truth: 2.0)
    assert custom.compute_reward("SELECT 1", "SELECT 1").baseline_total == 2.0


def test_trl_reads_prefilled_think_from_the_config(employees_db):
    body = "ok</think>\n<answer>\n```sql\n" + GOLD + "\n```\n</answer>"
    columns = {"gold_sql": [GOLD], "db_path": [str(employees_db)]}
    for setting, expected_format in (("auto", 1.0), (False, -1.0), (True, 1.0)):
        funcs, _ = trl_adapter.make_reward_funcs({"prefilled_think": setting})
        funcs[0](prompts=["... <think>"], completions=[body], **columns)
        assert trl_adapter.last_batch_results()[0].baseline["format"] == expected_format, setting


def test_verl_options_are_the_config_fields():
    assert set(verl_adapter.OPTIONS) == set(RewardConfig.model_fields) - {"compare_mode"}
    with pytest.raises(ValueError, match="compare_mode is chosen per row from data_source"):
        verl_adapter.check_options({"compare_mode": "bird"})
    with pytest.raises(ValueError, match=r"workers=0"):
        verl_adapter.check_options({"workers": 0})
    assert verl_adapter.check_options({"workers": "2"}) == {"workers": "2"}  # Hydra passes strings


def test_cli_flags_override_the_config(tmp_path):
    from sqlr1x.commands.reward import build_computer

    config = tmp_path / "c.yaml"
    config.write_text("reward:\n  syntax_weight: 0.4\n  exec_timeout: 7\n  empty_result_guard: true\n")
    args = SimpleNamespace(
        config=config,
        timeout=None,
        schema_weight=-2.0,
        select_weight=None,
        where_weight=None,
        join_weight=None,
        syntax_weight=None,
        empty_result_guard=None,
    )
    computer = build_computer(args)
    assert computer.syntax_reward.weight == 0.4 and computer.schema_reward.weight == -2.0
    assert computer.baseline_reward_fn.timeout == 7.0 and computer.baseline_reward_fn.empty_result_guard
    args.config = None
    assert build_computer(args).config.syntax_weight == REWARD_DEFAULTS.syntax_weight


# -- the registry -----------------------------------------------------------------------------------------
def test_every_weight_key_belongs_to_exactly_one_component():
    keys = registry.weight_keys()
    assert len(keys) == len(set(keys))
    weight_fields = {k for k in RewardConfig.model_fields if k.endswith("_weight")}
    assert set(keys) == weight_fields
    for c in registry.COMPONENTS:
        for key in c.weights:
            assert key == f"{c.name}_weight" or (key.startswith(f"{c.name}_") and key.endswith("_weight"))


def test_one_name_everywhere(employees_db):
    names = registry.names()
    assert names == ("schema", "structural", "syntax")
    funcs, _ = trl_adapter.make_reward_funcs({})
    assert [f.__name__ for f in funcs] == ["sqlr1_baseline", *names]
    assert set(names) <= set(verl_adapter.SCORE_KEYS)
    computer = EnhancedRewardComputer()
    result = computer.compute_reward(completion("SELECT nme FROM employees"), GOLD, db_path=employees_db)
    assert list(result.components) == list(names)
    for name in names:
        assert getattr(result, name) == result.components[name] == result.to_dict()[name]
        assert getattr(computer, f"{name}_reward") is computer.rewards[name]
        assert isinstance(computer.rewards[name], registry.component(name).reward_class)
    with pytest.raises(KeyError, match="registered"):
        registry.component("schema_hallucination")


@dataclass
class NoStarReward:
    """A component for the test: ``weight`` unless the query selects ``*``."""

    weight: float = 0.1

    def compute(self, sql: str) -> float:
        return 0.0 if "*" in sql else self.weight


def test_a_new_component_needs_only_its_module_and_a_registry_entry(monkeypatch, employees_db):
    entry = Component(
        name="no_star",
        reward_class=NoStarReward,
        weights={},
        score=lambda reward, analysis, earned: Term(reward.compute(analysis.parsed.sql)),
    )
    monkeypatch.setattr(registry, "COMPONENTS", (*registry.COMPONENTS, entry))
    computer = EnhancedRewardComputer.from_config({})
    star = computer.compute_reward(completion("SELECT * FROM employees"), GOLD, db_path=employees_db)
    named = computer.compute_reward(completion(GOLD), GOLD, db_path=employees_db)
    assert (star.no_star, named.no_star) == (0.0, 0.1)
    assert named.total == pytest.approx(
        named.baseline_total + named.schema + named.structural + named.syntax + 0.1
    )
    assert computer.no_star_reward.weight == 0.1
    funcs, _ = trl_adapter.make_reward_funcs(computer=computer)
    assert [f.__name__ for f in funcs][-1] == "no_star"
    columns = {"gold_sql": [GOLD], "db_path": [str(employees_db)]}
    assert funcs[-1](
        prompts=["<think>"], completions=["x</think><answer>```sql\n" + GOLD + "\n```</answer>"], **columns
    ) == [0.1]
    assert verl_adapter.result_to_scores(named)["no_star"] == 0.1
    assert RewardResult(total=0.0, baseline_total=0.0).no_star == 0.0
