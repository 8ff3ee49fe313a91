"""The code blocks of README.md and docs/*.md run as written; the configuration reference is current.

Convention (docs/getting-started.md, "Docs that run"): a fenced block's language and an optional
marker comment on the line before it decide what happens to it.

- ```` ```python ````: **run** — executed as a script in a fresh temporary folder that looks like a
  checkout (its top-level entries linked in, the bundled demo databases copied next to it as
  ``company.sqlite``, ``school.sqlite``, ...), offline, with a timeout.
- ```` ```bash ```` / ```` ```sh ````: **check** — every ``sqlr1x …``, ``python train_colab.py …`` and
  ``python -m sqlr1x.… …`` command goes through the real argument parser (an unknown flag or
  subcommand fails), every ``make`` target must exist, every repository path named (``configs/…``,
  ``src/…``, ``tests/…``, ...) must exist. With ``<!-- docs-test: run -->`` the block is also executed
  by bash in the temporary folder.
- ``<!-- docs-test: check (why) -->`` before a python block: compiled and its imports executed, not
  run (a sketch that needs a GPU model, a Spider download, ...). ``<!-- docs-test: skip (why) -->``:
  not checked at all (a usage synopsis with ``[optional]`` parts).
- Other fences (```` ```text ````, ```` ```yaml ````, none) are output or illustrations.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sqlr1x import config_doc
from sqlr1x.config_doc import render_reference, yaml_notes

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DEMO_DBS = ROOT / "src" / "sqlr1x" / "data" / "demo" / "databases"
RUNNABLE = {"python": "run", "bash": "check", "sh": "check", "shell": "check"}
MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)\b.*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")
REPO_PATH = re.compile(r"^(configs|src|tests|benchmarks|docs|extensions|examples)/[\w./-]*$")
TIMEOUT = {"python": 180, "bash": 300}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    mode: str  # run | check | skip

    @property
    def where(self) -> str:
        return f"{_rel(self.page)}:{self.line}"


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def parse_blocks(page: Path) -> list[Block]:
    """Fenced blocks of ``page`` with the mode their language and marker give them."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m[1].lower(), i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{_rel(page)}:{i + 1}: unclosed code fence"
        prev = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(prev)
        mode = marker[1] if marker else RUNNABLE.get(lang, "skip")
        blocks.append(Block(page, start + 1, lang, "\n".join(lines[start + 1 : end]) + "\n", mode))
        i = end + 1
    return blocks


ALL_BLOCKS = [b for page in PAGES for b in parse_blocks(page)]


def _param(blocks: list[Block]) -> list:
    return [pytest.param(b, id=b.where) for b in blocks]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A temporary folder that looks like a checkout, with the demo databases at hand."""
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in ("outputs", "build", "dist"):
            continue
        (tmp_path / entry.name).symlink_to(entry)
    for db in DEMO_DBS.glob("*/*.sqlite"):
        shutil.copy(db, tmp_path / db.name)
    return tmp_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MPLBACKEND"] = "Agg"
    return env


def _run(block: Block, argv: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT.get(block.lang, 300)
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: the block ran past {TIMEOUT.get(block.lang, 300)} s")
    if proc.returncode:
        tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-4000:]).strip()
        pytest.fail(
            f"{block.where}: the {block.lang} block exited with {proc.returncode} "
            f"(mark it <!-- docs-test: check (why) --> if it cannot run offline on a CPU):\n{tail}"
        )


# ------------------------------------------------------------------------------------------ python


@pytest.mark.parametrize("block", _param([b for b in ALL_BLOCKS if b.lang == "python" and b.mode == "run"]))
def test_python_block_runs(block: Block, workspace: Path) -> None:
    script = workspace / "docs_block.py"
    script.write_text(block.code, encoding="utf-8")
    _run(block, [sys.executable, str(script)], workspace)


@pytest.mark.parametrize("block", _param([b for b in ALL_BLOCKS if b.lang == "python" and b.mode == "check"]))
def test_python_sketch_compiles_and_its_imports_resolve(block: Block, monkeypatch) -> None:
    tree = ast.parse(block.code, filename=block.where)  # a SyntaxError names the page and line
    imports = ast.Module(
        body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[]
    )
    assert imports.body, f"{block.where}: a sketch with no imports checks nothing; make it run"
    monkeypatch.syspath_prepend(str(ROOT))
    exec(compile(imports, block.where, "exec"), {})  # noqa: S102 - our own docs


# -------------------------------------------------------------------------------------------- bash


def commands(code: str) -> list[list[str]]:
    """Simple commands of a bash block: continuations joined, comments, env assignments and
    redirections dropped, split on ``&&``, ``||``, ``;`` and ``|``.

    >>> commands("A=1 sqlr1x eval --model tiny \\\\\\n  --limit 2  # note\\nmake test && make demo > log")
    [['sqlr1x', 'eval', '--model', 'tiny', '--limit', '2'], ['make', 'test'], ['make', 'demo']]
    """
    out: list[list[str]] = []
    for line in code.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars="&|;<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        drop_next = False
        for tok in [*lexer, ";"]:
            if drop_next:  # the target of a redirection
                drop_next = False
            elif tok in ("&&", "||", ";", "|", "&"):
                if current:
                    out.append(current)
                current = []
            elif set(tok) <= set("<>&"):
                drop_next = True
            elif current or not re.match(r"^[A-Za-z_]\w*=", tok):  # not a leading VAR=value
                current.append(tok)
    return out


def _parse(parser: argparse.ArgumentParser, args: list[str], where: str, shown: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            if exc.code not in (0, None):
                pytest.fail(f"{where}: `{shown}` does not parse:\n{err.getvalue().strip()}")


def _train_colab_parser() -> argparse.ArgumentParser:
    sys.path.insert(0, str(ROOT))
    try:
        import train_colab
    finally:
        sys.path.remove(str(ROOT))
    return train_colab.build_parser()


def _module_parser(module: str) -> argparse.ArgumentParser | None:
    """The parser of ``python -m module`` for our modules that expose ``build_parser``."""
    if not module.startswith("sqlr1x."):
        return None
    import importlib

    build = getattr(importlib.import_module(module), "build_parser", None)
    return build() if build is not None else None


def check_command(argv: list[str], where: str) -> None:
    """Fail when ``argv`` uses a flag, subcommand, make target or repository path that does not exist."""
    shown = shlex.join(argv)
    for tok in argv:
        for part in (tok, tok.split("=", 1)[-1]):
            if REPO_PATH.match(part) and not (ROOT / part).exists():
                pytest.fail(f"{where}: `{shown}` names {part}, which is not in the repository")
    prog, args = argv[0], argv[1:]
    if prog == "sqlr1x":
        from sqlr1x.cli import build_parser

        _parse(build_parser(), args, where, shown)
    elif prog in ("python", "python3") and args and args[0] == "train_colab.py":
        _parse(_train_colab_parser(), args[1:], where, shown)
    elif prog in ("python", "python3") and args[:1] == ["-m"] and len(args) > 1:
        parser = _module_parser(args[1])
        if parser is not None:
            _parse(parser, args[2:], where, shown)
    elif prog == "make":
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        for target in (a for a in args if not a.startswith("-") and "=" not in a):
            if not re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE):
                pytest.fail(f"{where}: `{shown}`: the Makefile has no target {target!r}")


@pytest.mark.parametrize(
    "block",
    _param([b for b in ALL_BLOCKS if b.lang in ("bash", "sh", "shell") and b.mode in ("check", "run")]),
)
def test_bash_block_commands_exist(block: Block) -> None:
    cmds = commands(block.code)
    assert cmds, f"{block.where}: an empty shell block"
    for argv in cmds:
        check_command(argv, block.where)


@pytest.mark.parametrize(
    "block", _param([b for b in ALL_BLOCKS if b.lang in ("bash", "sh", "shell") and b.mode == "run"])
)
def test_bash_block_runs(block: Block, workspace: Path) -> None:
    _run(block, ["bash", "-euo", "pipefail", "-c", block.code], workspace)


# ------------------------------------------------------------------------------------ the pages


def test_markers_are_known_and_sit_on_blocks() -> None:
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = MARKER.match(line.strip())
            if not m:
                continue
            where = f"{page.relative_to(ROOT)}:{i + 1}"
            assert m[1] in ("run", "check", "skip"), f"{where}: unknown docs-test mode {m[1]!r}"
            nxt = next((x for x in lines[i + 1 :] if x.strip()), "")
            assert FENCE.match(nxt), f"{where}: a docs-test marker must sit right above a code block"
            lang = FENCE.match(nxt)[1]
            if m[1] != "skip":
                assert lang in RUNNABLE, f"{where}: docs-test: {m[1]} on a ```{lang} block"
            if m[1] in ("check", "skip"):
                assert re.search(r"docs-test:\s*\w+\s*\(.+\)", line), f"{where}: say why, e.g. (needs a GPU)"


def test_every_runnable_block_is_covered() -> None:
    modes = {b.mode for b in ALL_BLOCKS}
    assert modes <= {"run", "check", "skip"}, modes
    runnable = [b for b in ALL_BLOCKS if b.lang in RUNNABLE]
    assert runnable, "no python or bash blocks found in the docs"
    assert any(b.lang == "python" and b.mode == "run" for b in runnable)


LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s#]+)(?:#[^)]*)?\)")
CODE_PATH = re.compile(r"`((?:docs|configs)/[\w./-]+\.(?:md|yaml))`")


def test_relative_links_and_named_pages_exist() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: broken link {target}"
        for target in CODE_PATH.findall(text):
            assert (ROOT / target).exists(), f"{page.relative_to(ROOT)}: names {target}, which does not exist"


def test_configuration_reference_is_current() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/configuration.md is stale: run `python -m sqlr1x.config_doc > docs/configuration.md`"
    )


def test_getting_started_and_configuration_are_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/getting-started.md", "docs/configuration.md"):
        assert f"({page})" in readme, page


# ------------------------------------------------------------------- the checker itself can fail


@pytest.mark.parametrize(
    "argv",
    [
        ["sqlr1x", "eval", "--no-such-flag"],
        ["sqlr1x", "no-such-command"],
        ["python", "train_colab.py", "--epochs", "3"],
        ["python", "-m", "sqlr1x.config_doc", "--write"],
        ["make", "no-such-target"],
        ["sqlr1x", "train", "--config", "configs/no_such.yaml"],
        ["python", "-m", "x", "reward.custom_reward_function.path=src/sqlr1x/no_such.py"],
        ["bash", "examples/no_such.sh"],
    ],
)
def test_check_command_rejects_what_does_not_exist(argv: list[str]) -> None:
    with pytest.raises(pytest.fail.Exception):
        check_command(argv, "example")


def test_check_command_accepts_real_commands() -> None:
    for argv in (
        ["sqlr1x", "eval", "--model", "tiny", "--dataset", "demo:dev", "--limit", "2"],
        ["python", "train_colab.py", "--model", "tiny", "--config", "configs/demo.yaml", "--demo"],
        ["make", "test"],
        ["sqlr1x", "--help"],
    ):
        check_command(argv, "example")


def test_parse_blocks_reads_languages_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: check (needs a GPU) -->\n```python\nimport os\n```\n\n"
        "```bash\nmake test\n```\n<!-- docs-test: run -->\n\n```bash\nsqlr1x --help\n```\n"
        "```text\noutput\n```\n```python\nprint(1)\n```\n",
        encoding="utf-8",
    )
    got = [(b.lang, b.mode, b.line) for b in parse_blocks(page)]
    assert got == [
        ("python", "check", 2),
        ("bash", "check", 6),
        ("bash", "run", 11),
        ("text", "skip", 14),
        ("python", "run", 17),
    ]


def test_config_reference_check_fails_on_a_stale_file(tmp_path: Path, capsys) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(render_reference().replace("`-0.5`", "`-0.4`"), encoding="utf-8")
    assert config_doc.main(["--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    stale.write_text(render_reference(), encoding="utf-8")
    assert config_doc.main(["--check", str(stale)]) == 0


def test_yaml_notes_tell_seed_keys_from_ours(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "reward:\n  schema_weight: -0.5   # penalty\n  # ours\n  workers: null\n# ours\ndata:\n  train: x\n",
        encoding="utf-8",
    )
    assert yaml_notes(cfg) == {
        "reward.schema_weight": ("penalty", True),
        "reward.workers": ("", False),
        "data.train": ("", False),
    }
