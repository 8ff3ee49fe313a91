"""Database schemas: from the seed dict, a SQLite file or a Spider/BIRD ``tables.json`` entry.

Lookups are case-insensitive (SQLite identifiers are). ``to_ddl`` renders the CREATE TABLE text used
in prompts, deterministically, optionally with sample values per column.

>>> s = Schema.from_dict({"tables": {"employees": {"columns": ["id", "name"]}}})
>>> s.has_column("Employees", "NAME"), s.has_table("customers")
(True, False)
>>> print(s.to_ddl())
CREATE TABLE employees (
  id,
  name
);
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Column",
    "ForeignKey",
    "Schema",
    "SchemaError",
    "Table",
    "load_tables_json",
    "quote_identifier",
]


class SchemaError(ValueError):
    """A schema could not be built from the given input; the message says what was expected."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str = ""


@dataclass(frozen=True)
class ForeignKey:
    column: str
    ref_table: str
    ref_column: str


@dataclass
class Table:
    """One table. ``column(name)`` is case-insensitive.

    >>> Table("t", [Column("Id", "INT")]).column("id")
    Column(name='Id', type='INT')
    """

    name: str
    columns: list[Column]
    primary_keys: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    _by_lower: dict[str, Column] = field(init=False, repr=False, compare=False)
    _lower_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_lower = {}
        for col in self.columns:
            self._by_lower.setdefault(col.name.lower(), col)
        self._lower_names = frozenset(self._by_lower)

    def column(self, name: str) -> Column | None:
        return self._by_lower.get(name.lower())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def lower_column_names(self) -> frozenset[str]:
        """Lower-cased column names (the fast membership test used by the analysis)."""
        return self._lower_names


_SQLITE_MEMO: dict[tuple[str, int, int], Schema] = {}


@dataclass
class Schema:
    """A database schema: tables keyed by their name as written in the database."""

    tables: dict[str, Table]
    db_id: str | None = None
    db_path: str | None = None
    _by_lower: dict[str, Table] = field(init=False, repr=False, compare=False)
    _key: tuple | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        self._by_lower = {}
        for table in self.tables.values():
            self._by_lower.setdefault(table.name.lower(), table)

    # ----------------------------------------------------------------- lookups
    def table(self, name: str) -> Table | None:
        return self._by_lower.get(name.lower())

    def has_table(self, name: str) -> bool:
        return name.lower() in self._by_lower

    def has_column(self, table: str, column: str) -> bool:
        t = self._by_lower.get(table.lower())
        return t is not None and t.column(column) is not None

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables.values()]

    @property
    def key(self) -> tuple:
        """A hashable value identifying the schema's content (for caches)."""
        if self._key is None:
            self._key = (
                self.db_id,
                tuple(
                    (
                        t.name,
                        tuple((c.name, c.type) for c in t.columns),
                        tuple(t.primary_keys),
                        tuple((f.column, f.ref_table, f.ref_column) for f in t.foreign_keys),
                    )
                    for t in self.tables.values()
                ),
            )
        return self._key

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Schema:
        """Build from the seed dict ``{'tables': {'t': {'columns': [...], 'types': [...],
        'primary_keys': [...], 'foreign_keys': [[col, ref_table, ref_col], ...]}}}``.

        A table may also be given as a bare list of column names.
        """
        if not isinstance(d, Mapping) or not isinstance(d.get("tables"), Mapping):
            raise SchemaError(
                "expected a schema dict {'tables': {name: {'columns': [...]}}}, "
                f"got {type(d).__name__}"
                + (f" with keys {sorted(map(str, d))}" if isinstance(d, Mapping) else "")
            )
        tables: dict[str, Table] = {}
        for name, spec in d["tables"].items():
            if not isinstance(name, str) or not name:
                raise SchemaError(f"table names must be non-empty strings, got {name!r}")
            tables[name] = _table_from_spec(name, spec)
        return cls(tables, db_id=d.get("db_id"), db_path=_opt_str(d.get("db_path")))

    @classmethod
    def from_sqlite(cls, path: str | os.PathLike) -> Schema:
        """Read tables and views with ``PRAGMA table_info`` / ``foreign_key_list`` (read-only).

        Memoised per (path, mtime, size): call it freely.
        """
        p = Path(path)
        try:
            st = p.stat()
        except OSError as e:
            raise SchemaError(f"expected a SQLite database file, cannot read {str(p)!r}: {e}") from None
        if not p.is_file():
            raise SchemaError(f"expected a SQLite database file, {str(p)!r} is not a file")
        memo_key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
        cached = _SQLITE_MEMO.get(memo_key)
        if cached is not None:
            return cached
        try:
            schema = cls(_read_sqlite_tables(p), db_id=p.stem, db_path=str(p))
        except sqlite3.Error as e:
            raise SchemaError(f"expected a SQLite database file, {str(p)!r} failed: {e}") from None
        _SQLITE_MEMO[memo_key] = schema
        return schema

    @classmethod
    def from_spider(cls, entry: Mapping[str, Any], db_path: str | os.PathLike | None = None) -> Schema:
        """Build from one Spider/BIRD ``tables.json`` entry.

        Uses ``table_names_original`` and ``column_names_original`` (``[table_index, name]``, index
        -1 for ``*``), ``column_types``, ``primary_keys`` (column indices; BIRD nests a list for a
        composite key) and ``foreign_keys`` (pairs of column indices).
        """
        if not isinstance(entry, Mapping):
            raise SchemaError(f"expected a tables.json entry (a dict), got {type(entry).__name__}")
        tnames = entry.get("table_names_original", entry.get("table_names"))
        cnames = entry.get("column_names_original", entry.get("column_names"))
        if not isinstance(tnames, list) or not isinstance(cnames, list):
            raise SchemaError(
                "expected a tables.json entry with 'table_names_original' and 'column_names_original' "
                f"lists, got keys {sorted(map(str, entry))}"
            )
        types = entry.get("column_types") or []
        cols: list[list[Column]] = [[] for _ in tnames]
        # column index -> (table index, name); index 0 is usually ("*", -1)
        index: dict[int, tuple[int, str]] = {}
        for i, item in enumerate(cnames):
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], int)):
                raise SchemaError(f"column_names_original[{i}] must be [table_index, name], got {item!r}")
            t_idx, cname = item
            if t_idx < 0:
                continue
            if t_idx >= len(tnames):
                raise SchemaError(f"column_names_original[{i}] refers to table {t_idx} of {len(tnames)}")
            ctype = types[i] if i < len(types) and isinstance(types[i], str) else ""
            cols[t_idx].append(Column(str(cname), ctype))
            index[i] = (t_idx, str(cname))

        def col_at(i: Any, what: str) -> tuple[int, str]:
            if not isinstance(i, int) or i not in index:
                raise SchemaError(f"{what} refers to column index {i!r}, which is not a table column")
            return index[i]

        pks: list[list[str]] = [[] for _ in tnames]
        for pk in entry.get("primary_keys") or []:
            for i in pk if isinstance(pk, list) else [pk]:
                t_idx, cname = col_at(i, "primary_keys")
                pks[t_idx].append(cname)
        fks: list[list[ForeignKey]] = [[] for _ in tnames]
        for pair in entry.get("foreign_keys") or []:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise SchemaError(
                    f"foreign_keys entries must be [column_index, ref_column_index], got {pair!r}"
                )
            t_idx, cname = col_at(pair[0], "foreign_keys")
            r_idx, rname = col_at(pair[1], "foreign_keys")
            fks[t_idx].append(ForeignKey(cname, str(tnames[r_idx]), rname))
        tables = {str(name): Table(str(name), cols[i], pks[i], fks[i]) for i, name in enumerate(tnames)}
        return cls(tables, db_id=entry.get("db_id"), db_path=_opt_str(db_path))

    @classmethod
    def coerce(cls, x: Any) -> Schema:
        """Accept a ``Schema``, a seed dict, a tables.json entry or a path to a SQLite file.

        >>> Schema.coerce({"tables": {"t": {"columns": ["a"]}}}).table_names
        ['t']
        """
        if isinstance(x, Schema):
            return x
        if isinstance(x, Mapping):
            if "table_names_original" in x or "column_names_original" in x:
                return cls.from_spider(x, db_path=x.get("db_path"))
            return cls.from_dict(x)
        if isinstance(x, (str, os.PathLike)):
            return cls.from_sqlite(x)
        raise SchemaError(
            "expected a schema: a Schema, a dict {'tables': {...}}, a tables.json entry or a path to a "
            f"SQLite file; got {type(x).__name__}"
        )

    # --------------------------------------------------------------- rendering
    def to_dict(self) -> dict[str, Any]:
        """The seed-style dict; ``Schema.from_dict(s.to_dict())`` rebuilds an equal schema."""
        out: dict[str, Any] = {
            "tables": {
                t.name: {
                    "columns": t.column_names,
                    "types": [c.type for c in t.columns],
                    "primary_keys": list(t.primary_keys),
                    "foreign_keys": [[f.column, f.ref_table, f.ref_column] for f in t.foreign_keys],
                }
                for t in self.tables.values()
            }
        }
        if self.db_id is not None:
            out["db_id"] = self.db_id
        if self.db_path is not None:
            out["db_path"] = self.db_path
        return out

    def to_ddl(self, sample_rows: int = 0, tables: Iterable[str] | None = None) -> str:
        """CREATE TABLE statements, one per table, in schema order.

        ``sample_rows=k`` appends ``-- examples: ...`` with up to k distinct non-null values per column,
        read from ``db_path`` (read-only); without a ``db_path`` no examples are added.
        ``tables`` restricts the output (case-insensitive); an unknown name raises ``SchemaError``.
        """
        selected = list(self.tables.values())
        if tables is not None:
            wanted = {n.lower() for n in tables}
            unknown = wanted - set(self._by_lower)
            if unknown:
                raise SchemaError(f"to_ddl: no such table(s) {sorted(unknown)}; have {self.table_names}")
            selected = [t for t in selected if t.name.lower() in wanted]
        con = None
        if sample_rows > 0 and self.db_path and Path(self.db_path).is_file():
            try:
                con = _connect_ro(Path(self.db_path))
            except sqlite3.Error:
                con = None
        try:
            return "\n\n".join(_table_ddl(t, con, sample_rows) for t in selected)
        finally:
            if con is not None:
                con.close()


def load_tables_json(path: str | os.PathLike, db_root: str | os.PathLike | None = None) -> dict[str, Schema]:
    """Read a Spider/BIRD ``tables.json`` into ``{db_id: Schema}``.

    ``db_path`` is set to ``<db_root>/<db_id>/<db_id>.sqlite`` when that file exists. Without
    ``db_root``, the Spider (``database/``) and BIRD (``dev_databases/`` next to ``dev_tables.json``)
    layouts are tried.
    """
    p = Path(path)
    try:
        entries = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SchemaError(f"expected a tables.json file with a list of entries, {str(p)!r}: {e}") from None
    if not isinstance(entries, list):
        raise SchemaError(f"expected a list of entries in {str(p)!r}, got {type(entries).__name__}")
    roots = (
        [Path(db_root)]
        if db_root is not None
        else [
            p.parent / "database",
            p.parent / p.stem.replace("tables", "databases"),
        ]
    )
    out: dict[str, Schema] = {}
    for i, entry in enumerate(entries):
        db_id = entry.get("db_id") if isinstance(entry, Mapping) else None
        if not isinstance(db_id, str):
            raise SchemaError(f"{str(p)!r} entry {i} has no 'db_id' string")
        db_file = next(
            (r / db_id / f"{db_id}.sqlite" for r in roots if (r / db_id / f"{db_id}.sqlite").is_file()), None
        )
        out[db_id] = Schema.from_spider(entry, db_path=db_file)
    return out


# ---------------------------------------------------------------------- helpers
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# https://sqlite.org/lang_keywords.html
_KEYWORDS = frozenset(
    [
        "ABORT",
        "ACTION",
        "ADD",
        "AFTER",
        "ALL",
        "ALTER",
        "ALWAYS",
        "ANALYZE",
        "AND",
        "AS",
        "ASC",
        "ATTACH",
        "AUTOINCREMENT",
        "BEFORE",
        "BEGIN",
        "BETWEEN",
        "BY",
        "CASCADE",
        "CASE",
        "CAST",
        "CHECK",
        "COLLATE",
        "COLUMN",
        "COMMIT",
        "CONFLICT",
        "CONSTRAINT",
        "CREATE",
        "CROSS",
        "CURRENT",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "DATABASE",
        "DEFAULT",
        "DEFERRABLE",
        "DEFERRED",
        "DELETE",
        "DESC",
        "DETACH",
        "DISTINCT",
        "DO",
        "DROP",
        "EACH",
        "ELSE",
        "END",
        "ESCAPE",
        "EXCEPT",
        "EXCLUDE",
        "EXCLUSIVE",
        "EXISTS",
        "EXPLAIN",
        "FAIL",
        "FILTER",
        "FIRST",
        "FOLLOWING",
        "FOR",
        "FOREIGN",
        "FROM",
        "FULL",
        "GENERATED",
        "GLOB",
        "GROUP",
        "GROUPS",
        "HAVING",
        "IF",
        "IGNORE",
        "IMMEDIATE",
        "IN",
        "INDEX",
        "INDEXED",
        "INITIALLY",
        "INNER",
        "INSERT",
        "INSTEAD",
        "INTERSECT",
        "INTO",
        "IS",
        "ISNULL",
        "JOIN",
        "KEY",
        "LAST",
        "LEFT",
        "LIKE",
        "LIMIT",
        "MATCH",
        "MATERIALIZED",
        "NATURAL",
        "NO",
        "NOT",
        "NOTHING",
        "NOTNULL",
        "NULL",
        "NULLS",
        "OF",
        "OFFSET",
        "ON",
        "OR",
        "ORDER",
        "OTHERS",
        "OUTER",
        "OVER",
        "PARTITION",
        "PLAN",
        "PRAGMA",
        "PRECEDING",
        "PRIMARY",
        "QUERY",
        "RAISE",
        "RANGE",
        "RECURSIVE",
        "REFERENCES",
        "REGEXP",
        "REINDEX",
        "RELEASE",
        "RENAME",
        "REPLACE",
        "RESTRICT",
        "RETURNING",
        "RIGHT",
        "ROLLBACK",
        "ROW",
        "ROWS",
        "SAVEPOINT",
        "SELECT",
        "SET",
        "TABLE",
        "TEMP",
        "TEMPORARY",
        "THEN",
        "TIES",
        "TO",
        "TRANSACTION",
        "TRIGGER",
        "UNBOUNDED",
        "UNION",
        "UNIQUE",
        "UPDATE",
        "USING",
        "VACUUM",
        "VALUES",
        "VIEW",
        "VIRTUAL",
        "WHEN",
        "WHERE",
        "WINDOW",
        "WITH",
        "WITHOUT",
    ]
)


def quote_identifier(name: str) -> str:
    """Quote ``name`` for SQLite only when needed.

    >>> quote_identifier("salary"), quote_identifier("hire date"), quote_identifier("order")
    ('salary', '"hire date"', '"order"')
    """
    if _IDENT.match(name) and name.upper() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def _always_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


def _table_from_spec(name: str, spec: Any) -> Table:
    if isinstance(spec, (list, tuple)):
        spec = {"columns": list(spec)}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("columns"), (list, tuple)):
        raise SchemaError(
            f"table {name!r}: expected {{'columns': [names...]}} or a list of column names, got {spec!r}"
        )
    types = spec.get("types") or []
    if not isinstance(types, (list, tuple)):
        raise SchemaError(f"table {name!r}: 'types' must be a list, got {type(types).__name__}")
    columns = []
    for i, c in enumerate(spec["columns"]):
        if isinstance(c, Mapping) and isinstance(c.get("name"), str):
            columns.append(Column(c["name"], str(c.get("type") or "")))
        elif isinstance(c, str) and c:
            columns.append(Column(c, str(types[i]) if i < len(types) and types[i] else ""))
        else:
            raise SchemaError(f"table {name!r}: column {i} must be a non-empty string, got {c!r}")
    pks = spec.get("primary_keys") or []
    if isinstance(pks, str):
        pks = [pks]
    fks = []
    for fk in spec.get("foreign_keys") or []:
        if isinstance(fk, Mapping):
            fk = [fk.get("column"), fk.get("ref_table"), fk.get("ref_column")]
        if not (isinstance(fk, (list, tuple)) and len(fk) == 3 and all(isinstance(v, str) for v in fk)):
            raise SchemaError(
                f"table {name!r}: foreign key must be [column, ref_table, ref_column], got {fk!r}"
            )
        fks.append(ForeignKey(*fk))
    return Table(name, columns, [str(k) for k in pks], fks)


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _read_sqlite_tables(path: Path) -> dict[str, Table]:
    con = _connect_ro(path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
            )
        ]
        raw = {}
        for name in names:
            q = _always_quote(name)
            info = con.execute(f"PRAGMA table_info({q})").fetchall()
            fk_rows = con.execute(f"PRAGMA foreign_key_list({q})").fetchall()
            raw[name] = (info, fk_rows)
    finally:
        con.close()
    tables: dict[str, Table] = {}
    pk_of = {
        name.lower(): [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        for name, (info, _) in raw.items()
    }
    for name, (info, fk_rows) in raw.items():
        # table_info rows: cid, name, type, notnull, dflt_value, pk (1-based position in the key)
        columns = [Column(r[1], r[2] or "") for r in info]
        fks = []
        # foreign_key_list rows: id, seq, table, from, to, ...; `to` is NULL for "the referenced PK"
        for r in sorted(fk_rows, key=lambda r: (r[0], r[1])):
            ref_col = r[4]
            if ref_col is None:
                ref_pk = pk_of.get(str(r[2]).lower()) or [""]
                ref_col = ref_pk[min(r[1], len(ref_pk) - 1)]
            fks.append(ForeignKey(r[3], r[2], ref_col))
        tables[name] = Table(name, columns, pk_of[name.lower()], fks)
    return tables


def _literal(v: Any) -> str:
    if isinstance(v, str):
        v = v if len(v) <= 40 else v[:37] + "..."
        return "'" + v.replace("'", "''").replace("\n", " ") + "'"
    if isinstance(v, bytes):
        return "X'" + v[:16].hex() + "'"
    return repr(v)


def _samples(con: sqlite3.Connection | None, table: Table, col: Column, k: int) -> str:
    if con is None or k <= 0:
        return ""
    q = f"SELECT DISTINCT {_always_quote(col.name)} FROM {_always_quote(table.name)} WHERE {_always_quote(col.name)} IS NOT NULL LIMIT {int(k)}"
    try:
        values = [r[0] for r in con.execute(q).fetchall()]
    except sqlite3.Error:
        return ""
    return " -- examples: " + ", ".join(_literal(v) for v in values) if values else ""


def _table_ddl(table: Table, con: sqlite3.Connection | None, k: int) -> str:
    lines: list[tuple[str, str]] = []  # (definition, trailing comment)
    for col in table.columns:
        definition = quote_identifier(col.name) + (f" {col.type}" if col.type else "")
        lines.append((definition, _samples(con, table, col, k)))
    if table.primary_keys:
        lines.append((f"PRIMARY KEY ({', '.join(quote_identifier(c) for c in table.primary_keys)})", ""))
    for fk in table.foreign_keys:
        ref = (
            f"{quote_identifier(fk.ref_table)}({quote_identifier(fk.ref_column)})"
            if fk.ref_column
            else quote_identifier(fk.ref_table)
        )
        lines.append((f"FOREIGN KEY ({quote_identifier(fk.column)}) REFERENCES {ref}", ""))
    body = [f"  {d}{',' if i < len(lines) - 1 else ''}{c}" for i, (d, c) in enumerate(lines)]
    return f"CREATE TABLE {quote_identifier(table.name)} (\n" + "\n".join(body) + "\n);"
