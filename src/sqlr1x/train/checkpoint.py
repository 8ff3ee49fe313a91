"""Atomic checkpoints with keep-last-K rotation and resume-latest, for TRL/transformers trainers.

A checkpoint is written into ``<run_dir>/.tmp-checkpoint-<step>/`` (model or LoRA adapter,
optimizer, scheduler, RNG states, trainer state, the resolved config, and finally a marker file),
then renamed to ``<run_dir>/checkpoint-<step>`` in one ``os.replace``. A run killed mid-save leaves
only a ``.tmp-*`` folder, which ``find_latest_checkpoint`` never picks and the next save removes.
A save that fails (e.g. ``ENOSPC``: disk full) removes its staging folder and re-raises; the
previous checkpoints are untouched. The marker records each file's size and SHA-256, so resume
detects a checkpoint corrupted after the fact (truncated, overwritten, a file missing) and falls
back to the newest intact one with a warning.

Example::

    from sqlr1x.train.checkpoint import AtomicCheckpointMixin, find_latest_checkpoint
    class MyGRPOTrainer(AtomicCheckpointMixin, GRPOTrainer): ...
    trainer = MyGRPOTrainer(..., ); trainer.checkpoint_config_yaml = config.to_yaml()
    trainer.train(resume_from_checkpoint=find_latest_checkpoint("outputs/grpo"))
"""

from __future__ import annotations

import hashlib
import json
import logging
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
    "verify_checkpoint",
]

logger = logging.getLogger("sqlr1x.train")

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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file under ``folder`` (relative POSIX paths), the marker excluded."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MARKER:
            out[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return out


def verify_checkpoint(path: str | Path) -> str | None:
    """None when the checkpoint is complete and every file matches its marker; else what is wrong.

    Markers without checksums (older checkpoints) are checked for completeness only.

    >>> verify_checkpoint("/nonexistent/checkpoint-3")
    'not a complete checkpoint (no marker or trainer_state.json)'
    """
    p = Path(path)
    if not is_complete_checkpoint(p):
        return "not a complete checkpoint (no marker or trainer_state.json)"
    try:
        marker = json.loads((p / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"unreadable marker {MARKER}: {exc}"
    files = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(files, dict):
        return None
    for name, want in sorted(files.items()):
        f = p / name
        if not f.is_file():
            return f"file {name} is missing"
        size = f.stat().st_size
        if size != want.get("size"):
            return f"file {name} has {size} bytes, expected {want.get('size')}"
        if want.get("sha256") and _sha256(f) != want["sha256"]:
            return f"file {name} does not match its SHA-256"
    return None


def find_latest_checkpoint(run_dir: str | Path, *, verify: bool = True) -> Path | None:
    """The newest complete (and, with ``verify``, intact) checkpoint, or None.

    Half-written ones are skipped silently; a corrupted one with a WARNING naming it and the
    reason, and the previous one is taken.
    """
    for ckpt in reversed(complete_checkpoints(run_dir)):
        problem = verify_checkpoint(ckpt) if verify else None
        if problem is None:
            return ckpt
        logger.warning("checkpoint %s is corrupted (%s); falling back to the previous one", ckpt, problem)
    return None


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
        problem = verify_checkpoint(p)
        if problem is not None:
            raise ValueError(
                f"--resume {resume}: the checkpoint is corrupted ({problem}); pass its run folder to fall back"
            )
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
        try:
            self._sqlr1x_staging = str(staging)
            try:
                super()._save_checkpoint(model, trial)  # type: ignore[misc]
            finally:
                self._sqlr1x_staging = None
            if not self.args.should_save:  # type: ignore[attr-defined]
                return
            self._publish(run_dir, staging, step)
        except OSError as exc:
            # Disk full (ENOSPC) or similar: free what the failed save wrote; the previous
            # checkpoints were never touched, so resume still finds the last good one.
            shutil.rmtree(staging, ignore_errors=True)
            logger.error("saving checkpoint-%s failed (%s); the previous checkpoints are intact", step, exc)
            raise
        rotate_checkpoints(run_dir, self.keep_last_checkpoints)

    def _publish(self, run_dir: Path, staging: Path, step: int) -> None:
        """Marker (sizes and SHA-256 of every file) last, then one rename into place."""
        inner = staging / f"checkpoint-{step}"
        if self.checkpoint_config_yaml is not None:
            _write_durable(inner / CONFIG_NAME, self.checkpoint_config_yaml)
        marker = {"step": step, "saved_at": time.time(), "files": _manifest(inner)}
        _write_durable(inner / MARKER, json.dumps(marker, indent=2))
        final = run_dir / f"checkpoint-{step}"
        if final.exists():  # the same step saved again: move the old one aside, never delete it first
            old = staging / "previous"
            os.replace(final, old)
        os.replace(inner, final)
        _fsync_dir(run_dir)
        shutil.rmtree(staging, ignore_errors=True)
