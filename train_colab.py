"""Train a Text-to-SQL policy with GRPO on the SQL-R1 reward plus our dense rewards (seed flags).

One process: resolve the model (hub name, local folder or ``tiny``), optional cold-start SFT,
validation, GRPO (TRL + LoRA) with logging, checkpoints and periodic validation, then a summary
table, ``summary.json``, ``metrics.jsonl``, TensorBoard events and ``reward_curves.png``.

Run it::

    # offline CPU demo (what `make demo` runs), < 5 minutes on 2 cores
    python train_colab.py --model tiny --config configs/demo.yaml --output-dir outputs/demo --demo
    # one 24 GB GPU (the seed's command)
    python train_colab.py --model "Qwen/Qwen2.5-Coder-3B-Instruct" --config configs/train_24gb.yaml \\
        --output-dir ./outputs --num-steps 10 --batch-size 2 --demo
    # continue the latest checkpoint / change any config key
    python train_colab.py --config configs/demo.yaml --output-dir outputs/demo --resume \\
        --override optimization.learning_rate=5e-5
"""

from __future__ import annotations

import argparse
import os
import sys
import time

T0 = time.time()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--model", default=None, help="hub name, local folder, or 'tiny' (default: optimization.model_name)"
    )
    p.add_argument("--config", default="configs/train_24gb.yaml", help="YAML config (default: %(default)s)")
    p.add_argument("--output-dir", default="./outputs", help="run folder (default: %(default)s)")
    p.add_argument(
        "--num-steps", type=int, default=None, help="GRPO optimizer steps (optimization.max_steps)"
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="prompts per device step (optimization.batch_size)"
    )
    p.add_argument(
        "--demo", action="store_true", help="bundled demo dataset (demo:train / demo:dev), short validation"
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="PATH",
        help="continue from the latest checkpoint in --output-dir, or from PATH",
    )
    p.add_argument(
        "--override",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. optimization.learning_rate=1e-6 (repeatable)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sqlr1x.config import ConfigError, load_config
    from sqlr1x.train.grpo import ModelLoadError

    try:
        config = load_config(args.config, args.override)
        from sqlr1x.train.pipeline import apply_cli, run_training

        config = apply_cli(
            config, model=args.model, num_steps=args.num_steps, batch_size=args.batch_size, demo=args.demo
        )
        print(
            f"[train_colab] model={config.optimization.model_name} config={args.config} "
            f"output={args.output_dir}"
        )
        run_training(config, args.output_dir, resume=args.resume)
    except (ConfigError, ModelLoadError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[train_colab] done in {time.time() - T0:.1f}s -> {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
