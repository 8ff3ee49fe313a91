"""Safe SQLite execution and execution-result comparison (see docs/architecture.md, docs/security.md)."""

from .compare import execution_match
from .executor import ERROR_KINDS, ExecResult, SQLiteExecutor, default_executor, execute
from .results import MODES, gold_has_order_by, remove_distinct, results_match

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
