"""sqlr1x.sql.schema: building schemas from dicts, SQLite files and tables.json; DDL rendering."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from conftest import make_db
from sqlr1x.sql.schema import Column, ForeignKey, Schema, SchemaError, Table, load_tables_json

SPIDER_ENTRY = {
    "db_id": "concert",
    "table_names_original": ["Singer", "concert", "singer_in_concert"],
    "table_names": ["singer", "concert", "singer in concert"],
    "column_names_original": [
        [-1, "*"],
        [0, "Singer_ID"],
        [0, "Name"],
        [1, "concert_ID"],
        [1, "Theme"],
        [2, "concert_ID"],
        [2, "Singer_ID"],
    ],
    "column_types": ["text", "number", "text", "number", "text", "number", "number"],
    "primary_keys": [1, 3, [5, 6]],  # BIRD-style composite key for the third table
    "foreign_keys": [[5, 3], [6, 1]],
}


def test_from_seed_dict(employees_schema):
    s = Schema.from_dict(employees_schema)
    assert s.table_names == ["employees"]
    assert s.table("EMPLOYEES").column_names == ["id", "name", "salary", "department"]
    assert s.has_table("Employees") and not s.has_table("customers")
    assert s.has_column("employees", "SALARY") and not s.has_column("employees", "bonus")
    assert not s.has_column("customers", "name")


def test_from_dict_with_types_keys_and_round_trip():
    d = {
        "tables": {
            "a": {
                "columns": ["id", "b_id"],
                "types": ["INTEGER", "INTEGER"],
                "primary_keys": ["id"],
                "foreign_keys": [["b_id", "b", "id"]],
            },
            "b": ["id"],
        }
    }
    s = Schema.from_dict(d)
    assert s.table("a").columns == [Column("id", "INTEGER"), Column("b_id", "INTEGER")]
    assert s.table("a").foreign_keys == [ForeignKey("b_id", "b", "id")]
    assert s.table("b").columns == [Column("id")]
    again = Schema.from_dict(s.to_dict())
    assert again == s and again.key == s.key
    assert hash(s.key) == hash(again.key)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"employees": {"columns": ["id"]}}, "expected a schema dict"),
        ({"tables": {"t": {"cols": ["id"]}}}, "'columns'"),
        ({"tables": {"t": {"columns": ["id", 3]}}}, "column 1"),
        ({"tables": {"t": {"columns": ["a"], "foreign_keys": [["a", "b"]]}}}, "foreign key"),
    ],
)
def test_from_dict_errors_name_what_was_expected(bad, fragment):
    with pytest.raises(SchemaError, match=fragment):
        Schema.from_dict(bad)


def test_from_sqlite(employees_db):
    s = Schema.from_sqlite(employees_db)
    assert s.table_names == ["departments", "employees"]
    emp = s.table("employees")
    assert emp.column_names == ["id", "name", "salary", "department", "department_id", "hire date"]
    assert emp.column("Hire Date") == Column("hire date", "TEXT")
    assert emp.primary_keys == ["id"]
    assert emp.foreign_keys == [ForeignKey("department_id", "departments", "id")]
    assert s.db_path == str(employees_db) and s.db_id == "company"


def test_from_sqlite_is_memoised_and_refreshes_on_change(tmp_path):
    path = make_db(tmp_path / "m.sqlite", "CREATE TABLE t (a INT);")
    first = Schema.from_sqlite(path)
    assert Schema.from_sqlite(str(path)) is first
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE u (b TEXT)")
    con.commit()
    con.close()
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert Schema.from_sqlite(path).table_names == ["t", "u"]


def test_from_sqlite_awkward_names(tmp_path):
    script = '''
    CREATE TABLE "my table" ("col ""q""" TEXT, "order" INT, PRIMARY KEY ("col ""q""", "order"));
    CREATE TABLE child (id INT, x TEXT, FOREIGN KEY (x) REFERENCES "my table");
    INSERT INTO "my table" VALUES ('it''s', 1), ('b', 2), (NULL, 3);
    '''
    path = make_db(tmp_path / "odd.sqlite", script)
    s = Schema.from_sqlite(path)
    t = s.table("MY TABLE")
    assert t.column_names == ['col "q"', "order"]
    assert t.primary_keys == ['col "q"', "order"]
    # FK without a column list refers to the parent's primary key
    assert s.table("child").foreign_keys == [ForeignKey("x", "my table", 'col "q"')]
    ddl = s.to_ddl(sample_rows=5, tables=["my table"])
    assert ddl.startswith('CREATE TABLE "my table" (\n  "col ""q""" TEXT,')
    assert '"order" INT, -- examples: 1, 2, 3' in ddl
    assert "-- examples: 'b', 'it''s'" in ddl
    # the rendered DDL is valid SQLite
    sqlite3.connect(":memory:").executescript(ddl)


def test_from_sqlite_errors(tmp_path):
    with pytest.raises(SchemaError, match="SQLite"):
        Schema.from_sqlite(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SchemaError, match="SQLite"):
        Schema.from_sqlite(junk)


def test_from_spider_entry():
    s = Schema.from_spider(SPIDER_ENTRY)
    assert s.db_id == "concert"
    assert s.table_names == ["Singer", "concert", "singer_in_concert"]
    assert s.table("singer").columns == [Column("Singer_ID", "number"), Column("Name", "text")]
    sic = s.table("singer_in_concert")
    assert sic.primary_keys == ["concert_ID", "Singer_ID"]
    assert sic.foreign_keys == [
        ForeignKey("concert_ID", "concert", "concert_ID"),
        ForeignKey("Singer_ID", "Singer", "Singer_ID"),
    ]
    assert "*" not in s.table("Singer").column_names


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"db_id": "x"}, "table_names_original"),
        ({**SPIDER_ENTRY, "column_names_original": [[7, "a"]]}, "refers to table 7"),
        ({**SPIDER_ENTRY, "primary_keys": [99]}, "primary_keys"),
        ({**SPIDER_ENTRY, "foreign_keys": [[1]]}, "foreign_keys"),
    ],
)
def test_from_spider_errors(bad, fragment):
    with pytest.raises(SchemaError, match=fragment):
        Schema.from_spider(bad)


def test_load_tables_json_finds_spider_databases(tmp_path):
    (tmp_path / "tables.json").write_text(json.dumps([SPIDER_ENTRY, {**SPIDER_ENTRY, "db_id": "other"}]))
    make_db(tmp_path / "database" / "concert" / "concert.sqlite", "CREATE TABLE Singer (Singer_ID INT);")
    schemas = load_tables_json(tmp_path / "tables.json")
    assert set(schemas) == {"concert", "other"}
    assert schemas["concert"].db_path == str(tmp_path / "database" / "concert" / "concert.sqlite")
    assert schemas["other"].db_path is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SchemaError, match="list"):
        load_tables_json(tmp_path / "bad.json")


def test_coerce_accepts_every_form(employees_db, employees_schema):
    from_path = Schema.coerce(str(employees_db))
    assert Schema.coerce(employees_db) is from_path
    assert Schema.coerce(from_path) is from_path
    assert Schema.coerce(employees_schema).table_names == ["employees"]
    assert Schema.coerce(SPIDER_ENTRY).db_id == "concert"
    for bad in (42, None, ["employees"]):
        with pytest.raises(SchemaError, match="expected a schema"):
            Schema.coerce(bad)


def test_to_ddl_is_deterministic_with_keys(employees_db):
    s = Schema.from_sqlite(employees_db)
    ddl = s.to_ddl()
    assert ddl == s.to_ddl() == Schema.from_dict(s.to_dict()).to_ddl()
    assert ddl == (
        "CREATE TABLE departments (\n  id INTEGER,\n  name TEXT,\n  budget REAL,\n  PRIMARY KEY (id)\n);\n\n"
        "CREATE TABLE employees (\n  id INTEGER,\n  name TEXT,\n  salary REAL,\n  department TEXT,\n"
        '  department_id INTEGER,\n  "hire date" TEXT,\n  PRIMARY KEY (id),\n'
        "  FOREIGN KEY (department_id) REFERENCES departments(id)\n);"
    )
    sqlite3.connect(":memory:").executescript(ddl)


def test_to_ddl_sample_rows(employees_db):
    s = Schema.from_sqlite(employees_db)
    ddl = s.to_ddl(sample_rows=2, tables=["Departments"])
    assert "CREATE TABLE employees" not in ddl
    assert "  name TEXT, -- examples: 'Sales', 'Engineering'" in ddl
    assert "  budget REAL, -- examples: 1000.0, 5000.0" in ddl
    # without a database file there is nothing to sample
    assert Schema.from_dict(s.to_dict() | {"db_path": None}).to_ddl(sample_rows=2) == s.to_ddl()
    with pytest.raises(SchemaError, match="no such table"):
        s.to_ddl(tables=["nope"])


def test_table_lookup_helpers():
    t = Table("T", [Column("A"), Column("b")])
    assert t.column("a") == Column("A") and t.column("B") == Column("b") and t.column("c") is None
    assert t.lower_column_names == {"a", "b"}
