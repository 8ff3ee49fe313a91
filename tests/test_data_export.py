"""verl parquet rows read back with pyarrow, and the ``sqlr1x data`` commands."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from sqlr1x.cli import main
from sqlr1x.data import export_verl, load_spec, to_verl_rows


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
    assert row["extra_info"] == {"db_path": examples[1].db_path, "index": 1, "split": "test"}


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


def test_export_holds_out_without_a_dev_split(tmp_path):
    info = export_verl("demo:dev", tmp_path, limit=40, test_size=0.25)
    assert (info["train"], info["test"]) == (30, 10)
    ids_train = {
        r["extra_info"]["db_path"] + r["reward_model"]["ground_truth"]["sql"]
        for r in pq.read_table(tmp_path / "train.parquet").to_pylist()
    }
    ids_test = {
        r["extra_info"]["db_path"] + r["reward_model"]["ground_truth"]["sql"]
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
    assert main(["data", "make-demo", "--out", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "databases" / "company" / "company.sqlite").is_file()
    assert "train" in capsys.readouterr().out
