"""Runs DiCE's model-agnostic methods ("random", "genetic") for benchmarks/harness.py, in DiCE's
virtual environment (benchmarks/external/setup_dice.sh).

    $DICE_VENV/bin/python benchmarks/external/run_dice.py --job JOB.json --out OUT.json

JOB.json: {"methods": ["random", "genetic"], "spec": cfx model spec, "X": instances,
"desired_class": one class per instance, "X_train", "y_train", "feature_names",
"features_to_vary": names or "all", "seed"}. The model is the spec's network as a NumPy
function behind a scikit-learn-style ``predict_proba`` (the same weights as cfx's; DiCE's
"sklearn" backend), with every feature continuous, its permitted range that of the training rows
(DiCE's default) and its precision from the data (so 0/1 columns stay whole numbers). One
counterfactual per instance (total_CFs=1; the job's "total_cfs" asks for sets), one
``generate_counterfactuals`` call each, timed; "cfs" lists every counterfactual returned.

Instead of "spec", "model_pickle" names a pickled scikit-learn classifier (the trees benchmark's
forest; the venv sees the system's scikit-learn). "one_hot": {group name: [column indices]} makes
each group one categorical feature for DiCE (its categories are the columns' names, a group name
may stand in "features_to_vary"); the model's input is rebuilt one-hot from it, and the
counterfactuals are returned one-hot, as the job's columns.
"""
import importlib.metadata
import json
import pickle
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd

from cfx_spec import numpy_predict, parse_spec, read_job  # noqa: E402  (this script's folder is on sys.path)


class Columns:
    """The job's columns (one-hot groups as 0/1 columns) and DiCE's (a group as one categorical
    column): rows of one to frames of the other and back."""

    def __init__(self, names, one_hot):
        self.names, self.one_hot = list(names), {g: list(cols) for g, cols in one_hot.items()}
        grouped = {j for cols in self.one_hot.values() for j in cols}
        self.continuous = [n for j, n in enumerate(self.names) if j not in grouped]
        self.dice = self.continuous + list(self.one_hot)

    def frame(self, X):
        X = np.asarray(X, dtype=np.float64)
        df = pd.DataFrame(X[:, [self.names.index(n) for n in self.continuous]], columns=self.continuous)
        for g, cols in self.one_hot.items():
            df[g] = [self.names[cols[k]] for k in X[:, cols].argmax(axis=1)]
        return df[self.dice]

    def rows(self, df):
        X = np.zeros((len(df), len(self.names)))
        for n in self.continuous:
            X[:, self.names.index(n)] = df[n].to_numpy(dtype=np.float64)
        for g, cols in self.one_hot.items():
            for j in cols:
                X[:, j] = (df[g].astype(str).to_numpy() == self.names[j]).astype(np.float64)
        return X


class SpecModel:
    """predict_proba / predict over DataFrames, counting the calls and rows."""

    def __init__(self, predict, columns: Columns):
        self._predict, self.columns, self.calls, self.rows = predict, columns, 0, 0

    def predict_proba(self, X):
        X = self.columns.rows(X) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float64)
        self.calls += 1
        self.rows += len(X)
        return self._predict(X)

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


def main():
    job, out_path = read_job()
    warnings.filterwarnings("ignore")
    import dice_ml

    columns = Columns(job["feature_names"], job.get("one_hot", {}))
    names = columns.dice
    X = np.asarray(job["X"], dtype=np.float64)
    train = columns.frame(job["X_train"])
    train["outcome"] = np.asarray(job["y_train"], dtype=np.int64)
    if "model_pickle" in job:
        with open(job["model_pickle"], "rb") as f:
            predict = pickle.load(f).predict_proba
    else:
        predict = numpy_predict(parse_spec(job["spec"]))
    model = SpecModel(predict, columns)
    data = dice_ml.Data(dataframe=train, continuous_features=columns.continuous, outcome_name="outcome")
    dmodel = dice_ml.Model(model=model, backend="sklearn")
    out = {"library": "dice", "dice_version": importlib.metadata.version("dice-ml"),
           "pandas_version": pd.__version__, "numpy_version": np.__version__,
           "python": platform.python_version(), "runs": {}}
    seed = int(job.get("seed", 0))
    for method in job["methods"]:
        explainer = dice_ml.Dice(data, dmodel, method=method)
        rows = []
        for i in range(len(X)):
            np.random.seed(seed)
            query = columns.frame(X[i:i + 1])
            calls0, rows0 = model.calls, model.rows
            kwargs = {"total_CFs": int(job.get("total_cfs", 1)), "desired_class": int(job["desired_class"][i]),
                      "features_to_vary": job.get("features_to_vary", "all"), "verbose": False}
            if method == "random":
                kwargs["random_seed"] = seed
            t0 = time.perf_counter()
            cf, cfs = None, []
            try:
                res = explainer.generate_counterfactuals(query, **kwargs)
                df = res.cf_examples_list[0].final_cfs_df
                if df is not None and len(df):
                    cfs = columns.rows(df[names]).tolist()
                    cf = cfs[0]
                error = None
            except Exception as e:  # DiCE raises when it finds nothing (e.g. "No counterfactuals found")
                error = f"{type(e).__name__}: {e}"[:200]
            seconds = time.perf_counter() - t0
            rows.append({"cf": cf, "cfs": cfs, "seconds": seconds, "model_calls": model.calls - calls0,
                         "predicted_rows": model.rows - rows0, "error": error})
            print(f"  dice {method} [{i}] {seconds:.2f} s, found {cf is not None}", file=sys.stderr, flush=True)
        out["runs"][method] = rows
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
