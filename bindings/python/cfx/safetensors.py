"""A small reader and writer of safetensors files, in pure Python with numpy.

safetensors is the weights format of PyTorch and Hugging Face, and the one cfx model files use
(``"weights"`` in a spec). A file is an 8-byte little-endian header length ``n``, ``n`` bytes of
JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str:
str}}``, then the tensors' raw little-endian bytes (offsets count from the end of the header).

This module lets exporters write weights without the ``safetensors`` package; its files load in
that package and vice versa. cfx itself reads F64, F32, F16 and BF16 tensors.

    from cfx import safetensors
    safetensors.save_file({"layers.0.weight": W, "layers.0.bias": b}, "model.safetensors")
    tensors = safetensors.load_file("model.safetensors")
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

__all__ = ["save", "save_file", "load", "load_file", "load_metadata", "SafetensorsError"]

# dtype name <-> numpy dtype (little-endian). BF16 has no numpy dtype: it is read into float32.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    """A file that is not valid safetensors; the message names the tensor."""


def _dtype_name(array: np.ndarray, name: str) -> str:
    dtype = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    try:
        return _NAMES[dtype]
    except KeyError:
        raise SafetensorsError(f"{name}: dtype {array.dtype} cannot be stored; use float64, float32, "
                               "float16, an integer type or bool") from None


def save(tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors`` (name -> array) in their own dtypes.

    Tensors are laid out in the order given; the header is padded with spaces to a multiple of 8
    bytes, as the reference implementation does."""
    header: Dict[str, object] = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SafetensorsError(f"__metadata__: keys and values must be strings, got {key!r}: {value!r}")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"{name!r}: not a valid tensor name")
        array = np.asarray(value)
        dtype_name = _dtype_name(array, name)
        data = np.ascontiguousarray(array, dtype=_DTYPES[dtype_name]).tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_file(tensors: Mapping[str, np.ndarray], filename: "str | os.PathLike",
              metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes ``tensors`` to a safetensors file (see :func:`save`)."""
    data = save(tensors, metadata)
    with open(filename, "wb") as f:
        f.write(data)


def _parse(data: bytes, what: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    def fail(problem: str) -> SafetensorsError:
        return SafetensorsError(f"{what}: {problem}")

    if len(data) < 8:
        raise fail(f"{len(data)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise fail(f"the header length {n} runs past the end of the file ({len(data)} bytes)")
    if n > _MAX_HEADER:
        raise fail(f"the header length {n} is over the limit of {_MAX_HEADER} bytes")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise fail("the header is not a JSON object")
    body = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("__metadata__: expected an object of strings")
    spans = []
    tensors: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise fail(f"{name}: expected an object with dtype, shape and data_offsets")
        dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype_name != "BF16" and dtype_name not in _DTYPES:
            raise fail(f"{name}: unknown dtype {dtype_name!r}")
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise fail(f"{name}: shape {shape!r} is not a list of sizes")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise fail(f"{name}: data_offsets {offsets!r} is not [begin, end]")
        begin, end = offsets
        if not 0 <= begin <= end <= len(body):
            raise fail(f"{name}: data_offsets [{begin}, {end}] are out of range "
                       f"(the data section has {len(body)} bytes)")
        itemsize = 2 if dtype_name == "BF16" else _DTYPES[dtype_name].itemsize
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * itemsize != end - begin:
            raise fail(f"{name}: has {end - begin} bytes, but {dtype_name} x shape {shape} needs "
                       f"{count * itemsize}")
        chunk = body[begin:end]
        if dtype_name == "BF16":
            bits = np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(chunk, dtype=_DTYPES[dtype_name]).copy()
        tensors[name] = array.reshape(shape)
        spans.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(spans):
        if begin < covered:
            raise fail(f"{name}: data_offsets overlap another tensor's")
        if begin > covered:
            raise fail(f"bytes {covered}..{begin} of the data belong to no tensor")
        covered = end
    if covered != len(body):
        raise fail(f"the data section has {len(body)} bytes, but the tensors cover {covered}")
    return tensors, dict(metadata)


def load(data: bytes) -> Dict[str, np.ndarray]:
    """The tensors of safetensors bytes, by name (BF16 is returned as float32)."""
    return _parse(bytes(data), "safetensors")[0]


def load_file(filename: "str | os.PathLike") -> Dict[str, np.ndarray]:
    """The tensors of a safetensors file, by name (BF16 is returned as float32)."""
    with open(filename, "rb") as f:
        return _parse(f.read(), os.fspath(filename))[0]


def load_metadata(filename: "str | os.PathLike") -> Dict[str, str]:
    """The ``__metadata__`` of a safetensors file (empty when it has none)."""
    with open(filename, "rb") as f:
        return _parse(f.read(), os.fspath(filename))[1]
