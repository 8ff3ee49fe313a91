"""WikiSQL: logical forms to SQL with WikiSQL's own operator tables; the split database; the loader."""

from __future__ import annotations

import json
import sqlite3

import pytest

from sqlr1x.data import DatasetError, load_spec
from sqlr1x.data.wikisql import AGG_OPS, COND_OPS, column_names, logical_form_to_sql, sql_value

HEADER = ["Player", "No.", "Position", "Years in Toronto", "Points"]
TYPES = ["text", "real", "text", "text", "real"]


def test_operator_tables_match_wikisql():
    assert AGG_OPS == ["", "MAX", "MIN", "COUNT", "SUM", "AVG"]
    assert COND_OPS == ["=", ">", "<", "OP"]


@pytest.mark.parametrize(
    ("agg", "select"),
    [
        (0, '"Player"'),
        (1, 'MAX("Player")'),
        (2, 'MIN("Player")'),
        (3, 'COUNT("Player")'),
        (4, 'SUM("Player")'),
        (5, 'AVG("Player")'),
    ],
)
def test_aggregates(agg, select):
    assert (
        logical_form_to_sql({"sel": 0, "agg": agg, "conds": []}, HEADER, TYPES, "t")
        == f"SELECT {select} FROM t"
    )


def test_conditions_operators_and_quoting():
    sql = logical_form_to_sql(
        {
            "sel": 3,
            "agg": 0,
            "conds": [[0, 0, "Shaquille O'Neal"], [1, 1, "2,500"], [4, 2, 12.0], [2, 0, 1998]],
        },
        HEADER,
        TYPES,
        "table_1_10015132_11",
    )
    assert sql == (
        "SELECT \"Years in Toronto\" FROM table_1_10015132_11 WHERE \"Player\" = 'Shaquille O''Neal' "
        'AND "No." > 2500 AND "Points" < 12 AND "Position" = \'1998\''
    )


def test_values():
    assert sql_value("3.5", "real") == "3.5"
    assert sql_value("about 40 km", "real") == "40"
    assert sql_value("n/a", "real") == "'n/a'"
    assert sql_value(7.25, "real") == "7.25"


def test_bad_logical_forms_raise():
    with pytest.raises(ValueError, match="sel"):
        logical_form_to_sql({"sel": 9, "agg": 0, "conds": []}, HEADER, TYPES, "t")
    with pytest.raises(ValueError, match="operator"):
        logical_form_to_sql({"sel": 0, "agg": 0, "conds": [[0, 3, "x"]]}, HEADER, TYPES, "t")
    with pytest.raises(ValueError, match="agg"):
        logical_form_to_sql({"sel": 0, "agg": 6, "conds": []}, HEADER, TYPES, "t")


def test_duplicate_and_empty_headers_become_distinct():
    assert column_names(["Team", "team", "", "Team"]) == ["Team", "team_2", "col2", "Team_3"]


def _write_wikisql(root, split="dev", questions=None):
    tables = [
        {
            "id": "1-100-1",
            "header": HEADER,
            "types": TYPES,
            "rows": [
                ["Shaquille O'Neal", 32, "Center", "1996-97", 10.5],
                ["Vince Carter", 15, "Guard", "1998-2004", 25.0],
                ["Chris Bosh", 4, "Forward", "2003-10", 20.0],
            ],
        },
        {
            "id": "2-200-2",
            "header": ["City", "Population"],
            "types": ["text", "real"],
            "rows": [["Lyon", "513,275"], ["Nice", 342669]],
        },
    ]
    questions = questions or [
        {
            "phase": 1,
            "table_id": "1-100-1",
            "question": "Who wore number 15?",
            "sql": {"sel": 0, "agg": 0, "conds": [[1, 0, "15"]]},
        },
        {
            "phase": 1,
            "table_id": "1-100-1",
            "question": "How many points at most?",
            "sql": {"sel": 4, "agg": 1, "conds": []},
        },
        {
            "phase": 1,
            "table_id": "2-200-2",
            "question": "Which city has over 400,000 people?",
            "sql": {"sel": 0, "agg": 0, "conds": [[1, 1, "400,000"]]},
        },
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}.tables.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tables))
    (root / f"{split}.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    return root


def test_loader_builds_the_database_and_gold_executes(tmp_path):
    root = _write_wikisql(tmp_path / "wikisql")
    cache = tmp_path / "cache"
    examples = load_spec(f"wikisql:{root}:dev:cache_dir={cache}")
    assert [e.id for e in examples] == ["wikisql_dev_0", "wikisql_dev_1", "wikisql_dev_2"]
    db = cache / "wikisql_dev.sqlite"
    assert examples[0].db_path == str(db) and db.is_file()
    con = sqlite3.connect(db)
    answers = [con.execute(e.gold_sql).fetchall() for e in examples]
    con.close()
    assert answers == [[("Vince Carter",)], [(25.0,)], [("Lyon",)]]
    # the schema is the question's own table, with its real header names quoted in the DDL
    assert examples[0].schema.table_names == ["table_1_100_1"]
    assert '"Years in Toronto" TEXT' in examples[0].schema.to_ddl()


def test_loader_default_cache_and_rebuild(tmp_path):
    root = _write_wikisql(tmp_path / "w")
    examples = load_spec(f"wikisql:{root}:dev", limit=1)
    db = root / ".sqlr1x_cache" / "wikisql_dev.sqlite"
    assert len(examples) == 1 and db.is_file()
    db.unlink()
    load_spec(f"wikisql:{root}:dev", limit=1)
    assert db.is_file()


def test_loader_errors_name_file_row_and_field(tmp_path):
    with pytest.raises(DatasetError, match=r"WikiSQL dev questions file.*dev\.jsonl"):
        load_spec(f"wikisql:{tmp_path}:dev")
    (tmp_path / "dev.jsonl").write_text("")
    with pytest.raises(DatasetError, match=r"WikiSQL dev tables file.*dev\.tables\.jsonl"):
        load_spec(f"wikisql:{tmp_path}:dev")
    root = _write_wikisql(
        tmp_path / "bad",
        questions=[
            {"table_id": "1-100-1", "question": "ok", "sql": {"sel": 0, "agg": 0, "conds": []}},
            {"table_id": "1-100-1", "question": "bad", "sql": {"sel": 42, "agg": 0, "conds": []}},
        ],
    )
    with pytest.raises(DatasetError, match=r"dev\.jsonl' row 1: field 'sql'"):
        load_spec(f"wikisql:{root}:dev")
