"""The bundled demo dataset: regenerates byte-identically, has the promised shape, every gold SQL works."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from tools.make_demo_data import generate_demo

from sqlr1x.data import demo_path, load_spec
from sqlr1x.db.executor import execute

DEMO = demo_path()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict]]:
    return {s: json.loads((DEMO / f"{s}.json").read_text()) for s in ("train", "dev")}


def test_regeneration_is_byte_identical(tmp_path):
    counts = generate_demo(tmp_path)
    committed, fresh = _files(DEMO), _files(tmp_path)
    assert sorted(committed) == sorted(fresh)
    for name in committed:
        assert committed[name] == fresh[name], f"{name} differs from a fresh generation"
    assert counts["train"] >= 400 and counts["dev"] >= 100


def test_size_and_counts(records):
    assert sum(len(b) for b in _files(DEMO).values()) < 5 * 1024 * 1024
    assert len(records["train"]) >= 400 and len(records["dev"]) >= 100
    assert len(load_spec("demo:train")) == len(records["train"])


def test_databases_have_the_promised_features():
    dbs = sorted((DEMO / "databases").glob("*/*.sqlite"))
    assert 4 <= len(dbs) <= 6
    spaced, fks, nulls = 0, 0, 0
    for db in dbs:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert 3 <= len(tables) <= 5, db
        for t in tables:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
            spaced += sum(" " in c for c in cols)
            fks += len(con.execute(f"PRAGMA foreign_key_list({t})").fetchall())
            nulls += sum(
                con.execute(f'SELECT COUNT(*) FROM {t} WHERE "{c}" IS NULL').fetchone()[0] for c in cols
            )
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        con.close()
    assert spaced >= 1 and fks >= 8 and nulls > 0
    entries = json.loads((DEMO / "tables.json").read_text())
    assert sorted(e["db_id"] for e in entries) == sorted(p.stem for p in dbs)


def test_every_gold_sql_executes_with_rows(records):
    for split, rows in records.items():
        for r in rows:
            res = execute(DEMO / "databases" / r["db_id"] / f"{r['db_id']}.sqlite", r["query"])
            assert res.ok, (split, r["id"], res.error)
            assert res.rows, (split, r["id"], "empty result")


def test_questions_carry_sql_literals_and_style_is_consistent(records):
    keywords = re.compile(r"\b(select|from|where|join|group by|order by|having|limit|count|avg)\b")
    for rows in records.values():
        for r in rows:
            q, sql = r["question"], r["query"]
            assert "\n" not in sql
            for literal in re.findall(r"'(?:[^']|'')*'", sql):
                assert literal in q, (r["id"], literal)
            assert not keywords.search(re.sub(r"'(?:[^']|'')*'", "''", sql)), r["id"]
            assert r["difficulty"] in {"easy", "medium", "hard", "extra"}


def test_splits_are_disjoint_and_cover_the_templates(records):
    train_q = {r["question"] for r in records["train"]}
    assert len(train_q) == len(records["train"])
    assert not train_q & {r["question"] for r in records["dev"]}
    templates = {r["template"] for r in records["train"]}
    assert templates == {r["template"] for r in records["dev"]}
    for needed in (
        "project",
        "filter_eq",
        "join_filter",
        "having",
        "topk",
        "nested_in",
        "nested_avg",
        "join3",
    ):
        assert needed in templates
