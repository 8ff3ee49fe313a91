"""Schema resolution with sqlglot scopes: hallucinated tables/columns, referenced tables.

>>> schema = {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
>>> find_hallucinations("SELECT name FROM customers", schema)
[Hallucination(kind='table', name='customers')]
>>> find_hallucinations('SELECT name FROM employees WHERE name = "John"', schema)
[]
"""

from __future__ import annotations

import enum
from typing import Any, Literal, NamedTuple

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope, walk_in_scope

from sqlr1x.sql.parse import ParsedSQL, parse_sql
from sqlr1x.sql.parse import cte_column_list as _cte_column_list  # a recursive CTE's self-reference
from sqlr1x.sql.parse import double_quoted as _double_quoted
from sqlr1x.sql.schema import Schema

__all__ = [
    "Hallucination",
    "find_hallucinations",
    "literal_operand_of",
    "referenced_tables",
    "string_read_identifiers",
]


class Hallucination(NamedTuple):
    kind: Literal["table", "column"]
    name: str


class SourceKind(enum.Enum):
    """What a name in a FROM clause stands for."""

    REAL = "real"  # a table of the schema
    UNKNOWN = "unknown"  # a table the schema does not have (a hallucination)
    DERIVED = "derived"  # a CTE or a derived table


class _Source(NamedTuple):
    """One FROM source: its kind and its lower-cased column names (None: unknown, anything goes)."""

    kind: SourceKind
    columns: frozenset[str] | None


_REAL, _UNKNOWN, _DERIVED = SourceKind.REAL, SourceKind.UNKNOWN, SourceKind.DERIVED
_ROWID = frozenset({"rowid", "oid", "_rowid_"})


def find_hallucinations(sql: str | ParsedSQL, schema: Any) -> list[Hallucination]:
    """Distinct tables and columns referenced by ``sql`` that the schema does not have.

    Semantics (docs/rewards.md): a table not in the schema counts once, and columns qualified by it
    are not counted again. A column counts when it resolves to no source in its scope or an
    enclosing one (correlated subqueries). CTE names, derived-table and table aliases and
    SELECT-list aliases are not schema elements. Matching is case-insensitive. Quoted names
    (``"x"``, `` `x` ``, ``[x]``) are identifiers, except that an unqualified double-quoted token
    that resolves to nothing *in a literal position* — an operand of a comparison, IN, LIKE or
    BETWEEN whose other side is a column — is a string literal (Spider's ``name = "John"``).
    Anywhere else (``SELECT "pay"``, ``ORDER BY "pay"``) it is a hallucinated column, although
    SQLite would read it as a string (see :func:`string_read_identifiers`).

    Decisions: an unqualified column is not counted when its own FROM holds only unknown tables,
    or when a derived table/CTE in reach takes its columns from ``*`` (ambiguous); next to a real
    table an unknown table supplies no columns, so adding one never hides a hallucination (R4). ``x.col`` with ``x`` in no scope
    counts the table ``x`` when it is not in the schema, else the column. Columns are reported by
    name only (``foo`` in two tables is one element). The first spelling is kept; the order is that
    of the SQL text. ``rowid``/``oid``/``_rowid_`` are columns of every table. Unparseable SQL → [].
    ``schema`` is anything ``Schema.coerce`` accepts (``SchemaError`` on bad input).

    >>> find_hallucinations("SELECT x.foo, bar FROM employees AS x", {"tables": {"employees": ["id"]}})
    [Hallucination(kind='column', name='foo'), Hallucination(kind='column', name='bar')]
    >>> find_hallucinations('SELECT id, "pay" FROM employees WHERE id = "pay"', {"tables": {"employees": ["id"]}})
    [Hallucination(kind='column', name='pay')]
    """
    resolver = _resolve(sql, schema)
    if resolver is None:
        return []
    seen: set[tuple[str, str]] = set()
    out: list[Hallucination] = []
    for _, kind, name in sorted(resolver.found, key=lambda f: f[0]):
        key = (kind, name.lower())
        if key not in seen:
            seen.add(key)
            out.append(Hallucination(kind, name))
    return out


def string_read_identifiers(sql: str | ParsedSQL, schema: Any) -> list[str]:
    """Double-quoted names that resolve to nothing outside a literal position, in SQL order.

    SQLite reads such an identifier as a string literal (a legacy quirk), so ``SELECT name, "pay"
    FROM employees`` runs and returns the text ``pay``; the reward gives such a query no execution
    credit. Each name is also a hallucinated column of :func:`find_hallucinations`.

    >>> string_read_identifiers('SELECT name, "pay" FROM employees WHERE name = "John"',
    ...     {"tables": {"employees": ["name"]}})
    ['pay']
    """
    if isinstance(sql, str) and '"' not in sql:
        return []
    resolver = _resolve(sql, schema)
    if resolver is None:
        return []
    return list(dict.fromkeys(name for _, name in sorted(resolver.string_read)))


def _resolve(sql: str | ParsedSQL, schema: Any) -> _Resolver | None:
    parsed = parse_sql(sql)
    if not parsed.ok:
        return None
    resolver = _Resolver(Schema.coerce(schema), parsed.sql)
    for statement in parsed.statements:
        try:
            scopes = traverse_scope(statement)
        except SqlglotError:
            continue
        if isinstance(statement, (exp.Update, exp.Delete, exp.Insert)):
            # sqlglot scopes only the queries inside DML; check the target table and its columns too.
            scopes.append(Scope(statement))
        resolver.run(scopes)
    return resolver


_COMPARISONS = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Like,
    exp.ILike,
    exp.Glob,
)


def literal_operand_of(node: exp.Expression) -> exp.Expression | None:
    """The expression on the other side of ``node`` when ``node`` stands in a literal position.

    A literal position is an operand of a comparison (``=``, ``<``, ``LIKE``…), an IN list or a
    BETWEEN bound whose other side is the returned expression; parentheses are looked through.
    None elsewhere.

    >>> import sqlglot
    >>> where = sqlglot.parse_one('SELECT 1 FROM t WHERE a = "x"', read="sqlite").args["where"]
    >>> literal_operand_of(where.this.expression).sql()
    'a'
    """
    child = node
    parent = node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    if isinstance(parent, _COMPARISONS):
        if parent.this is child:
            return parent.expression
        if parent.expression is child:
            return parent.this
        return None
    if isinstance(parent, exp.Escape):  # x LIKE "%a" ESCAPE "!": the pattern sits under Escape
        like = parent.this
        return like.this if isinstance(like, (exp.Like, exp.ILike)) and like.expression is child else None
    if isinstance(parent, exp.In) and parent.this is not child and child in parent.expressions:
        return parent.this
    if isinstance(parent, exp.Between) and parent.this is not child:
        return parent.this
    return None


def _pos(node: exp.Expression) -> int:
    return node.meta.get("start", 0) if isinstance(node, exp.Identifier) else 0


class _Resolver:
    """Resolves references scope by scope; collects ``(position, kind, name)`` in ``found``."""

    def __init__(self, schema: Schema, sql: str) -> None:
        self.schema = schema
        self.sql = sql
        self.found: list[tuple[int, str, str]] = []
        self.string_read: list[tuple[int, str]] = []  # unresolved "x" SQLite would read as 'x'
        self._sources: dict[int, dict[str, _Source]] = {}
        self._outputs: dict[int, frozenset[str] | None] = {}

    def run(self, scopes: list[Scope]) -> None:
        for scope in scopes:
            self.sources(scope)
        for scope in scopes:
            self.check_columns(scope)

    def ctes(self, scope: Scope) -> dict[str, Any]:
        return {k.lower(): v for k, v in scope.cte_sources.items()}

    def sources(self, scope: Scope) -> dict[str, _Source]:
        """Lower-cased source name → source, for the FROM/JOIN items of ``scope``."""
        cached = self._sources.get(id(scope))
        if cached is not None:
            return cached
        out: dict[str, _Source] = {}
        ctes = self.ctes(scope)
        for name, node in scope.references:
            key = name.lower()
            if isinstance(node, exp.Table):
                ident = node.this
                if not isinstance(ident, exp.Identifier):  # table-valued function
                    out[key] = _Source(_DERIVED, None)
                    continue
                low = ident.this.lower()
                cte = ctes.get(low) if not node.args.get("db") else None
                if cte is not None:
                    out[key] = _Source(_DERIVED, self.outputs(cte) if isinstance(cte, Scope) else None)
                elif (table := self.schema.table(low)) is not None:
                    out[key] = _Source(_REAL, table.lower_column_names)
                else:
                    out[key] = _Source(_UNKNOWN, None)
                    self.found.append((_pos(ident), "table", ident.this))
            else:
                child = scope.sources.get(name)
                out[key] = _Source(_DERIVED, self.outputs(child) if isinstance(child, Scope) else None)
        self._sources[id(scope)] = out
        return out

    def outputs(self, scope: Scope) -> frozenset[str] | None:
        """Column names a CTE/derived table exposes; None when unknown (``*``)."""
        if id(scope) in self._outputs:
            return self._outputs[id(scope)]
        result: frozenset[str] | None
        outer = scope.outer_columns or (_cte_column_list(scope.expression) if scope.is_cte else [])
        if outer:
            result = frozenset(c.lower() for c in outer)
        else:
            node = (
                scope.expression.unnest() if isinstance(scope.expression, exp.Subquery) else scope.expression
            )
            while isinstance(node, exp.SetOperation):
                node = node.this.unnest() if isinstance(node.this, exp.Subquery) else node.this
            result = None
            if isinstance(node, exp.Select):
                names = []
                for item in node.expressions:
                    if isinstance(item, exp.Star) or (
                        isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
                    ):
                        names = None
                        break
                    names.append(item.alias_or_name.lower())
                result = None if names is None else frozenset(names)
        self._outputs[id(scope)] = result
        return result

    def chain(self, scope: Scope) -> list[Scope]:
        """The scopes whose sources a column of ``scope`` may name, innermost first.

        SQLite resolves names in enclosing queries from any nested query (correlation, even from a
        FROM subquery or CTE), except that a FROM subquery or CTE cannot see the query it feeds:
        ``SELECT * FROM (SELECT nme FROM t)`` is "no such column: nme", although the outer query's
        source exposes ``nme``. The ORDER BY / LIMIT terms of a set operation resolve in its arms.
        """
        out = [scope]
        arms = list(scope.set_operation_scopes)
        while arms:
            arm = arms.pop(0)
            out.append(arm)
            arms.extend(arm.set_operation_scopes)
        s: Scope | None = scope
        while s is not None:
            parent = s.parent
            if parent is not None and (s.is_derived_table or s.is_cte):
                parent = parent.parent
            if parent is not None:
                out.append(parent)
            s = parent
        return out

    def lookup(self, chain: list[Scope], qualifier: str) -> _Source | None:
        for s in chain:
            src = self.sources(s).get(qualifier)
            if src is not None:
                return src
        return None

    def report_qualifier(
        self, chain: list[Scope], table_ident: exp.Expression, column: exp.Column | None
    ) -> None:
        """``q.col`` where ``q`` is no source in scope."""
        q = table_ident.name
        low = q.lower()
        if self.schema.has_table(low) or low in self.ctes(chain[0]):
            if column is not None:
                self.found.append((_pos(column.this), "column", column.name))
        else:
            self.found.append((_pos(table_ident), "table", q))

    def check_columns(self, scope: Scope) -> None:
        chain: list[Scope] | None = None
        select_aliases: set[str] | None = None
        expression = scope.expression
        for node in walk_in_scope(expression):
            if type(node) is not exp.Column:
                continue
            if chain is None:
                chain = self.chain(scope)
            qualifier = node.args.get("table")
            ident = node.this
            if isinstance(ident, exp.Star):
                if qualifier is not None and self.lookup(chain, qualifier.name.lower()) is None:
                    self.report_qualifier(chain, qualifier, None)
                continue
            if not isinstance(ident, exp.Identifier):
                continue
            col = ident.this.lower()
            if qualifier is not None and qualifier.name:
                src = self.lookup(chain, qualifier.name.lower())
                if src is None:
                    self.report_qualifier(chain, qualifier, node)
                elif (
                    src.columns is not None
                    and col not in src.columns
                    and not (src.kind is _REAL and col in _ROWID)
                ):
                    self.found.append((_pos(ident), "column", ident.this))
                continue
            if self.resolves(chain, col):
                continue
            if select_aliases is None:
                select_aliases = self.select_aliases(chain)
            if col in select_aliases:
                continue
            if _double_quoted(ident, self.sql):
                if self.is_string_literal(node, chain):
                    continue
                self.string_read.append((_pos(ident), ident.this))
            self.found.append((_pos(ident), "column", ident.this))
        if isinstance(expression, exp.Select):
            self.check_using(scope, expression)
        elif isinstance(expression, exp.Insert) and isinstance(expression.this, exp.Schema):
            self.check_insert_columns(scope, expression.this)

    def is_string_literal(self, node: exp.Column, chain: list[Scope]) -> bool:
        """An unresolved unqualified ``"x"`` is a string when the other side of its literal
        position is a column (one that is not itself such a token)."""
        other = literal_operand_of(node)
        if type(other) is not exp.Column or not isinstance(other.this, exp.Identifier):
            return False
        if other.args.get("table") is not None or not _double_quoted(other.this, self.sql):
            return True
        return self.resolves(chain, other.this.this.lower())

    def resolves(self, chain: list[Scope], col: str) -> bool:
        """Whether an unqualified ``col`` names something in reach (or cannot be judged).

        An unknown table supplies no columns: next to a real source a column that only it could
        hold is counted, so adding an unknown table never hides hallucinated columns (R4). Only
        when the column's own FROM holds nothing but unknown tables (``SELECT name FROM customers``)
        is the table the one error, and its columns are not counted again.
        """
        own = [kind for kind, _ in self.sources(chain[0]).values()]
        if own and all(kind is _UNKNOWN for kind in own):
            return True
        for s in chain:
            for kind, cols in self.sources(s).values():
                if kind is _UNKNOWN:
                    continue
                if cols is None or col in cols or (kind is _REAL and col in _ROWID):
                    return True  # found, or ambiguous (star-derived source)
        return False

    def select_aliases(self, chain: list[Scope]) -> set[str]:
        out: set[str] = set()
        for s in chain:
            if isinstance(s.expression, exp.Select):
                out.update(e.alias.lower() for e in s.expression.expressions if isinstance(e, exp.Alias))
        return out

    def check_insert_columns(self, scope: Scope, target: exp.Schema) -> None:
        """``INSERT INTO t (a, b)``: the column list holds bare identifiers, not Column nodes."""
        table = target.this
        if not isinstance(table, exp.Table):
            return
        src = self.sources(scope).get(table.alias_or_name.lower())
        if src is None or src.columns is None:
            return
        for ident in target.expressions:
            low = ident.name.lower() if isinstance(ident, exp.Identifier) else None
            if low is not None and low not in src.columns and low not in _ROWID:
                self.found.append((_pos(ident), "column", ident.name))

    def check_using(self, scope: Scope, select: exp.Select) -> None:
        srcs = self.sources(scope)
        for join in select.args.get("joins") or []:
            using = join.args.get("using")
            if not using:
                continue
            src = srcs.get(join.this.alias_or_name.lower())
            if src is None or src.columns is None:
                continue
            for ident in using:
                name = ident.name
                if name.lower() not in src.columns:
                    self.found.append(
                        (_pos(ident.this if isinstance(ident, exp.Column) else ident), "column", name)
                    )


def referenced_tables(sql: str | ParsedSQL) -> set[str]:
    """Lower-cased names of real tables the SQL reads (CTE names excluded).

    >>> sorted(referenced_tables("WITH c AS (SELECT * FROM a) SELECT * FROM c JOIN B ON 1"))
    ['a', 'b']
    """
    parsed = parse_sql(sql)
    out: set[str] = set()
    if not parsed.ok:
        return out
    for statement in parsed.statements:
        try:
            scopes = traverse_scope(statement)
        except SqlglotError:
            continue
        if not scopes:
            out.update(t.name.lower() for t in statement.find_all(exp.Table) if t.name)
        for scope in scopes:
            ctes = {k.lower() for k in scope.cte_sources}
            for _, node in scope.references:
                if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
                    low = node.name.lower()
                    if node.args.get("db") or low not in ctes:
                        out.add(low)
    return out
