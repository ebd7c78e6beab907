"""Writes the parameter tables of docs/methods/*.md from the methods' own tables, the ones
libcfx validates configs with (`cfx-cli methods NAME --markdown`, from cfx_methods), so that
the docs cannot disagree with the code: in docs/methods/NAME.md the text between a
`<!-- generated: parameters -->` line and the next `<!-- end generated -->` line is replaced
by method NAME's table.

    python3 docs/method_tables.py            # rewrites the pages
    python3 docs/method_tables.py --check    # exits non-zero when one is not up to date (Tests/run-all.sh)

The command line is CFX_CLI, else .build/release/cfx-cli, else .build/debug/cfx-cli.
"""
import argparse
import difflib
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "methods"
BLOCK = re.compile(r"(<!-- generated: parameters -->\n)(.*?)(<!-- end generated -->)", re.S)


def cli():
    candidates = [os.environ.get("CFX_CLI"), ROOT / ".build/release/cfx-cli", ROOT / ".build/debug/cfx-cli"]
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).exists():
            return str(candidate)
    raise SystemExit("no cfx-cli: run swift build -c release (or set CFX_CLI)")


def table(command, method):
    return subprocess.run([command, "methods", method, "--markdown"], check=True, capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit non-zero instead of writing")
    args = parser.parse_args()
    command = cli()
    names = subprocess.run([command, "methods"], check=True, capture_output=True, text=True).stdout
    methods = [line for line in names.splitlines() if line and not line.startswith(" ")]
    stale = []
    for method in methods:
        page = PAGES / f"{method}.md"
        if not page.exists():
            raise SystemExit(f"{page.relative_to(ROOT)}: missing (every method has a page)")
        text = page.read_text()
        if not BLOCK.search(text):
            raise SystemExit(f"{page.relative_to(ROOT)}: no `<!-- generated: parameters -->` block")
        new = BLOCK.sub(lambda m: m.group(1) + table(command, method) + m.group(3), text)
        if new == text:
            continue
        stale.append(page)
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                                       str(page.relative_to(ROOT)), "generated"))
        else:
            page.write_text(new)
    if args.check and stale:
        raise SystemExit(f"not up to date: {', '.join(p.name for p in stale)} (python3 docs/method_tables.py)")
    print(f"method tables: {len(methods)} pages, {len(stale)} {'stale' if args.check else 'rewritten'}")


if __name__ == "__main__":
    main()
