"""Shared fixtures: real SQLite databases built per test session, and offline settings."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

# Tests never reach a hub: everything loads from what the tests build or the repository ships.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EMPLOYEES_SQL = """
CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    budget REAL
);
CREATE TABLE employees (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    salary REAL,
    department TEXT,
    department_id INTEGER REFERENCES departments(id),
    "hire date" TEXT
);
INSERT INTO departments VALUES (1, 'Sales', 1000.0), (2, 'Engineering', 5000.0), (3, 'Empty', NULL);
INSERT INTO employees VALUES
    (1, 'Alice', 100.0, 'Sales', 1, '2020-01-01'),
    (2, 'Bob', 200.0, 'Engineering', 2, '2021-06-15'),
    (3, 'Carol', 200.0, 'Engineering', 2, NULL),
    (4, 'Dan', NULL, 'Sales', 1, '2019-03-03'),
    (5, 'John', 50.0, NULL, NULL, '2022-02-02');
"""


def make_db(path: Path, script: str = EMPLOYEES_SQL) -> Path:
    """Create a SQLite file at ``path`` from ``script`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(script)
        con.commit()
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def employees_db(tmp_path_factory) -> Path:
    """A real SQLite database with ``employees`` and ``departments`` (FK, NULLs, a spaced column).

    Session-scoped: tests must not write to it (the executor cannot anyway).
    """
    return make_db(tmp_path_factory.mktemp("db") / "company.sqlite")


@pytest.fixture(scope="session")
def employees_schema() -> dict:
    """The seed's schema dict, exactly as in the Colab guide."""
    return {"tables": {"employees": {"columns": ["id", "name", "salary", "department"]}}}
