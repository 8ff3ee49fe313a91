"""SQL analysis with sqlglot: one cached parse per SQL, schema hallucinations, clause components.

>>> schema = {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
>>> find_hallucinations("SELECT name FROM customers", schema)
[Hallucination(kind='table', name='customers')]
>>> find_hallucinations('SELECT name FROM employees WHERE name = "John"', schema)
[]
>>> sorted(clause_components("SELECT e.name FROM employees AS e WHERE 1 < e.salary").where)
['1 < employees.salary']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope, walk_in_scope

from sqlr1x.sql.schema import Schema

__all__ = [
    "ClauseComponents",
    "Hallucination",
    "ParsedSQL",
    "clause_components",
    "find_hallucinations",
    "parse_sql",
    "referenced_tables",
]

DIALECT = "sqlite"


# ----------------------------------------------------------------------------- parsing
@dataclass(frozen=True, eq=False)
class ParsedSQL:
    """The result of parsing one SQL string (possibly several statements).

    ``expression`` is the first statement; ``statements`` holds all of them. The objects are shared
    through the parse cache: never mutate them (``.copy()`` first).
    """

    sql: str
    expression: exp.Expression | None
    error: str | None
    n_statements: int
    statements: tuple[exp.Expression, ...] = ()

    @property
    def ok(self) -> bool:
        return self.expression is not None and self.error is None


def parse_sql(sql: str | ParsedSQL) -> ParsedSQL:
    """Parse with sqlglot's SQLite dialect, LRU-cached; never raises.

    >>> parse_sql("SELECT 1; SELECT 2").n_statements, parse_sql("SELEC oops (").ok
    (2, False)
    """
    if isinstance(sql, ParsedSQL):
        return sql
    if not isinstance(sql, str):
        return ParsedSQL("", None, "not a string", 0)
    return _parse_cached(sql)


@lru_cache(maxsize=65536)
def _parse_cached(sql: str) -> ParsedSQL:
    try:
        # `SELECT 1; -- c` parses to [Select, Semicolon]: the trailing comment is not a statement.
        statements = tuple(
            s for s in sqlglot.parse(sql, read=DIALECT) if s is not None and not isinstance(s, exp.Semicolon)
        )
    except SqlglotError as e:
        return ParsedSQL(sql, None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", 0)
    except (RecursionError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        # Pathological inputs (deep nesting, odd tokens) can surface as non-sqlglot errors.
        return ParsedSQL(sql, None, f"{type(e).__name__}: {e}", 0)
    if not statements:
        return ParsedSQL(sql, None, "empty", 0)
    return ParsedSQL(sql, statements[0], None, len(statements), statements)


# ----------------------------------------------------------------------- hallucinations
class Hallucination(NamedTuple):
    kind: Literal["table", "column"]
    name: str


_REAL, _UNKNOWN, _DERIVED = 0, 1, 2
_ROWID = frozenset({"rowid", "oid", "_rowid_"})

# (kind, lower-cased column names or None when unknown / anything goes)
_Source = tuple[int, "frozenset[str] | None"]


def find_hallucinations(sql: str | ParsedSQL, schema: Any) -> list[Hallucination]:
    """Distinct tables and columns referenced by ``sql`` that the schema does not have.

    Semantics (DESIGN.md): a table not in the schema counts once, and columns qualified by it are not
    counted again. A column counts when it resolves to no source in its scope or an enclosing one
    (correlated subqueries). CTE names, derived-table and table aliases and SELECT-list aliases are
    not schema elements. Matching is case-insensitive; an unqualified double-quoted token that
    resolves to nothing is a string literal (SQLite's rule, used by Spider's ``name = "John"``).

    Decisions: an unqualified column in a scope holding an unknown table, or a derived table/CTE
    whose columns come from ``*``, is ambiguous and not counted. ``x.col`` with ``x`` in no scope
    counts the table ``x`` when it is not in the schema, else the column. Columns are reported by
    name only (``foo`` in two tables is one element). The first spelling is kept; the order is that
    of the SQL text. ``rowid``/``oid``/``_rowid_`` are columns of every table. Unparseable SQL → [].
    ``schema`` is anything ``Schema.coerce`` accepts (``SchemaError`` on bad input).

    >>> find_hallucinations("SELECT x.foo, bar FROM employees AS x", {"tables": {"employees": ["id"]}})
    [Hallucination(kind='column', name='foo'), Hallucination(kind='column', name='bar')]
    """
    parsed = parse_sql(sql)
    if not parsed.ok:
        return []
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
    seen: set[tuple[str, str]] = set()
    out: list[Hallucination] = []
    for _, kind, name in sorted(resolver.found, key=lambda f: f[0]):
        key = (kind, name.lower())
        if key not in seen:
            seen.add(key)
            out.append(Hallucination(kind, name))
    return out


def _cte_column_list(node: exp.Expression) -> list[str]:
    """The ``c(x, y)`` column list of the CTE around ``node`` (sqlglot scopes a recursive CTE's
    self-reference as its anchor SELECT, without the list)."""
    while node is not None and not isinstance(node, exp.CTE):
        node = node.parent
    alias = node.args.get("alias") if node is not None else None
    return [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []


def _pos(node: exp.Expression) -> int:
    return node.meta.get("start", 0) if isinstance(node, exp.Identifier) else 0


def _double_quoted(ident: exp.Expression, sql: str) -> bool:
    if not (isinstance(ident, exp.Identifier) and ident.quoted):
        return False
    start = ident.meta.get("start")
    return start is not None and start < len(sql) and sql[start] == '"'


class _Resolver:
    """Resolves references scope by scope; collects ``(position, kind, name)`` in ``found``."""

    def __init__(self, schema: Schema, sql: str) -> None:
        self.schema = schema
        self.sql = sql
        self.found: list[tuple[int, str, str]] = []
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
                    out[key] = (_DERIVED, None)
                    continue
                low = ident.this.lower()
                cte = ctes.get(low) if not node.args.get("db") else None
                if cte is not None:
                    out[key] = (_DERIVED, self.outputs(cte) if isinstance(cte, Scope) else None)
                elif (table := self.schema.table(low)) is not None:
                    out[key] = (_REAL, table.lower_column_names)
                else:
                    out[key] = (_UNKNOWN, None)
                    self.found.append((_pos(ident), "table", ident.this))
            else:
                child = scope.sources.get(name)
                out[key] = (_DERIVED, self.outputs(child) if isinstance(child, Scope) else None)
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
                elif src[1] is not None and col not in src[1] and not (src[0] == _REAL and col in _ROWID):
                    self.found.append((_pos(ident), "column", ident.this))
                continue
            if self.resolves(chain, col):
                continue
            if select_aliases is None:
                select_aliases = self.select_aliases(chain)
            if col in select_aliases or _double_quoted(ident, self.sql):
                continue
            self.found.append((_pos(ident), "column", ident.this))
        if isinstance(expression, exp.Select):
            self.check_using(scope, expression)
        elif isinstance(expression, exp.Insert) and isinstance(expression.this, exp.Schema):
            self.check_insert_columns(scope, expression.this)

    def resolves(self, chain: list[Scope], col: str) -> bool:
        for s in chain:
            srcs = self.sources(s)
            for kind, cols in srcs.values():
                if cols is None or col in cols or (kind == _REAL and col in _ROWID):
                    return True  # found, or ambiguous (unknown table / star-derived source)
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
        if src is None or src[1] is None:
            return
        for ident in target.expressions:
            low = ident.name.lower() if isinstance(ident, exp.Identifier) else None
            if low is not None and low not in src[1] and low not in _ROWID:
                self.found.append((_pos(ident), "column", ident.name))

    def check_using(self, scope: Scope, select: exp.Select) -> None:
        srcs = self.sources(scope)
        for join in select.args.get("joins") or []:
            using = join.args.get("using")
            if not using:
                continue
            src = srcs.get(join.this.alias_or_name.lower())
            if src is None or src[1] is None:
                continue
            for ident in using:
                name = ident.name
                if name.lower() not in src[1]:
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
