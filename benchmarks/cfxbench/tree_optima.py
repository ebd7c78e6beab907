"""The trees benchmark's proven ℓ1 optima, cached (results/trees_optima.json), so that which rows
count as "proven optimal" does not depend on the run's time limit or on the machine's load.

The forests are deterministic (random_state=0) and so are their skl2onnx files: an entry is keyed
by the data set, a fingerprint of the forest's ONNX bytes, and a fingerprint of the problem of one
row (its values, the target class, the box, the immutable features, the one-hot groups and the
program's margins, cfxbench/tree_milp.py). Only proven optima are stored, with the counterfactual,
its ℓ1 and ℓ0, the solver and its version, the time limit they were proven within, the seconds it
took and HiGHS's final gap, and a fingerprint of the program's source (cfxbench/tree_milp.py as a
whole, so that a change to the formulation made in code, not only in its constants, retires every
entry: an edit of that file means filling the cache again). The benchmark takes an entry only when
the three fingerprints match, and solves the row otherwise; ``harness.py trees --optima-only`` fills the cache (with a generous
--time-limit) without running the methods.
"""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Optional

import numpy as np

from . import RESULTS
from .results import write_json

CACHE = RESULTS / "trees_optima.json"


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(np.ascontiguousarray(p, dtype=np.float64).tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
        h.update(b"|")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def formulation_fingerprint() -> str:
    """The fingerprint of the program that proved an entry: tree_milp.py's bytes (read once a process)."""
    from . import tree_milp
    with open(tree_milp.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def forest_fingerprint(onnx_bytes: bytes) -> str:
    return hashlib.sha256(onnx_bytes).hexdigest()[:16]


def problem_key(x0, target, box, immutable, one_hot) -> str:
    """The fingerprint of one row's program: what its optimum depends on besides the forest."""
    from .tree_milp import DELTA_LEFT, DELTA_RIGHT, MARGIN, TIES
    return _digest(np.asarray(x0, float), int(target), np.asarray(box[0], float), np.asarray(box[1], float),
                   sorted(int(j) for j in immutable), [list(map(int, g)) for g in one_hot],
                   (DELTA_RIGHT, DELTA_LEFT, MARGIN, TIES))


def solver_version() -> str:
    import scipy
    return f"HiGHS through scipy {scipy.__version__} (scipy.optimize.milp)"


class OptimaCache:
    """{data set: {forest fingerprint: {problem key: entry}}} in a JSON file; ``save`` writes it."""

    def __init__(self, path=CACHE):
        self.path = path
        self.entries = json.loads(path.read_text())["entries"] if path.exists() else {}

    def get(self, dataset, forest, key) -> Optional[dict]:
        entry = self.entries.get(dataset, {}).get(forest, {}).get(key)
        return entry if entry is not None and entry.get("formulation") == formulation_fingerprint() else None

    def put(self, dataset, forest, key, solution, x0, time_limit, valid) -> None:
        """Stores a proven optimum that scikit-learn's forest predicts as the target (``valid``);
        anything else is ignored."""
        if not solution.optimal or solution.x is None or not valid:
            return
        x, x0 = np.asarray(solution.x, float), np.asarray(x0, float)
        l1 = float(np.abs(x - x0).sum())
        gap = None if solution.bound is None or l1 <= 0 else max(0.0, (l1 - solution.bound) / l1)
        self.entries.setdefault(dataset, {}).setdefault(forest, {})[key] = {
            "l1": l1, "l0": int(np.sum(np.abs(x - x0) > 1e-9)), "x": x.tolist(), "solver": solver_version(),
            "time_limit": float(time_limit), "seconds": float(solution.seconds), "gap": gap,
            "formulation": formulation_fingerprint()}

    def save(self) -> None:
        write_json(self.path, {"about": "proven ℓ1 optima of the trees benchmark's MILP (cfxbench/tree_optima.py)",
                               "entries": self.entries})


def cached_solution(entry):
    """A tree_milp.Solution from a cache entry: proven optimal, its original solving time."""
    from .tree_milp import Solution
    return Solution(np.array(entry["x"], float), True, float(entry["seconds"]), "cached optimum", None)
