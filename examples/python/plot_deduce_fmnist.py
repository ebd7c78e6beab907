"""Originals and their DeDUCE and JSMA counterfactuals on Fashion-MNIST, as a PNG.

Uses the models of benchmarks/deduce/train_models.py (benchmarks/models) and the feature density
cached by benchmarks/deduce/run_protocol.py (or fits one on 10000 training images). Writes
examples/python/out/deduce_fmnist.png.

    python3 examples/python/plot_deduce_fmnist.py
"""

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "deduce"))
from common import CLASSES, MODELS, OUT, load_fashion_mnist  # noqa: E402

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
    rows = [("original", None)]
    rows += [("DeDUCE", lambda t: cfx.DeDUCE(sn, target_class=t).set_density(density)),
             ("JSMA", lambda t: cfx.JSMA(plain, target_class=t))]
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
                e = make(t).explain(xt[i])
                if e.success:
                    image = e.cf["X"]
                    title = f"L0 {e.cf['L0']}, L1 {e.cf['L1']:.1f}\np={e.cf['proba'][t]:.2f}"
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
