#!/usr/bin/env python3
"""Generates the Python API reference with pdoc (run by docs/build.sh).

    python3 docs/python_api.py OUTPUT_DIR

Fails (exit 1) when a public module, class, function, method or property of the package has no
docstring, or when pdoc warns. Without PyTorch, ``cfx.torch`` (and the torch modules that
``cfx.export`` re-exports) cannot be imported and are left out, with a note.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bindings" / "python"))

import cfx  # noqa: E402
import cfx.export  # noqa: E402

# The public modules: the package and the submodules users import themselves.
# (cfx.metrics comes with cfx: it is in cfx.__all__.)
MODULES = ["cfx", "cfx.dask", "cfx.export", "cfx.plot", "cfx.safetensors", "cfx.training", "cfx.torch"]


def has_torch() -> bool:
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def undocumented(module_name: str, seen: set) -> list[str]:
    """Public objects of a module (its ``__all__``, or every public name it defines), including
    those it re-exports from cfx's private modules, without a docstring. ``seen`` skips objects
    checked before."""
    module = importlib.import_module(module_name)
    missing = [] if inspect.getdoc(module) else [module_name]
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name, None)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not obj.__module__.startswith("cfx") or id(obj) in seen:
            continue
        seen.add(id(obj))
        if not obj.__doc__:
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                if not attr.startswith("_") and inspect.isfunction(function) and not function.__doc__:
                    missing.append(f"{module_name}.{name}.{attr}")
    return missing


def main() -> int:
    output = Path(sys.argv[1])
    modules = MODULES if has_torch() else [m for m in MODULES if m != "cfx.torch"]
    if not has_torch():
        print("python_api: PyTorch is not installed: cfx.torch is left out of the reference")

        # pdoc looks up every submodule as an attribute; cfx's lazy imports would raise
        # ModuleNotFoundError for torch, which pdoc does not expect from getattr.
        def no_torch(name, package):
            raise AttributeError(f"module {package!r} has no attribute {name!r} (needs PyTorch)")
        cfx.__getattr__ = lambda name: no_torch(name, "cfx")
        cfx.export.__getattr__ = lambda name: no_torch(name, "cfx.export")
        cfx.export.__all__ = [n for n in cfx.export.__all__ if n not in ("Residual", "ChannelPad")]
    else:
        # cfx.export re-exports two torch modules lazily (a module __getattr__); pdoc resolves
        # __all__ through the module's namespace, so put them there.
        for name in ("Residual", "ChannelPad"):
            setattr(cfx.export, name, getattr(cfx.export, name))

    seen: set = set()
    missing = [m for module in modules for m in undocumented(module, seen)]
    for name in missing:
        print(f"python_api: {name} has no docstring", file=sys.stderr)

    import pdoc
    import pdoc.render
    pdoc.render.configure(docformat="restructuredtext", footer_text=f"cfx {cfx.__version__}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, output_directory=output)
    # Only pdoc's own warnings count (not, e.g., deprecations inside numpy or matplotlib).
    problems = [w for w in caught if "pdoc" in (w.filename or "")]
    for w in problems:
        print(f"python_api: pdoc: {w.message}", file=sys.stderr)
    print(f"python_api: {len(modules)} modules -> {output}/cfx.html")
    return 1 if missing or problems else 0


if __name__ == "__main__":
    sys.exit(main())
