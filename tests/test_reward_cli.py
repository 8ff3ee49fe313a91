"""``sqlr1x reward``: breakdown table, hallucinated names, structural diff, JSON output."""

from __future__ import annotations

import json

import pytest

from sqlr1x.cli import main

GOLD = "SELECT name FROM employees WHERE salary > 100"


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["reward", *argv])
    return code, capsys.readouterr().out


def test_sql_breakdown(capsys, employees_db):
    code, out = run(capsys, "--sql", GOLD, "--gold", GOLD, "--db", str(employees_db))
    assert code == 0
    for term in ("format", "exec", "result", "length", "baseline", "schema", "structural", "syntax", "total"):
        assert term in out
    assert "match" in out and "no hallucinations" in out


def test_explain_shows_hallucinations_and_clause_diff(capsys, employees_db, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    sql = "SELECT nme FROM employees WHERE department = 'Sales'"
    code, out = run(capsys, "--sql", sql, "--gold", GOLD, "--db", str(employees_db), "--explain")
    assert code == 0
    assert "column nme" in out
    assert "Structural diff" in out and "select" in out and "where" in out and "join" in out
    assert "100 < employees.salary" in out  # missing WHERE predicate
    assert "'Sales' = employees.department" in out  # extra WHERE predicate


def test_json_output(capsys, employees_db):
    code, out = run(
        capsys, "--sql", "SELECT bonus FROM employees", "--gold", GOLD, "--db", str(employees_db), "--json"
    )
    data = json.loads(out)
    assert code == 0
    assert data["hallucinations"] == [["column", "bonus"]]
    assert data["total"] == pytest.approx(
        data["baseline_total"] + data["schema"] + data["structural"] + data["syntax"]
    )


def test_completion_file_and_schema_file(capsys, tmp_path, employees_db):
    completion = tmp_path / "out.txt"
    completion.write_text("plan</think><answer>```sql\n" + GOLD + "\n```</answer>")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"tables": {"employees": {"columns": ["id", "name"]}}}))
    code, out = run(
        capsys,
        "--completion",
        str(completion),
        "--gold",
        GOLD,
        "--db",
        str(employees_db),
        "--schema",
        str(schema),
        "--prefilled-think",
        "--json",
    )
    data = json.loads(out)
    assert data["baseline"]["status"] == "match"
    assert data["hallucinations"] == [["column", "salary"]]  # the given schema, not the database's


def test_tables_json_needs_db_id_when_ambiguous(capsys, tmp_path, employees_db):
    entry = {
        "db_id": "a",
        "table_names_original": ["employees"],
        "column_names_original": [[-1, "*"], [0, "name"]],
    }
    tables = tmp_path / "tables.json"
    tables.write_text(json.dumps([entry, {**entry, "db_id": "b"}]))
    with pytest.raises(SystemExit, match="--db-id"):
        main(["reward", "--sql", GOLD, "--gold", GOLD, "--db", str(employees_db), "--schema", str(tables)])
    code, out = run(
        capsys,
        "--sql",
        GOLD,
        "--gold",
        GOLD,
        "--db",
        str(employees_db),
        "--schema",
        str(tables),
        "--db-id",
        "b",
        "--json",
    )
    assert json.loads(out)["hallucinations"] == [["column", "salary"]]


def test_missing_database_is_an_error(capsys, tmp_path):
    assert main(["reward", "--sql", GOLD, "--gold", GOLD, "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "database not found" in capsys.readouterr().err


def test_markup_in_sql_is_printed_literally(capsys, employees_db):
    code, out = run(
        capsys, "--sql", "SELECT [bold] FROM employees", "--gold", GOLD, "--db", str(employees_db)
    )
    assert code == 0 and "column bold" in out


def test_requires_a_source(employees_db):
    with pytest.raises(SystemExit):
        main(["reward", "--gold", GOLD, "--db", str(employees_db)])
