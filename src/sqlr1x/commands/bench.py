"""``sqlr1x bench [NAME ...]``: run the benchmark scripts under ``benchmarks/`` in this process's Python.

Each benchmark prints its own reference measured in the same run and the ratio against it.

Example::

    sqlr1x bench sql_core rewards
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def _bench_dir() -> Path:
    # benchmarks/ lives at the repository root, next to src/; it is not installed with the package.
    return Path(__file__).resolve().parents[3] / "benchmarks"


def available() -> dict[str, Path]:
    """Benchmark name (``bench_<name>.py`` without prefix) → script path."""
    folder = _bench_dir()
    return {p.stem.removeprefix("bench_"): p for p in sorted(folder.glob("bench_*.py"))}


def run(args: argparse.Namespace) -> int:
    scripts = available()
    if not scripts:
        print(f"no benchmarks found under {_bench_dir()} (run from a source checkout)", file=sys.stderr)
        return 2
    names = args.names or list(scripts)
    unknown = [n for n in names if n not in scripts]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(scripts)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        status |= subprocess.call([sys.executable, str(scripts[name])])
    return status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run benchmarks (ratios against a reference measured in the same run)")
    p.add_argument("names", nargs="*", help="benchmark names, e.g. sql_core rewards (default: all)")
    p.set_defaults(func=run)
