"""``sqlr1x train`` (SFT warm start when ``sft.enabled``, then GRPO) and ``sqlr1x train-sft``.

Example::

    sqlr1x train --config configs/demo.yaml --model tiny --output-dir outputs/run --demo
    sqlr1x train --config configs/train_24gb.yaml --output-dir outputs/run --resume
    sqlr1x train-sft --config configs/demo.yaml --model tiny --output-dir outputs/sft --demo
"""

from __future__ import annotations

import argparse
import sys


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=None, help="hub name, local folder, or 'tiny' (default: optimization.model_name)"
    )
    p.add_argument("--config", default="configs/train_24gb.yaml", help="YAML config (default: %(default)s)")
    p.add_argument("--output-dir", default="./outputs", help="run folder (default: %(default)s)")
    p.add_argument(
        "--batch-size", type=int, default=None, help="prompts per device step (optimization.batch_size)"
    )
    p.add_argument(
        "--demo", action="store_true", help="bundled demo dataset (demo:train / demo:dev), short validation"
    )
    p.add_argument(
        "--override",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. training.learning_rate=1e-6 (repeatable)",
    )


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The seed's flags (``--model --config --output-dir --num-steps --batch-size --demo``) plus
    ``--resume`` and ``--override``: shared by ``sqlr1x train`` and ``train_colab.py``."""
    _common(p)
    p.add_argument(
        "--num-steps", type=int, default=None, help="GRPO optimizer steps (optimization.max_steps)"
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="PATH",
        help="continue from the latest checkpoint in --output-dir, or from PATH",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="GRPO training (optional SFT warm start)", description=__doc__)
    add_train_arguments(p)
    p.set_defaults(func=run_train)
    s = subparsers.add_parser("train-sft", help="cold-start SFT on gold SQL only", description=__doc__)
    _common(s)
    s.add_argument("--num-steps", type=int, default=None, help="SFT optimizer steps (sft.max_steps)")
    s.set_defaults(func=run_train_sft)


def _config(args: argparse.Namespace, *, sft_steps: bool = False):
    from sqlr1x.config import load_config
    from sqlr1x.train.pipeline import apply_cli

    overrides = list(args.override)
    if sft_steps and args.num_steps is not None:
        overrides.append(f"sft.max_steps={args.num_steps}")
    config = load_config(args.config, overrides)
    return apply_cli(
        config,
        model=args.model,
        num_steps=None if sft_steps else args.num_steps,
        batch_size=args.batch_size,
        demo=args.demo,
    )


def _guard(fn, args: argparse.Namespace) -> int:
    from sqlr1x.config import ConfigError
    from sqlr1x.models import ModelLoadError

    try:
        fn(args)
    except (ConfigError, ModelLoadError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_train(args: argparse.Namespace) -> int:
    from sqlr1x.train.pipeline import run_training

    return _guard(lambda a: run_training(_config(a), a.output_dir, resume=a.resume), args)


def run_train_sft(args: argparse.Namespace) -> int:
    from sqlr1x.train.pipeline import run_sft_only

    def go(a: argparse.Namespace) -> None:
        config = _config(a, sft_steps=True)
        config.sft.enabled = True
        run_sft_only(config, a.output_dir)

    return _guard(go, args)
