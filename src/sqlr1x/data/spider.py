"""Spider loader, from the official release folder.

Layout: ``train_spider.json``, ``train_others.json``, ``dev.json``, ``test.json``, ``tables.json``
(``test_tables.json`` for test), ``database/<db_id>/<db_id>.sqlite`` (``test_database/`` for test).
Split ``train`` is ``train_spider`` + ``train_others``, as in the Spider evaluation scripts.

Example::

    >>> examples = load_spider("/data/spider", "dev")  # doctest: +SKIP
    >>> examples[0].gold_sql  # doctest: +SKIP
    'SELECT count(*) FROM singer'
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlr1x.data.example import (
    DatasetError,
    Example,
    check_databases,
    database_path,
    field_str,
    read_json_list,
    require_dir,
    spider_schema_loader,
    tables_by_db_id,
)

SPLIT_FILES = {
    "train": ["train_spider.json", "train_others.json"],
    "train_spider": ["train_spider.json"],
    "train_others": ["train_others.json"],
    "dev": ["dev.json"],
    "test": ["test.json"],
}


def load_spider(root: str | os.PathLike, split: str = "dev", *, limit: int | None = None) -> list[Example]:
    """Load a Spider split; every referenced database must exist."""
    root = require_dir(Path(root), "Spider folder")
    if split not in SPLIT_FILES:
        raise DatasetError(f"unknown Spider split {split!r}; expected one of {sorted(SPLIT_FILES)}")
    is_test = split == "test"
    tables_file = (
        root / "test_tables.json"
        if is_test and (root / "test_tables.json").is_file()
        else root / "tables.json"
    )
    db_root = root / "test_database" if is_test and (root / "test_database").is_dir() else root / "database"
    require_dir(db_root, "Spider database folder")
    entries = tables_by_db_id(tables_file, "Spider tables.json")
    out: list[Example] = []
    for name in SPLIT_FILES[split]:
        path = root / name
        for i, row in enumerate(read_json_list(path, f"Spider {split} file")):
            if limit is not None and len(out) >= limit:
                break
            db_id = field_str(row, "db_id", path, i)
            db_path = database_path(db_root, db_id)
            out.append(
                Example(
                    id=f"spider_{Path(name).stem}_{i}",
                    question=field_str(row, "question", path, i).strip(),
                    evidence="",
                    db_id=db_id,
                    db_path=str(db_path),
                    gold_sql=field_str(row, "query", path, i).strip(),
                    source="spider",
                    split=split,
                    schema_loader=spider_schema_loader(entries, db_id, db_path),
                )
            )
    check_databases(out, "Spider")
    return out
