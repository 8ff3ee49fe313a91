"""Read a predictions file from any system and line it up with the dataset's examples.

Accepted, one item per line (``.jsonl``/``.txt``/``.sql``):

- ``{"id": ..., "sql": ...}`` or ``{"id": ..., "completion": ...}`` — matched by id; a file written
  by ``sqlr1x eval`` (``predictions.jsonl``) is accepted as is (its ``completion`` is re-extracted);
- ``{"id": ..., "completions": [...]}`` / ``{"id": ..., "sqls": [...]}`` — several samples, voted;
- a JSON string or a raw line — positional, in dataset order: a raw completion, or bare SQL
  (Spider's ``pred.txt``; a trailing ``\\t<db_id>`` or BIRD's ``\\t----- bird -----\\t<db_id>`` is
  stripped). Multi-line completions must be JSON-encoded.

Also a ``.json`` file holding a list in dataset order, or BIRD's ``{"0": "SQL\\t----- bird -----\\tdb"}``.

Bad input never disappears silently: examples without a prediction are returned as missing (and
scored as failures), blank lines in id mode, unknown ids and extra positional lines are counted in
``PredictionsFile.issues``; duplicate ids, mixed id/positional lines or a file that matches no
example raise ``PredictionsError``.

Example::

    >>> pf = read_predictions_file("preds.jsonl", examples)    # doctest: +SKIP
    >>> pf.items[0].sql, pf.issues["missing_ids"]               # doctest: +SKIP
    ('SELECT ...', [])
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BIRD_SUFFIX = re.compile(r"\t-{3,}\s*bird\s*-{3,}\t.*$", re.DOTALL)
_FORMAT_MARKERS = ("<think>", "</think>", "<answer>", "```")


class PredictionsError(ValueError):
    """A predictions file that cannot be lined up with the dataset; the message says where and why."""


@dataclass
class PredictionItem:
    """What a file says for one example. ``completions`` holds raw model outputs, ``sqls`` bare SQL."""

    completions: list[str] | None = None
    sqls: list[str | None] | None = None
    missing: bool = False

    @property
    def n(self) -> int:
        return len(self.completions or self.sqls or [None])


@dataclass
class PredictionsFile:
    items: list[PredictionItem]  # one per example, in dataset order
    issues: dict[str, Any] = field(default_factory=dict)


def _bare_sql(text: str, db_id: str | None) -> str:
    text = _BIRD_SUFFIX.sub("", text)
    if db_id and "\t" in text:
        head, _, tail = text.rpartition("\t")
        if tail.strip() == db_id:
            text = head
    return text.strip()


def _raw_item(text: str, db_id: str | None) -> PredictionItem:
    if not text.strip():
        return PredictionItem(sqls=[None])
    if any(m in text for m in _FORMAT_MARKERS):
        return PredictionItem(completions=[text])
    return PredictionItem(sqls=[_bare_sql(text, db_id) or None])


def _object_item(obj: dict[str, Any], where: str) -> PredictionItem:
    def strings(key: str) -> list[str]:
        value = obj[key]
        values = value if isinstance(value, list) else [value]
        if not values or not all(v is None or isinstance(v, str) for v in values):
            raise PredictionsError(f"{where}: {key!r} must be a string or a non-empty list of strings")
        return [v or "" for v in values]

    for key in ("completions", "completion"):
        if key in obj and obj[key] is not None:
            return PredictionItem(completions=strings(key))
    for key in ("sqls", "sql", "predicted_sql", "prediction"):
        if key in obj:
            return PredictionItem(sqls=[s.strip() or None for s in strings(key)])
    raise PredictionsError(
        f"{where}: an object needs 'sql' or 'completion' (or 'sqls'/'completions'), got {sorted(obj)}"
    )


def _read_lines(path: Path) -> list[tuple[int, Any]]:
    """(line number, decoded value) per line; a non-JSON line decodes to itself (a raw line)."""
    out = []
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        value: Any = line
        if stripped.startswith(("{", '"')):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError:
                value = line
        out.append((number, value))
    return out


def _read_json_document(path: Path) -> list[tuple[int, Any]] | None:
    """A whole-file ``.json`` list or BIRD index-keyed dict, as positional entries; None otherwise."""
    if path.suffix != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PredictionsError(
            f"{path}: not valid JSON ({exc}); use .jsonl for one prediction per line"
        ) from None
    if isinstance(data, list):
        return [(i + 1, v) for i, v in enumerate(data)]
    if isinstance(data, dict) and all(str(k).isdigit() for k in data):
        return [(int(k) + 1, data[k]) for k in sorted(data, key=int)]
    raise PredictionsError(
        f"{path}: expected a JSON list or an index-keyed object, got {type(data).__name__}"
    )


def read_predictions_file(path: str | Path, examples: Sequence[Any]) -> PredictionsFile:
    """Line up the predictions in ``path`` with ``examples``; see the module docstring for formats."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"predictions file not found: {path}")
    entries = _read_json_document(path)
    if entries is None:
        entries = _read_lines(path)
    keyed = [isinstance(v, dict) and "id" in v for _, v in entries]
    if any(keyed):
        return _by_id(path, entries, examples)
    return _by_position(path, entries, examples)


def _by_id(path: Path, entries: list[tuple[int, Any]], examples: Sequence[Any]) -> PredictionsFile:
    index = {str(ex.id): i for i, ex in enumerate(examples)}
    found: dict[str, PredictionItem] = {}
    unknown, blank = [], 0
    for number, value in entries:
        where = f"{path}:{number}"
        if isinstance(value, str) and not value.strip():
            blank += 1
            continue
        if not (isinstance(value, dict) and "id" in value):
            raise PredictionsError(
                f"{where}: this file identifies predictions by 'id', but this line has none; "
                "use ids on every line or none (then lines follow dataset order)"
            )
        key = str(value["id"])
        if key in found:
            raise PredictionsError(f"{where}: duplicate id {key!r}")
        item = _object_item(value, where)
        if key not in index:
            unknown.append(key)
            continue
        found[key] = item
    if not found:
        raise PredictionsError(
            f"{path}: none of its {len(unknown)} ids is in the dataset (e.g. {unknown[:3]}); wrong --dataset?"
        )
    items, missing = [], []
    for ex in examples:
        item = found.get(str(ex.id))
        if item is None:
            missing.append(str(ex.id))
            item = PredictionItem(missing=True)
        items.append(item)
    return PredictionsFile(items, {"missing_ids": missing, "unknown_ids": unknown, "blank_lines": blank})


def _by_position(path: Path, entries: list[tuple[int, Any]], examples: Sequence[Any]) -> PredictionsFile:
    extra = entries[len(examples) :]
    if any(not (isinstance(v, str) and not v.strip()) for _, v in extra):
        raise PredictionsError(
            f"{path}: {len(entries)} positional predictions for {len(examples)} dataset examples; "
            "lines without ids must follow dataset order one to one (or add 'id' fields)"
        )
    items = []
    for (number, value), ex in zip(entries, examples, strict=False):
        where = f"{path}:{number}"
        db_id = getattr(ex, "db_id", None)
        if isinstance(value, dict):
            items.append(_object_item(value, where))
        elif isinstance(value, str):
            items.append(_raw_item(value, db_id))
        elif value is None:
            items.append(PredictionItem(sqls=[None]))
        else:
            raise PredictionsError(f"{where}: expected a string or an object, got {type(value).__name__}")
    missing = [str(ex.id) for ex in examples[len(items) :]]
    items += [PredictionItem(missing=True) for _ in missing]
    return PredictionsFile(
        items,
        {
            "missing_ids": missing,
            "empty_predictions": sum(1 for it in items if it.sqls == [None]),
            "ignored_trailing_blank_lines": len(extra),
        },
    )
