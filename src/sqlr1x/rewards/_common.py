"""Input hygiene shared by the rewards: text coercion, ground-truth parsing, database and schema lookup.

Everything here is total: bad input gives a value plus a reason string, never an exception.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

logger = logging.getLogger("sqlr1x.rewards")

DB_ROOT_ENV = "SQLR1X_DB_ROOT"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe LRU mapping (``functools.lru_cache`` cannot key on dicts or skip big keys)."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get_or_compute(self, key: K, fn: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = fn()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    # Locks do not pickle; caches need not travel to another process.
    def __getstate__(self) -> dict:
        return {"maxsize": self.maxsize}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["maxsize"])


def as_text(value: Any) -> tuple[str, str]:
    """Coerce a completion-like value to a valid UTF-8 ``str``; returns ``(text, reason)``.

    ``reason`` is empty when ``value`` was already a clean string. Conversational completions
    (``[{"role": "assistant", "content": ...}]``) are joined; bytes are decoded with replacement;
    lone surrogates (not encodable as UTF-8) are replaced so SQLite and regexes accept the text.
    """
    if isinstance(value, str):
        text, reason = value, ""
    elif value is None:
        return "", "input is None"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", errors="replace")
        reason = "decoded bytes (invalid UTF-8 replaced)" if "\ufffd" in text else "decoded bytes"
        return text, reason
    elif isinstance(value, dict) and "content" in value:
        return as_text(value["content"])
    elif isinstance(value, (list, tuple)) and all(isinstance(m, dict) for m in value):
        messages = [m for m in value if m.get("role", "assistant") == "assistant"] or list(value)
        parts = [as_text(m.get("content"))[0] for m in messages]
        return "".join(parts), ""
    else:
        return "", f"unsupported input type {type(value).__name__}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
        reason = "non-UTF-8 characters replaced"
    return text, reason


@dataclass(frozen=True)
class GroundTruth:
    """The gold query and where it runs, parsed from a SQL string or SQL-R1's ground-truth dict."""

    sql: str | None
    db_id: str | None = None
    db_path: str | None = None
    reason: str = ""


_SQL_KEYS = ("sql", "gold_sql", "query", "SQL")


def parse_ground_truth(value: Any) -> GroundTruth:
    """Accept ``"SELECT ..."``, ``{"sql", "db_id", "db_path"}`` (also nested under ``ground_truth``,
    or serialised as JSON / a Python literal) and return a :class:`GroundTruth`; never raises."""
    if isinstance(value, GroundTruth):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = as_text(value)[0]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{"):
            for loader in (json.loads, ast.literal_eval):
                try:
                    loaded = loader(stripped)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
                if isinstance(loaded, dict):
                    return parse_ground_truth(loaded)
        text, reason = as_text(value)
        return GroundTruth(
            text if text.strip() else None, reason=reason or ("" if text.strip() else "empty gold SQL")
        )
    if isinstance(value, dict):
        inner = value.get("ground_truth")
        if isinstance(inner, dict):
            merged = {**{k: v for k, v in value.items() if k != "ground_truth"}, **inner}
            return parse_ground_truth(merged)
        sql = next((value[k] for k in _SQL_KEYS if isinstance(value.get(k), str)), None)
        db_id = value.get("db_id")
        db_path = value.get("db_path")
        sql_text = as_text(sql)[0] if sql is not None else ""
        return GroundTruth(
            sql=sql_text if sql_text.strip() else None,
            db_id=str(db_id).strip() if db_id else None,
            db_path=os.fspath(db_path) if isinstance(db_path, (str, os.PathLike)) else None,
            reason="" if sql_text.strip() else "ground truth has no SQL",
        )
    return GroundTruth(None, reason=f"unsupported ground truth type {type(value).__name__}")


def resolve_db_path(
    db_path: str | os.PathLike | None, truth: GroundTruth, db_root: str | os.PathLike | None = None
) -> str | None:
    """Explicit ``db_path`` > the ground truth's ``db_path`` > ``<db_root>/<db_id>/<db_id>.sqlite``.

    ``db_root`` falls back to the ``SQLR1X_DB_ROOT`` environment variable.
    """
    if isinstance(db_path, (str, os.PathLike)) and os.fspath(db_path):
        return os.fspath(db_path)
    if truth.db_path:
        return truth.db_path
    root = db_root if db_root is not None else os.environ.get(DB_ROOT_ENV)
    if root and truth.db_id:
        return os.path.join(os.fspath(root), truth.db_id, f"{truth.db_id}.sqlite")
    return None


_SCHEMAS: LRU[Hashable, Any] = LRU(maxsize=512)


def _schema_key(value: Any) -> Hashable | None:
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        try:
            return ("path", path, os.stat(path).st_mtime_ns)
        except OSError:
            return None
    if isinstance(value, (dict, list)):
        # repr is C-speed and changes when the dict is mutated, unlike id().
        try:
            return ("repr", type(value).__name__, repr(value))
        except RecursionError:
            return None
    return None


def coerce_schema(value: Any, db_path: str | None = None) -> tuple[Any, str]:
    """Return ``(Schema | None, reason)`` for a seed dict, tables.json entry, SQLite path or ``Schema``.

    ``None`` builds the schema from ``db_path`` when that file exists. Results are cached by path
    (and mtime) or by the dict's content, so a training loop does not rebuild it per completion.
    """
    from sqlr1x.sql.schema import Schema

    if isinstance(value, Schema):
        return value, ""
    if value is None:
        value = db_path
        if not value:
            return None, "no schema and no database to read it from"
    if isinstance(value, Path):
        value = os.fspath(value)
    key = _schema_key(value)
    if key is None and value is db_path:
        return None, f"no schema, and the database {db_path} does not exist"
    if key is not None:
        cached = _SCHEMAS.get(key)
        if cached is not None:
            return cached, ""
    try:
        schema = Schema.coerce(value)
    except Exception as exc:  # SchemaError, and anything a malformed dict provokes
        return None, f"invalid schema: {exc}"
    if key is not None:
        _SCHEMAS.put(key, schema)
    return schema, ""
