"""Seed-compatible re-export of the training configuration (real code: ``sqlr1x.config``).

Example::

    from extensions.config import load_config
    config = load_config("configs/train_24gb.yaml"); config.reward.enable_enhanced
"""

from sqlr1x.config import (
    ConfigError,
    DataConfig,
    LoggingConfig,
    LoraConfigModel,
    OptimizationConfig,
    RewardConfig,
    SFTSection,
    TrainConfig,
    load_config,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "LoggingConfig",
    "LoraConfigModel",
    "OptimizationConfig",
    "RewardConfig",
    "SFTSection",
    "TrainConfig",
    "load_config",
]
