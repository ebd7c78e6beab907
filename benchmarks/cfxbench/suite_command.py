"""The `suite` subcommand: runs a named suite and writes its table (Markdown, JSON) and plots (PNG)
to benchmarks/results/<suite>/. It is also what the harness runs when its first argument is an
option, so `harness.py --suite iris` (the command the committed results name) still works.

    python3 benchmarks/harness.py suite iris                  # cfx, alibi and DiCE when their venvs exist
    python3 benchmarks/harness.py suite iris --cfx-only       # cfx alone
    python3 benchmarks/harness.py suite scaling               # seconds and peak RSS for 1..1000 instances
    python3 benchmarks/harness.py suite fashion_mnist --dtype float32   # cfx's networks in float32
    python3 benchmarks/harness.py suite fashion_mnist --threads 2       # cfx on 2 threads
    python3 benchmarks/harness.py suite --sparse-diverse all --n 20     # sparse and diverse sets against DiCE
    python3 benchmarks/harness.py suite --headline            # cfx against alibi, from every suite's JSON
    python3 benchmarks/harness.py suite --list

Suites: tiny, iris, breast_cancer, digits, hmda, fashion_mnist, scaling (benchmarks/README.md).
Environment: ALIBI_VENV (default benchmarks/.venv-alibi), DICE_VENV (default benchmarks/.venv-dice),
CFX_LIBRARY (default: the repository's .build/release/libcfx.so).
"""
import argparse
import json
import os
import pathlib
import shlex
import sys

from . import OUT, RESULTS
from .env import harness_command


def command_line():
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("ALIBI_VENV", "DICE_VENV") if k in os.environ)
    return (env + " " if env else "") + harness_command()


def add_arguments(ap) -> None:
    ap.add_argument("name", nargs="?", help="suite name (--list shows them)")
    ap.add_argument("--suite", help="suite name (the older form)")
    ap.add_argument("--list", action="store_true", help="list the suites")
    ap.add_argument("--headline", action="store_true",
                    help="print one table of cfx against alibi from every suite's results JSON")
    ap.add_argument("--n", type=int, help="cfx instances (default: the suite's)")
    ap.add_argument("--alibi-n", type=int, help="alibi's instance cap (default: the suite's)")
    ap.add_argument("--dice-n", type=int, help="DiCE's instance cap (default: the suite's)")
    ap.add_argument("--cfx-only", action="store_true", help="do not run alibi or DiCE")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--rewrite", action="store_true", help="write the Markdown and plots again from the suite's JSON")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                    help="cfx's network type for a suite's methods (Model.astype; default float64); float32 results "
                         "go to <suite>_float32.{md,json,png}")
    ap.add_argument("--threads", type=int, default=1,
                    help="cfx's n_threads in the suites (default 1; TensorFlow may use every core: run_alibi.py records its CPU time)")
    ap.add_argument("--results", help="results folder (default benchmarks/results/<suite>)")
    ap.add_argument("--sparse-diverse", metavar="DATASET", help="sparse and diverse counterfactuals vs DiCE "
                    "(iris, breast_cancer, hmda, or all); results in benchmarks/results/sparse_diverse/")
    ap.add_argument("--k", type=int, default=4, help="set size of --sparse-diverse (default 4)")
    ap.add_argument("--scaling-worker", nargs=3, metavar=("METHOD", "N", "THREADS"), help=argparse.SUPPRESS)


def main(args) -> int:
    from . import scaling
    args.suite = args.name or args.suite
    from .suite import SUITES, result_stem, rewrite, run_suite
    if args.scaling_worker:
        key, n, t = args.scaling_worker
        print(json.dumps(scaling.worker(key, int(n), int(t))))
        return 0
    if args.sparse_diverse:
        from . import sparse_diverse
        names = sparse_diverse.DATASETS if args.sparse_diverse == "all" else [args.sparse_diverse]
        for name in names:
            print(f"sparse-diverse {name}", file=sys.stderr, flush=True)
            sparse_diverse.run(name, args.n or 30, args.k, OUT / "sparse_diverse",
                               pathlib.Path(args.results) if args.results else RESULTS / "sparse_diverse",
                               command_line(), external=not args.cfx_only)
        return 0
    if args.headline:
        from .report import headline
        print("\n".join(headline(RESULTS)))
        return 0
    if args.list or not args.suite:
        for name, s in SUITES.items():
            print(f"{name:14s} {s.dataset}: {s.n} instances, alibi cap {s.alibi_n}, DiCE cap {s.dice_n}")
        print(f"{'scaling':14s} iris: 1, 10, 100, 1000 instances on 1 and 2 threads, peak RSS")
        return 0 if args.list else 2
    if args.threads < 1:
        raise SystemExit(f"--threads must be at least 1, got {args.threads}")
    if args.dtype != "float64" and args.suite not in SUITES:
        raise SystemExit("--dtype applies to the suites (--list), not to scaling")
    results = pathlib.Path(args.results) if args.results else RESULTS / args.suite
    out = OUT / args.suite
    if args.suite == "scaling" and args.rewrite:
        scaling.rewrite(results, plots=not args.no_plots)
    elif args.suite == "scaling":
        scaling.run(results, out, command_line(), plots=not args.no_plots)
    elif args.suite in SUITES and args.rewrite:
        rewrite(results, args.suite, plots=not args.no_plots, dtype=args.dtype, threads=args.threads)
    elif args.suite in SUITES:
        run_suite(args.suite, out, results, command_line(), n=args.n, alibi_n=args.alibi_n, dice_n=args.dice_n,
                  external=not args.cfx_only, plots=not args.no_plots, dtype=args.dtype,
                  threads=args.threads)
    else:
        raise SystemExit(f"unknown suite {args.suite!r}; --list shows them")
    print((results / f"{result_stem(args.suite, args.dtype, args.threads)}.md").read_text())
    return 0
