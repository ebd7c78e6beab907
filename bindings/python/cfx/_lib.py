"""The one place where Python meets libcfx: the C types of ``include/cfx.h``, the signature of every
function it declares, and the library itself, loaded once on first use.

Every module of the package calls C through :func:`lib`, whose functions carry the argument and
result types of :data:`_SIGNATURES`; no other module declares a C function
(``Tests/python/test_python_ctypes.py`` checks the table against the header and that rule).

The library is looked up, in this order:

1. the path in the environment variable ``CFX_LIBRARY``;
2. ``libcfx.so`` (``libcfx.dylib``, ``cfx.dll``) inside this package's directory;
3. ``.build/release/libcfx.so`` of the cfx repository, found by walking up from this file.

Loading is lazy (first use), so ``cfx.export`` works without the native library.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char, c_char_p, c_double, c_int,
                    c_size_t, c_void_p)
from pathlib import Path

from .errors import STATUS_OK, LibraryNotFoundError, error_for_status

__all__ = [
    "lib", "library_path", "check", "new_error", "take_bytes", "take_string", "CfxError",
    "PREDICT_FN", "VJP_FN", "PROGRESS_FN", "MODEL_P", "EXPLAINER_P", "EVALUATOR_P", "DENSITY_P",
    "DOUBLE_P", "HEADER_VERSION",
]

HEADER_VERSION = "0.3.0"  # CFX_VERSION_STRING of the header these declarations follow
CFX_ERROR_MESSAGE_SIZE = 512

if sys.platform == "darwin":
    _LIB_NAMES = ("libcfx.dylib", "libcfx.so")
elif sys.platform == "win32":
    _LIB_NAMES = ("cfx.dll", "libcfx.dll")
else:
    _LIB_NAMES = ("libcfx.so",)


class CfxError(Structure):
    """``struct cfx_error { cfx_status code; char message[CFX_ERROR_MESSAGE_SIZE]; }``"""
    _fields_ = [("code", c_int), ("message", c_char * CFX_ERROR_MESSAGE_SIZE)]


def _handle_type(struct_name: str):
    """A pointer to the opaque ``struct <struct_name>`` of the header: a distinct ctypes type per
    handle kind, so that passing a density where a model is expected fails in Python already."""
    return POINTER(type(struct_name, (Structure,), {}))


MODEL_P = _handle_type("cfx_model")
EXPLAINER_P = _handle_type("cfx_explainer")
DENSITY_P = _handle_type("cfx_density")
EVALUATOR_P = _handle_type("cfx_evaluator")
DOUBLE_P = POINTER(c_double)

# typedef int (*cfx_predict_fn)(void *user, const double *x, size_t n, size_t d, double *proba_out);
PREDICT_FN = CFUNCTYPE(c_int, c_void_p, DOUBLE_P, c_size_t, c_size_t, DOUBLE_P)
# typedef int (*cfx_vjp_fn)(void *user, const double *x, size_t n, size_t d,
#                           const double *cotangent, size_t k, double *grad_out);
VJP_FN = CFUNCTYPE(c_int, c_void_p, DOUBLE_P, c_size_t, c_size_t, DOUBLE_P, c_size_t, DOUBLE_P)
# typedef int (*cfx_progress_fn)(void *user, const char *progress_json);
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, c_char_p)

#: The header's callback types by their C names (the signature test compares them to the header).
CALLBACK_TYPES = {"cfx_predict_fn": PREDICT_FN, "cfx_vjp_fn": VJP_FN, "cfx_progress_fn": PROGRESS_FN}

_ERR_P = POINTER(CfxError)
_SIZE_P = POINTER(c_size_t)
_CHAR_PP = POINTER(c_void_p)  # char **: kept as void* so that we can cfx_free the exact pointer
_D = DOUBLE_P

# Every function of include/cfx.h, in the header's order. name: (restype, argtypes)
_SIGNATURES = {
    # Version, errors, memory
    "cfx_version": (c_char_p, []),
    "cfx_status_string": (c_char_p, [c_int]),
    "cfx_free": (None, [c_void_p]),
    "cfx_runtime_info": (c_int, [_CHAR_PP, _ERR_P]),
    # Models
    "cfx_model_create_json": (c_int, [c_char_p, POINTER(MODEL_P), _ERR_P]),
    "cfx_model_create_callbacks": (c_int, [c_size_t, c_size_t, PREDICT_FN, VJP_FN, c_void_p,
                                           POINTER(MODEL_P), _ERR_P]),
    "cfx_model_create_callbacks_ex": (c_int, [c_size_t, c_size_t, PREDICT_FN, VJP_FN, c_void_p, c_char_p,
                                              POINTER(MODEL_P), _ERR_P]),
    "cfx_model_free": (None, [MODEL_P]),
    "cfx_model_shape": (c_int, [MODEL_P, _SIZE_P, _SIZE_P, _ERR_P]),
    "cfx_model_predict": (c_int, [MODEL_P, _D, c_size_t, c_size_t, _D, _ERR_P]),
    "cfx_model_vjp": (c_int, [MODEL_P, _D, c_size_t, c_size_t, _D, c_size_t, _D, _ERR_P]),
    "cfx_model_convert": (c_int, [MODEL_P, c_char_p, POINTER(MODEL_P), _ERR_P]),
    "cfx_model_load": (c_int, [c_char_p, POINTER(MODEL_P), _ERR_P]),
    "cfx_model_save": (c_int, [MODEL_P, c_char_p, c_char_p, c_char_p, _ERR_P]),
    "cfx_model_spec": (c_int, [MODEL_P, _CHAR_PP, _ERR_P]),
    # Training
    "cfx_model_train": (c_int, [MODEL_P, _D, c_size_t, c_size_t, _D, c_size_t, c_char_p, PROGRESS_FN,
                                c_void_p, _CHAR_PP, _ERR_P]),
    # Explainers
    "cfx_default_config": (c_int, [c_char_p, _CHAR_PP, _ERR_P]),
    "cfx_methods": (c_int, [_CHAR_PP, _ERR_P]),
    "cfx_explainer_create": (c_int, [MODEL_P, c_char_p, POINTER(EXPLAINER_P), _ERR_P]),
    "cfx_explainer_free": (None, [EXPLAINER_P]),
    "cfx_explainer_config": (c_int, [EXPLAINER_P, _CHAR_PP, _ERR_P]),
    "cfx_explainer_set_model": (c_int, [EXPLAINER_P, c_char_p, MODEL_P, _ERR_P]),
    "cfx_explainer_fit": (c_int, [EXPLAINER_P, _D, c_size_t, c_size_t, _D, _ERR_P]),
    "cfx_explain": (c_int, [EXPLAINER_P, _D, c_size_t, c_size_t, _CHAR_PP, _ERR_P]),
    # Feature densities (DeDUCE)
    "cfx_density_fit": (c_int, [MODEL_P, c_char_p, _D, c_size_t, c_size_t, _D, POINTER(DENSITY_P),
                                _ERR_P]),
    "cfx_density_free": (None, [DENSITY_P]),
    "cfx_density_info": (c_int, [DENSITY_P, _CHAR_PP, _ERR_P]),
    "cfx_density_log_prob": (c_int, [DENSITY_P, MODEL_P, _D, c_size_t, c_size_t, _D, _D, _ERR_P]),
    "cfx_density_save": (c_int, [DENSITY_P, c_char_p, _ERR_P]),
    "cfx_density_load": (c_int, [c_char_p, POINTER(DENSITY_P), _ERR_P]),
    "cfx_explainer_set_density": (c_int, [EXPLAINER_P, DENSITY_P, _ERR_P]),
    # Progress
    "cfx_explain_progress": (c_int, [EXPLAINER_P, _D, c_size_t, c_size_t, PROGRESS_FN, c_void_p,
                                     _CHAR_PP, _ERR_P]),
    # Metrics
    "cfx_evaluator_create": (c_int, [MODEL_P, _D, c_size_t, c_size_t, _D, c_char_p,
                                     POINTER(EVALUATOR_P), _ERR_P]),
    "cfx_evaluator_free": (None, [EVALUATOR_P]),
    "cfx_evaluator_set_model": (c_int, [EVALUATOR_P, c_char_p, MODEL_P, _ERR_P]),
    "cfx_evaluator_set_density": (c_int, [EVALUATOR_P, DENSITY_P, _ERR_P]),
    "cfx_evaluate": (c_int, [EVALUATOR_P, _D, _D, c_size_t, c_size_t, c_char_p, _CHAR_PP, _ERR_P]),
    "cfx_evaluate_sets": (c_int, [EVALUATOR_P, _D, _D, c_size_t, c_size_t, c_size_t, c_char_p,
                                  _CHAR_PP, _ERR_P]),
    # Counterfactual training's metrics
    "cfx_plausibility": (c_int, [MODEL_P, _D, _D, c_size_t, _D, _D, _D, c_size_t, c_size_t, c_char_p,
                                 _CHAR_PP, _ERR_P]),
    "cfx_robust_accuracy": (c_int, [MODEL_P, _D, _D, c_size_t, c_size_t, c_char_p, _CHAR_PP, _ERR_P]),
}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_path: str | None = None


def _candidates() -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    env = os.environ.get("CFX_LIBRARY")
    if env:
        out.append(("CFX_LIBRARY", Path(env)))
    here = Path(__file__).resolve().parent
    for name in _LIB_NAMES:
        out.append(("package directory", here / name))
    for parent in here.parents:
        for name in _LIB_NAMES:
            out.append(("repository build", parent / ".build" / "release" / name))
    return out


def _not_found_message(tried: list[Path]) -> str:
    lines = "\n  ".join(str(p) for p in tried)
    return (
        "cfx: cannot find the native library libcfx.\n"
        "Build it from the cfx repository root with\n"
        "    swift build -c release\n"
        "(it lands at .build/release/libcfx.so), then either run from the repository checkout,\n"
        "set CFX_LIBRARY=/path/to/libcfx.so, or copy libcfx.so into the installed cfx package "
        "directory.\nLooked at:\n  " + lines)


def _declare(handle: ctypes.CDLL, path: str) -> None:
    missing = []
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(handle, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise LibraryNotFoundError(
            f"cfx: the library at {path} does not export {', '.join(missing)}; it is incomplete "
            "or outdated. Rebuild it with `swift build -c release` from the repository root.")


def lib() -> ctypes.CDLL:
    """The loaded libcfx with every function declared (loaded on first call)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried: list[Path] = []
        for origin, path in _candidates():
            tried.append(path)
            if origin == "CFX_LIBRARY" and not path.is_file():
                raise LibraryNotFoundError(
                    f"cfx: CFX_LIBRARY is set to {path}, which is not a file. "
                    "Unset it or point it at a libcfx built with `swift build -c release`.")
            if not path.is_file():
                continue
            try:
                handle = ctypes.CDLL(str(path))
            except OSError as exc:
                raise LibraryNotFoundError(f"cfx: found {path} but cannot load it: {exc}") from exc
            _declare(handle, str(path))
            version = handle.cfx_version().decode()
            if version.split(".")[0] != HEADER_VERSION.split(".")[0]:
                raise LibraryNotFoundError(
                    f"cfx: the library at {path} is version {version}, but these bindings follow "
                    f"the {HEADER_VERSION} header (major versions differ).")
            _lib, _lib_path = handle, str(path)
            return handle
        raise LibraryNotFoundError(_not_found_message(tried))


def library_path() -> str:
    """The file path of the loaded libcfx (loading it if needed)."""
    lib()
    assert _lib_path is not None
    return _lib_path


def new_error() -> CfxError:
    return CfxError()


def check(status: int, err: CfxError, pending: BaseException | None = None) -> None:
    """Raises the cfx.Error subclass for ``status`` (no-op on CFX_OK).

    ``pending`` is an exception caught inside a Python callback during the call; it becomes the
    raised error's ``__cause__`` (KeyboardInterrupt and SystemExit are re-raised as they are).
    """
    if status == STATUS_OK:
        return
    message = err.message.decode("utf-8", errors="replace")
    if not message:
        raw = lib().cfx_status_string(status)
        message = raw.decode() if raw else f"cfx status {status}"
    exc = error_for_status(status, message)
    if pending is not None:
        if isinstance(pending, (KeyboardInterrupt, SystemExit)):
            raise pending
        exc.callback_exception = pending
        exc.message = f"{message} ({type(pending).__name__}: {pending})"
        exc.args = (exc.message,)
        raise exc from pending
    raise exc


def take_bytes(ptr: c_void_p) -> bytes:
    """The bytes of a char* returned by cfx, freed with cfx_free."""
    if not ptr.value:
        return b""
    try:
        return ctypes.string_at(ptr.value)
    finally:
        lib().cfx_free(ptr)


def take_string(ptr: c_void_p) -> str:
    """Decodes a char* returned by cfx and frees it with cfx_free."""
    return take_bytes(ptr).decode("utf-8")


def call_json(fn_name: str, *args) -> str:
    """Calls a ``(..., char **json_out, cfx_error *err)`` function and returns the JSON text."""
    out = c_void_p()
    err = CfxError()
    status = getattr(lib(), fn_name)(*args, byref(out), byref(err))
    check(status, err)
    return take_string(out)


def status_string(status: int) -> str:
    raw = lib().cfx_status_string(int(status))
    return raw.decode() if raw else ""


def version() -> str:
    """The version string of the loaded library (``cfx_version()``)."""
    return lib().cfx_version().decode()


def runtime_info() -> dict:
    """What the loaded library runs on (``cfx_runtime_info``): version, OpenBLAS kernel set, the
    backend of float32 convolutions (``"conv_backend"``: ``"onednn"`` or ``"im2col-sgemm"``, with
    ``"onednn"`` and ``"onednn_isa"``, oneDNN's version and instruction set, or None), cores."""
    return json.loads(call_json("cfx_runtime_info"))


def default_config(method: str) -> dict:
    """The default configuration of ``method`` (e.g. ``"wachter"``), every key present."""
    return json.loads(call_json("cfx_default_config", method.encode("utf-8")))
