"""include/cfx.h as data, for the tests that hold the bindings to it (test_julia_ccalls.py,
test_python_ctypes.py): the signature of every function and callback type, with C types written
as plain strings ('const cfx_model *model' -> 'cfx_model*', 'const char *' -> 'char*')."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = (ROOT / "include" / "cfx.h").read_text()


def header_code():
    """The header without its comments."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", HEADER, flags=re.S)


def header_kinds():
    """Type names that are not plain C types: enums (passed as int), opaque handles, callbacks."""
    code = header_code()
    kinds = {name: "int" for name in re.findall(r"typedef\s+enum\s+\w*\s*\{[^}]*\}\s*(\w+)\s*;", code)}
    kinds.update({name: "handle" for name in re.findall(r"typedef\s+struct\s+\w+\s+(\w+)\s*;", code)})
    kinds.update({name: "callback" for name in re.findall(r"typedef\s+[\w\s\*]+\(\s*\*\s*(\w+)\s*\)", code)})
    return kinds


def c_type(declaration, kinds):
    """'const cfx_model *model' -> 'handle*' with kinds {'cfx_model': 'handle'}, 'cfx_model*'
    without; 'const char *' -> 'char*'."""
    words = re.sub(r"\bconst\b", " ", declaration).replace("*", " * ").split()
    stars = words.count("*")
    words = [w for w in words if w != "*"]
    if len(words) > 1 and words[-1] not in ("int", "long", "char", "double", "float", "void") and \
            not (len(words) == 2 and words[0] in ("unsigned", "signed", "long")):
        words = words[:-1]  # the parameter's name
    base = " ".join(words)
    return kinds.get(base, base) + "*" * stars


def split_top(text, sep=","):
    """Splits at `sep` outside brackets and strings."""
    parts, depth, start, quote = [], 0, 0, None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    last = text[start:].strip()
    return parts + [last] if last else parts


def header_signatures(kinds=None):
    """name -> (return type, [parameter types]) of every function and callback type, in the
    header's order. `kinds` renames type names (header_kinds() folds them into int, handle and
    callback); by default only enums become int."""
    if kinds is None:
        kinds = {name: kind for name, kind in header_kinds().items() if kind == "int"}
    code, out = header_code(), {}
    for ret, name, params in re.findall(r"([\w\s\*]+?)\b(\w+)\s*\(([^()]*)\)\s*;", code):
        if ret.strip().startswith(("typedef", "return")) or not name.startswith("cfx_"):
            continue
        args = [] if params.strip() in ("", "void") else [c_type(p, kinds) for p in split_top(params)]
        out[name] = (c_type(ret, kinds), args)
    for ret, name, params in re.findall(r"typedef\s+([\w\s\*]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^()]*)\)\s*;", code):
        out[name] = (c_type(ret, kinds), [c_type(p, kinds) for p in split_top(params)])
    return out


def header_define(name):
    """The value of `#define name <integer>`."""
    return int(re.search(rf"#define {name} (\d+)", HEADER).group(1))


def status_codes():
    """cfx_status's names and values: {'CFX_OK': 0, 'CFX_ERR_INVALID_ARGUMENT': 1, ...}."""
    return {name: int(value) for name, value in re.findall(r"(CFX_(?:OK|ERR_\w+)) = (\d+)", HEADER)}
