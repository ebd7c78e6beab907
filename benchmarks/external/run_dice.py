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
"""
import importlib.metadata
import json
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd

from cfx_spec import numpy_predict, parse_spec, read_job  # noqa: E402  (this script's folder is on sys.path)


class SpecModel:
    """predict_proba / predict over DataFrames, counting the calls and rows."""

    def __init__(self, predict, columns):
        self._predict, self.columns, self.calls, self.rows = predict, list(columns), 0, 0

    def predict_proba(self, X):
        X = X[self.columns].to_numpy(dtype=np.float64) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float64)
        self.calls += 1
        self.rows += len(X)
        return self._predict(X)

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


def main():
    job, out = read_job()
    warnings.filterwarnings("ignore")
    import dice_ml

    names = job["feature_names"]
    X = np.asarray(job["X"], dtype=np.float64)
    train = pd.DataFrame(np.asarray(job["X_train"], dtype=np.float64), columns=names)
    train["outcome"] = np.asarray(job["y_train"], dtype=np.int64)
    model = SpecModel(numpy_predict(parse_spec(job["spec"])), names)
    data = dice_ml.Data(dataframe=train, continuous_features=list(names), outcome_name="outcome")
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
            query = pd.DataFrame(X[i:i + 1], columns=names)
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
                    cfs = df[names].to_numpy(dtype=np.float64).tolist()
                    cf = cfs[0]
                error = None
            except Exception as e:  # DiCE raises when it finds nothing (e.g. "No counterfactuals found")
                error = f"{type(e).__name__}: {e}"[:200]
            seconds = time.perf_counter() - t0
            rows.append({"cf": cf, "cfs": cfs, "seconds": seconds, "model_calls": model.calls - calls0,
                         "predicted_rows": model.rows - rows0, "error": error})
            print(f"  dice {method} [{i}] {seconds:.2f} s, found {cf is not None}", file=sys.stderr, flush=True)
        out["runs"][method] = rows
    with open(out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
