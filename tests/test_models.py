"""The GPU path, checked on a CPU (issue 11, F1-F8): precision decision, device placement, LoRA
adapter folders in eval, vLLM settings, dependency pins, validation memory, SFT memory release."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import weakref
from pathlib import Path

import pytest

pytest.importorskip("trl")

import torch  # noqa: E402
from packaging.specifiers import SpecifierSet  # noqa: E402
from packaging.version import Version  # noqa: E402

from sqlr1x import models  # noqa: E402
from sqlr1x.config import load_config  # noqa: E402
from sqlr1x.models import (  # noqa: E402
    ModelLoadError,
    Precision,
    adapter_base,
    decide_precision,
    is_adapter_dir,
    load_policy,
    merged_model_dir,
    resolve_model,
)
from sqlr1x.train.tiny import TinySpec, create_tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [
    "You are an SQLite expert. CREATE TABLE employees (id INTEGER, name TEXT);",
    "<think>\nI use the table employees.\n</think>\n<answer>\n```sql\nSELECT name FROM employees\n```\n</answer>",
] * 10
SPEC = TinySpec(
    vocab_size=300, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1
)
CPU32 = Precision("cpu", "float32")


# ----------------------------------------------------------------------------- F6 precision


@pytest.mark.parametrize(
    ("mixed", "cuda", "bf16_ok", "lora", "expected"),
    [
        ("bf16", False, False, True, ("cpu", "float32", False, False)),
        ("fp16", False, False, True, ("cpu", "float32", False, False)),
        ("bf16", True, True, True, ("cuda", "bfloat16", True, False)),
        ("bf16", True, False, True, ("cuda", "float16", False, True)),  # T4: fp16, not emulated bf16
        ("fp16", True, True, True, ("cuda", "float16", False, True)),  # fp16 weights, not fp32
        ("fp16", True, False, False, ("cuda", "float32", False, True)),  # full FT: fp32 master weights
        ("no", True, True, True, ("cuda", "float32", False, False)),
    ],
)
def test_precision_from_hardware_and_config(mixed, cuda, bf16_ok, lora, expected):
    p = decide_precision(mixed, cuda=cuda, bf16_supported=bf16_ok, lora=lora, device_name="Tesla T4")
    assert (p.device, p.dtype, p.bf16, p.fp16) == expected
    assert not (p.bf16 and p.fp16)


def test_t4_gets_one_line_message_naming_the_fix():
    msg = decide_precision("bf16", cuda=True, bf16_supported=False, device_name="Tesla T4").message
    assert msg and "\n" not in msg and "Tesla T4" in msg and "mixed_precision: fp16" in msg
    assert decide_precision("fp16", cuda=True, bf16_supported=False).message is None
    with pytest.raises(ValueError, match="mixed_precision"):
        decide_precision("fp8", cuda=True, bf16_supported=True)


def test_trainer_flags_follow_the_precision_decision(tmp_path):
    from sqlr1x.train.grpo import grpo_kwargs

    config = load_config(ROOT / "configs/train_24gb.yaml")  # mixed_precision: bf16
    t4 = decide_precision("bf16", cuda=True, bf16_supported=False)
    kw = grpo_kwargs(config, tmp_path, precision=t4)
    assert kw["fp16"] and not kw["bf16"] and not kw["use_cpu"] and kw["gradient_checkpointing"]
    ampere = decide_precision("bf16", cuda=True, bf16_supported=True)
    kw = grpo_kwargs(config, tmp_path, precision=ampere)
    assert kw["bf16"] and not kw["fp16"]
    kw = grpo_kwargs(config, tmp_path, precision=CPU32)
    assert kw["use_cpu"] and not kw["bf16"] and not kw["fp16"] and not kw["gradient_checkpointing"]


# ----------------------------------------------------------------------------- F5 vLLM settings


def test_vllm_sleep_mode_and_utilisation_reach_trl():
    from trl import GRPOConfig

    from sqlr1x.train.grpo import vllm_kwargs

    config = load_config(
        ROOT / "configs/train_24gb.yaml",
        ["optimization.vllm_gpu_memory_utilization=0.25", "optimization.vllm_enable_sleep_mode=false"],
    )
    kw = vllm_kwargs(config)
    assert kw["vllm_gpu_memory_utilization"] == 0.25 and kw["vllm_enable_sleep_mode"] is False
    assert kw["vllm_mode"] == "colocate" and kw["vllm_max_model_length"] == 2048 + 1024
    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert set(kw) <= fields  # every key is one TRL 1.16 accepts
    assert load_config(None).optimization.vllm_enable_sleep_mode is True  # on by default: 24 GB needs it


# ----------------------------------------------------------------------------- F4, F7 pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_vllm_pin_inside_trl_supported_range():
    import importlib.util

    src = Path(importlib.util.find_spec("trl.import_utils").origin).read_text(encoding="utf-8")
    low, high = re.search(
        r'Version\("([\d.]+)"\) <= _vllm_base_version <= Version\("([\d.]+)"\)', src
    ).groups()
    (req,) = [r for r in _pyproject()["project"]["optional-dependencies"]["gpu"] if r.startswith("vllm")]
    spec = SpecifierSet(req.removeprefix("vllm"))
    # every release the pin admits is one TRL supports; 0.28-0.31 pin torch==2.13.0 (PyPI metadata)
    for v in ("0.28.0", "0.29.0", "0.30.0", "0.31.0"):
        assert v in spec and Version(low) <= Version(v) <= Version(high)
    for v in ("0.11.0", "0.27.1", "0.32.0", "0.33.0"):
        assert v not in spec


def test_requires_python_matches_trl():
    import importlib.metadata

    ours = SpecifierSet(_pyproject()["project"]["requires-python"].split("#")[0].strip())
    trl_needs = SpecifierSet(importlib.metadata.metadata("trl")["Requires-Python"])
    assert "3.10" not in ours and "3.11" in ours
    assert all(v in trl_needs for v in ("3.11", "3.12", "3.13") if v in ours)


# ----------------------------------------------------------------------------- F1, F2, F3 loading


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return create_tiny_model(tmp_path_factory.mktemp("m") / "tiny-model", CORPUS, SPEC)


@pytest.fixture(scope="module")
def adapter(tiny, tmp_path_factory) -> Path:
    """A LoRA adapter folder as a LoRA GRPO run leaves it (``<run>/grpo/final``), with non-zero B."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    )
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    out = tiny.parent / "grpo" / "final"
    peft_model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(out)
    return out


def test_policy_moves_to_the_decided_device(tiny, monkeypatch):
    """F1: the decision's device is where the model ends up before validation generates."""
    moved = []
    real_to = torch.nn.Module.to

    def spy(self, *args, **kwargs):
        moved.append(args[0] if args else kwargs.get("device"))
        return real_to(self, "cpu")  # no GPU here: record the move, stay on the CPU

    monkeypatch.setattr(torch.nn.Module, "to", spy)
    config = load_config(ROOT / "configs/train_24gb.yaml")
    monkeypatch.setattr(
        models, "hardware_precision", lambda mixed, lora=True: Precision("cuda", "float32", bf16=False)
    )
    load_policy(tiny, config)
    assert torch.device("cuda") in moved


def test_policy_on_cpu_is_fp32_with_left_padding(tiny):
    model, tok = load_policy(tiny, load_config(ROOT / "configs/train_24gb.yaml"))
    p = next(model.parameters())
    if not torch.cuda.is_available():
        assert p.device.type == "cpu" and p.dtype == torch.float32
    assert tok.padding_side == "left" and tok.pad_token is not None
    meta, _ = load_policy(tiny, precision=CPU32, device="meta")
    assert next(meta.parameters()).device.type == "meta"


def test_adapter_folder_resolves_and_loads_merged(tiny, adapter):
    """F2: `sqlr1x eval --model <run>/grpo/final` of a LoRA run (no config.json there)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert not (adapter / "config.json").exists() and is_adapter_dir(adapter)
    assert resolve_model(str(adapter)) == str(adapter)
    assert Path(adapter_base(adapter)).resolve() == tiny.resolve()
    merged, tok = load_policy(adapter, precision=CPU32)
    assert not hasattr(merged, "peft_config")
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), str(adapter)).eval()
    plain = AutoModelForCausalLM.from_pretrained(tiny).eval()
    ids = tok("SELECT name FROM employees", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a, b, c = merged(ids).logits, reference(ids).logits, plain(ids).logits
    assert torch.allclose(a, b, atol=1e-4) and not torch.allclose(a, c, atol=1e-3)


def test_adapter_whose_base_is_gone_names_it(tmp_path, adapter):
    import json
    import shutil

    moved = tmp_path / "final"
    shutil.copytree(adapter, moved)
    cfg = json.loads((moved / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "no-such-base")
    (moved / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="base model is not loadable"):
        resolve_model(str(moved))
    with pytest.raises(ModelLoadError, match="config.json and no adapter_config.json"):
        resolve_model(str(tmp_path))


def test_adapter_base_found_when_the_run_folder_moved(tmp_path, adapter):
    """A relative base path saved at training time still resolves after the run folder moved."""
    import json
    import shutil

    run = tmp_path / "moved-run"
    shutil.copytree(adapter.parents[1], run)
    final = run / "grpo" / "final"
    cfg = json.loads((final / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "old/place/tiny-model"
    (final / "adapter_config.json").write_text(json.dumps(cfg))
    assert Path(adapter_base(final)) == run / "tiny-model"


def test_vllm_gets_a_merged_folder_on_disk(tiny, adapter, tmp_path):
    """F3: vLLM loads from disk: a full folder, merged on the CPU; a plain folder is passed as is."""
    from transformers import AutoModelForCausalLM

    assert merged_model_dir(tiny, tmp_path) == str(tiny)
    out = Path(merged_model_dir(adapter, tmp_path))
    assert (out / "config.json").is_file() and not is_adapter_dir(out)
    assert (out / "tokenizer_config.json").is_file()
    AutoModelForCausalLM.from_pretrained(out)
    stamp = (out / "config.json").stat().st_mtime_ns
    assert (
        merged_model_dir(adapter, tmp_path) == str(out) and (out / "config.json").stat().st_mtime_ns == stamp
    )


def test_eval_with_vllm_never_loads_the_transformers_copy(tiny, adapter, tmp_path, monkeypatch):
    """F3: with vLLM, `sqlr1x eval` loads only the tokenizer before the engine starts."""
    import sqlr1x.eval.generate as generate
    from sqlr1x.cli import main
    from sqlr1x.commands import eval as eval_cmd

    started = []

    def no_hf_copy(*a, **k):
        raise AssertionError("the transformers policy was loaded next to vLLM")

    def engine(path, **kw):
        started.append(path)
        raise RuntimeError("engine start recorded")

    monkeypatch.setattr(eval_cmd, "load_policy", no_hf_copy)
    monkeypatch.setattr(generate, "vllm_available", lambda: True)
    monkeypatch.setattr(generate, "load_vllm", engine)
    with pytest.raises(RuntimeError, match="engine start recorded"):
        main(
            ["eval", "--model", str(adapter), "--dataset", "demo:dev", "--limit", "1", "--out", str(tmp_path)]
        )
    assert started == [str(tmp_path / "merged-model")]


@pytest.mark.slow
def test_eval_cli_on_a_lora_adapter_folder(adapter, tmp_path, capsys):
    """F2 end to end: the README's `sqlr1x eval --model outputs/.../grpo/final` on a LoRA run."""
    from sqlr1x.cli import main

    rc = main(
        ["eval", "--model", str(adapter), "--dataset", "demo:dev", "--limit", "2", "--max-new-tokens", "8"]
        + ["--n-boot", "20", "--quiet", "--no-vllm", "--out", str(tmp_path / "ev")]
    )
    assert rc == 0 and (tmp_path / "ev" / "report.md").is_file()


# ----------------------------------------------------------------------------- F8 memory


def test_demo_keeps_an_explicit_eval_size_of_zero():
    from sqlr1x.train.pipeline import apply_cli

    assert apply_cli(load_config(None, ["data.eval_size=0"]), demo=True).data.eval_size == 0
    assert apply_cli(load_config(None, ["data.eval_size=500"]), demo=True).data.eval_size == 160
    assert apply_cli(load_config(None, ["data.eval_size=50"]), demo=True).data.eval_size == 50


def test_validation_batches_are_small_on_gpu_and_configurable(tiny, monkeypatch):
    from sqlr1x.train import pipeline

    config = load_config(ROOT / "configs/train_24gb.yaml")
    assert config.logging.validation_batch_sizes(cuda=True) == (8, 8)
    assert config.logging.validation_batch_sizes(cuda=False) == (32, 64)
    tuned = load_config(
        ROOT / "configs/train_24gb.yaml",
        ["logging.eval_batch_size=4", "logging.probe_batch_size=2", "logging.probe_size=6"],
    )
    assert tuned.logging.validation_batch_sizes(cuda=True) == (4, 2)
    monkeypatch.setattr(pipeline, "cuda_available", lambda: True)
    cb = pipeline.validation_callback(config, object(), [], logger=None)
    assert (cb.batch_size, cb.probe_batch_size, cb.probe_size) == (8, 8, 32)
    cb = pipeline.validation_callback(tuned, object(), [], logger=None)
    assert (cb.batch_size, cb.probe_batch_size, cb.probe_size) == (4, 2, 6)


@pytest.mark.slow
def test_sft_model_is_released_before_grpo(tiny, tmp_path, monkeypatch):
    """After SFT the trainer and its model are garbage (gc + empty_cache), not held beside GRPO."""
    from sqlr1x.data import load_spec
    from sqlr1x.train import pipeline, sft

    refs = []
    real = sft.run_sft

    def run_and_watch(*args, **kwargs):
        result = real(*args, **kwargs)
        refs.extend([weakref.ref(result.model), weakref.ref(result.trainer)])
        return result

    monkeypatch.setattr(sft, "run_sft", run_and_watch)
    config = load_config(
        ROOT / "configs/demo.yaml",
        ["sft.max_steps=1", "sft.batch_size=2", "logging.report_to=[jsonl]", "logging.progress_bar=false"],
    )
    logger = pipeline._make_logger(config, tmp_path, "sft")
    try:
        final = pipeline._sft(config, tmp_path, str(tiny), load_spec("demo:train", limit=4), logger)
    finally:
        logger.close()
    assert (Path(final) / "config.json").is_file()
    assert refs and all(r() is None for r in refs)
