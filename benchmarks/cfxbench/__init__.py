"""The benchmark harness of issue 8: suites (a data set, a model, instances, methods), cfx's
explanations and metrics, the comparison libraries run in their own virtual environments, the
report (Markdown, JSON, PNG) and the scaling runs. The command is benchmarks/harness.py."""
