"""Rewards: the SQL-R1 baseline, the dense components and the computer that combines them.

Every reward is a plain callable with a configuring class (see docs/rewards.md); the components
are listed in :mod:`sqlr1x.rewards.registry`, their options and defaults in
:class:`sqlr1x.rewards.config.RewardConfig`.

The names below are imported on first use, so ``sqlr1x.config`` (which needs only
``sqlr1x.rewards.config``) stays cheap to import.

>>> from sqlr1x.rewards import StructuralReward
>>> StructuralReward().compute("SELECT a FROM t", "SELECT a FROM t")
0.8
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlr1x.rewards.baseline import SQLR1Baseline
    from sqlr1x.rewards.computer import EnhancedRewardComputer, RewardResult
    from sqlr1x.rewards.config import RewardConfig
    from sqlr1x.rewards.schema_aware import SchemaAwareReward
    from sqlr1x.rewards.structural import ClauseDiff, StructuralDiff, StructuralReward
    from sqlr1x.rewards.syntax import EnhancedSyntaxReward, SyntaxCheck, check_syntax
    from sqlr1x.sql.analysis import Hallucination, find_hallucinations

_HOME = {
    "SQLR1Baseline": "sqlr1x.rewards.baseline",
    "EnhancedRewardComputer": "sqlr1x.rewards.computer",
    "RewardResult": "sqlr1x.rewards.computer",
    "RewardConfig": "sqlr1x.rewards.config",
    "SchemaAwareReward": "sqlr1x.rewards.schema_aware",
    "ClauseDiff": "sqlr1x.rewards.structural",
    "StructuralDiff": "sqlr1x.rewards.structural",
    "StructuralReward": "sqlr1x.rewards.structural",
    "EnhancedSyntaxReward": "sqlr1x.rewards.syntax",
    "SyntaxCheck": "sqlr1x.rewards.syntax",
    "check_syntax": "sqlr1x.rewards.syntax",
    "Hallucination": "sqlr1x.sql.analysis",
    "find_hallucinations": "sqlr1x.sql.analysis",
}

__all__ = [
    "ClauseDiff",
    "EnhancedRewardComputer",
    "EnhancedSyntaxReward",
    "Hallucination",
    "RewardConfig",
    "RewardResult",
    "SQLR1Baseline",
    "SchemaAwareReward",
    "StructuralDiff",
    "StructuralReward",
    "SyntaxCheck",
    "check_syntax",
    "find_hallucinations",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
