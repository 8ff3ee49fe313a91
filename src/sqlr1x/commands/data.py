"""``sqlr1x data check | export-verl | make-demo``: inspect, export and generate datasets.

Example::

    sqlr1x data check demo:train --max-prompt-length 1024
    sqlr1x data export-verl demo:train --out data/verl_demo
    sqlr1x data make-demo --out /tmp/demo
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

EXIT_MISSING = 2  # missing file, database or malformed row
EXIT_GOLD = 1  # --strict: gold SQL fails or returns no rows


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="check, export or generate datasets")
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    check = sub.add_parser("check", help="examples, databases, failing/empty gold SQL, prompt lengths")
    check.add_argument("spec", help="dataset spec, e.g. demo:train or spider:/data/spider:dev")
    _prompt_args(check)
    check.add_argument("--limit", type=int, default=None, help="check only the first N examples")
    check.add_argument("--show", type=int, default=20, help="list at most N failing / empty gold queries")
    check.add_argument(
        "--strict", action="store_true", help="exit 1 when any gold SQL fails or returns no rows"
    )
    check.set_defaults(func=cmd_check)

    export = sub.add_parser("export-verl", help="write verl train.parquet / test.parquet")
    export.add_argument("spec", help="training dataset spec")
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--test", default=None, help="test spec (default: the dev split of the same dataset)")
    export.add_argument("--limit", type=int, default=None)
    export.add_argument(
        "--db-root",
        default=None,
        help="folder the rows' db_relpath is relative to (default: the deepest folder holding every database)",
    )
    _prompt_args(export)
    export.set_defaults(func=cmd_export_verl)

    demo = sub.add_parser("make-demo", help="regenerate the bundled demo dataset (deterministic)")
    demo.add_argument("--out", default=None, help="output folder (default: the bundled sqlr1x/data/demo)")
    demo.set_defaults(func=cmd_make_demo)


def _prompt_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tokenizer", default=None, help="tokenizer folder for exact token counts (else an estimate)"
    )
    p.add_argument("--max-prompt-length", type=int, default=None, help="prompt token budget")
    p.add_argument("--style", choices=["sqlr1", "chat"], default="sqlr1")
    p.add_argument("--sample-rows", type=int, default=0, help="sample values per column in the schema DDL")


def _tokenizer(path: str | None) -> Any:
    if path is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sqlr1x.data.example import DatasetError
    from sqlr1x.data.prompt import render_prompts
    from sqlr1x.data.spec import load_spec
    from sqlr1x.db.executor import SQLiteExecutor

    console = Console()
    t0 = time.perf_counter()
    try:
        examples = load_spec(args.spec, limit=args.limit)
    except DatasetError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return EXIT_MISSING
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with SQLiteExecutor(timeout=30.0, max_rows=1) as executor:
        results = executor.execute_many([(ex.db_path, ex.gold_sql) for ex in examples], cache=True)
    exec_s = time.perf_counter() - t0
    failing = [(ex, r) for ex, r in zip(examples, results, strict=True) if not r.ok]
    empty = [ex for ex, r in zip(examples, results, strict=True) if r.ok and not r.rows]

    t0 = time.perf_counter()
    try:
        tokenizer = _tokenizer(args.tokenizer)
        _, stats = render_prompts(
            examples,
            tokenizer,
            style=args.style,
            max_prompt_length=args.max_prompt_length,
            sample_rows=args.sample_rows,
        )
    except DatasetError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return EXIT_MISSING
    prompt_s = time.perf_counter() - t0

    summary = Table(title=f"dataset check: {args.spec}", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("examples", str(len(examples)))
    summary.add_row("databases", str(len({ex.db_path for ex in examples})))
    summary.add_row("with external knowledge", str(sum(bool(ex.evidence) for ex in examples)))
    summary.add_row("gold SQL failing", f"[red]{len(failing)}[/]" if failing else "0")
    summary.add_row("gold SQL empty result", f"[yellow]{len(empty)}[/]" if empty else "0")
    summary.add_row("load / execute / render (s)", f"{load_s:.2f} / {exec_s:.2f} / {prompt_s:.2f}")
    console.print(summary)

    unit = "estimated tokens (word/punctuation count, no --tokenizer)" if stats.estimated else "tokens"
    after = ", after truncation" if args.max_prompt_length else ""
    lengths = Table(title=f"prompt length, {args.style} style{after}, {unit}")
    for name in ("p50", "p90", "p95", "p99", "max", "limit", "over limit", "cut"):
        lengths.add_column(name, justify="right")
    limit = args.max_prompt_length
    lengths.add_row(
        *(str(_percentile(stats.lengths, q)) for q in (50, 90, 95, 99, 100)),
        str(limit) if limit else "-",
        str(stats.over_limit) if limit else "-",
        f"{stats.cut} ({stats.cut_sample_values} values, {stats.cut_tables} tables)" if limit else "-",
    )
    console.print(lengths)

    if failing:
        table = Table(title=f"gold SQL that fails ({len(failing)})")
        for col in ("id", "db_id", "error", "sql"):
            table.add_column(col, overflow="fold")
        for ex, r in failing[: args.show]:
            table.add_row(ex.id, ex.db_id, f"{r.error_kind}: {r.error}", ex.gold_sql)
        console.print(table)
    if empty:
        table = Table(title=f"gold SQL with an empty result ({len(empty)}): [] == [] earns full reward")
        for col in ("id", "db_id", "sql"):
            table.add_column(col, overflow="fold")
        for ex in empty[: args.show]:
            table.add_row(ex.id, ex.db_id, ex.gold_sql)
        console.print(table)
    if args.strict and (failing or empty):
        return EXIT_GOLD
    return 0


def cmd_export_verl(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sqlr1x.data.example import DatasetError
    from sqlr1x.data.export import export_verl

    console = Console()
    try:
        info = export_verl(
            args.spec,
            args.out,
            test_spec=args.test,
            style=args.style,
            sample_rows=args.sample_rows,
            tokenizer=_tokenizer(args.tokenizer),
            max_prompt_length=args.max_prompt_length,
            limit=args.limit,
            db_root=args.db_root,
        )
    except DatasetError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return EXIT_MISSING
    console.print(
        f"wrote {info['train']} rows to {info['paths']['train']} and {info['test']} rows to "
        f"{info['paths']['test']} (test: {info['test_spec']})"
    )
    sources = ", ".join(f"{k} {v}" for k, v in info["data_sources"].items())
    console.print(f"data_source: {sources}")
    console.print(
        f"databases relative to {info['db_root']}: on the training nodes pass that folder (or its copy) "
        "as reward.custom_reward_function.reward_kwargs.db_root or SQLR1X_DB_ROOT",
        soft_wrap=True,
    )
    return 0


def cmd_make_demo(args: argparse.Namespace) -> int:
    # the generator is a build tool outside the package (tools/make_demo_data.py in a source checkout)
    import importlib.util
    from pathlib import Path

    tool = Path(__file__).resolve().parents[3] / "tools" / "make_demo_data.py"
    if not tool.is_file():
        print(f"make-demo needs a source checkout: {tool} not found", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("make_demo_data", tool)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module.main(["--out", str(args.out)] if args.out else [])
