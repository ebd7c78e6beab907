"""The paper's test-time evaluation of counterfactuals, computed here with NumPy (independent of
cfx's own `cfx_plausibility`), and its aggregation over runs.

Per run: `individuals` (factual class, target class) pairs drawn at random, each with a random
test row that the model predicts as the factual class; each model explains them with its own
generator at every test-time lambda_egy. Per (run, lambda_egy, model), over the *valid*
counterfactuals (p_target >= 0.5) only:
- IP: mean l1 distance from x' to 1000 test rows of its target class drawn with replacement;
- IP*: MMD^2 between the counterfactuals of each target and 100 test rows of that class (the
  experiment code's `ndiv`), Gaussian kernel with length scale 5.0 (the code's; the paper's text
  says 0.5), unbiased and clamped at 0 as the code's tables do; weighted by the targets' counts;
- cost: mean l1 distance from x' to x; validity: the share of valid counterfactuals.
A run's value is the mean over lambda_egy; the reduction is 100 (1 - mean over runs of CT / BL),
its standard error 100 sd(CT / BL), and "*" when the 99% percentile interval of the per-run
differences BL - CT excludes 0 (code: aggregate_ce_evaluation, cidiff).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

LENGTH_SCALE = 5.0
IP_SAMPLES = 1000
MMD_SAMPLES = 100


def draw_pairs(k: int, individuals: int, rng):
    """(factual class, target class, u) per individual; u in [0, 1) picks the factual row among the
    test rows each model predicts as the factual class, so that both models get comparable rows."""
    factual = rng.integers(0, k, individuals)
    target = (factual + rng.integers(1, k, individuals)) % k  # uniform among the other classes
    return factual, target, rng.random(individuals)


def factual_rows(predicted, factual, u):
    """Test-row indices: for individual i, the floor(u_i n)-th row predicted as factual[i] (None when
    the model predicts no row as that class)."""
    rows = np.empty(len(factual), dtype=np.int64)
    keep = np.ones(len(factual), dtype=bool)
    for c in np.unique(factual):
        pool = np.flatnonzero(predicted == c)
        mine = np.flatnonzero(factual == c)
        if len(pool) == 0:
            keep[mine] = False
            continue
        rows[mine] = pool[np.minimum((u[mine] * len(pool)).astype(np.int64), len(pool) - 1)]
    return rows, keep


def runs(models, X_test, classes, individuals, seed, count):
    """For each of `count` runs and each model: (run, model name, factual rows x, targets t, a
    seed for the metrics' draws), the individuals drawn with the generator seeded by (seed, run)."""
    predicted = {m: models[m].predict(X_test).argmax(1) for m in models}
    for r in range(count):
        rng = np.random.default_rng([seed, r])
        factual, target, u = draw_pairs(classes, individuals, rng)
        metric_seed = int(rng.integers(2 ** 31))
        for m in models:
            rows, keep = factual_rows(predicted[m], factual, u)
            yield r, m, X_test[rows[keep]], target[keep], metric_seed


def mmd2(a, b, length_scale=LENGTH_SCALE):
    """Unbiased MMD^2 with k(x, y) = exp(-|x - y|^2 / (2 l^2))."""
    gamma = 1 / (2 * length_scale ** 2)

    def kernel(p, q):
        d2 = (p ** 2).sum(1)[:, None] + (q ** 2).sum(1)[None, :] - 2 * p @ q.T
        return np.exp(-gamma * np.maximum(d2, 0))
    n, m = len(a), len(b)
    kaa, kbb = kernel(a, a), kernel(b, b)
    within_a = (kaa.sum() - np.trace(kaa)) / (n * (n - 1))
    within_b = (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
    return within_a + within_b - 2 * kernel(a, b).mean()


def metrics(x, x_cf, proba_cf, targets, X_test, y_test, rng):
    """IP, IP*, cost and validity of one (run, lambda, model) batch; IP/IP*/cost over valid rows."""
    valid = proba_cf[np.arange(len(targets)), targets] >= 0.5
    out = {"validity": float(valid.mean()), "n_valid": int(valid.sum()),
           "validity_by_target": {int(t): float(valid[targets == t].mean()) for t in np.unique(targets)}, "ip_by_target": {}}
    if not valid.any():
        return {**out, "ip": np.nan, "ip_star": np.nan, "cost": np.nan}
    x, x_cf, targets = x[valid], x_cf[valid], targets[valid]
    out["cost"] = float(np.abs(x_cf - x).sum(1).mean())
    ip, mmd, weights = [], [], []
    for t in np.unique(targets):
        pool = X_test[y_test == t]
        sample = pool[rng.integers(0, len(pool), IP_SAMPLES)]
        mine = x_cf[targets == t]
        distances = cdist(mine, sample, "cityblock").mean(1)
        ip.extend(distances)
        out["ip_by_target"][int(t)] = float(distances.mean())
        if len(mine) >= 2:
            reference = pool[rng.choice(len(pool), min(MMD_SAMPLES, len(pool)), replace=False)]
            mmd.append(max(mmd2(mine, reference), 0.0))
            weights.append(len(mine))
    out["ip"] = float(np.mean(ip))
    out["ip_star"] = float(np.average(mmd, weights=weights)) if mmd else np.nan
    return out


def reduction(bl, ct):
    """The paper's reduction of a metric from per-run values of BL and CT (NaN runs left out)."""
    bl, ct = np.asarray(bl, dtype=float), np.asarray(ct, dtype=float)
    ok = np.isfinite(bl) & np.isfinite(ct) & (bl != 0)
    if ok.sum() < 2:
        return {"reduction_pct": float("nan"), "se_pct": float("nan"), "runs": int(ok.sum()), "significant": False}
    ratio = ct[ok] / bl[ok]
    lo, hi = np.percentile(bl[ok] - ct[ok], [0.5, 99.5])
    per_run = 100 * (1 - ratio)
    return {"reduction_pct": float(per_run.mean()), "se_pct": float(100 * ratio.std(ddof=1)), "runs": int(ok.sum()),
            "percentiles_2.5_97.5": [float(v) for v in np.percentile(per_run, [2.5, 97.5])],
            "significant": bool(lo > 0 or hi < 0)}
