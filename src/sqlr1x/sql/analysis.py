"""SQL analysis with sqlglot: a facade over parsing (:mod:`sqlr1x.sql.parse`), schema resolution
(:mod:`sqlr1x.sql.resolve`) and clause components (below).

>>> schema = {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
>>> find_hallucinations("SELECT name FROM customers", schema)
[Hallucination(kind='table', name='customers')]
>>> sorted(clause_components("SELECT e.name FROM employees AS e WHERE 1 < e.salary").where)
['1 < employees.salary']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlglot import exp

from sqlr1x.sql.parse import DIALECT, ParsedSQL, _parse_cached, parse_sql
from sqlr1x.sql.resolve import (
    Hallucination,
    _cte_column_list,
    _double_quoted,
    find_hallucinations,
    referenced_tables,
)
from sqlr1x.sql.schema import Schema

__all__ = [
    "DIALECT",
    "ClauseComponents",
    "Hallucination",
    "ParsedSQL",
    "_parse_cached",
    "clause_components",
    "find_hallucinations",
    "parse_sql",
    "referenced_tables",
]


# ------------------------------------------------------------------- clause components
@dataclass(frozen=True)
class ClauseComponents:
    """Normalised component sets of a query's SELECT items, WHERE conjuncts and FROM/JOIN items."""

    select: frozenset[str]
    where: frozenset[str]
    joins: frozenset[str]


def clause_components(sql: str | ParsedSQL, schema: Any = None) -> ClauseComponents | None:
    """Canonical strings per clause, for set comparison (StructuralReward); None when unparseable.

    - ``select``: one string per SELECT item (column aliases dropped).
    - ``where``: the WHERE condition split on top-level AND.
    - ``joins``: each FROM/JOIN table (``LEFT JOIN t`` for outer joins), plus each AND-ed
      ``ON <condition>`` and ``USING <column>``; so ``a JOIN b ON x`` equals ``b JOIN a ON x``.

    Invariant to item and predicate order, table aliases (resolved to table names; derived tables
    become ``_d1``, ``_d2``… in order, and a CTE reference reads as its body, like a derived table),
    identifier case (string literals keep theirs), operand order of ``=``/``!=``/``IS`` and
    ``a < b`` vs ``b > a``, ``NOT x LIKE p`` vs ``x NOT LIKE p``, and IN-list order. Unqualified columns are
    qualified when their SELECT has a single source. A double-quoted unqualified column used as a
    comparison/IN/BETWEEN/LIKE operand is taken as a string literal (Spider's ``name = "John"``).
    Set operations merge the components of their arms; for other statements (UPDATE/DELETE) the
    WHERE and target table are used. Results are cached per SQL string.

    ``schema`` (a :class:`~sqlr1x.sql.schema.Schema` or anything ``Schema.coerce`` accepts) also
    qualifies an unqualified column of a SELECT with several sources: with the one real table of that
    SELECT that has the column (case-insensitive). The column stays unqualified when no source, or
    more than one (a self-join counts twice), may have it; a derived table or CTE may have it when
    its output names include it or are unknown (``*``). Results are cached per (SQL, ``schema.key``).

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
    return _components_schema_cached(parsed.sql, _ColumnOwners.of(schema))


@lru_cache(maxsize=65536)
def _components_cached(sql: str) -> ClauseComponents | None:
    return _compute_components(sql, None)


@lru_cache(maxsize=16384)
def _components_schema_cached(sql: str, owners: _ColumnOwners) -> ClauseComponents | None:
    return _compute_components(sql, owners)


class _ColumnOwners:
    """A schema's lower-cased column names per table, hashed and compared by ``schema.key``."""

    __slots__ = ("_hash", "key", "schema")
    _memo: dict[int, _ColumnOwners] = {}  # id(Schema) → owners; the entry keeps the Schema alive

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.key = schema.key
        self._hash = hash(self.key)

    @classmethod
    def of(cls, schema: Any) -> _ColumnOwners:
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

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _ColumnOwners) and self.key == other.key)


def _compute_components(sql: str, owners: _ColumnOwners | None) -> ClauseComponents | None:
    parsed = parse_sql(sql)
    expression = parsed.expression
    if expression is None:
        return None
    canon = _Canon(sql, owners)
    try:
        select, where, joins = canon.components(expression)
    except RecursionError:
        return None
    return ClauseComponents(frozenset(select), frozenset(where), frozenset(joins))


_SYMMETRIC = {exp.EQ: " = ", exp.NEQ: " != ", exp.NullSafeEQ: " is ", exp.NullSafeNEQ: " is not "}
_FLIPPED = {exp.GT: " < ", exp.GTE: " <= "}  # b > a  →  a < b
_ORDERED = {exp.LT: " < ", exp.LTE: " <= "}
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
_PREDICATE_OPERANDS = (exp.Predicate, exp.In, exp.Between)
_MAX_CTE_TEXT = 2000  # a longer CTE body is referenced by a digest of its canonical text


class _Canon:
    """Renders expressions canonically, resolving table aliases through a stack of SELECT frames."""

    def __init__(self, sql: str, owners: _ColumnOwners | None = None) -> None:
        self.sql = sql
        self.owners = owners  # with a schema: qualifies unqualified columns of multi-source SELECTs
        # (alias → name, single source or "", with a schema and several sources: each source's real
        # table name, or the derived source's output names (None: unknown))
        self.frames: list[tuple[dict[str, str], str, list[tuple[str, frozenset[str] | None]] | None]] = []
        self.ctes: list[dict[str, exp.Expression]] = []  # WITH clauses in force: name → body
        self.expanding: set[str] = set()  # CTEs being rendered (a recursive CTE names itself)
        self.cte_text: dict[int, str] = {}  # rendered CTE bodies, so chained CTEs stay linear

    # ---- structure
    def components(self, node: exp.Expression) -> tuple[set[str], set[str], set[str]]:
        if isinstance(node, exp.Subquery):
            return self.components(node.unnest())
        if not isinstance(node, (exp.SetOperation, exp.Select)):
            table = node.args.get("this")
            joins = {table.name.lower()} if isinstance(table, exp.Table) and table.name else set()
            return set(), self.conjuncts(node.args.get("where")), joins
        entered = self.enter_with(node)
        try:
            if isinstance(node, exp.SetOperation):
                left = self.components(node.this)
                right = self.components(node.expression)
                return left[0] | right[0], left[1] | right[1], left[2] | right[2]
            self.push(node)
            try:
                select = {self.r(e) for e in node.expressions}
                where = self.conjuncts(node.args.get("where"))
                joins = set(self.join_items(node))
            finally:
                self.frames.pop()
            return select, where, joins
        finally:
            if entered:
                self.ctes.pop()

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
            return None
        for frame in reversed(self.ctes):
            body = frame.get(name)
            if body is not None:
                return body
        return None

    def conjuncts(self, where: exp.Expression | None) -> set[str]:
        if where is None:
            return set()
        return {self.r(p) for p in _flatten(where.this, exp.And)}

    def push(self, select: exp.Select) -> None:
        aliases: dict[str, str] = {}
        n_sources = 0
        single = ""
        derived = 0
        sources = _sources_of(select)
        for source in sources:
            n_sources += 1
            if isinstance(source, exp.Table) and self.cte(source) is None:
                name = source.name.lower()
                aliases[source.alias_or_name.lower()] = name
                single = name
            else:
                derived += 1
                single = f"_d{derived}"
                alias = source.alias_or_name if isinstance(source, exp.Table) else source.alias
                aliases[alias.lower()] = single
        owners = None
        if self.owners is not None and n_sources > 1:
            owners = [self.provider(source) for source in sources]
        self.frames.append((aliases, single if n_sources == 1 else "", owners))

    def provider(self, source: exp.Expression) -> tuple[str, frozenset[str] | None]:
        """("table", its columns unknown here) for a real table, ("", output names) for a derived one."""
        if isinstance(source, exp.Table):
            body = self.cte(source)
            if body is None:
                return source.name.lower(), None
            names = _cte_column_list(body)  # a CTE's column list, when it has one, names its outputs
            if names:
                return "", frozenset(n.lower() for n in names)
            return "", _output_names(body)
        if isinstance(source, exp.Subquery):
            return "", _output_names(source.unnest())
        return "", None  # a table function, VALUES…: anything

    def join_items(self, select: exp.Select) -> list[str]:
        out = []
        from_ = select.args.get("from_")
        if from_ is not None:
            out.append(self.source(from_.this))
        for join in select.args.get("joins") or []:
            side = join.side.lower() if join.side else ""
            name = self.source(join.this)
            out.append(f"{side} join {name}" if side else name)
            on = join.args.get("on")
            if on is not None:
                out.extend("on " + self.r(p) for p in _flatten(on, exp.And))
            out.extend(f"using {u.name.lower()}" for u in join.args.get("using") or [])
        return out

    def source(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Table):
            body = self.cte(node)
            if body is not None:
                text = self.cte_text.get(id(body))
                if text is None:
                    name = node.name.lower()
                    self.expanding.add(name)
                    try:
                        text = self.r(body)
                    finally:
                        self.expanding.discard(name)
                    if len(text) > _MAX_CTE_TEXT:  # CTEs joining earlier CTEs twice grow 2^n
                        text = "(cte " + hashlib.blake2b(text.encode(), digest_size=8).hexdigest() + ")"
                    self.cte_text[id(body)] = text
                return text
            return node.name.lower() if node.name else self.r(node.this)
        return self.r(node.unnest() if isinstance(node, exp.Subquery) else node)

    def select_text(self, node: exp.Select) -> str:
        entered = self.enter_with(node)
        self.push(node)
        try:
            parts = ["select " + ", ".join(sorted(self.r(e) for e in node.expressions))]
            sources = self.join_items(node)
            if sources:
                parts.append("from " + ", ".join(sorted(sources)))
            for key in ("where", "having"):
                clause = node.args.get(key)
                if clause is not None:
                    parts.append(
                        f"{key} " + " and ".join(sorted(self.r(p) for p in _flatten(clause.this, exp.And)))
                    )
            group = node.args.get("group")
            if group is not None:
                parts.append("group by " + ", ".join(self.r(g) for g in group.expressions))
            order = node.args.get("order")
            if order is not None:
                parts.append("order by " + ", ".join(self.r(o) for o in order.expressions))
            for key in ("limit", "offset"):
                clause = node.args.get(key)
                if clause is not None:
                    parts.append(f"{key} " + self.r(clause.expression or clause.this))
        finally:
            self.frames.pop()
            if entered:
                self.ctes.pop()
        return "(" + " ".join(parts) + ")"

    # ---- expressions
    def operand(self, node: exp.Expression) -> str:
        if type(node) is exp.Column and not node.args.get("table") and _double_quoted(node.this, self.sql):
            return _string(node.this.this)
        return self.r(node)

    def r(self, node: Any) -> str:
        t = type(node)
        if t is exp.Column:
            return self.column(node)
        if t is exp.Literal:
            return _string(node.this) if node.is_string else node.this.lower()
        if t in _SYMMETRIC:
            a, b = sorted((self.operand(node.this), self.operand(node.expression)))
            return a + _SYMMETRIC[t] + b
        if t in _FLIPPED:
            return self.operand(node.expression) + _FLIPPED[t] + self.operand(node.this)
        if t in _ORDERED:
            return self.operand(node.this) + _ORDERED[t] + self.operand(node.expression)
        if t is exp.And or t is exp.Or:
            joiner = " and " if t is exp.And else " or "
            return "(" + joiner.join(sorted(self.r(p) for p in _flatten(node, t))) + ")"
        if t in _BINARY:
            text = self.operand(node.this) + _BINARY[t] + self.operand(node.expression)
            if not isinstance(node, _PREDICATE_OPERANDS):
                text = "(" + text + ")"
            # `a NOT LIKE b` parses as Like(negate=True), `NOT a LIKE b` as Not(Like): one form.
            return "not " + text if node.args.get("negate") else text
        if t is exp.Paren or t is exp.Alias:
            return self.r(node.this)
        if t is exp.Star:
            return "*"
        if t is exp.Null:
            return "null"
        if t is exp.Boolean:
            return "true" if node.this else "false"
        if t is exp.Not:
            return "not " + self.r(node.this)
        if t is exp.Neg:
            return "-" + self.r(node.this)
        if t is exp.In:
            query = node.args.get("query")
            if query is not None:
                return self.operand(node.this) + " in " + self.r(query)
            return (
                self.operand(node.this)
                + " in ("
                + ", ".join(sorted(self.operand(e) for e in node.expressions))
                + ")"
            )
        if t is exp.Between:
            return (
                self.operand(node.this)
                + " between "
                + self.operand(node.args["low"])
                + " and "
                + self.operand(node.args["high"])
            )
        if t is exp.Distinct:
            return "distinct " + ", ".join(self.r(e) for e in node.expressions)
        if t is exp.Identifier:
            return node.this.lower()
        if t is exp.Subquery:
            return self.r(node.this)
        if t is exp.Select:
            return self.select_text(node)
        if isinstance(node, exp.SetOperation):
            kind = node.key + ("" if node.args.get("distinct", True) else " all")
            entered = self.enter_with(node)
            try:
                return "(" + self.r(node.this) + f" {kind} " + self.r(node.expression) + ")"
            finally:
                if entered:
                    self.ctes.pop()
        if isinstance(node, exp.Func):
            name = node.name.lower() if t is exp.Anonymous else node.sql_name().lower()
            args = node.expressions if t is exp.Anonymous else self.args(node, flags=False)
            return name + "(" + ", ".join(a if isinstance(a, str) else self.r(a) for a in args) + ")"
        if isinstance(node, exp.Expression):
            return node.key + "(" + ", ".join(self.args(node)) + ")"
        return str(node).lower()

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
            q = qualifier.name.lower()
            for aliases, _, _ in reversed(self.frames):
                if q in aliases:
                    return aliases[q] + "." + name
            return q + "." + name
        if not self.frames:
            return name
        _, single, providers = self.frames[-1]
        if single and name != "*":
            return f"{single}.{name}"
        if providers is None or name == "*":
            return name
        owner = ""
        for table, outputs in providers:
            if table:
                if not self.owners.has(table, name):  # type: ignore[union-attr]
                    continue
            elif outputs is not None and name not in outputs:
                continue
            if owner or not table:  # several candidates, or a derived source may have it
                return name
            owner = table
        return f"{owner}.{name}" if owner else name


def _sources_of(select: exp.Select) -> list[exp.Expression]:
    out = []
    from_ = select.args.get("from_")
    if from_ is not None:
        out.append(from_.this)
    out.extend(j.this for j in select.args.get("joins") or [])
    return out


def _output_names(node: exp.Expression) -> frozenset[str] | None:
    """Lower-cased output column names of a query (its leftmost SELECT); None when unknown (``*``)."""
    while isinstance(node, (exp.SetOperation, exp.Subquery)):
        node = node.this
    if not isinstance(node, exp.Select):
        return None
    names = set()
    for e in node.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            return None
        names.add(e.alias_or_name.lower())
    return frozenset(names)


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
