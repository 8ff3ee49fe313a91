"""Seed-compatible re-export of training-time validation (real code: ``sqlr1x.train.validation``).

Example::

    from extensions.validation import validate
    metrics = validate(model, tokenizer, examples)   # execution_accuracy, hallucination_rate, ...
"""

from sqlr1x.train.validation import ValidationCallback, render_prompts, validate

__all__ = ["ValidationCallback", "render_prompts", "validate"]
