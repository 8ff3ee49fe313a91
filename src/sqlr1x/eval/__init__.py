"""Evaluation: generation, self-consistency voting, metrics, reports, run comparison, ablation.

See docs/evaluation.md. Importing this package does not import torch or matplotlib.

>>> from sqlr1x.eval import vote
>>> from types import SimpleNamespace as R
>>> vote(["SELECT 1", "SELECT 2"], [R(ok=False, rows=[]), R(ok=True, rows=[(2,)])]).sql
'SELECT 2'
"""

from sqlr1x.eval.hardness import spider_hardness
from sqlr1x.eval.metrics import PredictionScore, aggregate, score_completion, score_sql, summary
from sqlr1x.eval.predictions import PredictionsError, read_predictions_file
from sqlr1x.eval.runner import EvalResult, evaluate
from sqlr1x.eval.vote import VoteResult, result_key, self_consistency, vote

__all__ = [
    "EvalResult",
    "PredictionScore",
    "PredictionsError",
    "VoteResult",
    "aggregate",
    "evaluate",
    "read_predictions_file",
    "result_key",
    "score_completion",
    "score_sql",
    "self_consistency",
    "spider_hardness",
    "summary",
    "vote",
]
