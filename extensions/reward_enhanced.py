"""Seed API of the enhanced rewards, re-exported from :mod:`sqlr1x.rewards`.

>>> from extensions.reward_enhanced import SchemaAwareReward
>>> SchemaAwareReward(weight=-0.5).compute("SELECT name FROM customers",
...     {'tables': {'employees': {'columns': ['id', 'name', 'salary', 'department']}}})
-0.5
"""

from sqlr1x.rewards import (
    EnhancedRewardComputer,
    EnhancedSyntaxReward,
    RewardResult,
    SchemaAwareReward,
    SQLR1Baseline,
    StructuralReward,
    find_hallucinations,
)

__all__ = [
    "EnhancedRewardComputer",
    "EnhancedSyntaxReward",
    "RewardResult",
    "SQLR1Baseline",
    "SchemaAwareReward",
    "StructuralReward",
    "find_hallucinations",
]
