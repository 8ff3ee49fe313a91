"""Evaluate a model (or a predictions file) on a list of examples: generate, vote, score, aggregate.

Used by ``sqlr1x eval`` and by training-time validation. With a model, the greedy result is always
computed; with ``n > 1`` a second pass samples ``n`` completions at ``temperature`` and votes
(``sqlr1x.eval.vote``), so greedy and voted accuracy sit side by side.

Example::

    >>> from sqlr1x.data import load_spec                                   # doctest: +SKIP
    >>> res = evaluate(load_spec("demo:dev"), model=model, tokenizer=tok, n=4, temperature=0.8)  # doctest: +SKIP
    >>> res.summary()["ex_spider"], res.summary()["voted/ex_spider"]        # doctest: +SKIP
    (0.42, 0.47)
    >>> res = evaluate(examples, predictions="preds.jsonl")                 # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlr1x.eval.metrics import PredictionScore, aggregate, score_completion, score_sql, summary
from sqlr1x.eval.predictions import PredictionItem, read_predictions_file
from sqlr1x.eval.vote import self_consistency


@dataclass
class EvalResult:
    """Per-example scores and aggregates per result label (``greedy``, ``voted``, ``predictions``)."""

    scores: dict[str, list[PredictionScore]]
    metrics: dict[str, dict[str, Any]]
    primary: str
    run: dict[str, Any] = field(default_factory=dict)
    input_issues: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """Flat means: the primary result's metrics unprefixed, the others as ``<label>/<metric>``."""
        out = dict(summary(self.metrics[self.primary]))
        for label, agg in self.metrics.items():
            out.update({f"{label}/{k}": v for k, v in summary(agg).items()})
        return out

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write predictions, metrics.json, report.md and plots (``sqlr1x.eval.report``)."""
        from sqlr1x.eval.report import write_eval_report

        return write_eval_report(
            out_dir,
            self.scores,
            run=self.run,
            primary=self.primary,
            input_issues=self.input_issues,
            aggregates=self.metrics,
        )


def render_prompts(
    examples: Sequence[Any],
    tokenizer: Any,
    *,
    style: str = "sqlr1",
    max_prompt_length: int | None = None,
    sample_rows: int = 0,
    training: bool = False,
) -> list[str]:
    """The training prompt for each example (``sqlr1`` style pre-fills ``<think>``); cuts are logged.

    ``training=True`` lets truncation drop tables the gold SQL does not use; evaluation must not
    (it would leak the answer), so it is off by default.
    """
    from sqlr1x.data.prompt import render_prompts as _render

    rendered, _ = _render(
        examples,
        tokenizer,
        style=style,
        max_prompt_length=max_prompt_length,
        sample_rows=sample_rows,
        training=training,
    )
    return [p.text for p in rendered]


def _extract(completion: str, prefilled_think: bool) -> tuple[str | None, bool]:
    from sqlr1x.sql.extract import extract_answer

    ext = extract_answer(completion or "", prefilled_think=prefilled_think)
    return ext.sql, ext.format_ok


def score_item(
    example: Any,
    item: PredictionItem,
    *,
    prefilled_think: bool = True,
    executor: Any = None,
    vote_fallback: str = "first",
    seed: int = 42,
) -> PredictionScore:
    """Score what a predictions file (or a generation pass) gives for one example; several samples are voted."""
    if item.missing:
        return score_sql(example, None, status="missing_prediction", executor=executor)
    if item.n == 1:
        if item.completions is not None:
            return score_completion(
                example, item.completions[0], prefilled_think=prefilled_think, executor=executor
            )
        return score_sql(example, item.sqls[0] if item.sqls else None, executor=executor)
    if item.completions is not None:
        extracted = [_extract(c, prefilled_think) for c in item.completions]
        sqls, formats = [e[0] for e in extracted], [e[1] for e in extracted]
    else:
        sqls, formats = list(item.sqls or []), [None] * item.n
    v = self_consistency(sqls, example.db_path, executor=executor, fallback=vote_fallback, seed=seed)
    # no answer (no sample has SQL, or fallback "error"): format and length come from the first sample
    k = 0 if v.index is None else v.index
    completion = item.completions[k] if item.completions is not None else None
    score = score_sql(example, v.sql, completion=completion, format_ok=formats[k], executor=executor)
    score.n_samples, score.votes, score.vote_fallback = item.n, v.votes, v.fallback
    return score


def _score_all(
    examples: Sequence[Any], items: Sequence[PredictionItem], progress: bool, desc: str, **kw: Any
) -> list[PredictionScore]:
    pairs = zip(examples, items, strict=True)
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, total=len(examples), desc=desc, unit="ex")
    return [score_item(ex, item, **kw) for ex, item in pairs]


def evaluate(
    examples: Sequence[Any],
    *,
    model: Any = None,
    tokenizer: Any = None,
    predictions: str | Path | None = None,
    n: int = 1,
    temperature: float = 0.8,
    max_new_tokens: int = 512,
    batch_size: int = 16,
    prompt_style: str = "sqlr1",
    max_prompt_length: int | None = None,
    sample_rows: int = 0,
    prefilled_think: bool | None = None,
    vote_fallback: str = "first",
    seed: int = 42,
    executor: Any = None,
    vllm_engine: Any = None,
    n_boot: int = 2000,
    greedy: bool = True,
    progress: bool = False,
    run: dict[str, Any] | None = None,
) -> EvalResult:
    """Score ``examples`` with a model (+ tokenizer, or a ``vllm_engine`` + tokenizer) or a predictions file.

    The denominator of every rate is ``len(examples)``. ``prefilled_think`` defaults to True for the
    ``sqlr1`` prompt style (completions start inside ``<think>``) and for predictions files.
    ``greedy=False`` skips the greedy pass when ``n > 1``; ``n_boot=0`` skips bootstrap intervals.
    """
    if (model is None and vllm_engine is None) == (predictions is None):
        raise ValueError("evaluate needs exactly one of model (or vllm_engine) and predictions")
    if not examples:
        raise ValueError("no examples to evaluate")
    if prefilled_think is None:
        prefilled_think = predictions is not None or prompt_style == "sqlr1"
    kw = {
        "prefilled_think": prefilled_think,
        "executor": executor,
        "vote_fallback": vote_fallback,
        "seed": seed,
    }
    info: dict[str, Any] = dict(run or {})
    info.update(n_examples=len(examples), seed=seed)
    scores: dict[str, list[PredictionScore]] = {}
    issues: dict[str, Any] = {}
    t0 = time.perf_counter()

    if predictions is not None:
        pf = read_predictions_file(predictions, examples)
        issues = pf.issues
        info["predictions"] = str(predictions)
        scores["predictions"] = _score_all(examples, pf.items, progress, "score", **kw)
        info["score_s"] = round(time.perf_counter() - t0, 3)
    else:
        prompts = render_prompts(
            examples,
            tokenizer,
            style=prompt_style,
            max_prompt_length=max_prompt_length,
            sample_rows=sample_rows,
        )
        info.update(
            prompt_style=prompt_style,
            max_new_tokens=max_new_tokens,
            n=n,
            temperature=temperature if n > 1 else 0.0,
        )
        passes = ([("greedy", 1, 0.0)] if greedy or n == 1 else []) + (
            [("voted", n, temperature)] if n > 1 else []
        )
        for label, k, temp in passes:
            t = time.perf_counter()
            outs = _generate(
                model,
                tokenizer,
                vllm_engine,
                prompts,
                n=k,
                temperature=temp,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                seed=seed,
                progress=progress,
            )
            info[f"{label}_generate_s"] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
            items = [PredictionItem(completions=list(o)) for o in outs]
            scores[label] = _score_all(examples, items, progress, f"score {label}", **kw)
            info[f"{label}_score_s"] = round(time.perf_counter() - t, 3)
    info["total_s"] = round(time.perf_counter() - t0, 3)
    metrics = {label: aggregate(sc, n_boot=n_boot, seed=seed) for label, sc in scores.items()}
    primary = "voted" if "voted" in scores else next(iter(scores))
    return EvalResult(scores, metrics, primary, info, issues)


def _generate(model: Any, tokenizer: Any, vllm_engine: Any, prompts: list[str], **kw: Any) -> list[list[str]]:
    from sqlr1x.eval.generate import generate, generate_vllm

    if vllm_engine is not None:
        kw.pop("batch_size"), kw.pop("progress")
        return generate_vllm(vllm_engine, prompts, **kw)
    return generate(model, tokenizer, prompts, **kw)
