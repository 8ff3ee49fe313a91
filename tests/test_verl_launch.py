"""examples/verl/run_grpo.sh without verl: presets, variables, PRINT_ONLY, errors.

Composition with verl's real config is checked in tests/test_verl_real.py (``make verl-check``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlr1x.data import export_verl

LAUNCH = Path(__file__).resolve().parents[1] / "examples" / "verl" / "run_grpo.sh"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DB_ROOT", "PRESET", "MODEL", "N_GPUS", "TP")}
    return subprocess.run(
        ["bash", str(LAUNCH), *args],
        env={**base, "PRINT_ONLY": "1", "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _overrides(*args: str, **env: str) -> dict[str, str]:
    run = _run(*args, **env)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    keys = [line.split("=", 1)[0] for line in lines]
    assert len(keys) == len(set(keys)), "an override is given twice"
    return dict(line.split("=", 1) for line in lines)


def test_8gpu_preset_is_sql_r1s_published_setting():
    o = _overrides(DB_ROOT="/data/dbs")
    assert o["algorithm.adv_estimator"] == "grpo"
    assert (o["data.train_batch_size"], o["actor_rollout_ref.rollout.n"]) == ("8", "8")
    assert (o["data.max_prompt_length"], o["data.max_response_length"]) == ("4096", "2048")
    assert o["actor_rollout_ref.actor.optim.lr"] == "3e-7"
    assert (
        o["actor_rollout_ref.actor.kl_loss_coef"] == "0.001"
        and o["actor_rollout_ref.actor.use_kl_loss"] == "True"
    )
    assert o["actor_rollout_ref.rollout.name"] == "vllm"
    assert o["actor_rollout_ref.rollout.tensor_model_parallel_size"] == "4"
    assert o["actor_rollout_ref.rollout.temperature"] == "1.1"
    assert o["trainer.n_gpus_per_node"] == "8" and o["trainer.total_epochs"] == "10"
    assert o["actor_rollout_ref.model.path"] == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert o["reward.custom_reward_function.path"].endswith("src/sqlr1x/integrations/verl.py")
    assert Path(o["reward.custom_reward_function.path"]).is_file()
    assert o["reward.custom_reward_function.name"] == "compute_score"
    assert o["+reward.custom_reward_function.reward_kwargs.db_root"] == "/data/dbs"


def test_1gpu_preset_and_variables():
    o = _overrides(PRESET="1gpu", DB_ROOT="/d")
    assert (o["trainer.n_gpus_per_node"], o["actor_rollout_ref.rollout.tensor_model_parallel_size"]) == (
        "1",
        "1",
    )
    assert o["actor_rollout_ref.model.lora_rank"] == "32" and o["actor_rollout_ref.model.lora_alpha"] == "64"
    assert o["actor_rollout_ref.model.path"] == "Qwen/Qwen2.5-Coder-3B-Instruct"
    o = _overrides(PRESET="1gpu", DB_ROOT="/d", MODEL="/models/m", N_GPUS="2", DATA_DIR="/x", LR="2e-6")
    assert (o["actor_rollout_ref.model.path"], o["trainer.n_gpus_per_node"]) == ("/models/m", "2")
    assert (o["data.train_files"], o["data.val_files"]) == ("/x/train.parquet", "/x/test.parquet")
    assert o["actor_rollout_ref.actor.optim.lr"] == "2e-6"


def test_arguments_are_appended():
    run = _run("trainer.total_epochs=1", "--cfg", "job", DB_ROOT="/d")
    assert run.stdout.splitlines()[-3:] == ["trainer.total_epochs=1", "--cfg", "job"]


def test_db_root_comes_from_the_export(tmp_path):
    info = export_verl("demo:dev", tmp_path / "verl", limit=4)
    o = _overrides(DATA_DIR=str(tmp_path / "verl"))
    assert o["+reward.custom_reward_function.reward_kwargs.db_root"] == info["db_root"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PRESET": "4gpu", "DB_ROOT": "/d"}, "unknown PRESET='4gpu'; valid: 8gpu, 1gpu"),
        ({"DATA_DIR": "/nonexistent"}, "set DB_ROOT"),
    ],
)
def test_errors_exit_2_with_a_message(env, message):
    run = _run(**env)
    assert run.returncode == 2 and message in run.stderr and run.stdout == ""


def test_docs_show_the_command_the_script_runs():
    """docs/scale-out.md spells out the 8-GPU command: it must not drift from the script."""
    doc = (LAUNCH.parents[2] / "docs" / "scale-out.md").read_text()
    repo = str(LAUNCH.parents[2])
    run = _run(DATA_DIR="data/verl", DB_ROOT="/mnt/dbs")
    assert run.returncode == 0, run.stderr
    for line in run.stdout.splitlines():
        assert line.replace(repo, "<repo>") in doc, line
