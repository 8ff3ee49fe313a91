"""One Text-to-SQL example, the error type of every loader, and small shared loader helpers.

Example::

    >>> ex = Example(id="q1", question="How many employees are there?", evidence="", db_id="company",
    ...              db_path="company.sqlite", gold_sql="SELECT COUNT(*) FROM employees",
    ...              source="demo", split="train")
    >>> ex.difficulty is None
    True
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlr1x.sql.schema import Schema

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset file, database or row is missing or malformed; the message names where and what."""


@dataclass
class Example:
    """A question, its database and its gold SQL.

    ``schema`` is built lazily on first access: by ``schema_loader`` when the loader gave one (e.g. from
    a ``tables.json`` entry), otherwise from the SQLite file at ``db_path``.
    """

    id: str
    question: str
    evidence: str
    db_id: str
    db_path: str
    gold_sql: str
    source: str
    split: str
    difficulty: str | None = None
    schema_loader: Callable[[], Schema] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def schema(self) -> Schema:
        if self.schema_loader is not None:
            return self.schema_loader()
        from sqlr1x.sql.schema import Schema

        return Schema.from_sqlite(self.db_path)


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise ``DatasetError`` saying what was expected there."""
    if not path.is_file():
        raise DatasetError(f"missing {what}: expected a file at {str(path)!r}")
    return path


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a directory, else raise ``DatasetError`` saying what was expected there."""
    if not path.is_dir():
        raise DatasetError(f"missing {what}: expected a folder at {str(path)!r}")
    return path


def read_json_list(path: Path, what: str) -> list:
    """Read a JSON file holding a list (Spider/BIRD question files, ``tables.json``)."""
    require_file(path, what)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {what} {str(path)!r}: {exc}") from None
    if not isinstance(data, list):
        raise DatasetError(f"{what} {str(path)!r} must hold a JSON list, got {type(data).__name__}")
    return data


def field_str(row: Any, key: str, path: Path, index: int, *, required: bool = True, default: str = "") -> str:
    """``row[key]`` as a string; a missing/non-string required field raises naming file, row and field."""
    if not isinstance(row, Mapping):
        raise DatasetError(f"{str(path)!r} row {index}: expected an object, got {type(row).__name__}")
    value = row.get(key)
    if value is None:
        if required:
            raise DatasetError(f"{str(path)!r} row {index}: missing field {key!r}")
        return default
    if not isinstance(value, str):
        raise DatasetError(
            f"{str(path)!r} row {index}: field {key!r} must be a string, got {type(value).__name__}"
        )
    return value


def database_path(root: Path, db_id: str) -> Path:
    """``<root>/<db_id>/<db_id>.sqlite``, the layout shared by Spider, BIRD, SynSQL and the demo."""
    return root / db_id / f"{db_id}.sqlite"


def check_databases(examples: Iterable[Example], what: str) -> None:
    """Raise ``DatasetError`` for the first example whose database file does not exist."""
    seen: set[str] = set()
    for ex in examples:
        if ex.db_path in seen:
            continue
        seen.add(ex.db_path)
        if not Path(ex.db_path).is_file():
            raise DatasetError(
                f"missing {what} database for db_id {ex.db_id!r} (example {ex.id}): expected a SQLite file at "
                f"{ex.db_path!r}"
            )


def spider_schema_loader(
    entries: Mapping[str, Mapping], db_id: str, db_path: Path
) -> Callable[[], Schema] | None:
    """A loader building the ``Schema`` of ``db_id`` from its ``tables.json`` entry, or None without one."""
    entry = entries.get(db_id)
    if entry is None:
        return None

    def load() -> Schema:
        from sqlr1x.sql.schema import Schema

        return Schema.from_spider(entry, db_path=db_path)

    return load


def tables_by_db_id(path: Path, what: str) -> dict[str, Mapping]:
    """Index a ``tables.json`` list by ``db_id``."""
    out: dict[str, Mapping] = {}
    for i, entry in enumerate(read_json_list(path, what)):
        out[field_str(entry, "db_id", path, i)] = entry
    return out
