"""``sqlr1x reward``: score one completion (or one SQL) against a gold query and print the breakdown.

Examples::

    sqlr1x reward --sql "SELECT name FROM employees" --gold "SELECT name FROM employees" --db company.sqlite
    sqlr1x reward --completion out.txt --gold "SELECT ..." --db company.sqlite --schema tables.json --explain

``--sql`` is wrapped in a well-formed SQL-R1 completion (``<think></think><answer>```sql …```</answer>``)
so the baseline scores the query itself; ``--completion`` is scored as the model wrote it.

``sqlr1x reward audit [--cases FILE] [--config YAML]`` checks that the reward (with the config's
weights, default weights otherwise) orders completions as rules R1–R6 of docs/rewards.md demand, on
the shipped cases over the demo databases or on your own; it prints the pass rate per rule and
every violation with its terms, and exits 1 when there is a violation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reward",
        help="score a completion or SQL against a gold query (SQL-R1 baseline + enhanced components)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["audit"],
        help="audit: check the reward's ordering rules R1-R6 on audit cases (see below)",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--completion", type=Path, metavar="FILE", help="file holding the model's completion")
    source.add_argument("--sql", help="a predicted SQL query")
    p.add_argument("--gold", help="the gold SQL query (required unless auditing)")
    p.add_argument("--db", type=Path, metavar="PATH", help="SQLite database file (required unless auditing)")
    audit = p.add_argument_group("audit")
    audit.add_argument(
        "--cases", type=Path, metavar="FILE", help="audit cases (JSON lines); default: the shipped cases"
    )
    audit.add_argument("--config", type=Path, metavar="YAML", help="take the reward weights from this config")
    audit.add_argument(
        "--db-root",
        type=Path,
        metavar="DIR",
        help="folder holding <db_id>/<db_id>.sqlite for the cases; default: the demo databases",
    )
    audit.add_argument(
        "--baseline-only", action="store_true", help="audit the SQL-R1 baseline alone (enable_enhanced=False)"
    )
    p.add_argument(
        "--schema",
        type=Path,
        metavar="FILE",
        help="schema: JSON seed dict / tables.json (one entry, or a list with --db-id), or a SQLite file;"
        " default: read from --db",
    )
    p.add_argument("--db-id", help="which tables.json entry to use when --schema holds several")
    p.add_argument(
        "--prefilled-think",
        action="store_true",
        help="the prompt ended with <think> (completion starts inside the think block)",
    )
    p.add_argument(
        "--explain", action="store_true", help="show the structural diff per clause and the syntax check"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")
    p.add_argument(
        "--timeout", type=float, default=30.0, help="execution timeout per query in seconds (default 30)"
    )
    p.add_argument(
        "--empty-result-guard", action="store_true", help="no result reward for empty == empty results"
    )
    p.add_argument("--schema-weight", type=float, default=-0.5)
    p.add_argument("--select-weight", type=float, default=0.3)
    p.add_argument("--where-weight", type=float, default=0.3)
    p.add_argument("--join-weight", type=float, default=0.2)
    p.add_argument("--syntax-weight", type=float, default=0.2)
    p.set_defaults(func=run)


def _load_schema(path: Path | None, db_id: str | None) -> Any:
    if path is None:
        return None
    if path.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        return str(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        if db_id is None:
            if len(data) != 1:
                raise SystemExit(f"{path} holds {len(data)} schemas: choose one with --db-id")
            return data[0]
        for entry in data:
            if isinstance(entry, dict) and entry.get("db_id") == db_id:
                return entry
        raise SystemExit(f"no entry with db_id {db_id!r} in {path}")
    return data


def _fmt(x: Any) -> str:
    from rich.markup import escape

    return f"{x:+.4f}" if isinstance(x, float) else ("" if x is None else escape(str(x)))


def _items(values: frozenset[str]) -> str:
    from rich.markup import escape

    return escape("\n".join(sorted(values))) or "-"


_SHIPPED_CASES = Path("tests") / "reward_audit" / "cases.jsonl"


def _default_cases() -> Path:
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        if (base / _SHIPPED_CASES).is_file():
            return base / _SHIPPED_CASES
    raise SystemExit(f"no audit cases found ({_SHIPPED_CASES} of the repository): pass --cases FILE")


def run_audit_command(args: argparse.Namespace) -> int:
    from sqlr1x.rewards.audit import format_report, load_cases, run_audit
    from sqlr1x.rewards.computer import EnhancedRewardComputer

    options: dict[str, Any] = {
        "schema_weight": args.schema_weight,
        "structural_select_weight": args.select_weight,
        "structural_where_weight": args.where_weight,
        "structural_join_weight": args.join_weight,
        "syntax_weight": args.syntax_weight,
    }
    enable = not args.baseline_only
    timeout, guard = args.timeout, args.empty_result_guard
    if args.config is not None:
        from sqlr1x.config import load_config

        reward = load_config(args.config).reward
        options = {k: getattr(reward, k) for k in options}
        enable = enable and bool(reward.enable_enhanced)
        timeout, guard = float(reward.exec_timeout), bool(reward.empty_result_guard)
    cases_path = args.cases if args.cases is not None else _default_cases()
    cases = load_cases(cases_path)
    if args.db_root is not None:
        db_root = args.db_root
    else:
        db_root = Path(__file__).resolve().parents[1] / "data" / "demo" / "databases"
    computer = EnhancedRewardComputer(
        enable_enhanced=enable, timeout=timeout, empty_result_guard=guard, **options
    )
    report = run_audit(cases, computer, db_root)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(f"cases: {cases_path}; weights: {options}; enable_enhanced={enable}")
        for line in format_report(report):
            print(line)
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sqlr1x.rewards import EnhancedRewardComputer

    if args.action == "audit":
        return run_audit_command(args)
    missing = [
        f
        for f, v in (
            ("--completion or --sql", args.completion or args.sql),
            ("--gold", args.gold),
            ("--db", args.db),
        )
        if not v
    ]
    if missing:
        raise SystemExit(f"error: sqlr1x reward needs {', '.join(missing)} (or the 'audit' action)")
    if args.completion is not None:
        text = args.completion.read_bytes().decode("utf-8", errors="replace")
        prefilled = args.prefilled_think
    else:
        text = f"<think>\n</think>\n<answer>\n```sql\n{args.sql}\n```\n</answer>"
        prefilled = False
    if not args.db.is_file():
        print(f"error: database not found: {args.db}", file=sys.stderr)
        return 2
    schema = _load_schema(args.schema, args.db_id)
    computer = EnhancedRewardComputer(
        schema_weight=args.schema_weight,
        structural_select_weight=args.select_weight,
        structural_where_weight=args.where_weight,
        structural_join_weight=args.join_weight,
        syntax_weight=args.syntax_weight,
        timeout=args.timeout,
        empty_result_guard=args.empty_result_guard,
    )
    result = computer.compute_reward(
        text, args.gold, schema=schema, db_path=str(args.db), prefilled_think=prefilled
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0

    console = Console()
    b = result.baseline
    table = Table(title="Reward breakdown", show_lines=False)
    table.add_column("term")
    table.add_column("value", justify="right")
    table.add_column("note")
    table.add_row("format", _fmt(b.get("format")), "SQL-R1 tags + ```sql block")
    table.add_row("exec", _fmt(b.get("exec")), _fmt(b.get("pred_error")))
    table.add_row("result", _fmt(b.get("result")), _fmt(b.get("gold_error")))
    table.add_row("length", _fmt(b.get("length")), "")
    table.add_row("[bold]baseline[/]", _fmt(result.baseline_total), _fmt(b.get("status")))
    names = ", ".join(f"{h.kind} {h.name}" for h in result.hallucinations)
    table.add_row("schema", _fmt(result.schema), _fmt(names or "no hallucinations"))
    table.add_row("structural", _fmt(result.structural), "")
    syntax_note = (
        "valid" if result.syntax_valid else (result.syntax_check.reason if result.syntax_check else "")
    )
    table.add_row("syntax", _fmt(result.syntax), _fmt(syntax_note))
    table.add_row("[bold]total[/]", f"[bold]{_fmt(result.total)}[/]", "")
    console.print(table)
    console.print(f"SQL: {result.sql or '(none)'}", markup=False, highlight=False)
    if result.reason:
        console.print(f"reason: {result.reason}", markup=False, highlight=False)
    if args.explain:
        diff = result.structural_diff
        if diff is None or not diff.clauses:
            console.print(f"structural diff: {diff.reason if diff else 'not computed'}", markup=False)
        else:
            t = Table(title="Structural diff (prediction vs gold)")
            for col in ("clause", "weight", "F1", "score"):
                t.add_column(col)
            for col in ("matched", "missing (gold only)", "extra (prediction only)"):
                t.add_column(col, overflow="fold", ratio=1)
            for c in diff.clauses:
                t.add_row(
                    c.clause,
                    f"{c.weight:.2f}",
                    f"{c.f1:.3f}",
                    f"{c.score:.3f}",
                    _items(c.matched),
                    _items(c.missing),
                    _items(c.extra),
                )
            console.print(t)
    return 0
