"""The benchmarks' shared code: suites (a data set, a model, instances, methods), cfx's explanations
and metrics, the comparison libraries run in their own virtual environments, the reports, and the
subcommands of the one entry point, benchmarks/harness.py (its SUBCOMMANDS table).

Shared by every suite, each written once: the paths below, provenance (`env.py`), data sets and the
Fashion-MNIST reader (`datasets.py`), instruction sets (`isa.py`)."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"        # committed: summaries (Markdown, small JSON), plots
OUT = BENCHMARKS / "out"                # scratch, ignored by git: jobs, logs, caches, raw per-instance data
