"""The reward configuration: every reward option and its default, in one pydantic model.

:class:`RewardConfig` is the ``reward:`` section of a training YAML (``sqlr1x.config`` uses it as
``TrainConfig.reward``), the options of verl's ``compute_score`` and what
:meth:`EnhancedRewardComputer.from_config <sqlr1x.rewards.computer.EnhancedRewardComputer.from_config>`
reads. It is the only place that holds reward defaults: the computer's, the components' and the
baseline's keyword defaults, the TRL adapter, the verl adapter and ``sqlr1x reward`` all read them
from here. It imports neither torch nor anything of ours, so every layer can use it.

Unknown keys are rejected (a typo fails loudly, naming the key):

>>> RewardConfig(schema_weight=-1.0).schema_weight, RewardConfig().exec_timeout
(-1.0, 30.0)
>>> try:
...     RewardConfig.coerce({"sytax_weight": 0.2})
... except ValueError as exc:
...     print(exc.errors()[0]["loc"], exc.errors()[0]["type"])
('sytax_weight',) extra_forbidden
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["REWARD_DEFAULTS", "RewardConfig"]


class RewardConfig(BaseModel):
    """Reward weights (the seed's keys), SQL-R1 baseline options and adapter options.

    The ``*_weight`` keys belong to the dense components of :mod:`sqlr1x.rewards.registry`
    (``schema_weight`` → ``schema``, ``structural_*_weight`` → ``structural``, ``syntax_weight`` →
    ``syntax``); a test checks that every component's keys are fields here and vice versa.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enable_enhanced: bool = Field(True, description="add the dense components to the SQL-R1 baseline")
    # dense components (sqlr1x.rewards.registry)
    schema_weight: float = Field(-0.5, description="schema: per distinct hallucinated table/column")
    structural_select_weight: float = Field(0.3, description="structural: SELECT/DISTINCT/ORDER BY/LIMIT F1")
    structural_where_weight: float = Field(0.3, description="structural: WHERE/GROUP BY/HAVING F1")
    structural_join_weight: float = Field(0.2, description="structural: FROM/JOIN tables and conditions F1")
    syntax_weight: float = Field(0.2, description="syntax: one well-formed DML statement (sqlglot + SQLite)")
    baseline: Literal["sqlr1", "arctic_exec", "row_overlap"] = Field(
        "sqlr1",
        description="baseline term: sqlr1 = SQL-R1's reward; arctic_exec = 1 correct / 0.1 executes / 0"
        " (Arctic-Text2SQL-R1); row_overlap = 1 correct / 0.1 + 0.5 x result-row F1 when it executes"
        " (Think2SQL-style); sqlr1x.rewards.exec_only",
    )
    # SQL-R1 baseline options
    exec_timeout: float = Field(30.0, gt=0, description="seconds per SQL execution (SQL-R1: 30)")
    empty_result_guard: bool = Field(False, description="no credit when gold and prediction are both empty")
    workers: int | None = Field(
        None, ge=1, description="processes executing SQL per reward batch (null: one per CPU; 1: in-process)"
    )
    compare_mode: Literal["spider", "bird", "ordered"] = Field(
        "spider",
        description="result comparison (sqlr1x.db.compare.execution_match): Spider test-suite, BIRD's"
        " set(rows) or ordered rows; verl chooses it per row from data_source instead",
    )
    db_root: str | None = Field(
        None, description="folder holding <db_id>/<db_id>.sqlite for rows that name a db_id but no db_path"
    )
    # adapter options
    prefilled_think: bool | Literal["auto"] = Field(
        "auto",
        description="the prompt ends with <think>: 'auto' decides per sample (TRL: from the prompt; verl:"
        " extra_info['prefilled_think'], else false), true/false force it",
    )
    unknown_source: Literal["error", "spider", "bird"] = Field(
        "error", description="verl: result comparison for a data_source it does not know (error: raise)"
    )

    @classmethod
    def coerce(cls, config: Any = None, **overrides: Any) -> RewardConfig:
        """A validated ``RewardConfig`` from a ``RewardConfig``, a mapping or any object with the fields.

        A ``None`` in the mapping or on the object means "the default"; a ``None`` override means
        "not given" (``config``'s value stays), so unset command-line flags can be passed as they are.
        A mapping or an override with a key that is not a field raises ``pydantic.ValidationError``
        (a ``ValueError``); an object's other attributes are not looked at.

        Args:
            config: ``None`` (all defaults), a ``RewardConfig`` (``TrainConfig.reward``), a mapping
                (a YAML section, verl's ``reward_kwargs``) or an object with some of the fields.
            **overrides: field values that win over ``config``'s.

        >>> RewardConfig.coerce({"workers": "4", "exec_timeout": None}, syntax_weight=0.5).model_dump(
        ...     include={"workers", "exec_timeout", "syntax_weight"})
        {'syntax_weight': 0.5, 'exec_timeout': 30.0, 'workers': 4}
        """
        if isinstance(config, RewardConfig):
            data = config.model_dump(exclude_unset=True)
        elif config is None:
            data = {}
        elif isinstance(config, Mapping):
            data = dict(config)
        else:
            data = {name: getattr(config, name) for name in cls.model_fields if hasattr(config, name)}
        data = {k: v for k, v in data.items() if v is not None}
        data.update((k, v) for k, v in overrides.items() if v is not None)
        return cls.model_validate(data)


#: The defaults, for keyword defaults elsewhere (``SQLR1Baseline(timeout=REWARD_DEFAULTS.exec_timeout)``).
REWARD_DEFAULTS = RewardConfig()
