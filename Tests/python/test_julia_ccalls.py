"""bindings/julia against include/cfx.h, without Julia (none can be installed on these machines):
every ccall names a function the header declares, with its argument count and C types; the
@cfunction callbacks match the header's callback types; the error struct and the status codes
match the header's."""
import re

import pytest

from c_header import ROOT, header_define, header_kinds, header_signatures as c_signatures, split_top, status_codes

JULIA_FILES = sorted((ROOT / "bindings" / "julia").rglob("*.jl"))

# Julia's C type names, and CFX.jl's mirror of a header struct, as C types.
JULIA_SCALARS = {"Cint": "int", "Cuint": "unsigned int", "Csize_t": "size_t", "Cssize_t": "ssize_t",
                 "Cdouble": "double", "Cfloat": "float", "Clonglong": "long long", "Clong": "long",
                 "Cchar": "char", "UInt8": "char", "Int32": "int", "Cvoid": "void", "Cstring": "char*",
                 "CError": "cfx_error"}
# @cfunction callbacks: the header type each one is passed as.
CALLBACKS = {"_predict_cb": "cfx_predict_fn", "_vjp_cb": "cfx_vjp_fn"}


def header_signatures():
    """The header's signatures with handles and callbacks folded into 'handle' and 'callback',
    which Julia passes as Ptr{Cvoid}."""
    return c_signatures(header_kinds())


# ---- the Julia side ------------------------------------------------------------------------------

def julia_type(text):
    """'Ref{Ptr{UInt8}}' -> 'char**'; 'Ptr{Cvoid}' -> 'void*'."""
    text = text.strip()
    wrapped = re.fullmatch(r"(?:Ptr|Ref)\{(.+)\}", text)
    if wrapped:
        return julia_type(wrapped.group(1)) + "*"
    assert text in JULIA_SCALARS, f"no C type known for the Julia type {text!r}"
    return JULIA_SCALARS[text]


def calls(macro):
    """(file, line, [top-level arguments]) of every `macro(` call in bindings/julia."""
    found = []
    for path in JULIA_FILES:
        source = path.read_text()
        for match in re.finditer(re.escape(macro) + r"\(", source):
            depth, i = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(source[i], 0)
                i += 1
            line = source.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", split_top(source[match.end():i - 1])))
    return found


def tuple_types(text):
    inner = text.strip()
    assert inner.startswith("(") and inner.endswith(")"), f"argument types {text!r} are not a tuple"
    return [julia_type(t) for t in split_top(inner[1:-1])]


def compatible(julia, c):
    """Julia's Ptr{Cvoid} stands for any data pointer, handle or callback; otherwise types equal."""
    if julia == c:
        return True
    depth = julia.count("*")
    if julia.rstrip("*") == "void" and depth:
        return (c.count("*") == depth and c.rstrip("*") in ("void", "handle")) or (depth == 1 and c == "callback")
    return False


def check(where, name, julia_ret, julia_args, signatures):
    assert name in signatures, f"{where}: {name} is not declared in include/cfx.h"
    c_ret, c_args = signatures[name]
    assert len(julia_args) == len(c_args), f"{where}: {name} takes {len(c_args)} arguments, Julia passes {len(julia_args)}"
    assert compatible(julia_ret, c_ret), f"{where}: {name} returns {c_ret}, Julia declares {julia_ret}"
    for i, (j, c) in enumerate(zip(julia_args, c_args)):
        assert compatible(j, c), f"{where}: {name} argument {i + 1} is {c} in C, {j} in Julia"


# ---- the tests -----------------------------------------------------------------------------------

def test_the_header_parses():
    signatures = header_signatures()
    assert signatures["cfx_explain"] == ("int", ["handle*", "double*", "size_t", "size_t", "char**", "cfx_error*"])
    assert signatures["cfx_version"] == ("char*", [])
    assert signatures["cfx_predict_fn"] == ("int", ["void*", "double*", "size_t", "size_t", "double*"])
    assert header_kinds()["cfx_model"] == "handle"


CCALLS = calls("ccall")


@pytest.mark.parametrize("where,args", CCALLS, ids=[w for w, _ in CCALLS])
def test_every_ccall_matches_the_header(where, args):
    name = re.search(r":(\w+)", args[0])
    assert name, f"{where}: cannot find the function's name in {args[0]!r}"
    types = tuple_types(args[2])
    assert len(args) - 3 == len(types), f"{where}: {len(types)} argument types, {len(args) - 3} arguments"
    check(where, name.group(1), julia_type(args[1]), types, header_signatures())


def test_every_ccall_was_found():
    names = {re.search(r":(\w+)", args[0]).group(1) for _, args in CCALLS}
    declared = re.search(r"const _SYMBOLS = \(([^)]*)\)", (ROOT / "bindings/julia/src/CFX.jl").read_text())
    assert declared and set(re.findall(r":(\w+)", declared.group(1))) == names


def test_callbacks_match_the_header_types():
    cfunctions = calls("@cfunction")
    assert {args[0] for _, args in cfunctions} == set(CALLBACKS)
    for where, (callback, ret, types) in cfunctions:
        check(where, CALLBACKS[callback], julia_type(ret), tuple_types(types), header_signatures())


def test_error_struct_and_status_codes_match_the_header():
    julia = (ROOT / "bindings/julia/src/CFX.jl").read_text()
    size = header_define("CFX_ERROR_MESSAGE_SIZE")
    assert re.search(rf"const CFX_ERROR_MESSAGE_SIZE = {size}\b", julia)
    assert re.search(r"struct CError\s+code::Cint\s+message::NTuple\{CFX_ERROR_MESSAGE_SIZE,UInt8\}\s+end", julia)
    c_codes = set(status_codes().values())
    julia_codes = {int(v) for v in re.findall(r"(\d+) => :\w+", re.search(r"STATUS_NAMES = [^)]*\)", julia).group(0))}
    assert julia_codes == c_codes, f"STATUS_NAMES has {sorted(julia_codes)}, cfx_status {sorted(c_codes)}"
