"""Periodic validation during training: greedy generation on ``eval_size`` examples of the eval
split, scored by the evaluation code (execution accuracy, hallucination rate, syntax-error rate).

Example::

    from sqlr1x.train.validation import validate
    metrics = validate(model, tokenizer, examples[:50])
    metrics["execution_accuracy"], metrics["hallucination_rate"], metrics["syntax_error_rate"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers import TrainerCallback

from sqlr1x.eval.runner import render_prompts

__all__ = ["ValidationCallback", "render_prompts", "sampled_reward", "validate"]

# our names for the eval metrics (sqlr1x.eval.metrics.summary keys)
_RENAME = {
    "ex_spider": "execution_accuracy",
    "ex_bird": "execution_accuracy_bird",
    "hallucination_rate": "hallucination_rate",
    "syntax_error_rate": "syntax_error_rate",
    "exec_error_rate": "exec_error_rate",
    "format_valid_rate": "format_valid_rate",
    "structural": "structural",
    "completion_chars": "completion_chars",
}


def validate(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Any],
    *,
    prompts: Sequence[str] | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 32,
    style: str = "sqlr1",
    max_prompt_length: int | None = None,
    return_scores: bool = False,
) -> dict[str, Any]:
    """Greedy-decode one completion per example and score it with ``sqlr1x.eval.metrics``.

    Returns a flat dict: ``execution_accuracy`` (Spider semantics), ``execution_accuracy_bird``,
    ``hallucination_rate``, ``syntax_error_rate``, ``exec_error_rate``, ``format_valid_rate``,
    ``structural``, ``completion_chars``, the query-shape rates ``shape/<clause>/pred|gold`` and
    ``n``; with ``return_scores`` also ``scores``.
    """
    from sqlr1x.eval.generate import generate
    from sqlr1x.eval.metrics import aggregate, score_completion, summary
    from sqlr1x.eval.shape import flat_metrics

    if not examples:
        return {"n": 0}
    if prompts is None:
        prompts = render_prompts(examples, tokenizer, style=style, max_prompt_length=max_prompt_length)
    outs = generate(
        model,
        tokenizer,
        list(prompts),
        n=1,
        temperature=0.0,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
    )
    scores = [
        score_completion(ex, out[0], prefilled_think=True) for ex, out in zip(examples, outs, strict=True)
    ]
    agg = aggregate(scores, n_boot=20)
    flat = summary(agg)
    result: dict[str, Any] = {_RENAME.get(k, k): v for k, v in flat.items() if k in _RENAME}
    result.update(flat_metrics(agg["shape"]))  # clause presence vs gold: shape/<clause>/pred|gold
    result["n"] = len(scores)
    if return_scores:
        result["scores"] = scores
    return result


def sampled_reward(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Any],
    prompts: Sequence[str],
    computer: Any,
    *,
    n: int = 4,
    temperature: float = 0.8,
    max_new_tokens: int = 256,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, float]:
    """Expected training reward on a fixed probe set: ``n`` samples per prompt at the training
    temperature, scored by ``computer`` (an ``EnhancedRewardComputer``). Same prompts and seed at
    every call, so changes reflect the policy, not which prompts a step happened to draw. The
    torch RNG state is restored afterwards, so probing does not change the training run.

    Returns ``probe/reward`` (total) and ``probe/baseline|schema|structural|syntax`` means.
    """
    import torch

    from sqlr1x.eval.generate import generate

    state = torch.random.get_rng_state()
    try:
        outs = generate(
            model,
            tokenizer,
            list(prompts),
            n=n,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
        )
    finally:
        torch.random.set_rng_state(state)
    items = [
        {"solution_str": c, "ground_truth": ex.gold_sql, "db_path": ex.db_path, "prefilled_think": True}
        for ex, group in zip(examples, outs, strict=True)
        for c in group
    ]
    results = computer.compute_rewards(items)
    k = max(1, len(results))
    return {
        "probe/reward": sum(r.total for r in results) / k,
        "probe/baseline": sum(r.baseline_total for r in results) / k,
        "probe/schema": sum(r.schema for r in results) / k,
        "probe/structural": sum(r.structural for r in results) / k,
        "probe/syntax": sum(r.syntax for r in results) / k,
    }


class ValidationCallback(TrainerCallback):
    """Every ``eval_interval`` optimizer steps (and at the end), validate and log under ``eval/``.

    ``logger`` is a ``MetricsLogger``; ``history`` keeps ``(step, metrics)`` pairs. With a
    ``reward_computer``, also the expected reward of sampled completions on the first
    ``probe_size`` examples (``sampled_reward``).
    """

    def __init__(
        self,
        tokenizer: Any,
        examples: Sequence[Any],
        *,
        eval_interval: int,
        logger: Any = None,
        max_new_tokens: int = 256,
        batch_size: int = 32,
        style: str = "sqlr1",
        max_prompt_length: int | None = None,
        step_offset: int = 0,
        on_result: Any = None,
        reward_computer: Any = None,
        probe_size: int = 32,
        probe_samples: int = 4,
        probe_temperature: float = 0.8,
        probe_batch_size: int = 64,
    ) -> None:
        self.tokenizer = tokenizer
        self.examples = list(examples)
        self.eval_interval = eval_interval
        self.logger = logger
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.style = style
        self.max_prompt_length = max_prompt_length
        self.step_offset = step_offset
        self.on_result = on_result
        self.reward_computer = reward_computer
        self.probe_size = probe_size
        self.probe_samples = probe_samples
        self.probe_temperature = probe_temperature
        self.probe_batch_size = probe_batch_size
        self.history: list[tuple[int, dict[str, Any]]] = []
        self._prompts: list[str] | None = None
        self._last_step = -1

    def run(self, model: Any, step: int) -> dict[str, Any]:
        if self._prompts is None:
            self._prompts = render_prompts(
                self.examples, self.tokenizer, style=self.style, max_prompt_length=self.max_prompt_length
            )
        metrics = validate(
            model,
            self.tokenizer,
            self.examples,
            prompts=self._prompts,
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
        )
        if self.reward_computer is not None and self.probe_size > 0:
            metrics.update(
                sampled_reward(
                    model,
                    self.tokenizer,
                    self.examples[: self.probe_size],
                    self._prompts[: self.probe_size],
                    self.reward_computer,
                    n=self.probe_samples,
                    temperature=self.probe_temperature,
                    max_new_tokens=self.max_new_tokens,
                    batch_size=self.probe_batch_size,
                )
            )
        self._last_step = step
        self.history.append((step, metrics))
        if self.logger is not None:
            self.logger.log_metrics(
                step + self.step_offset, {f"eval/{k}": v for k, v in metrics.items()}, phase="eval"
            )
        if self.on_result is not None:
            self.on_result(step, metrics)
        return metrics

    def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: D102
        if self.examples and model is not None and state.global_step % self.eval_interval == 0:
            self.run(model, state.global_step)

    def on_train_end(self, args, state, control, model=None, **kwargs):  # noqa: D102
        if self.examples and model is not None and state.global_step != self._last_step:
            self.run(model, state.global_step)
