"""Seed-compatible re-export of atomic checkpointing (real code: ``sqlr1x.train.checkpoint``).

Example::

    from extensions.checkpoint import find_latest_checkpoint
    find_latest_checkpoint("outputs/demo/grpo")
"""

from sqlr1x.train.checkpoint import (
    AtomicCheckpointMixin,
    complete_checkpoints,
    find_latest_checkpoint,
    is_complete_checkpoint,
    resolve_resume,
    rotate_checkpoints,
)

__all__ = [
    "AtomicCheckpointMixin",
    "complete_checkpoints",
    "find_latest_checkpoint",
    "is_complete_checkpoint",
    "resolve_resume",
    "rotate_checkpoints",
]
