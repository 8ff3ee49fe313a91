"""Rewards: the SQL-R1 baseline, the three dense components and the computer that combines them.

Every reward is a plain callable with a configuring class (see docs/rewards.md).

>>> from sqlr1x.rewards import StructuralReward
>>> StructuralReward().compute("SELECT a FROM t", "SELECT a FROM t")
0.8
"""

from sqlr1x.rewards.baseline import SQLR1Baseline
from sqlr1x.rewards.computer import EnhancedRewardComputer, RewardResult
from sqlr1x.rewards.schema_aware import SchemaAwareReward
from sqlr1x.rewards.structural import ClauseDiff, StructuralDiff, StructuralReward
from sqlr1x.rewards.syntax import EnhancedSyntaxReward, SyntaxCheck, check_syntax
from sqlr1x.sql.analysis import Hallucination, find_hallucinations

__all__ = [
    "ClauseDiff",
    "EnhancedRewardComputer",
    "EnhancedSyntaxReward",
    "Hallucination",
    "RewardResult",
    "SQLR1Baseline",
    "SchemaAwareReward",
    "StructuralDiff",
    "StructuralReward",
    "SyntaxCheck",
    "check_syntax",
    "find_hallucinations",
]
