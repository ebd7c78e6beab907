"""Every measured figure quoted in README.md and docs/**/*.md comes from a committed result file.

A figure is a number with a unit: `38×` (or `38x`), `9.0 ms`, `542 µs`, `4.44 s`, `94%`, and both
ends of a range such as `1.3–1.6×`. Each must appear, with the same unit, in a result file: the
Markdown, JSON, text and CSV files that benchmarks write (every such file under benchmarks/ except
the READMEs that describe the benchmarks, and Tests/fuzz/results.md). Where the figure's paragraph
links result files, it must be in one of those (or in a file of the same name with another
extension, e.g. the JSON beside a linked Markdown report), where a bare number of the same value
also counts (a table whose header gives the unit); elsewhere, with its unit, in any result file. A
document may round: `5,600×` matches `5,597×`, `150 ms` (two significant digits) matches
`149.56 ms`, `9.0 ms` matches `8.97 ms`.

Figures that are not measurements (settings, limits, arithmetic on a setting) are listed in
EXCEPTIONS below, each with its reason; keep that list short.

    python3 Tests/check_doc_figures.py        # exits non-zero, naming each figure not found
"""
import pathlib
import re
import subprocess
import sys
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parents[1]

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
UNIT = r"×|x|ms|µs|us|s|%"
FIGURE = re.compile(rf"(?<![\w.,/^-])({NUMBER})(?:\s?[–-]\s?({NUMBER}))?(\s?)({UNIT})(?![\w])")

# (document, figure as written, why it is not a measurement)
EXCEPTIONS = [
    ("docs/c-api.md", "0.25 s", "the progress callback's interval, a setting"),
    ("docs/methods/cfproto.md", "110 s", "the DeDUCE paper's figure for another method, quoted for scale"),
    ("docs/training.md", "25%", "the size of the test split, a setting"),
]


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines()]


def documents():
    return [p for p in tracked("README.md", "docs/*.md", "docs/**/*.md") if p.is_file()]


def result_files():
    files = [p for p in tracked("benchmarks") if p.suffix in (".md", ".json", ".txt", ".csv")
             and not (p.name == "README.md" and p.parent.name != "results")]
    return files + [ROOT / "Tests/fuzz/results.md"]


def normal_unit(unit):
    return {"x": "×", "us": "µs"}.get(unit, unit)


def figures(text):
    """(written figure, unit, [numbers as written]) for every figure in text."""
    for match in FIGURE.finditer(text):
        low, high, space, unit = match.groups()
        if unit in ("×", "x") and space:
            continue  # "2 × 2": a size, not a ratio
        if unit == "x" and re.match(r"[\dx]", text[match.end():match.end() + 1] or " "):
            continue
        yield match.group(0), normal_unit(unit), [n for n in (low, high) if n]


def value(number):
    return Decimal(number.replace(",", ""))


def rounds_to(measured, written, unit):
    """Does the measured value, rounded as the written one is, give the written one? An integer of
    at least 100 with trailing zeros (not a percentage) is read to its last non-zero digit."""
    target = value(written)
    places = -target.as_tuple().exponent
    if measured.quantize(Decimal(1).scaleb(-places)) == target:
        return True
    zeros = len(str(int(target))) - len(str(int(target)).rstrip("0"))
    if places or zeros == 0 or target < 100 or unit == "%":
        return False
    step = Decimal(10) ** zeros
    return (measured / step).quantize(Decimal(1)) * step == target


def measured_values(path):
    """unit -> the values a result file quotes with that unit; "" -> every number in it."""
    text = path.read_text(errors="replace")
    values = {"": {value(n) for n in re.findall(rf"(?<![\w.]){NUMBER}", text)}}
    for _, unit, numbers in figures(text):
        values.setdefault(unit, set()).update(value(n) for n in numbers)
    return values


def paragraphs(doc):
    """(first line number, lines) of each paragraph: lines between blank lines, each list item
    on its own."""
    block, start = [], 1
    for line_no, line in enumerate(doc.read_text().splitlines() + [""], 1):
        item = re.match(r"\s*(?:[-*]|\d+\.) ", line)
        if line.strip() and not (item and block):
            block.append(line)
            continue
        if block:
            yield start, block
        block, start = ([line], line_no) if line.strip() else ([], line_no + 1)


def linked(doc, lines, results):
    """The result files the paragraph links (with their siblings of the same stem)."""
    targets = set()
    for link in re.findall(r"\]\(([^)#\s]+)", "\n".join(lines)):
        target = (doc.parent / link).resolve()
        targets |= {p for p in results if p.parent == target.parent and p.stem == target.stem}
    return targets


def missing_figures(doc, results, allowed, used):
    name = str(doc.relative_to(ROOT))
    for start, lines in paragraphs(doc):
        scope = linked(doc, lines, results)
        units = ("",) if scope else ()
        scope = scope or set(results)
        for offset, line in enumerate(lines):
            for written, unit, numbers in figures(line):
                if (name, written) in allowed:
                    used.add((name, written))
                    continue
                for number in numbers:
                    if not any(rounds_to(m, number, unit) for path in scope for m in results[path].get(unit, ())) \
                            and not any(value(number) in results[path].get(u, ()) for path in scope for u in units):
                        where = "none of the result files its paragraph links" if len(scope) < len(results) else "no result file"
                        yield f"{name}:{start + offset}: {written!r} ({number} {unit}) is in {where}"


def main():
    results = {path: measured_values(path) for path in result_files()}
    allowed = {(doc, fig) for doc, fig, _ in EXCEPTIONS}
    used, missing = set(), []
    for doc in documents():
        missing += missing_figures(doc, results, allowed, used)
    stale = [f"EXCEPTIONS: {doc} no longer quotes {fig!r}" for doc, fig, _ in EXCEPTIONS if (doc, fig) not in used]
    for problem in missing + stale:
        print(problem)
    print(f"doc figures: {len(missing)} not found in the result files, {len(stale)} stale exceptions")
    return 1 if missing or stale else 0


if __name__ == "__main__":
    sys.exit(main())
