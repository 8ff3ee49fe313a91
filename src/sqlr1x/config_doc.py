"""Generate ``docs/configuration.md`` from the pydantic models in ``sqlr1x.config``.

Every section and key of ``TrainConfig`` with its type, default, allowed range and description: the
reference cannot drift from the code, because ``tests/test_docs.py`` compares the committed file with
this output. Regenerate after changing ``config.py``::

    python -m sqlr1x.config_doc > docs/configuration.md
    python -m sqlr1x.config_doc --check docs/configuration.md     # exit 1 when stale

>>> "| `schema_weight` | float | `-0.5` |" in render_reference()
True
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sqlr1x.config import TrainConfig

__all__ = ["build_parser", "main", "render_reference", "yaml_notes"]

COMMAND = "python -m sqlr1x.config_doc > docs/configuration.md"
# The reference config: its inline comments fill in keys whose Field has no description, and its
# ``# ours`` markers tell the seed's keys from ours.
REFERENCE_YAML = Path(__file__).resolve().parents[2] / "configs" / "train_24gb.yaml"
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_]\w*):(?P<value>[^#]*)(?:#\s*(?P<comment>.*))?$")

HEADER = f"""\
# Configuration reference

<!-- Generated from src/sqlr1x/config.py by `{COMMAND}`. Do not edit by hand:
     tests/test_docs.py fails when this file and the models disagree. -->

A training run is configured by one YAML file with the sections below (`configs/train_24gb.yaml`,
`configs/demo.yaml`). Every section forbids unknown keys: a typo fails with the file, the key path and
a suggestion. Load it in Python with `load_config(path, overrides=[...])` (also importable as
`extensions.config.load_config`), or on the command line with `--config FILE` plus
`-o section.key=value` overrides (values parsed as YAML; `training.` is an alias of `optimization.`).

`docs/training.md` explains how the batch keys map onto TRL's `GRPOConfig`. *seed*: a key of the
original guide's `configs/train_24gb.yaml`; descriptions come from the model's field or, failing that,
from the comment next to the key in `configs/train_24gb.yaml`.
"""


def yaml_notes(path: Path = REFERENCE_YAML) -> dict[str, tuple[str, bool]]:
    """``{dotted.key: (inline comment, is a seed key)}`` read from a commented config file.

    Keys after a ``# ours`` comment line (inside a section, or at the top level for whole sections)
    are ours; the others are the seed's.
    """
    notes: dict[str, tuple[str, bool]] = {}
    if not path.is_file():
        return notes
    stack: list[tuple[int, str]] = []
    ours_sections = False
    ours_in: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if stripped[1:].strip().lower() == "ours":
                indent = len(line) - len(line.lstrip())
                if indent == 0:
                    ours_sections = True
                elif stack:
                    ours_in.add(stack[0][1])
            continue
        m = _KEY_LINE.match(line)
        if not m:
            continue
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m["key"]))
        dotted = ".".join(k for _, k in stack)
        section = stack[0][1]
        if len(stack) == 1:
            if ours_sections:
                ours_in.add(section)
            continue
        notes[dotted] = ((m["comment"] or "").strip(), section not in ours_in)
    return notes


def _type_name(annotation: Any) -> str:
    """A short, readable name for a field annotation (``int | None``, ``"bf16" | "fp16"``, ...)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{json.dumps(value)}`"


_BOUNDS = ((annotated_types.Gt, "> {}", "gt"), (annotated_types.Ge, "≥ {}", "ge"))
_BOUNDS += ((annotated_types.Lt, "< {}", "lt"), (annotated_types.Le, "≤ {}", "le"))


def _allowed(field: Any) -> str:
    parts = []
    for meta in field.metadata:
        for kind, fmt, attr in _BOUNDS:
            if isinstance(meta, kind):
                parts.append(fmt.format(getattr(meta, attr)))
    return ", ".join(parts)


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "").strip()


def _section(path: str, model: type[BaseModel], notes: dict[str, tuple[str, bool]], out: list[str]) -> None:
    out += [f"## `{path}`", ""]
    if _doc(model):
        out += [_doc(model), ""]
    out += ["| key | type | default | allowed | seed | description |", "|---|---|---|---|---|---|"]
    nested = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        comment, seed = notes.get(f"{path}.{name}", ("", False))
        mark = "seed" if seed else ""
        if inspect.isclass(ann) and issubclass(ann, BaseModel):
            nested.append((f"{path}.{name}", ann))
            anchor = f"{path}.{name}".replace(".", "")
            out.append(f"| `{name}` | section | see [`{path}.{name}`](#{anchor}) | | {mark} | {comment} |")
            continue
        desc = (field.description or comment).replace("|", "\\|")
        row = f"| `{name}` | {_type_name(ann)} | {_default(field)} | {_allowed(field)} | {mark} | {desc} |"
        out.append(row)
    out.append("")
    for sub_path, sub_model in nested:
        _section(sub_path, sub_model, notes, out)


def render_reference() -> str:
    """The Markdown reference for every section and key of ``TrainConfig``."""
    out = [HEADER]
    notes = yaml_notes()
    for name, field in TrainConfig.model_fields.items():
        _section(name, field.annotation, notes, out)
    return "\n".join(out).rstrip() + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sqlr1x.config_doc", description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE", help="exit 1 when FILE differs from the generated text")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or with ``--check FILE`` compare it with ``FILE`` (exit 1 when stale)."""
    args = build_parser().parse_args(argv)
    text = render_reference()
    if args.check:
        current = Path(args.check).read_text(encoding="utf-8") if Path(args.check).is_file() else ""
        if current != text:
            print(f"{args.check} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{args.check} is up to date")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
