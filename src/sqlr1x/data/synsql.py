"""SynSQL-2.5M loader (the data SQL-R1 trains on), streamed from its multi-gigabyte ``data.json``.

Layout: ``<root>/data.json`` (a JSON list of rows with ``db_id, sql_complexity, question_style,
question, external_knowledge, cot, sql``; a ``.jsonl`` file with one row per line is accepted too),
``<root>/databases/<db_id>/<db_id>.sqlite`` and, optionally, ``<root>/tables.json``.
The file is parsed incrementally, so ``limit`` rows cost only what they read.

Example::

    >>> rows = load_synsql("/data/SynSQL-2.5M", complexity=["Complex"], limit=4000)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlr1x.data.example import (
    DatasetError,
    Example,
    database_path,
    field_str,
    require_dir,
    require_file,
    spider_schema_loader,
    tables_by_db_id,
)

_CHUNK = 1 << 20
_WS = " \t\r\n"


def iter_json_array(path: str | os.PathLike, chunk_size: int = _CHUNK) -> Iterator[Any]:
    """Yield the items of a top-level JSON list one by one, reading the file in chunks.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"; _ = p.write_text('[{"a": 1}, {"a": "]"}]')
    >>> list(iter_json_array(p, chunk_size=4))
    [{'a': 1}, {'a': ']'}]
    """
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as fh:
        buf, pos, eof = "", 0, False

        def fill() -> bool:
            nonlocal buf, pos, eof
            more = fh.read(chunk_size)
            eof = not more
            buf, pos = buf[pos:] + more, 0
            return not eof

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in _WS:
                    pos += 1
                if pos < len(buf) or not fill():
                    return

        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise DatasetError(f"{str(path)!r} must hold a JSON list (expected '[' at the start)")
        pos += 1
        index = 0
        while True:
            skip_ws()
            if pos >= len(buf):
                raise DatasetError(f"{str(path)!r}: unexpected end of file after item {index}")
            if buf[pos] == "]":
                return
            if index and buf[pos] == ",":
                pos += 1
                skip_ws()
            while True:
                try:
                    item, end = decoder.raw_decode(buf, pos)
                    # a number at the buffer's end may continue in the next chunk
                    if end == len(buf) and not eof and fill():
                        continue
                    break
                except json.JSONDecodeError as exc:
                    if not eof and fill():
                        continue
                    raise DatasetError(f"{str(path)!r} item {index}: invalid JSON ({exc.msg})") from None
            pos = end
            yield item
            index += 1


def _iter_rows(path: Path) -> Iterator[Any]:
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DatasetError(f"{str(path)!r} row {i}: invalid JSON ({exc.msg})") from None
    else:
        yield from iter_json_array(path)


def load_synsql(
    root: str | os.PathLike,
    *,
    complexity: Iterable[str] | None = None,
    limit: int | None = None,
    split: str = "train",
) -> list[Example]:
    """Stream SynSQL rows, keep those whose ``sql_complexity`` is in ``complexity`` (case-insensitive).

    Databases are checked as rows are read: a missing one raises ``DatasetError`` naming its path.
    """
    root = require_dir(Path(root), "SynSQL folder")
    data = root / "data.json"
    if not data.is_file() and (root / "data.jsonl").is_file():
        data = root / "data.jsonl"
    require_file(data, "SynSQL data file")
    db_root = require_dir(root / "databases", "SynSQL databases folder")
    entries = (
        tables_by_db_id(root / "tables.json", "SynSQL tables.json")
        if (root / "tables.json").is_file()
        else {}
    )
    wanted = {c.strip().lower() for c in complexity} if complexity else None
    checked: set[str] = set()
    out: list[Example] = []
    for i, row in enumerate(_iter_rows(data)):
        if limit is not None and len(out) >= limit:
            break
        level = field_str(row, "sql_complexity", data, i, required=False)
        if wanted is not None and level.lower() not in wanted:
            continue
        db_id = field_str(row, "db_id", data, i)
        db_path = database_path(db_root, db_id)
        if db_id not in checked:
            if not db_path.is_file():
                raise DatasetError(
                    f"missing SynSQL database for db_id {db_id!r} (row {i}): expected a SQLite file at {str(db_path)!r}"
                )
            checked.add(db_id)
        out.append(
            Example(
                id=f"synsql_{i}",
                question=field_str(row, "question", data, i).strip(),
                evidence=field_str(row, "external_knowledge", data, i, required=False).strip(),
                db_id=db_id,
                db_path=str(db_path),
                gold_sql=field_str(row, "sql", data, i).strip(),
                source="synsql",
                split=split,
                difficulty=level or None,
                schema_loader=spider_schema_loader(entries, db_id, db_path),
            )
        )
    return out
