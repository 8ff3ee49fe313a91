"""Safe SQLite execution and execution-result comparison (see docs/architecture.md)."""

from .compare import MODES, execution_match, gold_has_order_by, remove_distinct, results_match
from .executor import ERROR_KINDS, ExecResult, SQLiteExecutor, default_executor, execute

__all__ = [
    "ERROR_KINDS",
    "MODES",
    "ExecResult",
    "SQLiteExecutor",
    "default_executor",
    "execute",
    "execution_match",
    "gold_has_order_by",
    "remove_distinct",
    "results_match",
]
