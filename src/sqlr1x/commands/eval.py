"""``sqlr1x eval`` (score a model or a predictions file) and ``sqlr1x ablate`` (baseline vs enhanced reward).

Examples::

    sqlr1x eval --model tiny --dataset demo:dev --max-new-tokens 64
    sqlr1x eval --model outputs/run/grpo/final --dataset spider:/data/spider:dev --n 8 --temperature 0.8
    sqlr1x eval --predictions preds.jsonl --dataset bird:/data/bird:dev --out outputs/mysys/eval
    sqlr1x ablate --config configs/demo.yaml --steps 30 --seeds 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sqlr1x.models import (
    ModelLoadError,
    free_memory,
    load_policy,
    load_tokenizer,
    merged_model_dir,
    resolve_model,
)


def _model_name(args: argparse.Namespace) -> str:
    if args.predictions:
        return Path(args.predictions).stem
    return "tiny" if args.model == "tiny" else Path(args.model).name or "model"


def resolve_eval_model(model: str, out_dir: Path, examples: list | None = None) -> str:
    """The loadable path for ``--model``: ``tiny`` (built or reused under ``out_dir/tiny-model``), a
    saved model folder, a LoRA adapter folder (e.g. ``outputs/run/grpo/final``) or a cached hub name."""
    if model != "tiny":
        return resolve_model(model)
    from sqlr1x.data import load_spec
    from sqlr1x.train.tiny import corpus_from_examples, create_tiny_model

    texts = corpus_from_examples(list(load_spec("demo:train")) + list(examples or []))
    return str(create_tiny_model(out_dir / "tiny-model", texts))


def load_model(model: str, out_dir: Path, examples: list | None = None) -> tuple[Any, Any, str]:
    """``(model, tokenizer, path)`` for ``--model``: ``tiny``, a saved model folder or a LoRA adapter folder.

    ``tiny`` builds (or reuses) the training module's offline tiny model (random weights) under
    ``out_dir/tiny-model``; evaluate a trained one by passing its folder. An adapter folder loads
    its base (``adapter_config.json``) with the adapter merged. The model goes to the GPU when
    there is one, in bf16 where native (fp16 on T4-class GPUs).
    """
    path = resolve_eval_model(model, out_dir, examples)
    policy, tokenizer = load_policy(path)
    return policy, tokenizer, path


def _print_summary(result: Any, paths: dict[str, Path], out: Path) -> None:
    from sqlr1x.eval.metrics import LOWER_IS_BETTER, METRICS

    labels = [result.primary] + [lb for lb in result.metrics if lb != result.primary]
    width = max(len(m) for m in METRICS) + 2
    print(f"{'metric':<{width}}" + "".join(f"{lb:>24}" for lb in labels))
    for name in METRICS:
        cells = []
        for lb in labels:
            m = result.metrics[lb]["metrics"][name]
            cells.append("n/a" if not m["n"] else f"{m['mean']:.3f} [{m['ci_low']:.3f},{m['ci_high']:.3f}]")
        arrow = " ↓" if name in LOWER_IS_BETTER else ""
        print(f"{name + arrow:<{width}}" + "".join(f"{c:>24}" for c in cells))
    from sqlr1x.eval.shape import format_table

    if result.metrics[result.primary].get("shape"):
        print(f"query shape ({result.primary}):")
        print("\n".join("  " + line for line in format_table(result.metrics[result.primary]["shape"])))
    status = result.metrics[result.primary]["status"]
    failed = {k: v for k, v in status.items() if k != "ok" and v}
    if failed:
        print("failures (counted as wrong): " + ", ".join(f"{k}={v}" for k, v in failed.items()))
    for key, value in result.input_issues.items():
        if value:
            shown = (
                value
                if not isinstance(value, list)
                else f"{len(value)} ({', '.join(map(str, value[:5]))}{' …' if len(value) > 5 else ''})"
            )
            print(f"predictions file: {key}: {shown}")
    print(f"report: {out / 'report.md'} ({len(paths)} files)")


def run_eval(args: argparse.Namespace) -> int:
    from sqlr1x.data import load_spec
    from sqlr1x.eval.runner import evaluate

    if bool(args.model) == bool(args.predictions):
        print("sqlr1x eval: pass exactly one of --model and --predictions", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if args.model:
        from sqlr1x.train.pipeline import configure_cpu_threads

        # one torch thread on CPU: with two, a shared 2-core machine spent > 8 min on the demo eval
        # instead of 51 s (OpenMP threads spin-waiting for a descheduled partner)
        configure_cpu_threads()
    examples = load_spec(args.dataset, limit=args.limit)
    out = Path(args.out) if args.out else Path("outputs") / _model_name(args) / "eval"
    run = {"name": _model_name(args), "dataset": args.dataset}
    kw: dict[str, Any] = {
        "n": args.n,
        "temperature": args.temperature,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "prompt_style": args.prompt_style,
        "max_prompt_length": args.max_prompt_length,
        "sample_rows": args.sample_rows,
        "vote_fallback": args.vote_fallback,
        "seed": args.seed,
        "n_boot": args.n_boot,
        "greedy": not args.no_greedy,
        "progress": not args.quiet,
    }
    if args.no_prefilled_think:
        kw["prefilled_think"] = False
    if args.predictions:
        result = evaluate(examples, predictions=args.predictions, run=run, **kw)
    else:
        from sqlr1x.eval.generate import load_vllm, vllm_available

        t = time.perf_counter()
        model = engine = None
        if vllm_available() and not args.no_vllm:
            # vLLM takes gpu_memory_utilization of the whole card: no transformers copy of the
            # policy may sit on the GPU, so only the tokenizer is loaded (an adapter is merged on CPU)
            path = resolve_eval_model(args.model, out, examples)
            tokenizer = load_tokenizer(path)
            free_memory()
            engine = load_vllm(merged_model_dir(path, out), seed=args.seed)
            run["backend"] = "vllm"
        else:
            model, tokenizer, path = load_model(args.model, out, examples)
            run["backend"] = "transformers"
        run.update(model=path, load_s=round(time.perf_counter() - t, 3))
        result = evaluate(examples, model=model, tokenizer=tokenizer, vllm_engine=engine, run=run, **kw)
    result.run["wall_s"] = round(time.perf_counter() - t0, 3)
    paths = result.write(out)
    _print_summary(result, paths, out)
    print(f"done in {result.run['wall_s']:.1f} s")
    return 0


def run_ablate(args: argparse.Namespace) -> int:
    from sqlr1x.experiments import run_ablation

    report = run_ablation(
        args.config,
        steps=args.steps,
        seeds=args.seeds,
        out_dir=args.out,
        eval_dataset=args.dataset,
        eval_limit=args.limit,
        model=args.model,
        max_new_tokens=args.max_new_tokens,
        overrides=args.override,
        resume=args.resume,
    )
    print(report.read_text(encoding="utf-8"))
    return 0


def _guarded(func: Any) -> Any:
    """Turn the expected user errors (bad dataset, predictions file, model) into a message and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        from sqlr1x.data.example import DatasetError
        from sqlr1x.eval.predictions import PredictionsError

        expected: tuple[type[BaseException], ...] = (
            DatasetError,
            PredictionsError,
            FileNotFoundError,
            ModelLoadError,
        )
        try:
            return func(args)
        except expected as exc:
            print(f"sqlr1x {args.command}: error: {exc}", file=sys.stderr)
            return 2

    return run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a model or a predictions file (execution accuracy, hallucinations, ...)"
    )
    src = p.add_argument_group("what to evaluate (one of)")
    src.add_argument("--model", help="a saved model / LoRA adapter folder, a cached hub name, or 'tiny'")
    src.add_argument(
        "--predictions", help="JSONL with {id, sql} / {id, completion}, or one raw completion/SQL per line"
    )
    p.add_argument(
        "--dataset", default="demo:dev", help="dataset spec, e.g. spider:/data/spider:dev (default demo:dev)"
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N examples only")
    p.add_argument("--out", default=None, help="report folder (default outputs/<model or file name>/eval)")
    p.add_argument(
        "--n",
        type=int,
        default=1,
        help="samples per question for self-consistency (SQL-R1: 8); 1 = greedy only",
    )
    p.add_argument(
        "--temperature", type=float, default=0.8, help="sampling temperature when --n > 1 (default 0.8)"
    )
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=16, help="sequences per generation batch")
    p.add_argument(
        "--prompt-style",
        default="sqlr1",
        choices=["sqlr1", "chat"],
        help="prompt (default: the training prompt)",
    )
    p.add_argument("--max-prompt-length", type=int, default=None)
    p.add_argument("--sample-rows", type=int, default=0, help="example rows per table in the prompt's schema")
    p.add_argument(
        "--vote-fallback",
        default="first",
        choices=["first", "random", "error"],
        help="answer when no sample executes",
    )
    p.add_argument("--no-greedy", action="store_true", help="with --n > 1, skip the greedy pass")
    p.add_argument(
        "--no-prefilled-think",
        action="store_true",
        help="completions open their own <think> (prompt not pre-filled)",
    )
    p.add_argument(
        "--no-vllm",
        action="store_true",
        help="generate with transformers even when vLLM and a GPU are available",
    )
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_guarded(run_eval))

    a = sub.add_parser(
        "ablate",
        help="train baseline-only and enhanced reward with the same budget, compare, test the seed's claims",
    )
    a.add_argument("--config", required=True, help="training YAML (e.g. configs/demo.yaml)")
    a.add_argument("--steps", type=int, required=True, help="GRPO steps per run")
    a.add_argument("--seeds", type=int, default=1, help="number of seeds per variant (0, 1, ... K-1)")
    a.add_argument("--model", default=None, help="policy to start from (default: the config's model)")
    a.add_argument("--dataset", default=None, help="evaluation split (default: the config's eval dataset)")
    a.add_argument("--limit", type=int, default=None, help="evaluate on the first N examples")
    a.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="generation budget at evaluation (default: the config's)",
    )
    a.add_argument("--override", action="append", default=[], help="config override KEY=VALUE (repeatable)")
    a.add_argument("--out", default="outputs/ablation", help="output folder (default outputs/ablation)")
    a.add_argument(
        "--resume", action="store_true", help="reuse runs of an interrupted ablation that finished in --out"
    )
    a.set_defaults(func=_guarded(run_ablate))
