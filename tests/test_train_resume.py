"""Kill-and-resume: SIGKILL a CPU GRPO run (tiny model + LoRA) right after a checkpoint, resume it,
and compare step counter, optimizer state and LoRA weights with an uninterrupted run (same seed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

from sqlr1x.train.checkpoint import MARKER, find_latest_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MAX_STEPS = 8
CONFIG = {
    "optimization": {
        "model_name": "tiny",
        "batch_size": 4,
        "num_generations": 2,
        "gradient_accumulation_steps": 1,
        "gradient_checkpointing": False,
        "mixed_precision": "no",
        "learning_rate": 1e-3,
        # A random policy's completions often all score the same (zero advantage, zero gradient);
        # decoupled weight decay still moves the weights every step, so "training went on after
        # the resume point" is observable whatever the rewards were.
        "weight_decay": 0.1,
        "max_response_length": 12,
        "temperature": 1.0,
        "lora": {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.1, "target_modules": ["q_proj", "v_proj"]},
        "max_steps": MAX_STEPS,
        "seed": 7,
    },
    "logging": {
        "log_interval": 1,
        "save_interval": 2,
        "eval_interval": 100,
        "keep_last_checkpoints": 10,
        "report_to": ["jsonl"],
        "progress_bar": False,
    },
    "data": {"train": "demo:train", "eval": None, "eval_size": 0, "train_limit": 64},
    "sft": {"enabled": False},
    "reward": {"exec_timeout": 5.0},
}


def _cmd(config: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sqlr1x.cli",
        "train",
        "--config",
        str(config),
        "--output-dir",
        str(out),
        *extra,
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _optimizer_state(ckpt: Path) -> dict:
    return torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=True)["state"]


@pytest.mark.slow
def test_sigkill_after_checkpoint_then_resume_matches_uninterrupted(tmp_path):
    config = tmp_path / "resume.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"

    full = subprocess.Popen(
        _cmd(config, full_dir), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    victim = subprocess.Popen(
        _cmd(config, killed_dir), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and victim.poll() is None:
        latest = find_latest_checkpoint(killed_dir / "grpo")
        if latest is not None:
            victim.send_signal(signal.SIGKILL)
            killed_at = latest
            break
        time.sleep(0.02)
    victim.wait(timeout=60)
    assert killed_at is not None, "the run ended or timed out before its first checkpoint"
    assert victim.returncode == -signal.SIGKILL
    assert not (killed_dir / "grpo" / "final").exists(), "killed too late: the run had finished"
    resumed_from = find_latest_checkpoint(killed_dir / "grpo")
    step = json.loads((resumed_from / "trainer_state.json").read_text())["global_step"]
    assert step < MAX_STEPS

    # a half-written checkpoint (what a kill during a save leaves) must never be picked
    half = killed_dir / "grpo" / f".tmp-checkpoint-{MAX_STEPS + 2}" / f"checkpoint-{MAX_STEPS + 2}"
    half.mkdir(parents=True)
    (half / "trainer_state.json").write_text("{}")
    (killed_dir / "grpo" / f"checkpoint-{MAX_STEPS + 4}").mkdir()  # no marker: incomplete
    assert find_latest_checkpoint(killed_dir / "grpo") == resumed_from

    resumed = subprocess.run(
        _cmd(config, killed_dir, "--resume"), env=_env(), capture_output=True, text=True, timeout=240
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resumed from {resumed_from}" in resumed.stdout
    out, _ = full.communicate(timeout=240)
    assert full.returncode == 0, out.decode()[-3000:]

    a = full_dir / "grpo" / f"checkpoint-{MAX_STEPS}"
    b = killed_dir / "grpo" / f"checkpoint-{MAX_STEPS}"
    for ck in (a, b):
        assert (ck / MARKER).is_file()
        assert json.loads((ck / "trainer_state.json").read_text())["global_step"] == MAX_STEPS
    # LoRA weights
    wa, wb = load_file(a / "adapter_model.safetensors"), load_file(b / "adapter_model.safetensors")
    assert wa.keys() == wb.keys() and any("lora_A" in k for k in wa)
    base = (
        load_file(killed_dir / "grpo" / f"checkpoint-{step}" / "adapter_model.safetensors")
        if (killed_dir / "grpo" / f"checkpoint-{step}").exists()
        else None
    )
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-6)
    if base is not None:  # training went on after the resume point
        assert any(not torch.equal(base[k], wb[k]) for k in wb)
    # optimizer state: step counts and both Adam moments
    sa, sb = _optimizer_state(a), _optimizer_state(b)
    assert sa.keys() == sb.keys() and sa
    for i in sa:
        assert float(sa[i]["step"]) == float(sb[i]["step"]) == MAX_STEPS
        torch.testing.assert_close(sa[i]["exp_avg"], sb[i]["exp_avg"], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"], rtol=1e-4, atol=1e-9)
    # the interrupted run's metrics continue from the checkpoint: every step logged, none twice after resume
    rows = [json.loads(line) for line in (killed_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["phase"] == "grpo" and "reward" in r]
    assert set(steps) >= set(range(1, MAX_STEPS + 1))
