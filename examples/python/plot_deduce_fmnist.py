"""Originals and their DeDUCE, JSMA and CFProto counterfactuals on Fashion-MNIST, as a PNG.

Uses the models of `benchmarks/harness.py deduce-train` (benchmarks/models) and the counterfactuals
that `benchmarks/harness.py deduce-protocol` saved for the first 10 test images
(benchmarks/out/deduce/protocol.npz; a method missing from it is run here for DeDUCE and JSMA, and
left out for CFProto), with the feature density it cached (or one fitted on 10000 training
images). Writes examples/python/out/deduce_fmnist.png.

    python3 examples/python/plot_deduce_fmnist.py
"""

import os
import sys
from pathlib import Path

import numpy as np

import _common  # noqa: E402,F401  (the in-tree binding)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from cfxbench.deduce.common import CLASSES, MODELS, OUT, load_fashion_mnist  # noqa: E402

import cfx  # noqa: E402

# (test image, target class): a few images and targets, fixed so the figure is reproducible.
PAIRS = [(0, 7), (1, 0), (2, 3), (3, 0), (4, 2), (5, 3)]


def main():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y, xt, yt = load_fashion_mnist()
    sn = cfx.Model.load(MODELS / "fmnist_resnet_sn.json")
    plain = cfx.Model.load(MODELS / "fmnist_resnet_plain.json")
    cached = OUT / "density_sn.safetensors"
    density = cfx.FeatureDensity.load(cached) if cached.exists() else cfx.FeatureDensity.fit(sn, x[:10000], y[:10000])
    saved_path = OUT / "protocol.npz"
    saved = dict(np.load(saved_path)) if saved_path.exists() else {}
    # A method is in the saved run if any of its counterfactuals is (only successes are saved).
    in_run = {key for key in ("deduce", "jsma", "cfproto") if any(k.startswith(key + "_") for k in saved)}
    if "X" in saved and not np.array_equal(saved["X"][:10], xt[:10]):
        in_run = set()

    def from_run(key, model):
        def make(t):
            def explain(i):
                cf = saved.get(f"{key}_{i}_{t}")
                if cf is None:
                    return None
                return {"X": cf, "L0": int(np.count_nonzero(cf != xt[i])), "L1": float(np.abs(cf - xt[i]).sum()),
                        "proba": model.predict(cf[None])[0]}
            return explain
        return make

    def live(factory):
        return lambda t: (lambda i: (lambda e: e.cf if e.success else None)(factory(t).explain(xt[i])))

    rows = [("original", None)]
    rows.append(("DeDUCE", from_run("deduce", sn) if "deduce" in in_run
                 else live(lambda t: cfx.DeDUCE(sn, target_class=t).set_density(density))))
    rows.append(("JSMA", from_run("jsma", plain) if "jsma" in in_run
                 else live(lambda t: cfx.JSMA(plain, target_class=t))))
    if "cfproto" in in_run:
        rows.append(("CFProto", from_run("cfproto", plain)))
    fig, axes = plt.subplots(len(rows), len(PAIRS), figsize=(1.9 * len(PAIRS), 2.2 * len(rows)))
    for col, (i, t) in enumerate(PAIRS):
        for row, (name, make) in enumerate(rows):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if make is None:
                image = xt[i]
                title = f"{CLASSES[yt[i]]}\n→ {CLASSES[t]}"
            else:
                cf = make(t)(i)
                if cf is not None:
                    image = np.asarray(cf["X"])
                    title = f"L0 {cf['L0']}, L1 {cf['L1']:.1f}\np={cf['proba'][t]:.2f}"
                else:
                    image = np.zeros(784)
                    title = "failed"
            ax.imshow(image.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=8)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.tight_layout()
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    fig.savefig(out / "deduce_fmnist.png", dpi=110)
    print(f"wrote {out / 'deduce_fmnist.png'}")


if __name__ == "__main__":
    main()
