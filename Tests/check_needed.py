"""The shared libraries libcfx.so needs at run time (readelf -d, NEEDED) are exactly the list the
documents give: README.md, docs/python.md and docs/cli.md each hold the marker below, followed by
the list, each name in backquotes, up to the first `;`, `(` or full stop. Exits non-zero, naming
the difference, otherwise.

    python3 Tests/check_needed.py [.build/release/libcfx.so]
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
MARKER = "`readelf -d` NEEDED of `libcfx.so`:"
DOCUMENTS = ["README.md", "docs/python.md", "docs/cli.md"]


def needed(library):
    out = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))


def documented(path):
    """The sonames listed after each marker in the document."""
    lists = []
    for text in " ".join((ROOT / path).read_text().split()).split(MARKER)[1:]:  # lines joined
        listed = re.split(r"[;(]|\.\s", text, maxsplit=1)[0]
        lists.append(set(re.findall(r"`([\w.+-]+\.so(?:\.[\d.]+)?)`", listed)))
    return lists


def main():
    library = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / ".build/release/libcfx.so")
    actual, problems = needed(library), []
    if not actual:
        problems.append(f"readelf found no NEEDED entry in {library}")
    for path in DOCUMENTS:
        lists = documented(path)
        if not lists:
            problems.append(f"{path}: no line with {MARKER!r}")
        for listed in lists:
            if listed != actual:
                problems.append(f"{path} lists {sorted(listed)}; {library.name} needs {sorted(actual)} "
                                f"(missing from the document: {sorted(actual - listed)}, not needed: {sorted(listed - actual)})")
    for problem in problems:
        print(problem)
    print(f"{library.name} needs {', '.join(sorted(actual))}: " + ("as documented" if not problems else "NOT as documented"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
