"""GRPO wiring: batch mapping onto TRL, CPU flags, LoRA, offline model errors, CLI error exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

from sqlr1x.config import load_config  # noqa: E402
from sqlr1x.train.grpo import ModelLoadError, build_grpo_args, build_lora_config, resolve_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_seed_batch_mapping_onto_trl(tmp_path):
    config = load_config(ROOT / "configs/train_24gb.yaml")
    args = build_grpo_args(config, tmp_path)
    opt = config.optimization
    assert args.per_device_train_batch_size == opt.batch_size * opt.num_generations == 8
    assert args.gradient_accumulation_steps == 8
    assert args.num_generations == opt.num_generations
    assert args.generation_batch_size == 8 and args.steps_per_generation == 1
    # prompts per optimizer step = batch_size x accumulation (x processes)
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps // args.num_generations == 16
    assert args.max_completion_length == opt.max_response_length == 1024
    assert args.learning_rate == opt.learning_rate and args.beta == 0.0 and args.loss_type == "dapo"
    assert args.save_steps == 500 and args.logging_steps == 10 and args.save_total_limit is None


def test_explicit_generation_batch_passes_through(tmp_path):
    config = load_config(ROOT / "configs/train_24gb.yaml", ["optimization.generation_batch_size=64"])
    args = build_grpo_args(config, tmp_path)
    assert args.generation_batch_size == 64 and args.steps_per_generation == 8


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CPU flags")
def test_cpu_turns_off_bf16_and_checkpointing(tmp_path):
    config = load_config(ROOT / "configs/train_24gb.yaml")
    args = build_grpo_args(config, tmp_path)
    assert args.use_cpu and not args.bf16 and not args.fp16 and not args.gradient_checkpointing
    with pytest.warns(UserWarning, match="vLLM or CUDA is missing"):
        args = build_grpo_args(
            load_config(ROOT / "configs/train_24gb.yaml", ["optimization.use_vllm=true"]), tmp_path
        )
    assert not args.use_vllm


def test_lora_config_from_yaml():
    config = load_config(ROOT / "configs/train_24gb.yaml")
    lora = build_lora_config(config)
    assert lora.r == 32 and lora.lora_alpha == 64 and "q_proj" in lora.target_modules
    assert build_lora_config(load_config(ROOT / "configs/demo.yaml")) is None


def test_hub_name_offline_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        resolve_model("no-such-org/no-such-model-xyz", tmp_path)
    msg = str(err.value)
    assert "no-such-org/no-such-model-xyz" in msg and "--model tiny" in msg and "local" in msg
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve_model(str(tmp_path), tmp_path)


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_train_colab_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("reward:\n  schema_wieght: -0.5\n")
    res = _run("train_colab.py", "--config", str(bad), "--output-dir", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "did you mean 'schema_weight'" in res.stderr and "Traceback" not in res.stderr
    res = _run(
        "train_colab.py",
        "--model",
        "Qwen/Qwen2.5-Coder-3B-Instruct-not-cached",
        "--config",
        "configs/demo.yaml",
        "--output-dir",
        str(tmp_path / "o"),
        "--demo",
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert "--model tiny" in res.stderr and "Traceback" not in res.stderr


def test_cli_registers_train_commands():
    from sqlr1x.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["train", "--config", "configs/demo.yaml", "--resume", "--num-steps", "3"])
    assert args.resume == "latest" and args.num_steps == 3 and callable(args.func)
    args = parser.parse_args(["train-sft", "--model", "tiny", "--demo", "-o", "sft.max_steps=5"])
    assert args.override == ["sft.max_steps=5"] and args.demo and callable(args.func)
