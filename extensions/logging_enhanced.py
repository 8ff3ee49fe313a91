"""Seed-compatible re-export of training metrics logging (real code: ``sqlr1x.train.callbacks``).

Example::

    from extensions.logging_enhanced import MetricsLogger
    logger = MetricsLogger("outputs/run", report_to=["jsonl", "tensorboard"])
"""

from sqlr1x.train.callbacks import MetricsLogger, ProgressBarCallback, gpu_memory_stats, read_metrics

__all__ = ["MetricsLogger", "ProgressBarCallback", "gpu_memory_stats", "read_metrics"]
