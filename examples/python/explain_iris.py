#!/usr/bin/env python3
"""Explains iris test instances with Wachter counterfactuals through the cfx Python binding.

Reads examples/python/out/{iris_mlp.json, iris_test.csv, iris_scaler.json} (running
train_iris_mlp.py first if they are missing) and prints, per instance, the class change and
the features that moved, in centimetres.
"""

import json
import os
import sys

import numpy as np

import _common
import cfx

N_EXPLAIN = 5


def load():
    if not all(os.path.exists(p) for p in (_common.MODEL_JSON, _common.TEST_CSV,
                                             _common.SCALER_JSON)):
        print("model files missing: training first\n")
        import train_iris_mlp
        train_iris_mlp.main()
        print()
    with open(_common.SCALER_JSON) as f:
        info = json.load(f)
    Z = np.loadtxt(_common.TEST_CSV, delimiter=",", ndmin=2)
    return cfx.Model.from_file(_common.MODEL_JSON), Z, info


def main() -> int:
    model, Z, info = load()
    mean, scale = np.asarray(info["mean"]), np.asarray(info["scale"])
    names, classes = info["feature_names"], info["class_names"]
    labels = info.get("test_labels")
    to_cm = lambda z: z * scale + mean  # noqa: E731

    explainer = cfx.Wachter(model, target_class="other", target_proba=1.0, tol=0.05)
    cfg = explainer.config
    print(f"cfx {cfx.library_version()} ({cfx.library_path()})")
    print(f"Wachter: target_class={cfg['target_class']!r}, target_proba={cfg['target_proba']}, "
          f"tol={cfg['tol']}, max_iter={cfg['max_iter']}, distance={cfg['distance_fn']} "
          "(on standardised features)\n")

    Z = Z[:N_EXPLAIN]
    exps = explainer.explain(Z)
    width = max(len(n) for n in names)
    n_ok = 0
    for i, (z, exp) in enumerate(zip(Z, exps), 1):
        orig = classes[exp.orig_class]
        truth = f", true class {classes[labels[i - 1]]}" if labels else ""
        head = f"Instance {i}: {orig} (p={exp.orig_proba:.3f}{truth})"
        meta = exp.meta
        cost = f"model calls {meta.get('model_calls')}, {meta.get('seconds', 0.0) * 1e3:.1f} ms"
        if not exp.success or exp.cf is None:
            print(f"{head} -> no counterfactual found  [{cost}]\n")
            continue
        n_ok += 1
        cf = exp.cf
        k = cf["class"]
        print(f"{head} -> {classes[k]} (p={cf['proba'][k]:.3f})")
        before, after = to_cm(z), to_cm(cf["X"])
        delta = after - before
        changed = np.flatnonzero(np.abs(delta) >= 0.005)   # shown with 2 decimals
        tiny = int(np.count_nonzero((np.abs(delta) < 0.005) & (np.abs(cf["X"] - z) > 0)))
        print(f"    {'feature':<{width}}  {'before':>7}  {'after':>7}  {'change':>7}")
        for j in changed:
            print(f"    {names[j]:<{width}}  {before[j]:7.2f}  {after[j]:7.2f}  "
                  f"{after[j] - before[j]:+7.2f}")
        if len(changed) == 0:
            print("    (no feature changed by 0.005 cm or more)")
        if tiny:
            print(f"    ({tiny} other feature{'s' if tiny > 1 else ''} moved by < 0.005 cm)")
        print(f"    L1 distance {cf['distance']:.3f} (standardised units), "
              f"lambda {cf['lambda']:.4g}, {cost}\n")
    print(f"{n_ok}/{len(Z)} instances have a counterfactual.")
    model.close()
    explainer.close()
    return 0 if n_ok > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
