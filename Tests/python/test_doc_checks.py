"""The document checks that Tests/run-all.sh runs (Tests/check_doc_figures.py,
benchmarks/doc_tables.py --check, Tests/check_doc_diffs.py) find what they must: figures with their
units and ranges, rounding as documents round, a figure that its result file does not hold, a stale
table, a diff line the code no longer has."""
import importlib.util
import pathlib
import sys
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


figures_check = load(ROOT / "Tests" / "check_doc_figures.py")
diffs_check = load(ROOT / "Tests" / "check_doc_diffs.py")


def test_figures_are_found_with_units_and_ranges():
    found = [(w, u, n) for w, u, n in figures_check.figures("11× and 1.3–1.6× in 9.0 ms, 542 µs, 4.44 s, 94%; 2 × 2 and 28x28")]
    assert found == [("11×", "×", ["11"]), ("1.3–1.6×", "×", ["1.3", "1.6"]), ("9.0 ms", "ms", ["9.0"]),
                     ("542 µs", "µs", ["542"]), ("4.44 s", "s", ["4.44"]), ("94%", "%", ["94"])]


def test_rounding_as_documents_round():
    rounds = figures_check.rounds_to
    assert rounds(Decimal("5597"), "5,600", "×") and rounds(Decimal("8.97"), "9.0", "ms")
    assert rounds(Decimal("149.56"), "150", "ms") and not rounds(Decimal("149.56"), "140", "ms")
    assert not rounds(Decimal("15"), "11", "×") and not rounds(Decimal("94"), "100", "%")


def test_a_figure_that_its_linked_result_file_lacks_fails(tmp_path):
    doc = tmp_path / "claim.md"
    doc.write_text("cfx is 11× faster ([results](%s)).\n" % (ROOT / "benchmarks/results/fashion_mnist/fashion_mnist_float32.md"))
    results = {p: figures_check.measured_values(p) for p in figures_check.result_files()}
    figures_check.ROOT, saved = tmp_path, figures_check.ROOT
    try:
        assert len(list(figures_check.missing_figures(doc, results, set(), set()))) == 1
    finally:
        figures_check.ROOT = saved


def test_a_stale_generated_table_is_rewritten():
    sys.path.insert(0, str(ROOT / "benchmarks"))     # as when benchmarks/doc_tables.py runs as a script
    tables = load(ROOT / "benchmarks" / "doc_tables.py")
    stale = "before\n<!-- generated: alibi-headline -->\n| iris | Wachter | 20 | **11×** |\n<!-- end generated -->\nafter\n"
    fresh = tables.generated(stale)
    assert "| 20 | **11×** |" not in fresh and "| iris | Wachter | 20 |" in fresh and fresh.startswith("before\n") and fresh.endswith("after\n")


def test_a_diff_line_that_the_code_no_longer_has_fails(tmp_path):
    (tmp_path / "code.swift").write_text("let a = f(x,\n        y)\nlet b = g(\"long text\")\n")
    doc = tmp_path / "doc.md"
    shown = "```diff\n+++ b/code.swift\n+let a = f(x, y)\n+let b = g(\"long ...\")\n+    // ... elided\n%s```\n"
    diffs_check.ROOT, saved = tmp_path, diffs_check.ROOT
    try:
        doc.write_text(shown % "")
        assert diffs_check.problems(doc) == []
        doc.write_text(shown % "+let c = h(x)\n")
        assert diffs_check.problems(doc) == ["doc.md: not in code.swift: let c = h(x)"]
    finally:
        diffs_check.ROOT = saved
    assert [p for d in (ROOT / "docs").rglob("*.md") for p in diffs_check.problems(d)] == []
