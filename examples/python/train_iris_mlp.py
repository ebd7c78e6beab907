#!/usr/bin/env python3
"""Trains a small MLP on standardised iris and exports it for cfx.

Writes, under examples/python/out/:
  iris_mlp.json     the cfx model spec (cfx.export.from_sklearn)
  iris_test.csv     standardised test rows (no header), the instances to explain
  iris_scaler.json  the standardisation (mean, scale), feature names and class names

The exported model takes *standardised* features, as the MLP was trained on them.
"""

import json
import os
import warnings

import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import _common
from cfx.export import from_sklearn

SEED = 0
N_TEST_ROWS = 10


def main() -> None:
    iris = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=SEED, stratify=iris.target)
    scaler = StandardScaler().fit(X_train)
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)

    mlp = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", max_iter=2000,
                        random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Z_train, y_train)
    print(f"iris MLP (4-16-3, tanh): train accuracy {mlp.score(Z_train, y_train):.3f}, "
          f"test accuracy {mlp.score(Z_test, y_test):.3f} ({len(y_test)} test rows)")

    os.makedirs(_common.OUT, exist_ok=True)
    spec = from_sklearn(mlp)
    with open(_common.MODEL_JSON, "w") as f:
        json.dump(spec, f)
    # a varied handful of test rows: the classes interleaved (0, 1, 2, 0, 1, 2, ...)
    per_class = [np.flatnonzero(y_test == c) for c in range(3)]
    rows = np.array([per_class[c][i] for i in range(N_TEST_ROWS) for c in range(3)
                     if i < len(per_class[c])])[:N_TEST_ROWS]
    np.savetxt(_common.TEST_CSV, Z_test[rows], delimiter=",", fmt="%.17g")
    with open(_common.SCALER_JSON, "w") as f:
        json.dump({"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
                   "feature_names": list(iris.feature_names),
                   "class_names": [str(c) for c in iris.target_names],
                   "test_labels": [int(v) for v in y_test[rows]]}, f, indent=2)
    for path in (_common.MODEL_JSON, _common.TEST_CSV, _common.SCALER_JSON):
        print(f"wrote {os.path.relpath(path, _common.REPO)}")


if __name__ == "__main__":
    main()
