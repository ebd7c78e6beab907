#!/usr/bin/env python3
"""No Swift function in Sources/ over 80 lines (the developers' guide: short enough to read at once).

Measures every `func`, `init` and `deinit` with a body, from the line of its keyword to the line of
its closing brace, both counted; comments, blank lines and string literals inside count as lines
(they are what a reader reads). A nested function is measured on its own and inside its parent.

    python3 Tests/check_function_length.py            # exit 1 on a function over the limit
    python3 Tests/check_function_length.py --list 40  # every function over 40 lines, longest first

ALLOWED names the functions still over the limit that other work is shortening; each is printed,
and one that is no longer over the limit is reported so that its entry can be deleted.
"""
import argparse
import pathlib
import re
import sys

LIMIT = 80
ROOT = pathlib.Path(__file__).resolve().parent.parent
# "path:name" of functions over LIMIT, allowed while a rewrite that shortens them is under way
# (each is printed). Issue 25 emptied it; keep it empty.
ALLOWED = set()


def blank_out(text):
    """`text` with comments and the contents of string literals replaced by spaces (newlines kept),
    so that braces and keywords in them are not read as code."""
    out = list(text)
    i, n = 0, len(text)
    # Stack of contexts: ("code", paren depth) inside an interpolation, or ("string", closing
    # delimiter, number of '#' of a raw string).
    stack = [("code", 0)]

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        top = stack[-1]
        if top[0] == "code":
            if text.startswith("//", i):
                end = text.find("\n", i)
                end = n if end < 0 else end
                blank(i, end)
                i = end
            elif text.startswith("/*", i):
                depth, j = 1, i + 2
                while j < n and depth:
                    if text.startswith("/*", j):
                        depth, j = depth + 1, j + 2
                    elif text.startswith("*/", j):
                        depth, j = depth - 1, j + 2
                    else:
                        j += 1
                blank(i, j)
                i = j
            elif text[i] == '"' or (text[i] == "#" and re.match(r'#+"', text[i:])):
                hashes = len(text[i:]) - len(text[i:].lstrip("#"))
                j = i + hashes
                delim = '"""' if text.startswith('"""', j) else '"'
                stack.append(("string", delim, hashes))
                i = j + len(delim)
            elif text[i] == "(":
                stack[-1] = ("code", top[1] + 1)
                i += 1
            elif text[i] == ")":
                if top[1] == 0 and len(stack) > 1:  # the end of an interpolation
                    stack.pop()
                else:
                    stack[-1] = ("code", top[1] - 1)
                i += 1
            else:
                i += 1
        else:
            _, delim, hashes = top
            close = delim + "#" * hashes
            escape = "\\" + "#" * hashes
            if text.startswith(close, i):
                stack.pop()
                i += len(close)
            elif text.startswith(escape + "(", i):
                i += len(escape) + 1
                stack.append(("code", 0))
            elif text.startswith(escape, i) and hashes == 0:
                blank(i, i + 2)
                i += 2
            else:
                blank(i, i + 1)
                i += 1
    return "".join(out)


DECL = re.compile(r"\b(func\s+([^\s(<]+)|init[?!]?|deinit)(?=[\s(<{])")


def functions(text):
    """(name, first line, last line) of every function, initialiser and deinitialiser with a body."""
    code = blank_out(text)
    line_of = [0] * (len(code) + 1)
    line = 1
    for k, ch in enumerate(code):
        line_of[k] = line
        if ch == "\n":
            line += 1
    line_of[len(code)] = line
    for match in DECL.finditer(code):
        name = match.group(2) or match.group(1).rstrip("?!")
        # The body: the first '{' outside parentheses and brackets (default values, closure types),
        # unless a new declaration or a closing brace comes first (a protocol's requirement).
        depth, j = 0, match.end()
        while j < len(code):
            ch = code[j]
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif depth == 0 and ch == "}":
                j = -1
                break
            elif depth == 0 and ch == "{":
                break
            elif depth == 0 and ch == "\n" and re.match(
                    r"\s*(@\w+\s+)*((public|private|fileprivate|internal|static|final|override|mutating|"
                    r"nonisolated|convenience|required|open|class)\s+)*(func|var|let|init|deinit|case|"
                    r"subscript|struct|class|enum|extension|protocol|typealias|associatedtype)\b", code[j + 1:]):
                j = -1
                break
            j += 1
        if j < 0 or j >= len(code):
            continue
        braces, k = 0, j
        while k < len(code):
            if code[k] == "{":
                braces += 1
            elif code[k] == "}":
                braces -= 1
                if braces == 0:
                    break
            k += 1
        yield name, line_of[match.start()], line_of[min(k, len(code))]


def measure(root):
    """[(lines, "path:name", first line)] of every function under root/Sources."""
    rows = []
    for path in sorted((root / "Sources").rglob("*.swift")):
        rel = path.relative_to(root).as_posix()
        for name, first, last in functions(path.read_text(encoding="utf-8")):
            rows.append((last - first + 1, f"{rel}:{name}", first))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=int, metavar="N", help="list every function over N lines and exit 0")
    args = parser.parse_args()
    rows = sorted(measure(ROOT), reverse=True)
    if args.list is not None:
        for lines, where, first in rows:
            if lines > args.list:
                print(f"{lines:4d}  {where} (line {first})")
        return 0
    over = [(lines, where, first) for lines, where, first in rows if lines > LIMIT]
    failed = [row for row in over if row[1] not in ALLOWED]
    for lines, where, first in over:
        status = "allowed for now (issue 25)" if where in ALLOWED else "OVER THE LIMIT"
        print(f"{lines:4d} lines  {where} (line {first}): {status}")
    for where in sorted(ALLOWED - {row[1] for row in over}):
        print(f"{where}: within {LIMIT} lines now; delete its entry in ALLOWED")
    print(f"{len(rows)} Swift functions in Sources; {len(over)} over {LIMIT} lines, {len(failed)} not allowed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
