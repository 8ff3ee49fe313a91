"""BIRD loader, from the official release folders.

Layout: ``<root>/{split}/{split}.json``, ``{split}_tables.json`` and ``{split}_databases/<db_id>/<db_id>.sqlite``
for split ``train`` or ``dev``; ``root`` may also be the split folder itself (e.g. ``dev_20240627/``).
The ``evidence`` (external knowledge) is kept and goes into the prompt; ``difficulty``
(simple / moderate / challenging) is kept where the split has it.

Example::

    >>> examples = load_bird("/data/bird", "dev")  # doctest: +SKIP
    >>> examples[0].evidence  # doctest: +SKIP
    'Eligible free rate for K-12 = `Free Meal Count (K-12)` / `Enrollment (K-12)`'
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

SPLITS = ("train", "dev")


def split_folder(root: Path, split: str) -> Path:
    """The folder holding ``{split}.json``: ``root/split`` or ``root`` itself."""
    for folder in (root / split, root):
        if (folder / f"{split}.json").is_file():
            return folder
    raise DatasetError(
        f"missing BIRD {split} questions: expected {str(root / split / f'{split}.json')!r} "
        f"or {str(root / f'{split}.json')!r}"
    )


def load_bird(root: str | os.PathLike, split: str = "dev", *, limit: int | None = None) -> list[Example]:
    """Load a BIRD split; every referenced database must exist."""
    root = require_dir(Path(root), "BIRD folder")
    if split not in SPLITS:
        raise DatasetError(f"unknown BIRD split {split!r}; expected one of {list(SPLITS)}")
    folder = split_folder(root, split)
    db_root = require_dir(folder / f"{split}_databases", f"BIRD {split} database folder")
    entries = tables_by_db_id(folder / f"{split}_tables.json", f"BIRD {split} tables file")
    path = folder / f"{split}.json"
    out: list[Example] = []
    for i, row in enumerate(read_json_list(path, f"BIRD {split} file")):
        if limit is not None and len(out) >= limit:
            break
        db_id = field_str(row, "db_id", path, i)
        db_path = database_path(db_root, db_id)
        qid = row.get("question_id", i)
        out.append(
            Example(
                id=f"bird_{split}_{qid}",
                question=field_str(row, "question", path, i).strip(),
                evidence=field_str(row, "evidence", path, i, required=False).strip(),
                db_id=db_id,
                db_path=str(db_path),
                gold_sql=field_str(row, "SQL", path, i).strip(),
                source="bird",
                split=split,
                difficulty=field_str(row, "difficulty", path, i, required=False) or None,
                schema_loader=spider_schema_loader(entries, db_id, db_path),
            )
        )
    check_databases(out, "BIRD")
    return out
