"""SQL core: schemas, answer extraction and sqlglot analysis (no execution)."""

from sqlr1x.sql.analysis import (
    ClauseComponents,
    Hallucination,
    ParsedSQL,
    clause_components,
    find_hallucinations,
    parse_sql,
    referenced_tables,
)
from sqlr1x.sql.schema import Column, ForeignKey, Schema, SchemaError, Table, load_tables_json

__all__ = [
    "ClauseComponents",
    "Column",
    "ForeignKey",
    "Hallucination",
    "ParsedSQL",
    "Schema",
    "SchemaError",
    "Table",
    "clause_components",
    "find_hallucinations",
    "load_tables_json",
    "parse_sql",
    "referenced_tables",
]
