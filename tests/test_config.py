"""Config loading: seed contract, overrides, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sqlr1x.config import ConfigError, TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
SEED_24GB = {
    "reward": {
        "enable_enhanced": True,
        "schema_weight": -0.5,
        "structural_select_weight": 0.3,
        "structural_where_weight": 0.3,
        "structural_join_weight": 0.2,
        "syntax_weight": 0.2,
    },
    "optimization": {
        "model_name": "Qwen/Qwen2.5-Coder-3B-Instruct",
        "batch_size": 2,
        "gradient_accumulation_steps": 8,
        "gradient_checkpointing": True,
        "mixed_precision": "bf16",
    },
    "logging": {
        "log_interval": 10,
        "save_interval": 500,
        "eval_interval": 100,
        "detailed_rewards": True,
        "track_gpu_memory": True,
    },
}


def write(tmp_path: Path, data: dict | str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_seed_contract_via_extensions():
    from extensions.config import load_config as seed_load

    config = seed_load(str(ROOT / "configs/train_24gb.yaml"))
    assert config.reward.enable_enhanced is True
    assert config.reward.schema_weight == -0.5


def test_train_24gb_has_exactly_the_seed_values():
    raw = yaml.safe_load((ROOT / "configs/train_24gb.yaml").read_text())
    for section, values in SEED_24GB.items():
        for key, value in values.items():
            assert raw[section][key] == value, f"{section}.{key}"
    config = load_config(ROOT / "configs/train_24gb.yaml")
    assert config.optimization.lora.enabled, "full fine-tuning of 3B does not fit 24 GB"
    # batch mapping onto TRL: prompts x generations
    assert config.optimization.per_device_train_batch_size == 2 * config.optimization.num_generations


def test_every_shipped_config_loads():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        assert isinstance(load_config(path), TrainConfig), path


def test_defaults_without_file_and_alias_override():
    config = load_config(
        None, ["training.learning_rate=1e-6", "optimization.lora.r=8", "data.eval=null", "data.eval_size=0"]
    )
    assert config.optimization.learning_rate == 1e-6
    assert config.optimization.lora.r == 8
    assert config.data.eval is None


def test_override_list_value_parses_as_yaml(tmp_path):
    path = write(tmp_path, SEED_24GB)
    config = load_config(
        path, ["optimization.lora.target_modules=[q_proj, v_proj]", "logging.report_to=[jsonl]"]
    )
    assert config.optimization.lora.target_modules == ["q_proj", "v_proj"]
    assert config.logging.report_to == ["jsonl"]


def test_unknown_key_names_file_path_and_suggestion(tmp_path):
    path = write(tmp_path, {"reward": {"schema_wieght": -0.5}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "reward.schema_wieght" in msg and str(path) in msg and "did you mean 'schema_weight'" in msg


def test_unknown_nested_key(tmp_path):
    path = write(tmp_path, {"optimization": {"lora": {"rank": 8}}})
    with pytest.raises(ConfigError, match=r"optimization\.lora\.rank.*valid keys here: .*\br\b"):
        load_config(path)


def test_unknown_section_suggests_section(tmp_path):
    path = write(tmp_path, {"optimisation": {"batch_size": 2}})
    with pytest.raises(ConfigError, match=r"unknown section 'optimisation'.*did you mean 'optimization'"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"unknown section 'trainig'.*did you mean 'optimization'"):
        load_config(None, ["trainig.learning_rate=1e-6"])


def test_wrong_type_names_key_and_value(tmp_path):
    path = write(tmp_path, {"optimization": {"batch_size": "two"}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "optimization.batch_size" in str(err.value) and "'two'" in str(err.value)
    with pytest.raises(ConfigError, match="optimization.mixed_precision"):
        load_config(None, ["optimization.mixed_precision=fp8"])


def test_generation_batch_not_divisible_by_num_generations():
    with pytest.raises(
        ConfigError, match=r"generation_batch_size \(6\) must be divisible by num_generations \(4\)"
    ):
        load_config(None, ["optimization.generation_batch_size=6", "optimization.num_generations=4"])
    with pytest.raises(ConfigError, match="multiple of batch_size × num_generations"):
        load_config(
            None,
            [
                "optimization.generation_batch_size=4",
                "optimization.batch_size=2",
                "optimization.num_generations=4",
            ],
        )
    ok = load_config(None, ["optimization.generation_batch_size=64"])
    assert ok.optimization.resolved_generation_batch_size == 64


def test_impossible_combinations():
    with pytest.raises(ConfigError, match="num_generations"):
        load_config(None, ["optimization.num_generations=1"])
    with pytest.raises(ConfigError, match="use_vllm.*tiny"):
        load_config(None, ["optimization.model_name=tiny", "optimization.use_vllm=true"])
    with pytest.raises(ConfigError, match="data.eval"):
        load_config(None, ["data.eval=null", "data.eval_size=10"])


def test_several_problems_reported_together(tmp_path):
    path = write(tmp_path, {"reward": {"syntax_wieght": 1}, "logging": {"log_interval": 0}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith("2 problems in") and "reward.syntax_wieght" in msg and "logging.log_interval" in msg


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(write(tmp_path, "reward: [unclosed\n  x: 1"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="top level"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(None, ["learning_rate"])


def test_resolved_config_round_trips(tmp_path):
    config = load_config(ROOT / "configs/demo.yaml", ["training.learning_rate=5e-5"])
    again = load_config(write(tmp_path, config.to_yaml()))
    assert again == config
