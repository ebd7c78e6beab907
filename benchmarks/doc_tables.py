"""Writes the tables of docs/benchmarks.md that summarise committed result files, so that they
cannot lag them: the text between a `<!-- generated: NAME -->` line and the next
`<!-- end generated -->` line is replaced by table NAME.

    python3 benchmarks/doc_tables.py            # rewrites docs/benchmarks.md
    python3 benchmarks/doc_tables.py --check    # exits non-zero when it is not up to date (Tests/run-all.sh)
"""
import argparse
import re
import sys

from cfxbench import ROOT   # this script's folder is on sys.path
from cfxbench.report import headline

DOCUMENT = ROOT / "docs" / "benchmarks.md"
# NAME -> the table's lines
TABLES = {"alibi-headline": lambda: headline(ROOT / "benchmarks" / "results")}
BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def generated(text):
    def table(match):
        name = match.group(2)
        if name not in TABLES:
            raise SystemExit(f"{DOCUMENT.name}: no table named {name!r}")
        return match.group(1) + "\n".join(TABLES[name]()) + "\n" + match.group(4)
    return BLOCK.sub(table, text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check that the document is up to date")
    args = ap.parse_args()
    text = DOCUMENT.read_text()
    if not BLOCK.search(text):
        print(f"{DOCUMENT}: no generated table")
        return 1
    new = generated(text)
    if args.check:
        ok = new == text
        print(f"{DOCUMENT.relative_to(ROOT)}: tables " + ("match the result files" if ok else
              "do NOT match the result files (run python3 benchmarks/doc_tables.py)"))
        return 0 if ok else 1
    DOCUMENT.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
