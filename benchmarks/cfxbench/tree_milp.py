"""The ℓ1-optimal counterfactual of a scikit-learn random forest as a mixed-integer program, in
the manner of OCEAN (Parmentier & Vidal 2021), solved by HiGHS through scipy.optimize.milp: the
anchor against which the trees benchmark measures Feature Tweaking. Per tree, one binary per leaf
(exactly one active); an active leaf forces its path's tests on x by big-M rows (x_f ≤ θ − δ on
the left, x_f ≥ θ + δ on the right: scikit-learn rounds x to float32 before x ≤ θ); the active
leaves' votes for the target must win; the objective
is Σ|x_j − x0_j| over x in the feature box. (OCEAN's own formulation uses split-level variables;
the per-leaf one is simpler and exact for the small forests it is run on.)
"""
import numpy as np


def leaves_with_paths(tree):
    """[(leaf node, [(feature, threshold, goes_left)])] of one fitted sklearn tree."""
    t = tree.tree_
    found, stack = [], [(0, [])]
    while stack:
        node, path = stack.pop()
        if t.children_left[node] < 0:
            found.append((node, path))
            continue
        f, theta = int(t.feature[node]), float(t.threshold[node])
        stack.append((t.children_left[node], path + [(f, theta, True)]))
        stack.append((t.children_right[node], path + [(f, theta, False)]))
    return found


def optimal_counterfactual(forest, x0, target, lower, upper, delta=1e-4, time_limit=30.0):
    """(x, status): the closest point in ℓ1 inside [lower, upper] that the forest's vote gives to
    `target` (two classes), or (None, status) when HiGHS finds none in time."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix
    d = len(x0)
    trees = [leaves_with_paths(e) for e in forest.estimators_]
    n_leaves = sum(len(ls) for ls in trees)
    n_vars = 2 * d + n_leaves  # x, |x - x0|, one binary per leaf
    rows = 2 * d + len(trees) + 1 + sum(len(p) for ls in trees for _, p in ls)
    A = lil_matrix((rows, n_vars))
    lb, ub = np.full(rows, -np.inf), np.full(rows, np.inf)
    r = 0
    for j in range(d):  # a_j >= x_j - x0_j and a_j >= x0_j - x_j
        A[r, d + j], A[r, j], lb[r] = 1, -1, -x0[j]
        A[r + 1, d + j], A[r + 1, j], lb[r + 1] = 1, 1, x0[j]
        r += 2
    vote = np.zeros(n_vars)
    k = 2 * d
    for e, leaves in zip(forest.estimators_, trees):
        values = e.tree_.value[:, 0, :]
        for leaf, path in leaves:
            A[r, k] = 1  # this tree's leaf binaries, summed below
            vote[k] = values[leaf, target] / values[leaf].sum()
            k += 1
        lb[r] = ub[r] = 1
        r += 1
    k = 2 * d
    for leaves in trees:
        for leaf, path in leaves:
            for f, theta, left in path:
                if left:  # x_f + (upper_f - θ + δ) z <= upper_f
                    A[r, f], A[r, k], ub[r] = 1, max(upper[f] - theta + delta, 0.0), upper[f]
                else:     # x_f - (θ + δ - lower_f) z >= lower_f
                    A[r, f], A[r, k], lb[r] = 1, -max(theta + delta - lower[f], 0.0), lower[f]
                r += 1
            k += 1
    half = len(trees) / 2
    A[r, :] = vote
    lb[r] = half + 1e-9 if target == 1 else half  # scikit-learn breaks a tie towards class 0
    r += 1
    c = np.concatenate([np.zeros(d), np.ones(d), np.zeros(n_leaves)])
    integrality = np.concatenate([np.zeros(2 * d), np.ones(n_leaves)])
    bounds_lo = np.concatenate([lower, np.zeros(d), np.zeros(n_leaves)])
    bounds_hi = np.concatenate([upper, np.full(d, np.inf), np.ones(n_leaves)])
    result = milp(c, integrality=integrality, bounds=Bounds(bounds_lo, bounds_hi),
                  constraints=LinearConstraint(A[:r].tocsr(), lb[:r], ub[:r]), options={"time_limit": time_limit})
    if result.x is None:
        return None, result.message
    return result.x[:d], result.message
