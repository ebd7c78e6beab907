"""How results are written: a summary as small JSON (indented, each list of scalars on one line) and,
for the suites, the raw counterfactuals compressed beside it (NAME.cf.npz, float64, exact), which
load_suite() puts back. Plain JSON of every counterfactual ran to 166k lines a file."""
from __future__ import annotations

import json
import pathlib
import re

import numpy as np

_SCALAR = r'(?:-?[\d.eE+-]+|null|true|false|NaN|-?Infinity|"[^"\n]*")'
_SCALAR_LIST = re.compile(rf"\[\n\s*((?:{_SCALAR},\n\s*)*{_SCALAR})\n\s*\]")


def dumps(data) -> str:
    """Indented JSON whose lists of numbers, strings and nulls stay on one line."""
    return _SCALAR_LIST.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", json.dumps(data, indent=1))


def write_json(path, data) -> None:
    pathlib.Path(path).write_text(dumps(data) + "\n")


def _cf_path(path) -> pathlib.Path:
    path = pathlib.Path(path)
    return path.with_name(path.stem + ".cf.npz")


def save_suite(path, data: dict) -> None:
    """A suite's JSON without its runs' counterfactuals ("cf"), which go to NAME.cf.npz (a run's
    rows as an n × d array, NaN where none was found)."""
    arrays, runs = {}, []
    for i, run in enumerate(data.get("runs", [])):
        run = dict(run)
        cf = run.pop("cf", None)
        if cf is not None:
            d = max((len(v) for v in cf if v is not None), default=0)
            arrays[f"run{i}"] = np.array([[np.nan] * d if v is None else v for v in cf], dtype=np.float64).reshape(len(cf), d)
        runs.append(run)
    write_json(path, {**data, "runs": runs})
    if arrays:
        np.savez_compressed(_cf_path(path), **arrays)


def load_suite(path) -> dict:
    """A suite's JSON with its counterfactuals back in each run's "cf" (None where none was found)."""
    data = json.loads(pathlib.Path(path).read_text())
    if _cf_path(path).exists():
        with np.load(_cf_path(path)) as arrays:
            for i, run in enumerate(data.get("runs", [])):
                if f"run{i}" in arrays:
                    run["cf"] = [None if np.isnan(row).any() else row.tolist() for row in arrays[f"run{i}"]]
    return data
