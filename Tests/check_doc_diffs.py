#!/usr/bin/env python3
"""Every ```diff block in README.md and docs/ still shows the code as it is (docs/architecture.md's
"Adding a method" shows one method's registration as a diff).

For each file the block names (`+++ b/PATH`), every added or context line must stand in that file
as it is now, white space folded (a line may continue over several lines of the file). `...`
elides: the pieces around it must each stand in the file. Comment lines (`// ...`) are skipped.

    python3 Tests/check_doc_diffs.py        # exit 1 naming each line that no longer matches
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```diff\n(.*?)```", re.S)


def folded(text):
    return " ".join(text.split())


def problems(document):
    found = []
    for block in BLOCK.findall(document.read_text()):
        target = None
        for line in block.splitlines():
            if line.startswith("--- "):
                continue
            if line.startswith("+++ "):
                target = ROOT / line[4:].removeprefix("b/").strip()
                if not target.is_file():
                    found.append(f"{document.name}: {line[4:]} does not exist")
                    target = None
                continue
            if target is None or not line[:1] in ("+", " ", "@"):
                continue
            code = line[2:].strip() if line.startswith("@@") else line[1:].strip()
            if not code or code.startswith("//"):
                continue
            text = folded(target.read_text())
            if not all(folded(piece) in text for piece in code.split("...") if piece.strip()):
                found.append(f"{document.name}: not in {target.relative_to(ROOT)}: {code}")
    return found


def main():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [p for d in documents for p in problems(d)]
    for p in found:
        print(p)
    print(f"{len(found)} diff lines that no longer match the code" if found else "every diff in the docs matches the code")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
