"""``sqlr1x report compare RUN_A RUN_B`` and ``sqlr1x report curves RUN``.

Examples::

    sqlr1x report compare outputs/baseline outputs/enhanced      # B vs A, paired when ids match
    sqlr1x report curves outputs/demo                            # reward / validation PNGs from metrics.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run_compare(args: argparse.Namespace) -> int:
    from sqlr1x.eval.compare import compare_runs, default_out_dir, render_comparison, write_comparison

    try:
        cmp = compare_runs(args.run_a, args.run_b, label=args.label, n_boot=args.n_boot, seed=args.seed)
    except (FileNotFoundError, ValueError) as exc:
        print(f"sqlr1x report compare: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out_dir(args.run_a, args.run_b)
    paths = write_comparison(cmp, out)
    print(render_comparison(cmp))
    print(f"written: {', '.join(str(p) for p in paths.values())}")
    return 0


def run_curves(args: argparse.Namespace) -> int:
    from sqlr1x.eval.report import plot_training_curves

    try:
        paths = plot_training_curves(args.run, args.out, window=args.window)
    except FileNotFoundError as exc:
        print(f"sqlr1x report curves: error: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print(f"{args.run}/metrics.jsonl has no reward or eval/ metrics to plot", file=sys.stderr)
        return 1
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="compare evaluated runs, plot training curves")
    rsub = p.add_subparsers(dest="report_command", required=True, metavar="{compare,curves}")
    c = rsub.add_parser(
        "compare", help="side-by-side metrics of two evaluated runs with deltas and 95%% intervals"
    )
    c.add_argument("run_a", help="run folder (with eval/metrics.json) or eval folder: the reference A")
    c.add_argument("run_b", help="run folder or eval folder: B, reported as B - A")
    c.add_argument(
        "--label", default=None, help="result to compare: greedy | voted | predictions (default: primary)"
    )
    c.add_argument("--out", default=None, help="output folder (default <parent of B>/compare_<A>_vs_<B>)")
    c.add_argument("--n-boot", type=int, default=2000)
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=run_compare)
    k = rsub.add_parser("curves", help="reward and validation curves (PNG) from <run>/metrics.jsonl")
    k.add_argument("run", help="training output folder holding metrics.jsonl")
    k.add_argument("--out", default=None, help="output folder (default: the run folder)")
    k.add_argument("--window", type=int, default=10, help="moving-average window in logged points")
    k.set_defaults(func=run_curves)
