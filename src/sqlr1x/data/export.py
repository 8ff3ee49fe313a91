"""Examples to a Hugging Face ``datasets.Dataset`` (TRL) and to verl parquet files.

The TRL dataset has one rendered prompt string per row plus the columns the reward functions read
(``gold_sql``, ``db_path``, ``db_id``) and bookkeeping (``id``, ``question``, ``difficulty``; ``""``
rather than None so Arrow infers plain string columns).

verl rows follow its RLHF dataset format::

    {"data_source": "spider", "prompt": [{"role": "system", ...}, {"role": "user", ...}],
     "ability": "text2sql",
     "reward_model": {"style": "rule", "ground_truth": {"sql": ..., "db_id": ...}},
     "extra_info": {"db_id": ..., "db_relpath": "concert_singer/concert_singer.sqlite",
                    "index": 0, "split": "train"}}

``data_source`` names the benchmark (:data:`DATA_SOURCES`: ``spider``, ``bird``, ``synsql``,
``wikisql``, ``sqlr1x/demo``); verl's ``compute_score`` picks the result comparison from it.
Rows are portable: they hold no absolute path, only ``db_relpath`` relative to a database root
(by default the deepest folder that holds every database's folder, e.g. ``spider/database``), which
the trainer gives back as ``db_root`` (reward kwargs) or ``$SQLR1X_DB_ROOT``. ``export_verl``
writes it, with the counts, into ``export_info.json`` next to the parquet files.

verl applies the chat template itself, so its prompts carry no ``<think>`` pre-fill: the model opens
the think block (score with ``prefilled_think=False``).

Example::

    >>> from sqlr1x.data import load_spec
    >>> rows = to_verl_rows(load_spec("demo:dev", limit=2), split="test")
    >>> rows[0]["data_source"], rows[0]["reward_model"]["style"], rows[0]["extra_info"]["split"]
    ('sqlr1x/demo', 'rule', 'test')
    >>> rows[0]["extra_info"]["db_relpath"] == f"{rows[0]['extra_info']['db_id']}/{rows[0]['extra_info']['db_id']}.sqlite"
    True
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlr1x.data.example import DatasetError, Example
from sqlr1x.data.prompt import PromptStats, render_prompts
from sqlr1x.data.spec import DatasetSpec, load_spec, parse_spec

log = logging.getLogger(__name__)

HF_COLUMNS = ("prompt", "gold_sql", "db_path", "db_id", "id", "question", "difficulty")

# ``Example.source`` (one per loader) -> the ``data_source`` written to verl rows.
DATA_SOURCES = {
    "spider": "spider",
    "bird": "bird",
    "synsql": "synsql",  # SQL-R1's own training rows use this name
    "wikisql": "wikisql",
    "demo": "sqlr1x/demo",
}


def data_source_of(example: Example) -> str:
    """The verl ``data_source`` of an example (``sqlr1x/<source>`` for a source not in the table)."""
    return DATA_SOURCES.get(example.source, f"sqlr1x/{example.source}")


def default_db_root(examples: Sequence[Example]) -> str:
    """The deepest folder holding every database's folder (``spider/database``, ``bird``, ...).

    Each database sits in a folder of its own (``<root>/<db_id>/<db_id>.sqlite``; WikiSQL:
    ``<root>/.sqlr1x_cache/wikisql_<split>.sqlite``), so the common path of those folders' parents
    stays the same for one database or many.
    """
    if not examples:
        raise DatasetError("no examples: cannot choose a database root")
    parents = {os.path.dirname(os.path.dirname(os.path.abspath(ex.db_path))) for ex in examples}
    return os.path.commonpath(sorted(parents))


def db_relpath(example: Example, db_root: str | os.PathLike) -> str:
    """``example.db_path`` relative to ``db_root`` (``/``-separated); a database outside it raises."""
    root = os.path.abspath(db_root)
    path = os.path.abspath(example.db_path)
    if os.path.commonpath([root, path]) != root:
        raise DatasetError(
            f"database {path!r} of example {example.id!r} is not under the database root {root!r}; "
            "choose a root that holds every database (--db-root)"
        )
    return Path(os.path.relpath(path, root)).as_posix()


def to_hf_dataset(
    examples: Sequence[Example],
    tokenizer: Any,
    *,
    style: str = "sqlr1",
    max_prompt_length: int | None = None,
    sample_rows: int = 0,
    training: bool = True,
    return_stats: bool = False,
):
    """A ``datasets.Dataset`` with columns ``HF_COLUMNS``; ``prompt`` is the rendered string
    (for ``sqlr1`` ending with the ``<think>`` pre-fill). ``return_stats=True`` returns
    ``(dataset, PromptStats)``.
    """
    import datasets

    prompts, stats = render_prompts(
        examples,
        tokenizer,
        style=style,
        max_prompt_length=max_prompt_length,
        sample_rows=sample_rows,
        training=training,
    )
    columns: dict[str, list] = {
        "prompt": [p.text for p in prompts],
        "gold_sql": [ex.gold_sql for ex in examples],
        "db_path": [ex.db_path for ex in examples],
        "db_id": [ex.db_id for ex in examples],
        "id": [ex.id for ex in examples],
        "question": [ex.question for ex in examples],
        "difficulty": [ex.difficulty or "" for ex in examples],
    }
    features = datasets.Features({name: datasets.Value("string") for name in HF_COLUMNS})
    ds = datasets.Dataset.from_dict(columns, features=features)
    return (ds, stats) if return_stats else ds


def to_verl_rows(
    examples: Sequence[Example],
    *,
    split: str = "train",
    style: str = "sqlr1",
    sample_rows: int = 0,
    tokenizer: Any = None,
    max_prompt_length: int | None = None,
    stats: PromptStats | None = None,
    db_root: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """verl parquet rows (see the module docstring); ``stats`` (if given) receives the truncation counts.

    ``db_root``: the folder ``db_relpath`` is relative to (default :func:`default_db_root`).
    """
    root = db_root if db_root is not None else (default_db_root(examples) if examples else "")
    prompts, got = render_prompts(
        examples,
        tokenizer,
        style=style,
        max_prompt_length=max_prompt_length,
        sample_rows=sample_rows,
        training=split == "train",
    )
    if stats is not None:
        stats.__dict__.update(got.__dict__)
    return [
        {
            "data_source": data_source_of(ex),
            "prompt": [{"role": m["role"], "content": m["content"]} for m in p.messages],
            "ability": "text2sql",
            "reward_model": {"style": "rule", "ground_truth": {"sql": ex.gold_sql, "db_id": ex.db_id}},
            "extra_info": {"db_id": ex.db_id, "db_relpath": db_relpath(ex, root), "index": i, "split": split},
        }
        for i, (ex, p) in enumerate(zip(examples, prompts, strict=True))
    ]


def write_parquet(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write rows with pyarrow (nested dicts and lists become structs and lists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _default_test_spec(spec: DatasetSpec) -> DatasetSpec | None:
    if spec.kind in ("spider", "bird", "wikisql", "demo") and spec.split.startswith("train"):
        return spec.with_split("dev")
    return None


def export_verl(
    spec: str | DatasetSpec,
    out_dir: str | os.PathLike,
    *,
    test_spec: str | DatasetSpec | None = None,
    test_size: float = 0.05,
    style: str = "sqlr1",
    sample_rows: int = 0,
    tokenizer: Any = None,
    max_prompt_length: int | None = None,
    limit: int | None = None,
    skip_failing_gold: bool = True,
    seed: int = 0,
    db_root: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write ``train.parquet``, ``test.parquet`` and ``export_info.json`` into ``out_dir``.

    The test rows come from ``test_spec``; without one, from the ``dev`` split of the same dataset
    (``spider``/``bird``/``wikisql``/``demo`` train specs), else a seeded ``test_size`` share of ``spec``.
    Both files share one database root (``db_root``, default :func:`default_db_root` of all rows).
    Returns what ``export_info.json`` holds: ``paths``, ``train``, ``test``, ``test_spec``,
    ``db_root``, ``data_sources`` (row counts) and ``prompt_stats``.
    """
    train_spec = parse_spec(spec) if isinstance(spec, str) else spec
    train = load_spec(train_spec, limit=limit, skip_failing_gold=skip_failing_gold)
    tspec = parse_spec(test_spec) if isinstance(test_spec, str) else test_spec
    tspec = tspec or _default_test_spec(train_spec)
    if tspec is not None:
        test = load_spec(tspec, limit=limit, skip_failing_gold=skip_failing_gold)
    else:
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        n_test = max(1, round(len(train) * test_size)) if len(train) > 1 else 0
        held = set(order[:n_test])
        test = [ex for i, ex in enumerate(train) if i in held]
        train = [ex for i, ex in enumerate(train) if i not in held]
    out = Path(out_dir)
    root = os.path.abspath(db_root) if db_root is not None else default_db_root([*train, *test])
    kw = {
        "style": style,
        "sample_rows": sample_rows,
        "tokenizer": tokenizer,
        "max_prompt_length": max_prompt_length,
        "db_root": root,
    }
    train_stats, test_stats = PromptStats(), PromptStats()
    paths = {
        "train": write_parquet(
            to_verl_rows(train, split="train", stats=train_stats, **kw), out / "train.parquet"
        ),
        "test": write_parquet(to_verl_rows(test, split="test", stats=test_stats, **kw), out / "test.parquet"),
    }
    sources: dict[str, int] = {}
    for ex in [*train, *test]:
        sources[data_source_of(ex)] = sources.get(data_source_of(ex), 0) + 1
    info = {
        "paths": {k: str(v) for k, v in paths.items()},
        "train": len(train),
        "test": len(test),
        "test_spec": str(tspec) if tspec is not None else f"{test_size:.0%} of {train_spec}",
        "db_root": root,
        "data_sources": sources,
        "prompt_stats": {"train": train_stats.as_dict(), "test": test_stats.as_dict()},
    }
    (out / "export_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("verl export: %d train rows, %d test rows in %s (db_root %s)", len(train), len(test), out, root)
    return info
