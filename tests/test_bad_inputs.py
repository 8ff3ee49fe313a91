"""Bad configuration and bad data: every error class names its culprit (file, key, row, field, path)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sqlr1x.config import ConfigError, load_config
from sqlr1x.data import DatasetError
from sqlr1x.data.spider import load_spider

ROW = {"db_id": "shop", "question": "How many customers?", "query": "SELECT count(*) FROM customers"}
TABLES = [
    {
        "db_id": "shop",
        "table_names_original": ["customers"],
        "table_names": ["customers"],
        "column_names_original": [[-1, "*"], [0, "id"], [0, "name"]],
        "column_names": [[-1, "*"], [0, "id"], [0, "name"]],
        "column_types": ["text", "number", "text"],
        "primary_keys": [1],
        "foreign_keys": [],
    }
]


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("text", "culprits"),
    [
        # unknown key: the key path, the file, and the key it probably meant
        ("reward:\n  schema_wieght: -0.5\n", ["reward.schema_wieght", "bad.yaml", "schema_weight"]),
        ("rewards:\n  schema_weight: -0.5\n", ["rewards", "bad.yaml", "reward"]),
        # wrong type: the key and the value given
        ("optimization:\n  learning_rate: fast\n", ["optimization.learning_rate", "'fast'"]),
        ("optimization:\n  batch_size: [1, 2]\n", ["optimization.batch_size", "[1, 2]"]),
        # bad value: the key and the value given
        ("optimization:\n  num_generations: 1\n", ["optimization.num_generations", "1"]),
        ("reward:\n  exec_timeout: -3\n", ["reward.exec_timeout", "-3"]),
        ("optimization:\n  mixed_precision: fp8\n", ["optimization.mixed_precision", "'fp8'"]),
        # batch arithmetic that does not divide: both numbers and the keys
        (
            "optimization:\n  batch_size: 2\n  num_generations: 4\n  generation_batch_size: 10\n",
            ["generation_batch_size", "10", "num_generations", "4"],
        ),
        (
            "optimization:\n  batch_size: 3\n  num_generations: 4\n  generation_batch_size: 8\n",
            ["generation_batch_size", "8", "batch_size", "12"],
        ),
        # not YAML: the file and the line
        ("reward:\n  schema_weight: [\n", ["bad.yaml", "line"]),
    ],
)
def test_config_errors_name_the_culprit(tmp_path: Path, text: str, culprits: list[str]):
    with pytest.raises(ConfigError) as info:
        load_config(_yaml(tmp_path, text))
    message = str(info.value)
    for culprit in culprits:
        assert culprit in message, (culprit, message)


def test_missing_config_file_names_the_path(tmp_path: Path):
    missing = tmp_path / "nowhere" / "train.yaml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(missing)
    assert str(missing) in str(info.value)


def test_bad_override_names_the_override():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["optimization.num_generations=one"])
    assert "optimization.num_generations" in str(info.value) and "'one'" in str(info.value)


# ----------------------------------------------------------------------------------- datasets
@pytest.fixture
def spider_root(tmp_path: Path) -> Path:
    root = tmp_path / "spider"
    (root / "database" / "shop").mkdir(parents=True)
    con = sqlite3.connect(root / "database" / "shop" / "shop.sqlite")
    con.executescript("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);")
    con.close()
    (root / "tables.json").write_text(json.dumps(TABLES))
    (root / "dev.json").write_text(json.dumps([ROW, ROW]))
    return root


def test_dataset_loads_when_well_formed(spider_root: Path):
    assert [ex.db_id for ex in load_spider(spider_root, "dev")] == ["shop", "shop"]


def test_missing_database_names_db_id_and_path(spider_root: Path):
    (spider_root / "dev.json").write_text(json.dumps([ROW, {**ROW, "db_id": "ghost"}]))
    with pytest.raises(DatasetError) as info:
        load_spider(spider_root, "dev")
    message = str(info.value)
    assert "'ghost'" in message and str(spider_root / "database" / "ghost" / "ghost.sqlite") in message


def test_bad_json_names_the_file(spider_root: Path):
    (spider_root / "dev.json").write_text('[{"db_id": "shop", "question": ')
    with pytest.raises(DatasetError) as info:
        load_spider(spider_root, "dev")
    assert str(spider_root / "dev.json") in str(info.value)


def test_json_of_the_wrong_shape_names_the_file(spider_root: Path):
    (spider_root / "dev.json").write_text(json.dumps({"rows": [ROW]}))
    with pytest.raises(DatasetError) as info:
        load_spider(spider_root, "dev")
    assert str(spider_root / "dev.json") in str(info.value) and "list" in str(info.value)


def test_missing_field_names_file_row_and_field(spider_root: Path):
    (spider_root / "dev.json").write_text(json.dumps([ROW, {"db_id": "shop", "question": "q?"}]))
    with pytest.raises(DatasetError) as info:
        load_spider(spider_root, "dev")
    message = str(info.value)
    assert str(spider_root / "dev.json") in message and "row 1" in message and "'query'" in message


def test_missing_tables_json_names_the_path(spider_root: Path):
    (spider_root / "tables.json").unlink()
    with pytest.raises(DatasetError) as info:
        load_spider(spider_root, "dev")
    assert str(spider_root / "tables.json") in str(info.value)


def test_bad_tables_json_names_the_file(spider_root: Path):
    (spider_root / "tables.json").write_text("{not json")
    with pytest.raises(DatasetError) as info:
        load_spider(spider_root, "dev")
    assert str(spider_root / "tables.json") in str(info.value)
