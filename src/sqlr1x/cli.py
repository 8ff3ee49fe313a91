"""Command line entry point: ``sqlr1x train | train-sft | eval | reward | data | report | ablate | bench``.

Each stage lives in its own module under ``sqlr1x.commands`` exposing ``register(subparsers)``;
modules are imported lazily per stage so ``sqlr1x reward`` does not pay for importing torch.

Example::

    sqlr1x reward --sql "SELECT name FROM employees" --gold "SELECT name FROM employees" --db my.sqlite
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module under sqlr1x.commands that registers it
COMMANDS: dict[str, str] = {
    "data": "data",
    "reward": "reward",
    "train": "train",
    "train-sft": "train",
    "eval": "eval",
    "report": "report",
    "ablate": "eval",
    "bench": "bench",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqlr1x", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[only]] if only in COMMANDS else sorted(set(COMMANDS.values()))
    for name in modules:
        try:
            module = importlib.import_module(f"sqlr1x.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sqlr1x.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(only).parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
