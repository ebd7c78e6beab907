"""The ℓ1-optimal counterfactual of a scikit-learn random forest as a mixed-integer program after
OCEAN (Parmentier & Vidal, ICML 2021), solved by HiGHS through scipy.optimize.milp: the anchor the
trees benchmark measures every method against.

The formulation follows the paper's structure (written here from its description):

- *Split levels.* For each continuous feature, the distinct thresholds the forest tests on it,
  sorted; a binary μ per threshold says "x_j is right of it" (μ_k ≥ μ_{k+1}), tied to x_j by
  x_j ≥ θ_k + δ where μ_k = 1 and x_j ≤ θ_k − δ' where μ_k = 0. A 0/1 column (one-hot) is its own
  split level: x_j itself is binary.
- *Flows.* Per tree, a continuous y_v ∈ [0, 1] per node, 1 at the root, split between the two
  children (y_v = y_left + y_right); a split on level μ lets flow left only where μ = 0
  (y_left ≤ 1 − μ) and right only where μ = 1 (y_right ≤ μ). Per depth, a binary λ takes all
  the flow of that depth to left children or to right children (OCEAN's branching by depth, which
  tightens the relaxation; the flows are integral once the μ are).
- *Vote.* scikit-learn's forest averages its trees' leaf probabilities and takes the first class
  of the highest mean: the target's summed probability must beat that of every class before it by
  ``MARGIN`` (1e-4, above HiGHS's feasibility tolerance) and equal at least that of every class
  after it (a tie goes to the target, as in scikit-learn; the benchmark checks every solution on
  scikit-learn's forest).
- *Objective.* Σ_j |x_j − x0_j| (auxiliary a_j ≥ ±(x_j − x0_j)), in the data's units: the
  benchmark's standardised features and 0/1 one-hot columns.
- *Constraints.* x in the box [lower, upper]; immutable features fixed at x0; one-hot groups
  sum to 1.

Deliberate differences from the paper: ℓ1 through auxiliary variables instead of OCEAN's
per-level cost coefficients (the same optimum for ℓ1 over continuous features); no isolation-
forest plausibility term; δ = 1e-4 on the right of a threshold and 1e-5 on the left (scikit-learn
tests x ≤ θ after rounding x to float32; OCEAN uses 2^-6 on the right): the optimum is that of
the problem with these margins, so a point exactly at a threshold (valid for scikit-learn) may be
closer by up to δ a feature.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

DELTA_RIGHT = 1e-4
DELTA_LEFT = 1e-5
MARGIN = 1e-4   # the target's summed tree probability over any class before it (above HiGHS's tolerances)
TIES = "to the first class"  # scikit-learn's rule, which the vote rows follow (part of the cache's key)


@dataclass
class Solution:
    x: Optional[np.ndarray]  # the counterfactual, or None when HiGHS found none in time
    optimal: bool            # proven optimal (else feasible only, or nothing)
    seconds: float
    status: str
    bound: Optional[float] = None  # HiGHS's lower bound on the optimal ℓ1 (its dual bound)


class _Rows:
    """A sparse constraint matrix built row by row: lb ≤ Σ coef·var ≤ ub."""

    def __init__(self):
        self.r, self.c, self.v, self.lb, self.ub = [], [], [], [], []

    def add(self, cols, coefs, lb=-np.inf, ub=np.inf):
        k = len(self.lb)
        self.r += [k] * len(cols)
        self.c += list(cols)
        self.v += list(coefs)
        self.lb.append(lb)
        self.ub.append(ub)


class ForestMILP:
    """The instance-independent part of the program for one fitted forest (built once), solved
    per instance by :meth:`solve`. ``lower``, ``upper``: bounds of every point the program may
    see (the big-M constants come from them: they must hold the instances too); ``one_hot``:
    lists of column indices, exactly one 1 each."""

    def __init__(self, forest, lower, upper, one_hot: Sequence[Sequence[int]] = ()):
        self.forest, self.lower, self.upper = forest, np.asarray(lower, float), np.asarray(upper, float)
        self.d = len(self.lower)
        self.one_hot = [list(g) for g in one_hot]
        self.binary = sorted({j for g in self.one_hot for j in g})
        self.n_classes = int(forest.n_classes_)
        self._n = 2 * self.d              # x, then a (|x − x0|)
        self._integer, self._lo, self._hi = [], [], []
        self.rows = _Rows()
        self._levels()
        self._trees()
        for g in self.one_hot:
            self.rows.add(g, [1.0] * len(g), 1.0, 1.0)

    def _new(self, count, lo, hi, integer):
        first = self._n
        self._n += count
        self._lo += [lo] * count
        self._hi += [hi] * count
        self._integer += [integer] * count
        return first

    def _levels(self):
        """Per continuous feature: its distinct thresholds θ_1 < … < θ_K cut [lower, upper] into
        K + 1 segments; x_j = lower_j + Σ_k L_k w_k with fill levels w_k ∈ [0, 1], filled in order
        (μ_{k+1} ≤ w_k ≤ μ_k, μ_k = 1: x_j > θ_k), so a move's cost is linear in the w's."""
        thresholds = {}
        for e in self.forest.estimators_:
            t = e.tree_
            for f, theta in zip(t.feature[t.children_left >= 0], t.threshold[t.children_left >= 0]):
                thresholds.setdefault(int(f), set()).add(float(theta))
        self.level = {}    # (feature, threshold) -> μ's column, or x_j's for a 0/1 column
        self.segments = {}  # feature -> (segment starts, lengths, first w column)
        for f in range(self.d):
            if f in self.binary:
                self.level.update({(f, th): f for th in thresholds.get(f, ())})
                continue
            values = sorted(thresholds.get(f, ()))
            lo, hi = self.lower[f], self.upper[f]
            if values and (values[0] <= lo or values[-1] >= hi):
                raise ValueError(f"feature {f}: a threshold lies outside the program's bounds")
            starts = np.array([lo] + values)
            lengths = np.diff(np.append(starts, hi))
            mu = self._new(len(values), 0.0, 1.0, True)
            w = self._new(len(starts), 0.0, 1.0, False)
            self.segments[f] = (starts, lengths, w)
            self.rows.add([f] + [w + k for k in range(len(starts))], [1.0] + list(-lengths), lo, lo)
            for k, th in enumerate(values):
                self.level[(f, th)] = mu + k
                self._fill_order(w + k, w + k + 1, mu + k, lengths[k], lengths[k + 1])

    def _fill_order(self, w_before, w_after, mu, before, after):
        """Around one threshold: the segment before it fills first; μ = 1 puts x at least δ past
        it, μ = 0 at least δ' before it."""
        self.rows.add([w_before, mu], [1.0, -1.0], lb=0.0)                   # w_before ≥ μ
        self.rows.add([w_after, mu], [1.0, -1.0], ub=0.0)                    # w_after ≤ μ
        self.rows.add([w_after, mu], [1.0, -min(1.0, DELTA_RIGHT / after)], lb=0.0)
        gap = min(1.0, DELTA_LEFT / before)                                  # w_before ≤ 1 − gap (1 − μ)
        self.rows.add([w_before, mu], [1.0, -gap], ub=1.0 - gap)

    def _cost_rows(self, x0, rows, c):
        """The objective Σ_j |x_j − x0_j| in c, with its rows, less the constant it returns: over
        the fill levels for a continuous feature (an auxiliary a_j only within x0's own segment),
        a_j ≥ ±(x_j − x0_j) for a 0/1 column."""
        d, constant = self.d, 0.0
        for j in range(d):
            c[d + j] = 1.0
            if j not in self.segments:
                rows.add([d + j, j], [1.0, -1.0], lb=-x0[j])
                rows.add([d + j, j], [1.0, 1.0], lb=x0[j])
                continue
            starts, lengths, w = self.segments[j]
            s = int(np.clip(np.searchsorted(starts, x0[j], side="right") - 1, 0, len(starts) - 1))
            f0 = (x0[j] - starts[s]) / lengths[s]
            c[w:w + s] = -lengths[:s]
            constant += float(lengths[:s].sum())
            c[w + s + 1:w + len(starts)] = lengths[s + 1:]
            rows.add([d + j, w + s], [1.0, -lengths[s]], lb=-lengths[s] * f0)
            rows.add([d + j, w + s], [1.0, lengths[s]], lb=lengths[s] * f0)
        return constant

    def _trees(self):
        """Flows, depth branching and the leaves' class probabilities (self.votes: column -> p)."""
        self.votes = []
        for e in self.forest.estimators_:
            t = e.tree_
            y = self._new(t.node_count, 0.0, 1.0, False)
            self._lo[y - 2 * self.d] = 1.0                      # the root carries all the flow
            depth, by_depth = np.zeros(t.node_count, int), {}
            for v in range(t.node_count):
                left, right = t.children_left[v], t.children_right[v]
                if left < 0:
                    p = t.value[v, 0] / t.value[v, 0].sum()
                    self.votes.append((y + v, p))
                    continue
                depth[left] = depth[right] = depth[v] + 1
                by_depth.setdefault(depth[v], []).append((left, right))
                self.rows.add([y + v, y + left, y + right], [1.0, -1.0, -1.0], 0.0, 0.0)
                mu = self.level[(int(t.feature[v]), float(t.threshold[v]))]
                self.rows.add([y + left, mu], [1.0, 1.0], ub=1.0)    # left only where μ = 0
                self.rows.add([y + right, mu], [1.0, -1.0], ub=0.0)  # right only where μ = 1
            for pairs in by_depth.values():
                lam = self._new(1, 0.0, 1.0, True)
                self.rows.add([y + l for l, _ in pairs] + [lam], [1.0] * len(pairs) + [-1.0], ub=0.0)
                self.rows.add([y + r for _, r in pairs] + [lam], [1.0] * len(pairs) + [1.0], ub=1.0)

    def solve(self, x0, target: int, box, immutable: Sequence[int] = (), time_limit: float = 30.0) -> Solution:
        """The ℓ1-closest x that the forest predicts as ``target``, each feature in ``box`` (lo, hi)
        or at x0's value where x0 lies outside it (as a method's ``feature_range`` leaves a
        feature it does not move)."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import coo_matrix
        x0 = np.asarray(x0, float)
        if np.any(x0 < self.lower) or np.any(x0 > self.upper):
            raise ValueError("x0 lies outside the program's bounds")
        d, rows = self.d, _Rows()
        c = np.zeros(self._n)
        constant = self._cost_rows(x0, rows, c)
        cols = [c for c, _ in self.votes]
        for k in range(self.n_classes):
            if k != target:
                rows.add(cols, [p[target] - p[k] for _, p in self.votes], lb=MARGIN if k < target else 0.0)
        lo = np.concatenate([np.minimum(box[0], x0), np.zeros(d), self._lo])
        hi = np.concatenate([np.maximum(box[1], x0), np.full(d, np.inf), self._hi])
        fixed = list(immutable)
        lo[fixed], hi[fixed] = x0[fixed], x0[fixed]
        integrality = np.zeros(self._n)
        integrality[self.binary] = 1
        integrality[2 * d:] = self._integer
        both = [self.rows.r + [len(self.rows.lb) + i for i in rows.r], self.rows.c + rows.c, self.rows.v + rows.v]
        A = coo_matrix((both[2], (both[0], both[1])), shape=(len(self.rows.lb) + len(rows.lb), self._n)).tocsr()
        start = time.perf_counter()
        result = milp(c, integrality=integrality, bounds=Bounds(lo, hi),
                      constraints=LinearConstraint(A, self.rows.lb + rows.lb, self.rows.ub + rows.ub),
                      options={"time_limit": time_limit})
        seconds = time.perf_counter() - start
        bound = getattr(result, "mip_dual_bound", None)
        bound = None if bound is None else bound + constant
        if result.x is None:
            return Solution(None, False, seconds, result.message, bound)
        return Solution(self._clean(result.x[:d], x0), result.status == 0, seconds, result.message, bound)

    def _clean(self, x, x0):
        """Solver noise removed: 0/1 columns rounded, moves below 1e-7 put back to x0."""
        x = x.copy()
        x[self.binary] = np.round(x[self.binary])
        x[np.abs(x - x0) < 1e-7] = x0[np.abs(x - x0) < 1e-7]
        return x
