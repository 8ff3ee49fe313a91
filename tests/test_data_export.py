"""verl parquet rows read back with pyarrow, and the ``sqlr1x data`` commands."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sqlr1x.cli import main
from sqlr1x.data import export_verl, load_spec, to_verl_rows
from sqlr1x.data.example import DatasetError
from sqlr1x.data.export import DATA_SOURCES, default_db_root


def test_verl_rows_shape():
    examples = load_spec("demo:dev", limit=3)
    rows = to_verl_rows(examples, split="test")
    assert len(rows) == 3
    row = rows[1]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["data_source"] == "sqlr1x/demo" and row["ability"] == "text2sql"
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"] == examples[1].question
    assert row["reward_model"] == {
        "style": "rule",
        "ground_truth": {"sql": examples[1].gold_sql, "db_id": examples[1].db_id},
    }
    db_id = examples[1].db_id
    assert row["extra_info"] == {
        "db_id": db_id,
        "db_relpath": f"{db_id}/{db_id}.sqlite",
        "index": 1,
        "split": "test",
    }
    # No absolute path anywhere in a row: the rows travel to other machines.
    assert examples[1].db_path not in json.dumps(rows)
    root = default_db_root(examples)
    assert Path(root, row["extra_info"]["db_relpath"]) == Path(examples[1].db_path)


def test_export_verl_reads_back(tmp_path):
    info = export_verl("demo:train", tmp_path, limit=12)
    assert (info["train"], info["test"], info["test_spec"]) == (12, 12, "demo:dev")
    train = pq.read_table(tmp_path / "train.parquet")
    assert train.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    rows = train.to_pylist()
    assert len(rows) == 12
    first = load_spec("demo:train", limit=1)[0]
    assert rows[0]["reward_model"]["ground_truth"]["sql"] == first.gold_sql
    assert rows[0]["prompt"][0]["role"] == "system" and "CREATE TABLE" in rows[0]["prompt"][0]["content"]
    assert rows[5]["extra_info"]["index"] == 5 and rows[5]["extra_info"]["split"] == "train"
    test = pq.read_table(tmp_path / "test.parquet").to_pylist()
    assert {r["extra_info"]["split"] for r in test} == {"test"}
    # Train and test share one database root, written next to the files.
    saved = json.loads((tmp_path / "export_info.json").read_text())
    assert saved["db_root"] == info["db_root"] == str(Path(first.db_path).parents[1])
    assert saved["data_sources"] == {"sqlr1x/demo": 24}
    for row in rows + test:
        assert Path(info["db_root"], row["extra_info"]["db_relpath"]).is_file()


def test_export_holds_out_without_a_dev_split(tmp_path):
    info = export_verl("demo:dev", tmp_path, limit=40, test_size=0.25)
    assert (info["train"], info["test"]) == (30, 10)
    ids_train = {
        r["extra_info"]["db_relpath"] + r["reward_model"]["ground_truth"]["sql"]
        for r in pq.read_table(tmp_path / "train.parquet").to_pylist()
    }
    ids_test = {
        r["extra_info"]["db_relpath"] + r["reward_model"]["ground_truth"]["sql"]
        for r in pq.read_table(tmp_path / "test.parquet").to_pylist()
    }
    assert not ids_train & ids_test


def test_cli_check_passes_on_demo(capsys):
    assert main(["data", "check", "demo:dev", "--max-prompt-length", "4096", "--sample-rows", "2"]) == 0
    out = capsys.readouterr().out
    assert f"examples {len(load_spec('demo:dev'))}" in " ".join(out.replace("│", " ").split())
    assert "estimated tokens" in out and "p95" in out


def test_cli_check_lists_failing_and_empty_gold(tmp_path, capsys):
    import sqlite3

    root = tmp_path / "spider"
    (root / "database" / "s").mkdir(parents=True)
    con = sqlite3.connect(root / "database" / "s" / "s.sqlite")
    con.executescript("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);")
    con.close()
    entry = {
        "db_id": "s",
        "table_names_original": ["t"],
        "column_names_original": [[-1, "*"], [0, "a"]],
        "column_types": ["text", "number"],
        "primary_keys": [],
        "foreign_keys": [],
    }
    (root / "tables.json").write_text(json.dumps([entry]))
    rows = [
        {"db_id": "s", "question": "ok", "query": "SELECT a FROM t"},
        {"db_id": "s", "question": "broken", "query": "SELECT b FROM t"},
        {"db_id": "s", "question": "nothing", "query": "SELECT a FROM t WHERE a > 5"},
    ]
    (root / "dev.json").write_text(json.dumps(rows))
    assert main(["data", "check", f"spider:{root}:dev"]) == 0
    out = capsys.readouterr().out
    assert "spider_dev_1" in out and "no_such_column" in out
    assert "empty result" in out and "spider_dev_2" in out
    assert main(["data", "check", f"spider:{root}:dev", "--strict"]) == 1
    assert main(["data", "check", f"spider:{tmp_path / 'missing'}:dev"]) == 2
    assert "missing Spider folder" in capsys.readouterr().out


def test_cli_export_and_make_demo(tmp_path, capsys):
    assert main(["data", "export-verl", "demo:train", "--out", str(tmp_path / "verl"), "--limit", "5"]) == 0
    assert (tmp_path / "verl" / "train.parquet").is_file() and (tmp_path / "verl" / "test.parquet").is_file()
    out = " ".join(capsys.readouterr().out.split())
    root = json.loads((tmp_path / "verl" / "export_info.json").read_text())["db_root"]
    assert f"databases relative to {root}" in out and "reward_kwargs.db_root" in out
    assert "data_source: sqlr1x/demo 10" in out
    assert main(["data", "make-demo", "--out", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "databases" / "company" / "company.sqlite").is_file()
    assert "train" in capsys.readouterr().out


def _tiny_db(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (1), (2);")
    con.close()


_ENTRY = {
    "table_names_original": ["t"],
    "column_names_original": [[-1, "*"], [0, "a"]],
    "column_types": ["text", "number"],
    "primary_keys": [],
    "foreign_keys": [],
}


def _spider_and_bird(base: Path) -> tuple[Path, Path]:
    spider = base / "spider"
    _tiny_db(spider / "database" / "s" / "s.sqlite")
    (spider / "tables.json").write_text(json.dumps([{"db_id": "s", **_ENTRY}]))
    rows = [{"db_id": "s", "question": "all a", "query": "SELECT a FROM t"}]
    (spider / "train_spider.json").write_text(json.dumps(rows))
    (spider / "train_others.json").write_text("[]")
    (spider / "dev.json").write_text(json.dumps(rows))
    bird = base / "bird"
    for split in ("train", "dev"):
        _tiny_db(bird / split / f"{split}_databases" / "b" / "b.sqlite")
        (bird / split / f"{split}_tables.json").write_text(json.dumps([{"db_id": "b", **_ENTRY}]))
        row = {"db_id": "b", "question": "all a", "evidence": "", "SQL": "SELECT a FROM t"}
        (bird / split / f"{split}.json").write_text(json.dumps([row]))
    return spider, bird


def test_export_writes_each_loaders_data_source_and_a_shared_root(tmp_path):
    spider, bird = _spider_and_bird(tmp_path / "data")
    info = export_verl(f"spider:{spider}:train", tmp_path / "s")
    assert info["db_root"] == str(spider / "database") and info["data_sources"] == {"spider": 2}
    row = pq.read_table(tmp_path / "s" / "train.parquet").to_pylist()[0]
    assert row["data_source"] == DATA_SOURCES["spider"] == "spider"
    assert row["extra_info"]["db_relpath"] == "s/s.sqlite"
    # BIRD keeps train and dev databases in separate folders: the root holds both.
    info = export_verl(f"bird:{bird}:train", tmp_path / "b")
    assert info["db_root"] == str(bird) and info["data_sources"] == {"bird": 2}
    test = pq.read_table(tmp_path / "b" / "test.parquet").to_pylist()[0]
    assert (
        test["data_source"] == "bird" and test["extra_info"]["db_relpath"] == "dev/dev_databases/b/b.sqlite"
    )
    # Mixed sources (train on Spider, test on BIRD) under one root.
    info = export_verl(f"spider:{spider}:train", tmp_path / "m", test_spec=f"bird:{bird}:dev")
    assert info["db_root"] == str(tmp_path / "data") and info["data_sources"] == {"spider": 1, "bird": 1}
    assert set(DATA_SOURCES) == {"spider", "bird", "synsql", "wikisql", "demo"}


def test_export_with_an_explicit_root_and_a_moved_copy(tmp_path):
    spider, _ = _spider_and_bird(tmp_path / "data")
    info = export_verl(f"spider:{spider}:train", tmp_path / "out", db_root=spider)
    rows = pq.read_table(tmp_path / "out" / "test.parquet").to_pylist()
    assert info["db_root"] == str(spider) and rows[0]["extra_info"]["db_relpath"] == "database/s/s.sqlite"
    moved = tmp_path / "node2" / "spider"
    shutil.copytree(spider, moved)
    shutil.rmtree(spider)
    assert (moved / rows[0]["extra_info"]["db_relpath"]).is_file()
    with pytest.raises(DatasetError, match=r"not under the database root '.*elsewhere'"):
        export_verl("demo:dev", tmp_path / "bad", db_root=tmp_path / "elsewhere", limit=2)
