"""Spider, BIRD, SynSQL and demo loaders on fixture folders in the official layouts; bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sqlr1x.data import DatasetError, load_spec
from sqlr1x.data.synsql import iter_json_array

SHOP_SQL = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_name TEXT, city TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), amount REAL);
INSERT INTO customers VALUES (1, 'Ann', 'Lyon'), (2, 'Bo', 'Rome');
INSERT INTO orders VALUES (1, 1, 10.0), (2, 1, 5.5), (3, 2, 7.0);
"""
SHOP_ENTRY = {
    "db_id": "shop",
    "table_names_original": ["customers", "orders"],
    "table_names": ["customers", "orders"],
    "column_names_original": [
        [-1, "*"],
        [0, "id"],
        [0, "customer_name"],
        [0, "city"],
        [1, "id"],
        [1, "customer_id"],
        [1, "amount"],
    ],
    "column_names": [
        [-1, "*"],
        [0, "id"],
        [0, "customer name"],
        [0, "city"],
        [1, "id"],
        [1, "customer id"],
        [1, "amount"],
    ],
    "column_types": ["text", "number", "text", "text", "number", "number", "number"],
    "primary_keys": [1, 4],
    "foreign_keys": [[5, 1]],
}


def make_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(SHOP_SQL)
    con.close()
    return path


def dump(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture
def spider_root(tmp_path) -> Path:
    root = tmp_path / "spider"
    make_db(root / "database" / "shop" / "shop.sqlite")
    make_db(root / "test_database" / "shop" / "shop.sqlite")
    dump(root / "tables.json", [SHOP_ENTRY])
    dump(root / "test_tables.json", [SHOP_ENTRY])
    row = {"db_id": "shop", "question": "How many customers?", "query": "SELECT count(*) FROM customers"}
    dump(
        root / "train_spider.json",
        [row, {**row, "question": "Names?", "query": "SELECT customer_name FROM customers"}],
    )
    dump(root / "train_others.json", [{**row, "question": "Cities?", "query": "SELECT city FROM customers"}])
    dump(root / "dev.json", [row, {**row, "query": 'SELECT city FROM customers WHERE customer_name = "Ann"'}])
    dump(root / "test.json", [row])
    return root


def test_spider_splits(spider_root):
    dev = load_spec(f"spider:{spider_root}:dev")
    assert [e.id for e in dev] == ["spider_dev_0", "spider_dev_1"]
    ex = dev[0]
    assert (ex.source, ex.split, ex.db_id, ex.evidence) == ("spider", "dev", "shop", "")
    assert ex.db_path == str(spider_root / "database" / "shop" / "shop.sqlite")
    assert ex.schema.table_names == ["customers", "orders"]
    assert ex.schema.table("orders").foreign_keys[0].ref_table == "customers"
    assert len(load_spec(f"spider:{spider_root}:train")) == 3
    assert len(load_spec(f"spider:{spider_root}:train_others")) == 1
    assert len(load_spec(f"spider:{spider_root}:train:limit=2")) == 2
    test = load_spec(f"spider:{spider_root}:test")
    assert "test_database" in test[0].db_path


def test_spider_missing_database_names_the_path(spider_root):
    dump(spider_root / "dev.json", [{"db_id": "nowhere", "question": "q", "query": "SELECT 1"}])
    with pytest.raises(DatasetError, match=r"nowhere.*nowhere\.sqlite"):
        load_spec(f"spider:{spider_root}:dev")


def test_spider_malformed_row_names_file_row_field(spider_root):
    dump(
        spider_root / "dev.json",
        [{"db_id": "shop", "question": "q", "query": "SELECT 1"}, {"db_id": "shop", "question": "q"}],
    )
    with pytest.raises(DatasetError, match=r"dev\.json' row 1: missing field 'query'"):
        load_spec(f"spider:{spider_root}:dev")


def test_spider_missing_tables_json(spider_root):
    (spider_root / "tables.json").unlink()
    with pytest.raises(DatasetError, match=r"tables\.json"):
        load_spec(f"spider:{spider_root}:dev")


@pytest.fixture
def bird_root(tmp_path) -> Path:
    root = tmp_path / "bird"
    for split in ("train", "dev"):
        make_db(root / split / f"{split}_databases" / "shop" / "shop.sqlite")
        dump(root / split / f"{split}_tables.json", [SHOP_ENTRY])
    dev_rows = [
        {
            "question_id": 7,
            "db_id": "shop",
            "question": "Big orders?",
            "evidence": "big refers to amount > 6",
            "SQL": "SELECT id FROM orders WHERE amount > 6",
            "difficulty": "simple",
        },
        {
            "question_id": 8,
            "db_id": "shop",
            "question": "Ann's total?",
            "evidence": "",
            "SQL": "SELECT SUM(amount) FROM orders WHERE customer_id = 1",
            "difficulty": "moderate",
        },
    ]
    dump(root / "dev" / "dev.json", dev_rows)
    dump(
        root / "train" / "train.json",
        [{"db_id": "shop", "question": "q", "evidence": "e", "SQL": "SELECT 1"}],
    )
    return root


def test_bird_keeps_evidence_and_difficulty(bird_root):
    dev = load_spec(f"bird:{bird_root}:dev")
    assert [e.id for e in dev] == ["bird_dev_7", "bird_dev_8"]
    assert dev[0].evidence == "big refers to amount > 6"
    assert [e.difficulty for e in dev] == ["simple", "moderate"]
    assert dev[0].db_path.endswith("dev/dev_databases/shop/shop.sqlite")
    train = load_spec(f"bird:{bird_root}:train")
    assert train[0].difficulty is None and train[0].id == "bird_train_0"
    # the split folder itself (e.g. dev_20240627/) works too
    assert len(load_spec(f"bird:{bird_root / 'dev'}:dev")) == 2


def test_bird_missing_databases_folder(bird_root):
    (bird_root / "dev" / "dev_databases" / "shop" / "shop.sqlite").unlink()
    with pytest.raises(DatasetError, match=r"shop\.sqlite"):
        load_spec(f"bird:{bird_root}:dev")


@pytest.fixture
def synsql_root(tmp_path) -> Path:
    root = tmp_path / "synsql"
    make_db(root / "databases" / "shop" / "shop.sqlite")
    rows = [
        {
            "db_id": "shop",
            "sql_complexity": "Simple",
            "question_style": "Formal",
            "question": "Count?",
            "external_knowledge": "",
            "cot": "...",
            "sql": "SELECT COUNT(*) FROM customers",
        },
        {
            "db_id": "shop",
            "sql_complexity": "Complex",
            "question_style": "Vague",
            "question": "Top spender?",
            "external_knowledge": "spender means customer",
            "cot": "...",
            "sql": "SELECT customer_id FROM orders GROUP BY customer_id ORDER BY SUM(amount) DESC LIMIT 1",
        },
        {
            "db_id": "shop",
            "sql_complexity": "Moderate",
            "question_style": "Formal",
            "question": "Lyon?",
            "external_knowledge": "",
            "cot": "...",
            "sql": "SELECT customer_name FROM customers WHERE city = 'Lyon'",
        },
    ]
    dump(root / "data.json", rows)
    return root


def test_synsql_filters_and_limit(synsql_root):
    everything = load_spec(f"synsql:{synsql_root}")
    assert [e.id for e in everything] == ["synsql_0", "synsql_1", "synsql_2"]
    assert everything[1].evidence == "spender means customer" and everything[1].difficulty == "Complex"
    picked = load_spec(f"synsql:{synsql_root}:complexity=complex,Moderate")
    assert [e.id for e in picked] == ["synsql_1", "synsql_2"]
    assert len(load_spec(f"synsql:{synsql_root}:complexity=Complex,Moderate:limit=1")) == 1
    assert everything[0].schema.has_column("customers", "customer_name")  # no tables.json: read from SQLite


def test_synsql_streams_jsonl_and_reports_missing_db(synsql_root):
    rows = json.loads((synsql_root / "data.json").read_text())
    (synsql_root / "data.json").unlink()
    rows[2]["db_id"] = "gone"
    (synsql_root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(load_spec(f"synsql:{synsql_root}:limit=2")) == 2
    with pytest.raises(DatasetError, match=r"gone.*row 2"):
        load_spec(f"synsql:{synsql_root}")


def test_iter_json_array_across_chunks(tmp_path):
    items = [{"sql": "SELECT ']' , '[' ", "n": i, "x": 12345.5} for i in range(50)] + [123456789]
    path = dump(tmp_path / "a.json", items)
    assert list(iter_json_array(path, chunk_size=7)) == items
    (tmp_path / "b.json").write_text('[{"a": 1}, {"a": ')
    with pytest.raises(DatasetError, match="item 1"):
        list(iter_json_array(tmp_path / "b.json", chunk_size=4))


def test_demo_loader():
    train = load_spec("demo:train", limit=5)
    assert len(train) == 5 and all(e.source == "demo" and e.split == "train" for e in train)
    assert Path(train[0].db_path).is_file()
    assert train[0].difficulty in {"easy", "medium", "hard", "extra"}
    assert "CREATE TABLE" in train[0].schema.to_ddl()


def test_skip_failing_gold(spider_root):
    dump(
        spider_root / "dev.json",
        [
            {"db_id": "shop", "question": "ok", "query": "SELECT city FROM customers"},
            {"db_id": "shop", "question": "broken", "query": "SELECT nope FROM customers"},
        ],
    )
    assert len(load_spec(f"spider:{spider_root}:dev")) == 2
    kept = load_spec(f"spider:{spider_root}:dev", skip_failing_gold=True)
    assert [e.question for e in kept] == ["ok"]
