"""Dataset spec strings, used everywhere a dataset is named (CLI, YAML), and ``load_spec``.

Grammar: ``KIND:PATH[:SPLIT][:key=value]...`` or ``demo:SPLIT``.

=========================  ==========================================================================
``spider:/data/spider:dev``  Spider split ``train`` | ``train_spider`` | ``train_others`` | ``dev`` | ``test``
``bird:/data/bird:dev``      BIRD split ``train`` | ``dev``
``synsql:/data/SynSQL-2.5M`` SynSQL; options ``complexity=Complex,Moderate`` and ``limit=4000``
``wikisql:/data/wikisql:train``  WikiSQL split ``train`` | ``dev`` | ``test``; option ``cache_dir=/tmp/x``
``demo:train``               the bundled demo dataset, ``train`` | ``dev``
=========================  ==========================================================================

Every kind accepts ``limit=N``. Paths may contain ``:``; only a last component that names a split
of that kind, and ``key=value`` components, are taken off the end.

Example::

    >>> parse_spec("synsql:/data/syn:complexity=Complex,Moderate:limit=10")
    DatasetSpec(kind='synsql', path='/data/syn', split='train', options={'complexity': 'Complex,Moderate', 'limit': '10'})
    >>> len(load_spec("demo:dev", limit=3))
    3
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlr1x.data.example import DatasetError, Example, field_str, read_json_list, require_dir

log = logging.getLogger(__name__)

SPLITS: dict[str, tuple[str, ...]] = {
    "spider": ("train", "train_spider", "train_others", "dev", "test"),
    "bird": ("train", "dev"),
    "synsql": ("train",),
    "wikisql": ("train", "dev", "test"),
    "demo": ("train", "dev"),
}
DEFAULT_SPLIT = {"spider": "dev", "bird": "dev", "synsql": "train", "wikisql": "train", "demo": "train"}
OPTIONS: dict[str, tuple[str, ...]] = {
    "spider": ("limit",),
    "bird": ("limit",),
    "synsql": ("limit", "complexity"),
    "wikisql": ("limit", "cache_dir"),
    "demo": ("limit",),
}


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec string."""

    kind: str
    path: str
    split: str
    options: dict[str, str] = field(default_factory=dict)

    def with_split(self, split: str) -> DatasetSpec:
        return DatasetSpec(self.kind, self.path, split, dict(self.options))

    def __str__(self) -> str:
        head = f"demo:{self.split}" if self.kind == "demo" else f"{self.kind}:{self.path}:{self.split}"
        return ":".join([head, *(f"{k}={v}" for k, v in self.options.items())])


def parse_spec(spec: str) -> DatasetSpec:
    """Parse a spec string; an unknown kind, split or option raises ``DatasetError`` listing what is valid."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in SPLITS:
        raise DatasetError(
            f"bad dataset spec {spec!r}: expected KIND:PATH[:SPLIT] with KIND one of {sorted(SPLITS)} "
            "(e.g. 'spider:/data/spider:dev', 'demo:train')"
        )
    parts = rest.split(":")
    options: dict[str, str] = {}
    while parts and "=" in parts[-1] and "/" not in parts[-1].split("=", 1)[0]:
        key, _, value = parts.pop().partition("=")
        key = key.strip()
        if key not in OPTIONS[kind]:
            raise DatasetError(
                f"bad dataset spec {spec!r}: unknown option {key!r} for {kind}; valid: {list(OPTIONS[kind])}"
            )
        options[key] = value.strip()
    options = dict(reversed(options.items()))
    if kind == "demo":
        split = parts[0] if parts and parts[0] else DEFAULT_SPLIT[kind]
        if len(parts) > 1 or split not in SPLITS[kind]:
            raise DatasetError(
                f"bad dataset spec {spec!r}: expected demo:SPLIT with SPLIT one of {list(SPLITS['demo'])}"
            )
        return DatasetSpec(kind, "", split, options)
    split = DEFAULT_SPLIT[kind]
    if len(parts) > 1 and parts[-1] in SPLITS[kind]:
        split = parts.pop()
    elif len(parts) > 1 and kind != "synsql" and parts[-1] and "/" not in parts[-1] and "\\" not in parts[-1]:
        raise DatasetError(
            f"bad dataset spec {spec!r}: unknown {kind} split {parts[-1]!r}; valid: {list(SPLITS[kind])}"
        )
    path = ":".join(parts)
    if not path:
        raise DatasetError(f"bad dataset spec {spec!r}: missing the dataset folder path")
    return DatasetSpec(kind, os.path.expanduser(path), split, options)


def load_demo(
    split: str = "train", *, limit: int | None = None, root: str | os.PathLike | None = None
) -> list[Example]:
    """Load the bundled demo dataset (or a regenerated copy at ``root``)."""
    from sqlr1x.data.demo_gen import demo_path
    from sqlr1x.data.example import check_databases, database_path

    base = Path(root) if root is not None else demo_path()
    require_dir(base, "demo dataset folder")
    path = base / f"{split}.json"
    out = []
    for i, row in enumerate(read_json_list(path, f"demo {split} file")):
        if limit is not None and len(out) >= limit:
            break
        db_id = field_str(row, "db_id", path, i)
        out.append(
            Example(
                id=field_str(row, "id", path, i),
                question=field_str(row, "question", path, i),
                evidence="",
                db_id=db_id,
                db_path=str(database_path(base / "databases", db_id)),
                gold_sql=field_str(row, "query", path, i),
                source="demo",
                split=split,
                difficulty=field_str(row, "difficulty", path, i, required=False) or None,
            )
        )
    check_databases(out, "demo")
    return out


def load_spec(
    spec: str | DatasetSpec, *, limit: int | None = None, skip_failing_gold: bool = False
) -> list[Example]:
    """Load the examples a spec names.

    ``limit`` (or the spec's ``limit=`` option; the smaller wins) caps the examples read.
    ``skip_failing_gold=True`` executes every gold query and drops those that fail, logging a warning
    with the count (loading for training must not crash mid-run); otherwise nothing is executed.
    """
    s = parse_spec(spec) if isinstance(spec, str) else spec
    if "limit" in s.options:
        try:
            opt = int(s.options["limit"])
        except ValueError:
            raise DatasetError(f"bad dataset spec {str(s)!r}: limit must be an integer") from None
        limit = opt if limit is None else min(limit, opt)
    if s.kind == "spider":
        from sqlr1x.data.spider import load_spider

        examples = load_spider(s.path, s.split, limit=limit)
    elif s.kind == "bird":
        from sqlr1x.data.bird import load_bird

        examples = load_bird(s.path, s.split, limit=limit)
    elif s.kind == "synsql":
        from sqlr1x.data.synsql import load_synsql

        levels = [c for c in s.options.get("complexity", "").split(",") if c.strip()] or None
        examples = load_synsql(s.path, complexity=levels, limit=limit, split=s.split)
    elif s.kind == "wikisql":
        from sqlr1x.data.wikisql import load_wikisql

        examples = load_wikisql(s.path, s.split, cache_dir=s.options.get("cache_dir"), limit=limit)
    else:
        examples = load_demo(s.split, limit=limit)
    if skip_failing_gold:
        examples, failed = drop_failing_gold(examples)
        if failed:
            log.warning(
                "%s: skipped %d of %d examples whose gold SQL fails to execute",
                s,
                len(failed),
                len(examples) + len(failed),
            )
    return examples


def drop_failing_gold(examples: list[Example]) -> tuple[list[Example], list[tuple[Example, str]]]:
    """Split off examples whose gold SQL does not execute; returns (kept, [(example, error), ...])."""
    from sqlr1x.db.executor import SQLiteExecutor

    with SQLiteExecutor(timeout=30.0, max_rows=1) as executor:
        results = executor.execute_many([(ex.db_path, ex.gold_sql) for ex in examples], cache=True)
    kept, failed = [], []
    for ex, res in zip(examples, results, strict=True):
        if res.ok:
            kept.append(ex)
        else:
            failed.append((ex, f"{res.error_kind}: {res.error}"))
    return kept, failed
