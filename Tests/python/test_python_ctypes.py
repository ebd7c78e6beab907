"""bindings/python against include/cfx.h, and the package's own structure.

- Every function the header declares has its ctypes signature in cfx._lib._SIGNATURES, with the
  header's argument count and C types, and nothing else is declared there; the callback types,
  the error struct and the status codes match the header's.
- No other module declares C functions (sets ``argtypes``/``restype`` or edits ``_SIGNATURES``):
  there is one place for each signature.
- The modules of bindings/python/cfx import one another without a cycle.

None of this needs the native library.
"""
import ast
import ctypes
import pathlib

import pytest

from c_header import ROOT, header_define, header_signatures, status_codes

from cfx import _lib, errors

PACKAGE = ROOT / "bindings" / "python" / "cfx"
HEADER_SIGNATURES = header_signatures()
SCALARS = {ctypes.c_int: "int", ctypes.c_size_t: "size_t", ctypes.c_double: "double",
           ctypes.c_char_p: "char*", ctypes.c_void_p: "void*", ctypes.c_char: "char", None: "void"}
CALLBACK_NAMES = {fn: name for name, fn in _lib.CALLBACK_TYPES.items()}


def c_name(ctype):
    """The C type a ctypes type stands for: POINTER(cfx_model) -> 'cfx_model*'."""
    if ctype in SCALARS:
        return SCALARS[ctype]
    if ctype in CALLBACK_NAMES:
        return CALLBACK_NAMES[ctype]
    if ctype is _lib.CfxError:
        return "cfx_error"
    if isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer):
        return c_name(ctype._type_) + "*"
    if isinstance(ctype, type) and issubclass(ctype, ctypes.Structure):
        return ctype.__name__  # an opaque handle's struct, named as in the header
    raise AssertionError(f"no C type known for {ctype!r}")


def compatible(python, c):
    """Equal C types; char ** outputs are declared void ** on purpose (see _lib._CHAR_PP), so that
    the exact pointer cfx returned goes back to cfx_free."""
    return python == c or (python == "void**" and c == "char**")


def check(name, python_ret, python_args):
    assert name in HEADER_SIGNATURES, f"{name} is not declared in include/cfx.h"
    c_ret, c_args = HEADER_SIGNATURES[name]
    assert len(python_args) == len(c_args), f"{name} takes {len(c_args)} arguments, Python declares {len(python_args)}"
    assert compatible(c_name(python_ret), c_ret), f"{name} returns {c_ret}, Python declares {c_name(python_ret)}"
    for i, (p, c) in enumerate(zip(python_args, c_args)):
        assert compatible(c_name(p), c), f"{name} argument {i + 1} is {c} in C, {c_name(p)} in Python"


@pytest.mark.parametrize("name", list(_lib._SIGNATURES))
def test_every_declaration_matches_the_header(name):
    ret, args = _lib._SIGNATURES[name]
    check(name, ret, args)


def test_every_header_function_is_declared():
    functions = {name for name in HEADER_SIGNATURES if name not in _lib.CALLBACK_TYPES}
    assert functions - set(_lib._SIGNATURES) == set(), "functions of include/cfx.h without a Python declaration"
    assert list(_lib._SIGNATURES) == [n for n in HEADER_SIGNATURES if n in functions], "not in the header's order"


@pytest.mark.parametrize("name", list(_lib.CALLBACK_TYPES))
def test_callback_types_match_the_header(name):
    fn = _lib.CALLBACK_TYPES[name]
    check(name, fn._restype_, list(fn._argtypes_))


def test_error_struct_and_status_codes_match_the_header():
    assert _lib.CFX_ERROR_MESSAGE_SIZE == header_define("CFX_ERROR_MESSAGE_SIZE")
    assert [name for name, _ in _lib.CfxError._fields_] == ["code", "message"]
    assert ctypes.sizeof(_lib.CfxError) == ctypes.sizeof(ctypes.c_int) + header_define("CFX_ERROR_MESSAGE_SIZE")
    codes = status_codes()
    python = {cls.code: cls for cls in errors._BY_CODE.values()}
    assert set(python) | {errors.STATUS_OK} == set(codes.values())
    assert codes["CFX_OK"] == errors.STATUS_OK


def test_the_checks_can_fail():
    with pytest.raises(AssertionError, match=r"argument 2 is size_t\* in C, double in Python"):
        check("cfx_model_shape", ctypes.c_int, [_lib.MODEL_P, ctypes.c_double, ctypes.c_size_t, ctypes.c_void_p])
    with pytest.raises(AssertionError, match="argument 1 is cfx_model. in C, cfx_density. in Python"):
        check("cfx_model_free", None, [_lib.DENSITY_P])


# ---- the package's structure ---------------------------------------------------------------------

def modules():
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.glob("*.py"))}


def test_only_lib_declares_c_functions():
    offenders = []
    for name, tree in modules().items():
        if name == "_lib":
            continue
        for node in ast.walk(tree):
            target = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if target in ("argtypes", "restype", "_SIGNATURES"):
                offenders.append(f"{name}.py:{node.lineno} {target}")
    assert offenders == []


def package_imports(tree):
    """The sibling modules a module imports (relative imports, also those inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
    return found


def find_cycle(graph):
    """A list of modules forming an import cycle, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep, stack + [dep])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    graph = {name: package_imports(tree) - {"__init__"} for name, tree in modules().items() if name != "__init__"}
    assert "model" in graph["training"] or "training" in graph["model"]  # the graph is really built
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"model": {"training"}, "training": {"_lib", "model"}, "_lib": set()}) == ["model", "training", "model"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
