"""The dense reward components, one entry each: the single list the computer, TRL and verl iterate.

A component's ``name`` is used everywhere it appears:

========================  ==========================================================
config keys               ``<name>_weight`` or ``<name>_<part>_weight`` (:class:`RewardConfig`)
result field              ``RewardResult.<name>`` (and ``RewardResult.components[name]``)
TRL reward function       ``<name>`` (TRL logs ``rewards/<name>/mean``)
verl score key            ``<name>`` in ``compute_score``'s dict
computer attribute        ``EnhancedRewardComputer.<name>_reward`` (the seed's ``schema_reward`` ...)
========================  ==========================================================

An entry names the reward class (the seed-compatible configuring class, in its own module), maps
its :class:`~sqlr1x.rewards.config.RewardConfig` keys onto the class's keywords, and turns the shared
:class:`SQLAnalysis` of a completion into the term. The computer scores the components in this
order, except that *penalties* (``penalty=True``) come last: they are bounded by what the SQL
earned from the others (R5 of docs/rewards.md#reward-semantics-and-the-audit). SQL that SQLite
does not parse gets no term from any component.

docs/architecture.md#adding-a-reward-component walks through adding one.

>>> [c.name for c in COMPONENTS]
['schema', 'structural', 'syntax']
>>> component("structural").weights
{'structural_select_weight': 'select_weight', 'structural_where_weight': 'where_weight', 'structural_join_weight': 'join_weight'}
>>> component("syntax").build(RewardConfig(syntax_weight=0.4))
EnhancedSyntaxReward(weight=0.4)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlr1x.rewards.config import RewardConfig
from sqlr1x.rewards.schema_aware import SchemaAwareReward, bounded_schema_penalty
from sqlr1x.rewards.structural import StructuralReward
from sqlr1x.rewards.syntax import EnhancedSyntaxReward, SyntaxCheck
from sqlr1x.sql.analysis import Hallucination, ParsedSQL
from sqlr1x.sql.schema import Schema

__all__ = ["COMPONENTS", "Component", "SQLAnalysis", "Term", "component", "names", "weight_keys"]


@dataclass
class SQLAnalysis:
    """One completion's SQL as the components see it: parsed once, shared by every component.

    ``syntax`` and ``hallucinations`` are computed for every SQL (evaluation reports them also for
    broken SQL); ``gold`` is None without a usable gold query, ``schema`` None without a schema.
    """

    parsed: ParsedSQL
    syntax: SyntaxCheck
    gold: ParsedSQL | None = None
    schema: Schema | None = None
    hallucinations: list[Hallucination] = field(default_factory=list)


@dataclass(frozen=True)
class Term:
    """A component's term for one SQL, with what it was computed from.

    ``detail`` goes to the ``RewardResult`` attribute the entry names in ``detail_field`` (the
    structural diff that ``sqlr1x reward --explain`` prints); ``reason`` says why a term is 0
    when that is not obvious.
    """

    value: float
    detail: Any = None
    reason: str = ""


# (reward instance, analysis, earned) -> Term; ``earned`` is the sum of the non-penalty terms
# already scored (0 for non-penalty components).
Scorer = Callable[[Any, SQLAnalysis, float], Term]


@dataclass(frozen=True)
class Component:
    """A registry entry; see the module docstring for what ``name`` names.

    Attributes:
        name: the component's one name.
        reward_class: the configuring class (seed API: ``.compute(...)``), built with ``weights``.
        weights: ``RewardConfig`` field → keyword of ``reward_class``.
        score: turns the shared analysis into the term (see :data:`Scorer`).
        penalty: scored after the others and given what they earned, so it can be bounded by it.
        detail_field: the ``RewardResult`` attribute that receives ``Term.detail``, if any.
        summary: one line for docs and ``--help`` texts.
    """

    name: str
    reward_class: Callable[..., Any]
    weights: Mapping[str, str]
    score: Scorer
    penalty: bool = False
    detail_field: str | None = None
    summary: str = ""

    def build(self, config: RewardConfig) -> Any:
        """The configured reward instance, its keywords read from ``config``."""
        return self.reward_class(**{kw: getattr(config, key) for key, kw in self.weights.items()})


def _schema_term(reward: SchemaAwareReward, a: SQLAnalysis, earned: float) -> Term:
    # weight × distinct hallucinations, softly bounded by 3/4 of what the SQL earned (R5)
    return Term(bounded_schema_penalty(reward.weight, len(a.hallucinations), earned))


def _structural_term(reward: StructuralReward, a: SQLAnalysis, earned: float) -> Term:
    if a.gold is None:
        return Term(0.0, reason="no gold SQL for the structural reward")
    # the schema (when there is one) qualifies unqualified columns of multi-table queries
    diff = reward.diff(a.parsed, a.gold, schema=a.schema)
    return Term(diff.score, detail=diff)


def _syntax_term(reward: EnhancedSyntaxReward, a: SQLAnalysis, earned: float) -> Term:
    return Term(reward.weight if a.syntax.valid else 0.0)


COMPONENTS: tuple[Component, ...] = (
    Component(
        name="schema",
        reward_class=SchemaAwareReward,
        weights={"schema_weight": "weight"},
        score=_schema_term,
        penalty=True,
        summary="penalty per distinct hallucinated table or column, bounded by what the SQL earned",
    ),
    Component(
        name="structural",
        reward_class=StructuralReward,
        weights={
            "structural_select_weight": "select_weight",
            "structural_where_weight": "where_weight",
            "structural_join_weight": "join_weight",
        },
        score=_structural_term,
        detail_field="structural_diff",
        summary="clause-set F1 against the gold query (SELECT, WHERE, JOIN weights)",
    ),
    Component(
        name="syntax",
        reward_class=EnhancedSyntaxReward,
        weights={"syntax_weight": "weight"},
        score=_syntax_term,
        summary="one well-formed DML statement by sqlglot's AST and SQLite's parser",
    ),
)

# The computer, TRL and verl read COMPONENTS when they build or score (not at import), so a test
# can register a component with monkeypatch.setattr(registry, "COMPONENTS", ...).


def names() -> tuple[str, ...]:
    """The registered components' names, in registry order."""
    return tuple(c.name for c in COMPONENTS)


def weight_keys() -> tuple[str, ...]:
    """Every ``RewardConfig`` key that weights a component, in registry order."""
    return tuple(key for c in COMPONENTS for key in c.weights)


def component(name: str) -> Component:
    """The entry called ``name``; ``KeyError`` naming the valid ones otherwise."""
    for c in COMPONENTS:
        if c.name == name:
            return c
    raise KeyError(f"no reward component {name!r}; registered: {list(names())}")
