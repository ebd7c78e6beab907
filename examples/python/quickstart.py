"""Quick start: explain a scikit-learn classifier with every cfx method (Wachter, CFProto, JSMA,
DeDUCE).

    pip install bindings/python && python3 examples/python/quickstart.py

Trains an MLP on the breast-cancer data, exports it to cfx, and for a few test patients asks each
method what would have to change for the other diagnosis; then scores the answers with cfx's
metrics. The same model is also explained as a black box (cfx only sees `predict_proba`).
"""
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import cfx
from cfx.export import from_sklearn

data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.3,
                                                    random_state=0, stratify=data.target)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    mlp = MLPClassifier((16,), max_iter=2000, random_state=0).fit(X_train, y_train)
print(f"MLP test accuracy {mlp.score(X_test, y_test):.3f}")

spec = from_sklearn(mlp)
spec["layers"][1]["name"] = "features"  # the hidden layer: DeDUCE fits its class densities there
native = cfx.Model.from_json(spec)
black_box = cfx.Model.from_callable(mlp.predict_proba, n_features=X_train.shape[1], n_classes=2)
instances = X_test[:8]
box = (X_train.min(axis=0) - 1, X_train.max(axis=0) + 1)  # stay near the data

explainers = {
    "Wachter (native model)": cfx.Wachter(native, feature_range=box, return_all=False),
    "Wachter (black box)": cfx.Wachter(black_box, feature_range=box, return_all=False, n_threads=1),
    "CFProto (k-d trees)": cfx.CFProto(native, use_kdtree=True, theta=10.0, feature_range=box).fit(X_train),
    "CFProto (black box, fast mode)": cfx.CFProto(black_box, use_kdtree=True, theta=100.0, c_init=0.0,
                                                  c_steps=1, feature_range=box, n_threads=1).fit(X_train),
    # one target per instance here (two classes), so the explanations line up with the instances
    "JSMA": cfx.JSMA(native, target_class="all", feature_range=box),
    "DeDUCE": cfx.DeDUCE(native, target_class="all", feature_range=box).fit(X_train, y_train),
}

print(f"\n{'method':32} {'valid':>6} {'L1':>7} {'L0':>5} {'nearest':>8} {'ms/cf':>7} {'model calls':>12}")
for name, explainer in explainers.items():
    explanations = explainer.explain(instances)
    scores = cfx.metrics.evaluate(native, instances, explanations, X_train=X_train, y_train=y_train)
    s = scores.summary
    print(f"{name:32} {s['validity']['mean']:6.2f} {s['l1']['mean']:7.2f} {s['l0']['mean']:5.1f} "
          f"{s['nn_distance']['mean']:8.2f} {1000 * s['seconds']['mean']:7.1f} "
          f"{s['model_calls']['mean']:12.0f}")

first = explainers["CFProto (k-d trees)"].explain(instances[0])
changed = np.argsort(-np.abs(first.cf["X"] - instances[0]))[:3]
print(f"\nPatient 0: {data.target_names[first.orig_class]} -> {data.target_names[first.cf['class']]}; "
      "largest changes (standardised units):")
for j in changed:
    print(f"  {data.feature_names[j]:24} {instances[0][j]:+.2f} -> {first.cf['X'][j]:+.2f}")
