"""Decoding of the JSON text cfx returns: with orjson when it is installed (``pip install
"cfx[fast]"``; an order of magnitude faster on explanations, benchmarks/results/json_output.md), with the
standard library's ``json`` otherwise. Both give the same dicts, lists, ints and floats: cfx writes
every number in the shortest form that reads back to its double, and NaN or infinity as null."""

from __future__ import annotations

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None
import json as _json

#: The decoder in use: "orjson" or "json".
BACKEND = "orjson" if _orjson is not None else "json"


def loads(data: bytes | str):
    """The value of cfx's JSON text (bytes as the library returned them, or str)."""
    if _orjson is not None:
        return _orjson.loads(data)
    return _json.loads(data)
