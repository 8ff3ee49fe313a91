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
import time

T0 = time.time()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_parser() -> argparse.ArgumentParser:
    from sqlr1x.commands.train import add_train_arguments

    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_train_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sqlr1x.commands.train import run_train

    print(f"[train_colab] model={args.model or '(config)'} config={args.config} output={args.output_dir}")
    status = run_train(args)
    if status == 0:
        print(f"[train_colab] done in {time.time() - T0:.1f}s -> {args.output_dir}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
