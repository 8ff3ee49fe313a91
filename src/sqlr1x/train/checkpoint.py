"""Atomic checkpoints with keep-last-K rotation and resume-latest, for TRL/transformers trainers.

A checkpoint is written into ``<run_dir>/.tmp-checkpoint-<step>/`` (model or LoRA adapter,
optimizer, scheduler, RNG states, trainer state, the resolved config, and finally a marker file),
then renamed to ``<run_dir>/checkpoint-<step>`` in one ``os.replace``. A run killed mid-save leaves
only a ``.tmp-*`` folder, which ``find_latest_checkpoint`` never picks and the next save removes.

Example::

    from sqlr1x.train.checkpoint import AtomicCheckpointMixin, find_latest_checkpoint
    class MyGRPOTrainer(AtomicCheckpointMixin, GRPOTrainer): ...
    trainer = MyGRPOTrainer(..., ); trainer.checkpoint_config_yaml = config.to_yaml()
    trainer.train(resume_from_checkpoint=find_latest_checkpoint("outputs/grpo"))
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = [
    "MARKER",
    "AtomicCheckpointMixin",
    "complete_checkpoints",
    "find_latest_checkpoint",
    "is_complete_checkpoint",
    "resolve_resume",
    "rotate_checkpoints",
]

MARKER = "sqlr1x_checkpoint.json"
CONFIG_NAME = "resolved_config.yaml"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def is_complete_checkpoint(path: str | Path) -> bool:
    """True for a ``checkpoint-<step>`` folder that was fully written (marker and trainer state)."""
    p = Path(path)
    return bool(_CKPT.match(p.name)) and (p / MARKER).is_file() and (p / "trainer_state.json").is_file()


def complete_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints under ``run_dir``, oldest step first."""
    root = Path(run_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and is_complete_checkpoint(p)]
    return sorted(found, key=lambda p: int(_CKPT.match(p.name).group(1)))


def find_latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None; half-written ones are skipped."""
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_resume(resume: str | bool | None, run_dir: str | Path) -> Path | None:
    """Turn ``--resume`` into a checkpoint path.

    ``True`` / ``"latest"``: latest complete checkpoint under ``run_dir`` (None when there is none,
    so a first run with ``--resume`` starts fresh). A path: that checkpoint, or the latest one
    inside it when it is a run folder. Raises ``FileNotFoundError`` for a path with no checkpoint.
    """
    if resume in (None, False, "", "none"):
        return None
    if resume is True or resume == "latest":
        return find_latest_checkpoint(run_dir)
    p = Path(str(resume))
    if is_complete_checkpoint(p):
        return p
    latest = find_latest_checkpoint(p)
    if latest is None:
        raise FileNotFoundError(
            f"--resume {resume}: no complete checkpoint there (expected a checkpoint-<step> folder with "
            f"{MARKER}, or a run folder containing one)"
        )
    return latest


def rotate_checkpoints(run_dir: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` complete checkpoints and any stale ``.tmp-*``
    folders; returns the deleted paths."""
    root = Path(run_dir)
    deleted: list[Path] = []
    found = complete_checkpoints(root)
    for p in found[: max(0, len(found) - keep_last)]:
        shutil.rmtree(p, ignore_errors=True)
        deleted.append(p)
    if root.is_dir():
        for p in root.glob(".tmp-checkpoint-*"):
            shutil.rmtree(p, ignore_errors=True)
            deleted.append(p)
    return deleted


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durable(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


class AtomicCheckpointMixin:
    """Mix in before a ``transformers.Trainer`` subclass to make every checkpoint save atomic.

    Set ``checkpoint_config_yaml`` (the resolved config, saved in each checkpoint) and
    ``keep_last_checkpoints`` on the trainer; ``save_total_limit`` is left unused.
    """

    checkpoint_config_yaml: str | None = None
    keep_last_checkpoints: int = 3
    _sqlr1x_staging: str | None = None

    def _get_output_dir(self, trial: Any) -> str:  # noqa: D401 - trainer hook
        if self._sqlr1x_staging is not None:
            return self._sqlr1x_staging
        return super()._get_output_dir(trial)  # type: ignore[misc]

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        step = self.state.global_step  # type: ignore[attr-defined]
        run_dir = Path(super()._get_output_dir(trial))  # type: ignore[misc]
        run_dir.mkdir(parents=True, exist_ok=True)
        staging = run_dir / f".tmp-checkpoint-{step}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        self._sqlr1x_staging = str(staging)
        try:
            super()._save_checkpoint(model, trial)  # type: ignore[misc]
        finally:
            self._sqlr1x_staging = None
        inner = staging / f"checkpoint-{step}"
        if not self.args.should_save:  # type: ignore[attr-defined]
            return
        if self.checkpoint_config_yaml is not None:
            _write_durable(inner / CONFIG_NAME, self.checkpoint_config_yaml)
        marker = {"step": step, "saved_at": time.time(), "files": sorted(p.name for p in inner.iterdir())}
        _write_durable(inner / MARKER, json.dumps(marker, indent=2))
        final = run_dir / f"checkpoint-{step}"
        if final.exists():
            shutil.rmtree(final)
        os.replace(inner, final)
        _fsync_dir(run_dir)
        shutil.rmtree(staging, ignore_errors=True)
        rotate_checkpoints(run_dir, self.keep_last_checkpoints)
