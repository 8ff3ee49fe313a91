"""WikiSQL loader: one SQLite file per split built from ``{split}.tables.jsonl``, logical forms to SQL.

WikiSQL ships questions as logical forms ``{"sel": i, "agg": j, "conds": [[col, op, value], ...]}``
over per-question tables. We build one SQLite database per split whose tables keep their real header
names (always quoted) and turn each logical form into SQL with WikiSQL's own operator tables
(``lib/query.py``), so WikiSQL trains like Spider.

Value handling follows WikiSQL's ``lib/dbengine.py``: a condition on a ``real`` column compares
numbers (a string value is parsed, thousands separators dropped); any other value is a quoted
string. Unlike ``dbengine`` we keep the original letter case, because our tables store the cells as
given instead of lower-cased.

Layout: ``<root>/{split}.jsonl`` and ``<root>/{split}.tables.jsonl``; the database is cached at
``<cache_dir>/wikisql_{split}.sqlite`` (default ``<root>/.sqlr1x_cache``) and rebuilt when missing
or older than the tables file.

Example::

    >>> logical_form_to_sql({"sel": 0, "agg": 3, "conds": [[1, 0, "Lyon"]]}, ["Player", "City"],
    ...                     ["text", "text"], "table_1_2")
    'SELECT COUNT("Player") FROM table_1_2 WHERE "City" = \\'Lyon\\''
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlr1x.data.example import DatasetError, Example, require_file

log = logging.getLogger(__name__)

# WikiSQL's lib/query.py: Query.agg_ops and Query.cond_ops, indexed by the logical form.
AGG_OPS = ["", "MAX", "MIN", "COUNT", "SUM", "AVG"]
COND_OPS = ["=", ">", "<", "OP"]

_NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")


def quote_ident(name: str) -> str:
    """Always double-quote: WikiSQL headers hold spaces, punctuation and SQL keywords."""
    return '"' + name.replace('"', '""') + '"'


def table_name(table_id: str) -> str:
    """WikiSQL's SQLite table name for a table id (``1-1000181-1`` -> ``table_1_1000181_1``)."""
    return table_id if table_id.startswith("table") else "table_" + re.sub(r"\W", "_", table_id)


def column_names(header: Sequence[str]) -> list[str]:
    """Header names made usable as distinct columns: empty -> ``col<i>``, repeats get ``_2``, ``_3``."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        base = str(raw).strip() or f"col{i}"
        name, n = base, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        out.append(name)
    return out


def _format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def sql_value(value: Any, column_type: str) -> str:
    """A condition value as a SQL literal: a number on a ``real`` column, else a quoted string.

    >>> sql_value("1,234", "real"), sql_value("O'Neil", "text"), sql_value(1998, "text")
    ('1234', "'O''Neil'", "'1998'")
    """
    if column_type == "real":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _format_number(value)
        text = str(value).replace(",", "").strip()
        try:
            return _format_number(float(text))
        except ValueError:
            found = _NUMBER.findall(text)
            if found:
                return _format_number(float(found[0]))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "'" + str(value).replace("'", "''") + "'"


def logical_form_to_sql(
    sql: Mapping[str, Any], header: Sequence[str], types: Sequence[str], table: str
) -> str:
    """Turn a WikiSQL logical form into SQLite SQL over ``table`` with columns ``column_names(header)``.

    Raises ``ValueError`` for an index outside WikiSQL's tables or the header.
    """
    cols = column_names(header)
    sel, agg = sql["sel"], sql["agg"]
    if not (isinstance(sel, int) and 0 <= sel < len(cols)):
        raise ValueError(f"sel {sel!r} is not a column index (table has {len(cols)} columns)")
    if not (isinstance(agg, int) and 0 <= agg < len(AGG_OPS)):
        raise ValueError(f"agg {agg!r} is not an index into {AGG_OPS}")
    target = quote_ident(cols[sel])
    select = f"{AGG_OPS[agg]}({target})" if AGG_OPS[agg] else target
    where = []
    for cond in sql.get("conds") or []:
        if not (isinstance(cond, (list, tuple)) and len(cond) == 3):
            raise ValueError(f"condition {cond!r} is not [column, operator, value]")
        col, op, value = cond
        if not (isinstance(col, int) and 0 <= col < len(cols)):
            raise ValueError(f"condition column {col!r} is not a column index")
        # index 3 ('OP') is a placeholder in WikiSQL's table and never a real operator.
        if not (isinstance(op, int) and 0 <= op < 3):
            raise ValueError(f"condition operator {op!r} is not an index into {COND_OPS[:3]}")
        ctype = types[col] if col < len(types) else "text"
        where.append(f"{quote_ident(cols[col])} {COND_OPS[op]} {sql_value(value, ctype)}")
    table_sql = table if re.fullmatch(r"[A-Za-z_]\w*", table) else quote_ident(table)
    out = f"SELECT {select} FROM {table_sql}"
    return out + (" WHERE " + " AND ".join(where) if where else "")


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{str(path)!r} row {i}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{str(path)!r} row {i}: expected an object, got {type(row).__name__}")
            yield i, row


def _read_tables(path: Path) -> dict[str, dict]:
    tables: dict[str, dict] = {}
    for i, row in _iter_jsonl(path):
        for key in ("id", "header"):
            if key not in row:
                raise DatasetError(f"{str(path)!r} row {i}: missing field {key!r}")
        header = row["header"]
        types = row.get("types") or ["text"] * len(header)
        if not isinstance(header, list) or len(types) != len(header):
            raise DatasetError(f"{str(path)!r} row {i}: field 'types' must have one entry per header name")
        tables[str(row["id"])] = {"header": header, "types": types}
    return tables


def build_database(tables_path: str | os.PathLike, db_path: str | os.PathLike) -> Path:
    """Write every table of a ``{split}.tables.jsonl`` into one SQLite file (atomically replaced)."""
    src, dst = Path(tables_path), Path(db_path)
    require_file(src, "WikiSQL tables file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        for i, row in _iter_jsonl(src):
            if "id" not in row or not isinstance(row.get("header"), list):
                raise DatasetError(f"{str(src)!r} row {i}: missing field 'id' or 'header'")
            cols = column_names(row["header"])
            types = row.get("types") or ["text"] * len(cols)
            if len(types) != len(cols):
                raise DatasetError(f"{str(src)!r} row {i}: field 'types' must have one entry per header name")
            decl = ", ".join(
                f"{quote_ident(c)} {'REAL' if t == 'real' else 'TEXT'}"
                for c, t in zip(cols, types, strict=True)
            )
            name = quote_ident(table_name(str(row["id"])))
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({decl})")
            rows = row.get("rows") or []
            if any(not isinstance(r, list) or len(r) != len(cols) for r in rows):
                raise DatasetError(f"{str(src)!r} row {i}: field 'rows' must hold lists of {len(cols)} cells")
            con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", rows)
        con.execute("COMMIT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, dst)
    return dst


def ensure_database(root: Path, split: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached SQLite file of ``split``, built when missing or older than ``{split}.tables.jsonl``."""
    tables_path = require_file(root / f"{split}.tables.jsonl", f"WikiSQL {split} tables file")
    cache = Path(cache_dir) if cache_dir is not None else root / ".sqlr1x_cache"
    db_path = cache / f"wikisql_{split}.sqlite"
    if not db_path.is_file() or db_path.stat().st_mtime < tables_path.stat().st_mtime:
        log.info("building WikiSQL %s database %s", split, db_path)
        try:
            build_database(tables_path, db_path)
        except PermissionError as exc:
            raise DatasetError(
                f"cannot write the WikiSQL database cache {str(db_path)!r} ({exc.strerror}); pass cache_dir="
            ) from None
    return db_path


def load_wikisql(
    root: str | os.PathLike,
    split: str = "train",
    *,
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> list[Example]:
    """Load ``{split}.jsonl`` of a WikiSQL folder as examples with executable SQL.

    Each example's schema is just its own table (the split database holds thousands).
    """
    from sqlr1x.sql.schema import Column, Schema, Table

    root = Path(root)
    questions = require_file(root / f"{split}.jsonl", f"WikiSQL {split} questions file")
    db_path = ensure_database(root, split, cache_dir)
    tables = _read_tables(root / f"{split}.tables.jsonl")
    schemas: dict[str, Schema] = {}

    def schema_of(tid: str) -> Schema:
        if tid not in schemas:
            t = tables[tid]
            cols = [
                Column(c, "REAL" if ty == "real" else "TEXT")
                for c, ty in zip(column_names(t["header"]), t["types"], strict=True)
            ]
            name = table_name(tid)
            schemas[tid] = Schema({name: Table(name, cols)}, db_id=name, db_path=str(db_path))
        return schemas[tid]

    out: list[Example] = []
    for i, row in _iter_jsonl(questions):
        if limit is not None and len(out) >= limit:
            break
        for key in ("table_id", "question", "sql"):
            if key not in row:
                raise DatasetError(f"{str(questions)!r} row {i}: missing field {key!r}")
        tid = str(row["table_id"])
        if tid not in tables:
            raise DatasetError(
                f"{str(questions)!r} row {i}: field 'table_id' {tid!r} is not in {split}.tables.jsonl"
            )
        t = tables[tid]
        try:
            sql = logical_form_to_sql(row["sql"], t["header"], t["types"], table_name(tid))
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{str(questions)!r} row {i}: field 'sql': {exc}") from None
        out.append(
            Example(
                id=f"wikisql_{split}_{i}",
                question=str(row["question"]).strip(),
                evidence="",
                db_id=table_name(tid),
                db_path=str(db_path),
                gold_sql=sql,
                source="wikisql",
                split=split,
                schema_loader=lambda tid=tid: schema_of(tid),
            )
        )
    return out
