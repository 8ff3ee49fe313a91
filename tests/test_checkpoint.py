"""Atomic checkpoints: complete ones are found, half-written ones never; rotation; resume paths."""

from __future__ import annotations

import json

import pytest

from sqlr1x.train.checkpoint import (
    MARKER,
    complete_checkpoints,
    find_latest_checkpoint,
    resolve_resume,
    rotate_checkpoints,
)


def make_ckpt(root, step, *, marker=True, state=True):
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"x")
    if state:
        (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if marker:
        (d / MARKER).write_text(json.dumps({"step": step}))
    return d


def test_latest_skips_half_written(tmp_path):
    make_ckpt(tmp_path, 2)
    good = make_ckpt(tmp_path, 10)
    make_ckpt(tmp_path, 12, marker=False)  # killed before the marker: never picked
    make_ckpt(tmp_path, 14, state=False)
    (tmp_path / ".tmp-checkpoint-16" / "checkpoint-16").mkdir(parents=True)  # staging folder
    (tmp_path / "checkpoint-x").mkdir()
    assert find_latest_checkpoint(tmp_path) == good
    assert [p.name for p in complete_checkpoints(tmp_path)] == [
        "checkpoint-2",
        "checkpoint-10",
    ]  # numeric order
    assert find_latest_checkpoint(tmp_path / "missing") is None


def test_rotation_keeps_last_k_and_removes_staging(tmp_path):
    for step in (1, 2, 3, 4):
        make_ckpt(tmp_path, step)
    (tmp_path / ".tmp-checkpoint-5").mkdir()
    deleted = rotate_checkpoints(tmp_path, keep_last=2)
    assert sorted(p.name for p in deleted) == [".tmp-checkpoint-5", "checkpoint-1", "checkpoint-2"]
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-3", "checkpoint-4"]


def test_resolve_resume(tmp_path):
    assert resolve_resume(None, tmp_path) is None
    assert resolve_resume("latest", tmp_path) is None  # nothing yet: start fresh
    ck = make_ckpt(tmp_path, 3)
    assert resolve_resume(True, tmp_path) == ck
    assert resolve_resume(str(ck), tmp_path / "elsewhere") == ck
    assert resolve_resume(str(tmp_path), tmp_path / "elsewhere") == ck  # a run folder
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        resolve_resume(str(tmp_path / "nothing"), tmp_path)
