#!/usr/bin/env python3
"""Plots iris counterfactuals with cfx.plot (needs matplotlib: pip install matplotlib).

Explains the first three test flowers of examples/python/out (training the model first when its
files are missing) and saves examples/python/out/iris_changed_features.png: per flower, the
features the counterfactual changed, before and after, in centimetres.
"""

import json
import os
import sys

import numpy as np

import _common
import cfx

N_PLOTS = 3
PNG = os.path.join(_common.OUT, "iris_changed_features.png")


def main() -> int:
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only, no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_iris.py: matplotlib is not installed (pip install matplotlib); no plot made")
        return 0
    import explain_iris
    model, Z, info = explain_iris.load()
    mean, scale = np.asarray(info["mean"]), np.asarray(info["scale"])
    names, classes = info["feature_names"], info["class_names"]

    exps = cfx.Wachter(model, target_class="other").explain(Z[:N_PLOTS])
    fig, axes = plt.subplots(N_PLOTS, 1, figsize=(7.5, 2.6 * N_PLOTS))
    for i, (exp, ax) in enumerate(zip(exps, axes), 1):
        cfx.plot.changed_features(exp, feature_names=names, class_names=classes,
                                  transform=lambda z: z * scale + mean, threshold=0.005,
                                  units=" cm", fmt="{:+.2f}", ax=ax)
        ax.set_title(f"Flower {i}: {ax.get_title()}", fontsize=11)
    fig.suptitle("Wachter counterfactuals (cfx): what would change the iris MLP's decision",
                 fontsize=12)
    fig.tight_layout()
    os.makedirs(_common.OUT, exist_ok=True)
    fig.savefig(PNG, dpi=120)
    plt.close(fig)
    print(f"wrote {PNG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
