"""Atomic checkpoints: complete ones are found, half-written ones never; rotation; resume paths."""

from __future__ import annotations

import errno
import json
import logging
import types
from pathlib import Path

import pytest

from sqlr1x.train import checkpoint as checkpoint_module
from sqlr1x.train.checkpoint import (
    MARKER,
    AtomicCheckpointMixin,
    complete_checkpoints,
    find_latest_checkpoint,
    resolve_resume,
    rotate_checkpoints,
    verify_checkpoint,
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


# ------------------------------------------------------------------------------- crash safety
class _TrainerBase:
    """The two hooks of ``transformers.Trainer`` the mixin wraps, writing real files like it does."""

    def __init__(self, output_dir, payload: bytes = b"w" * 4096):
        self.output_dir = str(output_dir)
        self.state = types.SimpleNamespace(global_step=0)
        self.args = types.SimpleNamespace(should_save=True)
        self.payload = payload

    def _get_output_dir(self, trial):
        return self.output_dir

    def _save_checkpoint(self, model, trial):
        out = Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}"
        out.mkdir(parents=True)
        (out / "adapter_model.safetensors").write_bytes(self.payload + str(self.state.global_step).encode())
        (out / "optimizer.pt").write_bytes(self.payload * 2)
        (out / "trainer_state.json").write_text(json.dumps({"global_step": self.state.global_step}))


class _Trainer(AtomicCheckpointMixin, _TrainerBase):
    keep_last_checkpoints = 3


def _save(trainer, step):
    trainer.state.global_step = step
    trainer._save_checkpoint(None, None)


def test_disk_full_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, caplog):
    trainer = _Trainer(tmp_path)
    _save(trainer, 1)
    good = tmp_path / "checkpoint-1"
    before = {p.name: p.read_bytes() for p in good.iterdir()}
    real_write = Path.write_bytes

    def full_disk(self, data):
        if self.name == "optimizer.pt":
            real_write(self, data[: len(data) // 2])  # half the file made it to disk
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with caplog.at_level(logging.ERROR, "sqlr1x.train"), pytest.raises(OSError) as info:
        _save(trainer, 2)
    assert info.value.errno == errno.ENOSPC and "previous checkpoints are intact" in caplog.text
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-1"]  # staging freed
    assert {p.name: p.read_bytes() for p in good.iterdir()} == before
    assert find_latest_checkpoint(tmp_path) == good and verify_checkpoint(good) is None
    assert resolve_resume("latest", tmp_path) == good


def test_disk_full_while_writing_the_marker(tmp_path, monkeypatch):
    trainer = _Trainer(tmp_path)
    trainer.checkpoint_config_yaml = "reward: {}\n"
    _save(trainer, 1)

    def no_space(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "_write_durable", no_space)
    with pytest.raises(OSError):
        _save(trainer, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-1"]
    assert find_latest_checkpoint(tmp_path) == tmp_path / "checkpoint-1"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda d: (d / "adapter_model.safetensors").write_bytes(b"garbage"),
            "adapter_model.safetensors has",
        ),
        (lambda d: (d / "optimizer.pt").write_bytes(b"v" * 8192), "optimizer.pt does not match"),
        (lambda d: (d / "optimizer.pt").unlink(), "optimizer.pt is missing"),
        (lambda d: (d / MARKER).write_text("{not json"), "unreadable marker"),
    ],
)
def test_corrupted_latest_checkpoint_falls_back_with_a_warning(tmp_path, caplog, damage, reason):
    trainer = _Trainer(tmp_path)
    for step in (1, 2, 3):
        _save(trainer, step)
    latest = tmp_path / "checkpoint-3"
    assert find_latest_checkpoint(tmp_path) == latest and verify_checkpoint(latest) is None
    damage(latest)
    with caplog.at_level(logging.WARNING, "sqlr1x.train"):
        assert find_latest_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
        assert resolve_resume(True, tmp_path) == tmp_path / "checkpoint-2"
    assert "checkpoint-3" in caplog.text and reason in caplog.text and "falling back" in caplog.text
    with pytest.raises(ValueError, match="corrupted"):
        resolve_resume(str(latest), tmp_path)  # named explicitly: refuse, do not guess


def test_saving_the_same_step_again_replaces_it_atomically(tmp_path):
    trainer = _Trainer(tmp_path)
    _save(trainer, 1)
    trainer.payload = b"z" * 100
    _save(trainer, 1)
    ck = tmp_path / "checkpoint-1"
    assert (ck / "optimizer.pt").read_bytes() == b"z" * 200 and verify_checkpoint(ck) is None
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-1"]
