"""Canonical clause components: the parts of a query that decide its result, as comparable items.

A query becomes a set of :class:`Component` items, each tagged with the :class:`Clause` it comes
from: SELECT items (with DISTINCT and aggregates), WHERE / HAVING predicates, GROUP BY keys,
ORDER BY keys with their direction, LIMIT, the set operator, the joined tables and their join
conditions. Two queries that differ only in item order, AND-ed predicate order, ``a = b`` operand
order, aliases, letter case, JOIN ON versus comma join, or a CTE / derived table versus the flat
form give the same set. Each item also carries ``parts`` (e.g. column, operator, value of a
predicate) so that :func:`similarity` can give partial credit to a near miss.

>>> c = clause_components("SELECT e.name FROM employees AS e WHERE 10 < e.salary ORDER BY e.age DESC LIMIT 1")
>>> sorted(c.select), sorted(c.where), sorted(c.order_by), sorted(c.limit)
(['employees.name'], ['10 < employees.salary'], ['employees.age desc'], ['1'])
>>> flat = clause_components("SELECT name FROM employees WHERE salary > 10")
>>> flat == clause_components("WITH rich AS (SELECT * FROM employees WHERE salary > 10) SELECT r.name FROM rich AS r")
True
>>> p = next(iter(clause_components("SELECT name FROM employees WHERE salary > 20").of(Clause.WHERE)))
>>> q = next(iter(flat.of(Clause.WHERE)))
>>> p.parts, round(similarity(p, q), 3)  # same column and operator, another value
(('employees.salary', '>', '20'), 0.8)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from sqlglot import exp

from sqlr1x.sql.parse import ParsedSQL, parse_sql
from sqlr1x.sql.parse import cte_column_list as _cte_column_list
from sqlr1x.sql.parse import double_quoted as _double_quoted
from sqlr1x.sql.schema import Schema

__all__ = [
    "Clause",
    "ClauseComponents",
    "Component",
    "InferredOwners",
    "clause_components",
    "paired_components",
    "similarity",
]


# --------------------------------------------------------------------------------- named types
class Clause(Enum):
    """Where a component comes from."""

    SELECT = "select"
    DISTINCT = "distinct"
    ORDER_BY = "order by"
    LIMIT = "limit"
    SET_OP = "set operator"
    WHERE = "where"
    GROUP_BY = "group by"
    HAVING = "having"
    TABLE = "table"
    JOIN_ON = "on"

    # Members are singletons: identity hashing is exact, and C-level (Enum's own hashes the name
    # in Python, which showed in the profile of every set of components).
    __hash__ = object.__hash__


# Items shown without a clause prefix (their clause is obvious from the reward's clause group).
_BARE = frozenset({Clause.SELECT, Clause.WHERE, Clause.TABLE, Clause.JOIN_ON, Clause.DISTINCT})
# These earn partial credit only when their first part is equal: the right table (LEFT JOIN t vs
# JOIN t); a set operator is right or wrong (EXCEPT is not half an INTERSECT).
_ANCHORED = frozenset({Clause.TABLE, Clause.SET_OP})


class Component(NamedTuple):
    """One canonical item of a query.

    ``key`` decides equality; ``parts`` are the slots that :func:`similarity` compares for partial
    credit: ``(column, operator, value)`` for a predicate, ``(aggregate, argument)`` for a SELECT
    item, ``(key, direction)`` for an ORDER BY key, ``(clause, key)`` for a GROUP BY key or LIMIT.
    """

    clause: Clause
    key: str
    parts: tuple[str, ...]

    @property
    def label(self) -> str:
        """The item as shown in a diff: ``employees.name``, ``on a.id = b.id``, ``order by x desc``."""
        if self.clause in _BARE:
            return self.key
        return f"{self.clause.value} {self.key}"


def similarity(a: Component, b: Component) -> float:
    """How much of gold item ``b`` the prediction item ``a`` gets right, in [0, 1].

    1 for equal items; 0 across clauses. Within a clause, with ``n`` parts of which ``k`` are equal:

    * one part wrong (``k = n - 1``): ``(n + 1) / (n + 2)`` — 4/5 for a predicate with a wrong
      column, operator or value, 3/4 for an ORDER BY key with the wrong direction, 2/3 for a
      wrong LIMIT. A near miss keeps most of the credit, so it outscores a query that drops the
      clause (which loses all of it);
    * more parts wrong: ``k / (2n)``, so a junk predicate such as ``1 = 1`` earns nothing.

    Items without parts (an OR group, EXISTS…) match only exactly.

    >>> p = Component(Clause.WHERE, "10 < t.x", ("t.x", ">", "10"))
    >>> similarity(p, p), similarity(p, Component(Clause.WHERE, "t.x < 10", ("t.x", "<", "10")))
    (1.0, 0.8)
    >>> similarity(p, Component(Clause.WHERE, "1 = 1", ("1", "=", "1")))
    0.0
    >>> similarity(p, Component(Clause.HAVING, "10 < t.x", ("t.x", ">", "10")))
    0.0
    """
    if a.clause is not b.clause:
        return 0.0
    if a.key == b.key:
        return 1.0
    pa, pb = a.parts, b.parts
    n = len(pa)
    if n != len(pb) or n == 0:
        return 0.0
    if a.clause in _ANCHORED and pa[0] != pb[0]:
        return 0.0
    k = sum(x == y for x, y in zip(pa, pb, strict=True))
    if k >= n - 1:  # (k == n: equal parts, another key — e.g. the same item in the other EXCEPT arm)
        return (n + 1) / (n + 2)
    return k / (2 * n)


@dataclass(frozen=True)
class ClauseComponents:
    """The canonical components of one query (compared by ``items`` only).

    ``refs`` holds the ``(table, column)`` pairs the query resolved (from qualified columns and
    single-table SELECTs); ``unresolved`` the unqualified column names of multi-table SELECTs that no
    known table offers. :func:`paired_components` uses both to qualify one query's columns with what
    the other query says.
    """

    items: frozenset[Component]
    refs: frozenset[tuple[str, str]] = field(default=frozenset(), compare=False)
    unresolved: frozenset[str] = field(default=frozenset(), compare=False)

    def of(self, *clauses: Clause) -> frozenset[Component]:
        """The items of the given clauses (memoised per tuple of clauses)."""
        memo = self._memo
        hit = memo.get(clauses)
        if hit is None:
            hit = memo[clauses] = frozenset(c for c in self.items if c.clause in clauses)
        return hit

    def labels(self, *clauses: Clause) -> frozenset[str]:
        """The labels of the items of the given clauses (memoised)."""
        memo = self._memo
        key = ("labels", *clauses)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = frozenset(c.label for c in self.of(*clauses))
        return hit

    @cached_property
    def _memo(self) -> dict[tuple, frozenset]:
        return {}

    def keys(self, *clauses: Clause) -> frozenset[str]:
        return frozenset(c.key for c in self.items if c.clause in clauses)

    @cached_property
    def select(self) -> frozenset[str]:
        """SELECT items (aliases dropped)."""
        return self.keys(Clause.SELECT)

    @cached_property
    def where(self) -> frozenset[str]:
        """WHERE conjuncts (and ON conjuncts of inner joins that are not column = column)."""
        return self.keys(Clause.WHERE)

    @cached_property
    def joins(self) -> frozenset[str]:
        """Tables (``left join t`` for outer joins, ``t#2`` for a second instance) and ``on …`` conditions."""
        return self.keys(Clause.TABLE, Clause.JOIN_ON)

    @property
    def group_by(self) -> frozenset[str]:
        return self.keys(Clause.GROUP_BY)

    @property
    def having(self) -> frozenset[str]:
        return self.keys(Clause.HAVING)

    @property
    def order_by(self) -> frozenset[str]:
        return self.keys(Clause.ORDER_BY)

    @property
    def limit(self) -> frozenset[str]:
        return self.keys(Clause.LIMIT)

    @property
    def set_ops(self) -> frozenset[str]:
        return self.keys(Clause.SET_OP)

    @property
    def distinct(self) -> bool:
        return any(c.clause is Clause.DISTINCT for c in self.items)


# ----------------------------------------------------------------------------- column owners
class InferredOwners(NamedTuple):
    """Which table has which column, as far as the queries themselves say (no schema).

    A table "offers" a column when some query reads it qualified (``e.salary``) or from a
    single-table SELECT; an unqualified column of a multi-table SELECT belongs to the one table that
    offers it. ``names`` are the column names written in the query (for the double-quote rule).
    """

    pairs: frozenset[tuple[str, str]]
    names: frozenset[str]

    def has(self, table: str, column: str) -> bool:
        return (table, column) in self.pairs


class _SchemaOwners:
    """A schema's lower-cased column names per table, hashed and compared by ``schema.key``."""

    __slots__ = ("__dict__", "_hash", "key", "schema")
    _memo: dict[int, _SchemaOwners] = {}  # id(Schema) → owners; the entry keeps the Schema alive

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.key = schema.key
        self._hash = hash(self.key)

    @classmethod
    def of(cls, schema: Any) -> _SchemaOwners:
        schema = Schema.coerce(schema)
        owners = cls._memo.get(id(schema))
        if owners is None or owners.schema is not schema:
            owners = cls(schema)
            if len(cls._memo) >= 256:
                cls._memo.clear()
            cls._memo[id(schema)] = owners
        return owners

    def has(self, table: str, column: str) -> bool:
        t = self.schema.table(table)
        return t is not None and column in t.lower_column_names

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(n for t in self.schema.tables.values() for n in t.lower_column_names)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _SchemaOwners) and self.key == other.key)


_Owners = InferredOwners | _SchemaOwners


# ----------------------------------------------------------------------------- entry points
def clause_components(sql: str | ParsedSQL, schema: Any = None) -> ClauseComponents | None:
    """The canonical components of ``sql`` (its first statement); None when unparseable.

    Invariant to item and predicate order, table aliases, identifier case (string literals keep
    theirs), operand order of ``=``/``!=``/``IS`` and ``a < b`` vs ``b > a``, ``NOT x LIKE p`` vs
    ``x NOT LIKE p``, IN-list order, ``JOIN … ON`` vs comma join with the condition in WHERE, and a
    CTE or derived table vs the flat form (their tables, predicates and keys are inlined, and a
    column read from them is replaced by the expression it names). ``COUNT(*)`` over ``SELECT
    DISTINCT x … [WHERE x IS NOT NULL]`` reads as ``COUNT(DISTINCT x)``. A second instance of a
    table (self-join) is ``t#2``. A double-quoted token is a string literal only in a literal
    position (an operand of a comparison, IN, LIKE or BETWEEN whose other side is a column) when it
    names no known column (Spider's ``name = "John"``); anywhere else it is a column.

    Unqualified columns of a single-table SELECT are qualified with that table; in a multi-table
    SELECT with the one table that offers the column: by ``schema`` when given (a
    :class:`~sqlr1x.sql.schema.Schema` or anything ``Schema.coerce`` accepts), else by the query's
    own qualified columns (see :func:`paired_components` to use the other query's too). Results are
    cached per (SQL, ``schema.key``).

    >>> a = clause_components("SELECT T1.a, b FROM t AS T1 WHERE x = 1 AND y > 2")
    >>> a == clause_components("select B, t.A from T where 2 < Y and 1 = X")
    True
    >>> s = {"tables": {"t": {"columns": ["a"]}, "u": {"columns": ["a", "b"]}}}
    >>> sorted(clause_components("SELECT a, b FROM t JOIN u", schema=s).select)
    ['a', 'u.b']
    """
    # ``schema`` is not keyword-only on purpose: CPython 3.11 does not specialise calls to functions
    # with keyword-only parameters, which costs the cached no-schema hot path ~7%.
    parsed = parse_sql(sql)
    if not parsed.ok:
        return None
    if schema is None:
        return _components_cached(parsed.sql)
    return _components_with_cached(parsed.sql, _SchemaOwners.of(schema))


def paired_components(
    pred: str | ParsedSQL, gold: str | ParsedSQL, schema: Any = None
) -> tuple[ClauseComponents | None, ClauseComponents | None]:
    """Components of a prediction and its gold, each qualified with what both queries say.

    With a schema this is ``clause_components`` of each. Without one, an unqualified column of a
    multi-table SELECT that its own query cannot place is qualified with the one table of that
    SELECT that either query reads the column from, so ``SELECT name FROM e JOIN d …`` matches
    ``SELECT e.name FROM e JOIN d …`` unless some query reads ``d.name`` too.

    >>> p, g = paired_components("SELECT name FROM e JOIN d ON e.k = d.k", "SELECT x.name FROM e AS x JOIN d ON x.k = d.k")
    >>> p == g, sorted(p.select)
    (True, ['e.name'])
    """
    p = clause_components(pred, schema)
    g = clause_components(gold, schema)
    if schema is not None or p is None or g is None:
        return p, g
    if p.unresolved and any(column in p.unresolved for _, column in g.refs):
        p = _components_with_cached(parse_sql(pred).sql, _inferred(p.refs | g.refs, parse_sql(pred)))
    if g.unresolved and any(column in g.unresolved for _, column in p.refs):
        g = _components_with_cached(parse_sql(gold).sql, _inferred(g.refs | p.refs, parse_sql(gold)))
    return p, g


def _inferred(pairs: frozenset[tuple[str, str]], parsed: ParsedSQL) -> InferredOwners:
    own = _prepass(parsed)
    return InferredOwners(pairs | own.pairs, own.names)


@lru_cache(maxsize=65536)
def _components_cached(sql: str) -> ClauseComponents | None:
    parsed = parse_sql(sql)
    if not parsed.ok:
        return None
    return _compute(parsed, None)


@lru_cache(maxsize=16384)
def _components_with_cached(sql: str, owners: _Owners) -> ClauseComponents | None:
    parsed = parse_sql(sql)
    if not parsed.ok:
        return None
    return _compute(parsed, owners)


def _prepass(parsed: ParsedSQL) -> InferredOwners:
    """What the query says itself: ``(table, column)`` of its qualified columns, and column names.

    Table aliases are resolved globally (good enough to learn which table has which column); a
    double-quoted unqualified token is not counted as a name (it may be a string).
    """
    expression = parsed.expression
    aliases: dict[str, str] = {}
    for table in expression.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier):
            aliases[table.alias_or_name.lower()] = table.name.lower()
    pairs: set[tuple[str, str]] = set()
    names: set[str] = set()
    for column in expression.find_all(exp.Column):
        ident = column.this
        if not isinstance(ident, exp.Identifier):
            continue
        name = ident.this.lower()
        qualifier = column.args.get("table")
        if qualifier is not None and qualifier.name:
            names.add(name)
            table = aliases.get(qualifier.name.lower())
            if table is not None:
                pairs.add((table, name))
        elif not _double_quoted(ident, parsed.sql):
            names.add(name)
    return InferredOwners(frozenset(pairs), frozenset(names))


def _compute(parsed: ParsedSQL, owners: _Owners | None) -> ClauseComponents | None:
    """``owners`` None: the query's own qualified columns (read only when a column needs them)."""
    canon = _Canon(parsed, owners)
    try:
        items = canon.statement(parsed.expression)
    except (RecursionError, AttributeError, TypeError, ValueError, KeyError, IndexError):
        # Rewards never raise into a trainer: an AST shape this code does not expect (none known;
        # tests/test_analysis.py fuzzes it) reads as unparseable.
        return None
    return ClauseComponents(frozenset(items), frozenset(canon.refs), frozenset(canon.unresolved))


# ----------------------------------------------------------------------------- canonicaliser
_SYMMETRIC = {exp.EQ: " = ", exp.NEQ: " != ", exp.NullSafeEQ: " is ", exp.NullSafeNEQ: " is not "}
_FLIPPED = {exp.GT: " < ", exp.GTE: " <= "}  # b > a  →  a < b
_ORDERED = {exp.LT: " < ", exp.LTE: " <= "}
# The operator of a comparison as seen from its left operand, and seen from its right one.
_COMPARISON = {
    exp.EQ: ("=", "="),
    exp.NEQ: ("!=", "!="),
    exp.NullSafeEQ: ("is", "is"),
    exp.NullSafeNEQ: ("is not", "is not"),
    exp.GT: (">", "<"),
    exp.GTE: (">=", "<="),
    exp.LT: ("<", ">"),
    exp.LTE: ("<=", ">="),
}
_BINARY = {
    exp.Add: " + ",
    exp.Sub: " - ",
    exp.Mul: " * ",
    exp.Div: " / ",
    exp.Mod: " % ",
    exp.DPipe: " || ",
    exp.Is: " is ",
    exp.Like: " like ",
    exp.ILike: " ilike ",
    exp.Glob: " glob ",
    exp.RegexpLike: " regexp ",
}
_PATTERN_OPS = (exp.Like, exp.ILike, exp.Glob, exp.RegexpLike, exp.Is)
_PREDICATES = frozenset({exp.In, exp.Between, *_PATTERN_OPS})  # read with (column, operator, value) parts
_PREDICATE_OPERANDS = (exp.Predicate, exp.In, exp.Between)
_OUTER_SIDES = frozenset({"left", "right", "full"})
_MAX_TEXT = 2000  # a longer rendered expression / CTE body is referenced by a digest


@dataclass(slots=True)
class _Source:
    """A FROM/JOIN item as the columns of its SELECT see it."""

    instance: str  # real table: its name, or "t#2" for a second instance; "" for a derived source
    table: str  # real table name (for owner look-ups); "" for a derived source
    outputs: dict[str, str] | None = None  # derived: output name → canonical text; None: unknown (*)
    star_table: str = ""  # derived ``SELECT * FROM t``: columns read through it are ``t``'s


@dataclass(slots=True)
class _Frame:
    """The sources of one SELECT, by lower-cased alias (or table name) and in FROM order."""

    by_alias: dict[str, _Source]
    sources: list[_Source]


@dataclass(slots=True)
class _Query:
    """What a (sub)query contributes: its items, and its output columns for whoever reads it."""

    items: set[Component]
    outputs: dict[str, str] | None
    star_table: str = ""

    def of_clause(self, clause: Clause) -> set[str]:
        return {c.key for c in self.items if c.clause is clause}


class _Canon:
    """Builds the components of one statement, resolving aliases through a stack of SELECT frames.

    The algorithm, for one SELECT (``select``), bottom-up:

    1. Sources. Each FROM/JOIN item becomes a ``_Source`` in a new frame: a real table is a TABLE
       item named by the table (``t#2`` for its second instance, so self-join aliases stay apart);
       a derived table or CTE body is canonicalised first, in a fresh frame stack (it cannot see
       the query it feeds), once per body (``derived``), and its items except its SELECT list join
       this query's; it then answers column look-ups with the expressions it outputs (inlining).
    2. SELECT items. Each item is rendered with ``r``: a column becomes ``table.column`` through the
       frames (``column``): a qualifier names an alias of this or an enclosing frame; an
       unqualified name belongs to the only source, or to the one source that offers it (schema or
       inferred owners), else it stays bare and is recorded in ``unresolved``.
    3. Predicates. WHERE conjuncts and inner-join ON conjuncts form one pool; each becomes an item
       with (column, operator, value) parts read from the column side (``predicate``); a
       column = column equality across two sources is a join condition.
    4. GROUP BY keys and HAVING predicates; 5. ORDER BY keys with direction, LIMIT / OFFSET.

    A set operation merges its arms' items and adds its operator; a subquery inside an expression
    is rendered as the sorted labels of its own items (``subquery``).
    """

    def __init__(self, parsed: ParsedSQL, owners: _Owners | None) -> None:
        self.parsed = parsed
        self.sql = parsed.sql
        self._owners = owners
        self.frames: list[_Frame] = []
        self.ctes: list[dict[str, exp.Expression]] = []  # WITH clauses in force: name → body
        self.expanding: set[str] = set()  # CTEs being read (a recursive CTE names itself)
        self.memo: dict[int, _Query] = {}  # CTE / derived bodies already read, by id
        self.texts: dict[int, str] = {}  # rendered subqueries, by id
        self.order_aliases: dict[str, str] | None = None  # SELECT aliases, while reading ORDER BY
        self.refs: set[tuple[str, str]] = set()
        self.unresolved: set[str] = set()

    @property
    def owners(self) -> _Owners:
        if self._owners is None:  # most queries never need it: the pre-pass walks the whole tree
            self._owners = _prepass(self.parsed)
        return self._owners

    @property
    def names(self) -> frozenset[str]:
        """Known column names: a double-quoted one is never a string literal."""
        return self.owners.names

    # ------------------------------------------------------------------ statements and queries
    def statement(self, node: exp.Expression) -> set[Component]:
        if isinstance(node, (exp.Query, exp.Subquery)):
            return self.query(node).items
        # UPDATE / DELETE / INSERT: the target table and the WHERE conjuncts.
        table = node.args.get("this")
        items: set[Component] = set()
        by_alias: dict[str, _Source] = {}
        if isinstance(table, exp.Table) and table.name:
            name = table.name.lower()
            items.add(Component(Clause.TABLE, name, (name, "")))
            by_alias[table.alias_or_name.lower()] = _Source(name, name)
        self.frames.append(_Frame(by_alias, list(by_alias.values())))
        try:
            where = node.args.get("where")
            if where is not None:
                items.update(self.predicate(p, Clause.WHERE) for p in _flatten(where.this, exp.And))
        finally:
            self.frames.pop()
        return items

    def query(self, node: exp.Expression) -> _Query:
        while isinstance(node, (exp.Subquery, exp.Paren)):
            node = node.this
        entered = self.enter_with(node)
        try:
            if isinstance(node, exp.Select):
                return self.count_distinct(node) or self.select(node)
            if isinstance(node, exp.SetOperation):
                return self.set_operation(node)
            return _Query({Component(Clause.SELECT, self.r(node), ("", self.r(node)))}, None)
        finally:
            if entered:
                self.ctes.pop()

    def set_operation(self, node: exp.SetOperation) -> _Query:
        # The arms' items merge; the operator itself is an item, so EXCEPT ≠ INTERSECT ≠ UNION.
        left = self.query(node.this)
        right = self.query(node.expression)
        kind = node.key + ("" if node.args.get("distinct", True) else " all")
        right_items = right.items
        if isinstance(node, exp.Except):
            # A EXCEPT B is not B EXCEPT A: the subtracted arm's items are marked as such.
            right_items = {
                c if c.clause is Clause.SET_OP else Component(c.clause, "except " + c.key, c.parts)
                for c in right_items
            }
        items = left.items | right_items | {Component(Clause.SET_OP, kind, (kind,))}
        # ORDER BY / LIMIT of a compound query name the output columns of its first arm.
        frame = _Frame({}, [_Source("", "", left.outputs, left.star_table)])
        self.frames.append(frame)
        try:
            items |= self.order_and_limit(node, {})
        finally:
            self.frames.pop()
        return _Query(items, left.outputs, left.star_table)

    def select(self, node: exp.Select) -> _Query:
        # Step 1: the FROM/JOIN sources. Real tables become TABLE items; a derived table or CTE is
        # read recursively and its items (all but its SELECT list) merge into this query's.
        items: set[Component] = set()
        frame = self.frame(node, items)
        self.frames.append(frame)
        try:
            # Step 2: SELECT items, aliases dropped, ``*`` over derived sources expanded.
            args = node.args
            keyed = args.get("group") is not None or args.get("order") is not None
            outputs: dict[str, str] | None = {}
            aliases: dict[str, str] = {}  # for ORDER BY / GROUP BY: alias and "#2" → item key
            for i, e in enumerate(node.expressions):
                for component, name in self.select_items(e, frame):
                    items.add(component)
                    if outputs is not None:
                        if name is None:
                            outputs = None
                        else:
                            outputs.setdefault(name, component.key)
                    if keyed:
                        if type(e) is exp.Alias:
                            aliases[e.alias.lower()] = component.key
                        aliases.setdefault(f"#{i + 1}", component.key)
            if node.args.get("distinct"):
                items.add(Component(Clause.DISTINCT, "distinct", ("distinct",)))
            # Step 3: predicates. An inner join's ON conjuncts and the WHERE conjuncts are one pool
            # (``a JOIN b ON c`` = ``a, b WHERE c``); a column = column equality across two sources
            # in that pool is a join condition, anything else a WHERE predicate. An outer join's ON
            # conjuncts stay join conditions.
            pool = _flatten(node.args["where"].this, exp.And) if node.args.get("where") else []
            left = frame.sources[0] if frame.sources else None
            for join in node.args.get("joins") or []:
                on = join.args.get("on")
                side = (join.side or "").lower()
                if on is not None:
                    if side in _OUTER_SIDES:
                        items.update(self.join_condition(p) for p in _flatten(on, exp.And))
                    else:
                        pool.extend(_flatten(on, exp.And))
                using = join.args.get("using") or []
                right = self.source_of(join.this, frame)
                for u in using:  # USING (c) is ON left.c = right.c
                    a = self.through(left, u.name.lower()) if left else u.name.lower()
                    b = self.through(right, u.name.lower()) if right else u.name.lower()
                    x, y = sorted((a, b))
                    items.add(Component(Clause.JOIN_ON, f"on {x} = {y}", (x, "=", y)))
            for p in pool:
                if type(p) is exp.Boolean and p.this:
                    continue  # sqlglot reads ``a JOIN b`` without ON as ON TRUE
                component = self.predicate(p, Clause.WHERE)
                if _is_join_equality(p, component):
                    component = Component(Clause.JOIN_ON, "on " + component.key, component.parts)
                items.add(component)
            # Step 4: GROUP BY keys (a set: their order does not change the result), HAVING.
            group = node.args.get("group")
            if group is not None:
                for g in group.expressions:
                    key = self.key_text(g, aliases)
                    items.add(Component(Clause.GROUP_BY, key, _column_parts(key)))
            having = node.args.get("having")
            if having is not None:
                items.update(self.predicate(p, Clause.HAVING) for p in _flatten(having.this, exp.And))
            # Step 5: ORDER BY keys with their direction, LIMIT / OFFSET.
            items |= self.order_and_limit(node, aliases)
        finally:
            self.frames.pop()
        # ``SELECT * FROM t`` read as a derived table: its columns are t's.
        star_table = ""
        if outputs is None and len(frame.sources) == 1:
            only = frame.sources[0]
            star_table = only.instance if only.table else only.star_table
        return _Query(items, outputs, star_table)

    def count_distinct(self, node: exp.Select) -> _Query | None:
        """``SELECT COUNT(*) FROM (SELECT DISTINCT x … [AND x IS NOT NULL])`` as ``COUNT(DISTINCT x)``.

        Both count the distinct non-NULL values of ``x`` (Spider's evaluator accepts one for the
        other); without the IS NOT NULL the derived form also counts one NULL. ``SELECT x … GROUP
        BY x`` inside reads like ``SELECT DISTINCT x``.
        """
        expressions = node.expressions
        if len(expressions) != 1:
            return None
        count = expressions[0]
        if type(count) is exp.Alias:
            count = count.this
        if type(count) is not exp.Count or type(count.this) is not exp.Star:
            return None
        args = node.args
        from_ = args.get("from_")
        if from_ is None or args.get("joins") or args.get("where") or args.get("group") or args.get("having"):
            return None
        source = from_.this
        body = self.cte(source) if isinstance(source, exp.Table) else source
        while isinstance(body, (exp.Subquery, exp.Paren)):
            body = body.this
        if (
            not isinstance(body, exp.Select)
            or len(body.expressions) != 1
            or isinstance(body.expressions[0].unalias(), exp.Star)
            or any(body.args.get(k) for k in ("having", "limit", "offset"))
        ):
            return None
        group = body.args.get("group")
        if not body.args.get("distinct") and (group is None or len(group.expressions) != 1):
            return None
        inner = self.derived(body)
        if not inner.outputs:
            return None
        x = next(iter(inner.outputs.values()))
        if group is not None and inner.of_clause(Clause.GROUP_BY) != {x}:
            return None  # grouped by something else than what it selects
        items = {
            c
            for c in inner.items
            if c.clause not in (Clause.SELECT, Clause.DISTINCT, Clause.ORDER_BY, Clause.GROUP_BY)
            and c.parts != (x, "is not", "null")
        }
        key = f"count(distinct {x})"
        items.add(Component(Clause.SELECT, key, _select_parts(key)))
        return _Query(items, {node.expressions[0].alias_or_name.lower(): key})

    def frame(self, node: exp.Select, items: set[Component]) -> _Frame:
        by_alias: dict[str, _Source] = {}
        sources: list[_Source] = []
        from_ = node.args.get("from_")
        pairs = [(from_.this, "")] if from_ is not None else []
        pairs += [(j.this, (j.side or "").lower()) for j in node.args.get("joins") or []]
        numbers = self.instance_numbers(node, pairs) if len(pairs) > 1 else {}
        for i, (source, side) in enumerate(pairs):
            prefix = f"{side} join " if side in _OUTER_SIDES else ""
            body = self.cte(source) if isinstance(source, exp.Table) else None
            if isinstance(source, exp.Table) and body is None and isinstance(source.this, exp.Identifier):
                table = source.name.lower()
                n = numbers.get(i, 1)
                instance = table if n == 1 else f"{table}#{n}"
                items.add(Component(Clause.TABLE, prefix + instance, (instance, side)))
                src = _Source(instance, table)
            elif body is not None or isinstance(source, exp.Subquery):
                if body is None:
                    body = source.this
                name = source.name.lower() if isinstance(source, exp.Table) else ""
                q = self.derived(body, name)
                items.update(c for c in q.items if c.clause is not Clause.SELECT)
                src = _Source("", "", q.outputs, q.star_table)
            else:  # a table-valued function, VALUES…: anything
                text = self.r(source.this if isinstance(source, exp.Table) else source)
                items.add(Component(Clause.TABLE, prefix + text, (text, side)))
                src = _Source("", "", None)
            alias = source.alias_or_name if isinstance(source, exp.Table) else source.alias
            by_alias[alias.lower()] = src
            sources.append(src)
        return _Frame(by_alias, sources)

    def instance_numbers(self, node: exp.Select, pairs: list[tuple[exp.Expression, str]]) -> dict[int, int]:
        """Number the instances of a table that a SELECT reads more than once (self-joins).

        An instance is known by what is read through its alias — which clause, which column —
        not by the alias or the FROM order, so ``emp a JOIN emp b`` and ``emp b JOIN emp a`` give
        the same instance the same number. Returns FROM position → number (1, 2, …).
        """
        by_table: dict[str, list[int]] = {}
        for i, (source, _) in enumerate(pairs):
            if (
                isinstance(source, exp.Table)
                and isinstance(source.this, exp.Identifier)
                and self.cte(source) is None
            ):
                by_table.setdefault(source.name.lower(), []).append(i)
        repeated = [positions for positions in by_table.values() if len(positions) > 1]
        if not repeated:
            return {}
        position = {pairs[i][0].alias_or_name.lower(): i for positions in repeated for i in positions}
        signature: dict[int, list[str]] = {i: [] for i in position.values()}
        for column in node.find_all(exp.Column):
            i = position.get(column.table.lower()) if column.table else None
            if i is not None:
                signature[i].append(_arg_key_under(column, node) + ":" + column.name.lower())
        out: dict[int, int] = {}
        for positions in repeated:
            ranked = sorted(positions, key=lambda i: (sorted(signature[i]), i))
            out.update({i: n for n, i in enumerate(ranked, 1)})
        return out

    def source_of(self, node: exp.Expression, frame: _Frame) -> _Source | None:
        alias = node.alias_or_name if isinstance(node, exp.Table) else node.alias
        return frame.by_alias.get(alias.lower())

    def derived(self, body: exp.Expression, cte_name: str = "") -> _Query:
        """Read a derived table / CTE body once; it sees no enclosing SELECT (SQLite has no LATERAL)."""
        hit = self.memo.get(id(body))
        if hit is not None:
            return hit
        frames, self.frames = self.frames, []
        if cte_name:
            self.expanding.add(cte_name)
        try:
            q = self.query(body)
        finally:
            self.frames = frames
            self.expanding.discard(cte_name)
        names = _cte_column_list(body) if cte_name else []
        if names and q.outputs is not None and len(names) == len(q.outputs):
            q = _Query(q.items, dict(zip((n.lower() for n in names), q.outputs.values(), strict=True)))
        elif names:
            q = _Query(q.items, {n.lower(): n.lower() for n in names})
        if q.outputs is not None:
            q.outputs = {k: _cap(v) for k, v in q.outputs.items()}
        self.memo[id(body)] = q
        return q

    def select_items(self, e: exp.Expression, frame: _Frame) -> list[tuple[Component, str | None]]:
        """The SELECT items of one expression, with the output name each exposes (None: unknown)."""
        inner = e.this if type(e) is exp.Alias else e
        kind = type(inner)
        if kind is exp.Column and type(inner.this) is exp.Identifier:  # the common case, fast
            key = self.column(inner)
            return [(Component(Clause.SELECT, key, _select_parts(key)), e.alias_or_name.lower())]
        if kind is exp.Star or (kind is exp.Column and type(inner.this) is exp.Star):
            qualifier = inner.args.get("table") if isinstance(inner, exp.Column) else None
            if qualifier is not None and qualifier.name:
                src = frame.by_alias.get(qualifier.name.lower())
                chosen = [src] if src is not None else []
            else:
                chosen = frame.sources
            if chosen and all(s.outputs is not None for s in chosen):  # ``*`` over derived sources
                return [
                    (Component(Clause.SELECT, text, _select_parts(text)), name)
                    for s in chosen
                    for name, text in s.outputs.items()  # type: ignore[union-attr]
                ]
            text = self.r(inner)
            return [(Component(Clause.SELECT, text, ("", text)), None)]
        key = self.r(inner)
        return [(Component(Clause.SELECT, key, _select_parts(key)), e.alias_or_name.lower())]

    def key_text(self, node: exp.Expression, aliases: dict[str, str]) -> str:
        """An ORDER BY / GROUP BY key: ``2`` names the second SELECT item."""
        if type(node) is exp.Literal and not node.is_string and node.this.isdigit():
            return aliases.get(f"#{node.this}", node.this)
        return self.r(node)

    def order_and_limit(self, node: exp.Expression, aliases: dict[str, str]) -> set[Component]:
        items: set[Component] = set()
        order = node.args.get("order")
        if order is not None:
            # SQLite reads an ORDER BY name as a SELECT alias first.
            self.order_aliases = {k: v for k, v in aliases.items() if not k.startswith("#")}
            try:
                for i, o in enumerate(order.expressions):
                    term = o.this if isinstance(o, exp.Ordered) else o
                    text = self.key_text(term, aliases)
                    if i:  # the first key decides most; later keys are kept apart by position
                        text = f"{text} ({i + 1})"
                    direction = "desc" if o.args.get("desc") else "asc"
                    items.add(Component(Clause.ORDER_BY, f"{text} {direction}", (text, direction)))
            finally:
                self.order_aliases = None
        limit = node.args.get("limit")
        if limit is not None:
            text = self.r(limit.expression or limit.this)
            offset = node.args.get("offset")
            if offset is not None:
                text += " offset " + self.r(offset.expression or offset.this)
            items.add(Component(Clause.LIMIT, text, (text,)))
        return items

    # ------------------------------------------------------------------------------ predicates
    def predicate(self, p: exp.Expression, clause: Clause) -> Component:
        """A predicate with its (column, operator, value) parts; other conditions compare whole."""
        node = p
        while type(node) is exp.Paren:
            node = node.this
        negate = False
        if type(node) is exp.Not:
            inner = node.this
            while type(inner) is exp.Paren:
                inner = inner.this
            if type(inner) in _PREDICATES:
                negate, node = True, inner
        t = type(node)
        if t in _COMPARISON:
            (a, rank_a), (b, rank_b) = self.operands(node.this, node.expression)
            if t in _SYMMETRIC:
                x, y = sorted((a, b))
                key = x + _SYMMETRIC[t] + y
            elif t in _FLIPPED:
                key = b + _FLIPPED[t] + a
            else:
                key = a + _ORDERED[t] + b
            # Parts read from the column side: ``10 < salary`` is (salary, >, 10).
            op_left, op_right = _COMPARISON[t]
            if (rank_b, b) < (rank_a, a):
                parts = (b, op_right, a)
            else:
                parts = (a, op_left, b)
            return Component(clause, key, parts)
        if t is exp.In:
            lhs = self.operand(node.this, None)
            query = node.args.get("query")
            if query is not None:
                rhs = self.r(query)
                key = f"{lhs} in {rhs}"
            else:
                rhs = "(" + ", ".join(sorted(self.operand(e, node.this) for e in node.expressions)) + ")"
                key = f"{lhs} in {rhs}"
            op = "in"
        elif t is exp.Between:
            lhs = self.operand(node.this, None)
            rhs = (
                self.operand(node.args["low"], node.this)
                + " and "
                + self.operand(node.args["high"], node.this)
            )
            key = f"{lhs} between {rhs}"
            op = "between"
        elif t in _PREDICATES:
            lhs = self.operand(node.this, None)
            rhs = self.operand(node.expression, node.this)
            op = _BINARY[t].strip()
            key = f"{lhs} {op} {rhs}"
            if node.args.get("negate"):
                negate = not negate
        else:
            key = self.r(p)
            return Component(clause, key, ())  # OR groups, EXISTS…: exact matches only
        if negate:
            key = "not " + key
            op = "is not" if op == "is" else "not " + op
        return Component(clause, key, (lhs, op, rhs))

    def join_condition(self, p: exp.Expression) -> Component:
        c = self.predicate(p, Clause.JOIN_ON)
        return Component(Clause.JOIN_ON, "on " + c.key, c.parts)

    def operands(self, a: exp.Expression, b: exp.Expression) -> tuple[tuple[str, int], tuple[str, int]]:
        """Texts and ranks of a comparison's operands (the rank says which one is "the column")."""
        out = []
        for node, other in ((a, b), (b, a)):
            if self.is_string_token(node, other):
                out.append((_string(node.this.this), 2))
            else:
                out.append((self.r(node), _rank(node)))
        return out[0], out[1]

    def operand(self, node: exp.Expression, other: exp.Expression | None) -> str:
        if other is not None and self.is_string_token(node, other):
            return _string(node.this.this)
        return self.r(node)

    def unknown_quoted(self, node: exp.Expression) -> bool:
        """An unqualified double-quoted token that names no known column."""
        if type(node) is not exp.Column or node.args.get("table"):
            return False
        ident = node.this
        return (
            type(ident) is exp.Identifier
            and ident.quoted
            and _double_quoted(ident, self.sql)
            and ident.this.lower() not in self.names
        )

    def is_string_token(self, node: exp.Expression, other: exp.Expression) -> bool:
        """``node`` is in a literal position (its ``other`` side reads a column) and names no column."""
        return self.unknown_quoted(node) and any(not self.unknown_quoted(c) for c in _columns(other))

    # ----------------------------------------------------------------------------- expressions
    def r(self, node: Any) -> str:
        t = type(node)
        if t is exp.Column:
            return self.column(node)
        if t is exp.Literal:
            return _string(node.this) if node.is_string else node.this.lower()
        if t in _COMPARISON or t in _PREDICATES:
            return self.predicate(node, Clause.WHERE).key
        if t is exp.Not:
            inner = node.this
            while type(inner) is exp.Paren:
                inner = inner.this
            if type(inner) in _PREDICATES:
                return self.predicate(node, Clause.WHERE).key
            return "not " + self.r(node.this)
        if t in _BINARY:
            text = self.r(node.this) + _BINARY[t] + self.r(node.expression)
            if not isinstance(node, _PREDICATE_OPERANDS):
                text = "(" + text + ")"
            return "not " + text if node.args.get("negate") else text
        if t is exp.And or t is exp.Or:
            joiner = " and " if t is exp.And else " or "
            return "(" + joiner.join(sorted(self.r(p) for p in _flatten(node, t))) + ")"
        if t is exp.Paren or t is exp.Alias:
            return self.r(node.this)
        if t is exp.Star:
            return "*"
        if t is exp.Null:
            return "null"
        if t is exp.Boolean:
            return "true" if node.this else "false"
        if t is exp.Neg:
            return "-" + self.r(node.this)
        if t is exp.Distinct:
            return "distinct " + ", ".join(self.r(e) for e in node.expressions)
        if t is exp.Identifier:
            return node.this.lower()
        if t is exp.Subquery or t is exp.Select or isinstance(node, exp.SetOperation):
            return self.subquery(node)
        if isinstance(node, exp.Func):
            name = node.name.lower() if t is exp.Anonymous else node.sql_name().lower()
            args = node.expressions if t is exp.Anonymous else self.args(node, flags=False)
            return name + "(" + ", ".join(a if isinstance(a, str) else self.r(a) for a in args) + ")"
        if isinstance(node, exp.Expression):
            return node.key + "(" + ", ".join(self.args(node)) + ")"
        return str(node).lower()

    def subquery(self, node: exp.Expression) -> str:
        """A subquery in an expression: its items, sorted (it may see the enclosing SELECTs)."""
        text = self.texts.get(id(node))
        if text is None:
            q = self.query(node)
            text = _cap("(" + "; ".join(sorted(c.label for c in q.items)) + ")")
            self.texts[id(node)] = text
        return text

    def args(self, node: exp.Expression, flags: bool = True) -> list[str]:
        out = []
        for key, value in node.args.items():
            if value is None or value is False or value == [] or key.startswith("_"):
                continue
            if not flags and not isinstance(value, (list, exp.Expression)):
                continue  # dialect flags such as Count(big_int=True)
            if isinstance(value, list):
                out.append(key + "=[" + ", ".join(self.r(v) for v in value) + "]")
            elif isinstance(value, exp.Expression):
                out.append(self.r(value) if key == "this" else f"{key}={self.r(value)}")
            else:
                out.append(f"{key}={str(value).lower()}")
        return out

    def column(self, node: exp.Column) -> str:
        ident = node.this
        name = "*" if isinstance(ident, exp.Star) else ident.name.lower()
        qualifier = node.args.get("table")
        if qualifier is not None and qualifier.name:
            # A qualified column: the innermost SELECT (or an enclosing one, correlation) with that alias.
            q = qualifier.name.lower()
            for frame in reversed(self.frames):
                src = frame.by_alias.get(q)
                if src is not None:
                    return self.through(src, name)
            return q + "." + name
        if not self.frames:
            return name
        if self.order_aliases is not None and name in self.order_aliases:
            return self.order_aliases[name]
        sources = self.frames[-1].sources
        if len(sources) == 1:
            return self.through(sources[0], name)
        if not sources or name == "*":
            return name
        # Several sources: the one that offers the column, when exactly one may.
        owner: _Source | None = None
        for src in sources:
            if src.table:
                if not self.owners.has(src.table, name):
                    continue
            elif src.outputs is not None and name not in src.outputs:
                continue
            if owner is not None or not src.table and src.outputs is None:
                return name  # several candidates, or a derived source with unknown outputs
            owner = src
        if owner is None:
            self.unresolved.add(name)
            return name
        return self.through(owner, name)

    def through(self, src: _Source, name: str) -> str:
        """Column ``name`` read from ``src``: ``t.name``, or the expression a derived source names."""
        if src.table:
            if name != "*":
                self.refs.add((src.table, name))
            return f"{src.instance}.{name}"
        if src.outputs is not None:
            return src.outputs.get(name, name)
        if src.star_table:
            return f"{src.star_table}.{name}"
        return name

    # ------------------------------------------------------------------------------------ CTEs
    def enter_with(self, node: exp.Expression) -> bool:
        """Make the CTEs of ``node``'s WITH clause visible; True when the caller must pop them."""
        with_ = node.args.get("with_")
        if with_ is None:
            return False
        self.ctes.append({cte.alias_or_name.lower(): cte.this for cte in with_.expressions})
        return True

    def cte(self, table: exp.Table) -> exp.Expression | None:
        """The body of the CTE ``table`` names, if any (a CTE reads like a derived table)."""
        if not self.ctes or table.args.get("db"):
            return None
        name = table.name.lower()
        if name in self.expanding:
            return None  # a recursive CTE's self-reference reads as a table of that name
        for frame in reversed(self.ctes):
            body = frame.get(name)
            if body is not None:
                return body
        return None


_AGGREGATE = re.compile(r"(avg|count|group_concat|max|min|sum|total)\((.*)\)", re.S)
_COLUMN = re.compile(r"(?:([^\s.()']+)\.)?([^\s.()']+)")


@lru_cache(maxsize=8192)
def _select_parts(key: str) -> tuple[str, ...]:
    """(aggregate, table, column) of a SELECT item; ``()`` for other expressions (exact only).

    So ``max(t.a)`` vs ``min(t.a)``, ``t.a`` vs ``t.b`` or ``u.a``, have one wrong part of three.

    >>> _select_parts("count(distinct t.a)"), _select_parts("t#2.a"), _select_parts("count(*)")
    (('count distinct', 't', 'a'), ('', 't#2', 'a'), ('count', '', '*'))
    >>> _select_parts("t.a + 1")
    ()
    """
    func = ""
    m = _AGGREGATE.fullmatch(key)
    if m is not None:
        func, key = m.group(1), m.group(2)
        if key.startswith("distinct "):
            func, key = func + " distinct", key[len("distinct ") :]
    m = _COLUMN.fullmatch(key)
    if m is None:
        return (func, "", key) if func else ()
    return func, m.group(1) or "", m.group(2)


@lru_cache(maxsize=8192)
def _column_parts(key: str) -> tuple[str, ...]:
    """(table, column) of a column key (GROUP BY), else the key itself."""
    m = _COLUMN.fullmatch(key)
    return (m.group(1) or "", m.group(2)) if m is not None else (key,)


def _rank(node: exp.Expression) -> int:
    """Which operand of a comparison is "the column": 0 column, 1 subquery, 2 literal / other."""
    while type(node) is exp.Paren:
        node = node.this
    if isinstance(node, (exp.Select, exp.Subquery, exp.SetOperation)):
        return 1
    if type(node) is exp.Column:
        return 0
    if type(node) in (exp.Literal, exp.Null, exp.Boolean, exp.Neg):
        return 2
    return 0 if _columns(node) else 2


def _columns(node: exp.Expression) -> list[exp.Column]:
    return [c for c in node.find_all(exp.Column) if isinstance(c.this, exp.Identifier)]


def _is_join_equality(p: exp.Expression, component: Component) -> bool:
    """``a.x = b.y``: an equality of two columns read from two different sources."""
    while type(p) is exp.Paren:
        p = p.this
    if type(p) is not exp.EQ or type(p.this) is not exp.Column or type(p.expression) is not exp.Column:
        return False
    a, _, b = component.parts
    qa, _, _ = a.rpartition(".")
    qb, _, _ = b.rpartition(".")
    return bool(qa) and bool(qb) and qa != qb


def _arg_key_under(node: exp.Expression, ancestor: exp.Expression) -> str:
    """The argument of ``ancestor`` that holds ``node`` (``expressions``, ``where``, ``joins``…)."""
    while node.parent is not None and node.parent is not ancestor:
        node = node.parent
    return node.arg_key or ""


def _flatten(node: exp.Expression, kind: type) -> list[exp.Expression]:
    """Operands of a chain of ``kind`` (And / Or), parentheses removed."""
    out: list[exp.Expression] = []
    stack = [node]
    while stack:
        n = stack.pop()
        while type(n) is exp.Paren:
            n = n.this
        if type(n) is kind:
            stack.append(n.expression)
            stack.append(n.this)
        else:
            out.append(n)
    return out


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cap(text: str) -> str:
    """Long texts (CTEs joining earlier CTEs twice grow 2^n) are referenced by a digest."""
    if len(text) <= _MAX_TEXT:
        return text
    return "(expr " + hashlib.blake2b(text.encode(), digest_size=8).hexdigest() + ")"
