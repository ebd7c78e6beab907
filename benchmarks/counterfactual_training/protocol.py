"""The paper's experimental protocol for counterfactual training (Altmeyer et al.), on cfx.

Data, models, training settings and the test-time evaluation as the paper's appendix and its
experiment code (CounterfactualTraining.jl's paper/experiments, TaijaData.jl) set them; where the
code does something the paper does not say, this follows the code (marked "code:" below).
`paper.py` runs it and writes the summaries; `beyond.py` reuses the data and the models.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

import cfx

LAMBDAS = (0.1, 0.5, 1.0, 5.0, 10.0)  # test-time lambda_egy


@dataclasses.dataclass(frozen=True)
class Setting:
    """A data set's sizes and counterfactual-training hyperparameters."""
    n_train: int
    n_validation: int
    n_test: int
    batch_size: int
    n_ce: int
    tau: float          # tau of the training searches (the paper's per-set choice)
    lambda_reg: float   # lambda_reg (the paper's per-set choice)
    individuals: int    # test-time individuals per run


# The paper's per-set tau / lambda_reg; sizes: TaijaData via the experiment code (3000 training +
# 600 validation rows = 80% of the 4500 drawn, 900 test rows; MNIST 10,000 + 1,000 of 13,750).
SETTINGS = {
    "linearly_separable": Setting(3000, 600, 900, 30, 1000, 0.5, 0.01, 250),
    "circles": Setting(3000, 600, 900, 30, 1000, 0.5, 0.5, 250),
    "moons": Setting(3000, 600, 900, 30, 1000, 0.9, 0.25, 250),
    "overlapping": Setting(3000, 600, 900, 30, 1000, 0.5, 0.25, 250),
    # Not in the paper: OL with its centres moved to 5.6 apart (same midpoint and direction), the
    # distance at which two blobs of sd 2 give the paper's OL accuracy of 0.92 (Phi(d / 4) = 0.92).
    "overlapping_close": Setting(3000, 600, 900, 30, 1000, 0.5, 0.25, 250),
    "fashion_mnist": Setting(10000, 1000, 2750, 1000, 5000, 0.5, 0.25, 100),
}
SHORT = {"linearly_separable": "LS", "circles": "Circ", "moons": "Moon", "overlapping": "OL",
         "overlapping_close": "OL, centres 5.6 apart", "fashion_mnist": "F-MNIST"}


@dataclasses.dataclass
class Data:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    lower: np.ndarray   # the domain the searches are clamped to
    upper: np.ndarray
    protected: list     # the feature(s) the paper protects in its cost (actionability) experiment
    note: str = ""

    @property
    def classes(self) -> int:
        return int(self.y_train.max()) + 1


def _synthetic(name: str, n: int, seed: int):
    """TaijaData's generators (MLJ's make_*), unstandardised: blobs with random centres in
    [-10, 10]^2 (cluster_std 0.5 linearly separable, 2.0 overlapping), circles noise 0.15 factor
    0.01, moons noise 0.1."""
    from sklearn import datasets
    if name == "linearly_separable":
        return datasets.make_blobs(n, centers=2, cluster_std=0.5, center_box=(-10, 10), random_state=seed)
    if name == "overlapping":
        return datasets.make_blobs(n, centers=2, cluster_std=2.0, center_box=(-10, 10), random_state=seed)
    if name == "overlapping_close":
        _, _, centres = datasets.make_blobs(n, centers=2, cluster_std=2.0, center_box=(-10, 10), random_state=seed,
                                            return_centers=True)
        middle, direction = centres.mean(0), (centres[1] - centres[0]) / np.linalg.norm(centres[1] - centres[0])
        close = np.array([middle - 2.8 * direction, middle + 2.8 * direction])
        return datasets.make_blobs(n, centers=close, cluster_std=2.0, random_state=seed)
    if name == "circles":
        return datasets.make_circles(n, noise=0.15, factor=0.01, random_state=seed)
    if name == "moons":
        return datasets.make_moons(n, noise=0.1, random_state=seed)
    raise ValueError(name)


def _fashion_mnist():
    from cfxbench.datasets import fashion_mnist_arrays
    X_train, y_train, X_test, y_test = fashion_mnist_arrays()
    return np.r_[X_train, X_test] * 2 - 1, np.r_[y_train, y_test]  # pixels in [-1, 1], the code's MNIST domain


def _stratified_split(y, share, rng):
    """Indices (kept, held out) with `share` of every class held out (code: keep_class_ratio)."""
    held = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        held.extend(rng.choice(rows, int(round(share * len(rows))), replace=False))
    held = np.sort(np.array(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(y)), held), held


def two_sigma_domain(X):
    """[min(mean - 2 sd, min), max(mean + 2 sd, max)] per feature: cfx's default domain of the
    training searches, also the test-time clamp of the synthetic sets."""
    mean, sd = X.mean(0), X.std(0)
    return np.minimum(mean - 2 * sd, X.min(0)), np.maximum(mean + 2 * sd, X.max(0))


def load(name: str, data_seed: int = 42) -> Data:
    """The set's training, validation and test rows: the data drawn (or read) and permuted with
    `data_seed`, the first n_train + n_validation rows split stratified into training and
    validation, the last n_test rows the test set (code: get_data and train_val_split)."""
    s = SETTINGS[name]
    rng = np.random.default_rng(data_seed)
    total = s.n_train + s.n_validation + s.n_test
    if name == "fashion_mnist":
        X, y = _fashion_mnist()
        note = "Fashion-MNIST (Debian's dataset-fashion-mnist) for the paper's MNIST, which no package ships offline"
    else:
        X, y = _synthetic(name, total, data_seed)
        note = ""
    order = rng.permutation(len(y))
    X, y = X[order].astype(np.float64), y[order].astype(np.int64)
    pool, test = slice(0, s.n_train + s.n_validation), slice(len(y) - s.n_test, len(y))
    X_pool, y_pool = X[pool], y[pool]
    train, val = _stratified_split(y_pool, s.n_validation / (s.n_train + s.n_validation), rng)
    if name == "fashion_mnist":
        lower, upper = np.full(784, -1.0), np.full(784, 1.0)
        protected = list(range(140)) + list(range(784 - 140, 784))  # the five top and bottom pixel rows
    else:
        lower, upper = two_sigma_domain(X_pool[train])
        protected = [0]  # "for synthetic datasets, we always protect the first feature"
        if name in ("linearly_separable", "overlapping", "overlapping_close"):
            centres = [X_pool[train][y_pool[train] == c].mean(0) for c in (0, 1)]
            note = f"centres {np.round(centres[0], 2).tolist()} and {np.round(centres[1], 2).tolist()}, " \
                   f"{np.linalg.norm(centres[0] - centres[1]):.1f} apart"
    return Data(name, X_pool[train], y_pool[train], X_pool[val], y_pool[val], X[test], y[test], lower, upper, protected, note)


def mlp(d: int, k: int, seed: int, hidden: int = 32):
    """The paper's MLP (one hidden layer of 32 ReLU units), with Flux's default initial values:
    Glorot-uniform weights and zero biases, drawn with `seed` (cfx's own initial values have a
    fixed seed, and the spread between trainings should include the initial weights)."""
    rng = np.random.default_rng(seed)

    def dense(n_in, n_out):
        bound = np.sqrt(6 / (n_in + n_out))
        return {"type": "dense", "weights": rng.uniform(-bound, bound, (n_out, n_in)).tolist(), "bias": [0.0] * n_out}
    # The hidden layer is named "features" for DeDUCE's feature density (beyond.py).
    return cfx.Model.from_json({"input_shape": [d], "layers": [dense(d, hidden), {"type": "relu", "name": "features"},
                                                               dense(hidden, k), {"type": "softmax"}]})


def train(data: Data, seed: int, counterfactual: bool, threads: int = 1, protect: bool = False, epochs: int = 100):
    """One training run (Adam 1e-3, the set's batch size, 100 epochs): conventional (BL) or with
    counterfactual training (CT: n_CE, tau, lambda_reg of the set; everything else cfx's defaults,
    which are the reference code's). Returns (model, report, wall seconds, CPU seconds)."""
    s = SETTINGS[data.name]
    model = mlp(data.X_train.shape[1], data.classes, seed)
    config = {"epochs": epochs, "batch_size": s.batch_size, "learning_rate": 1e-3, "optimizer": "adam", "seed": seed,
              "n_threads": threads}
    if counterfactual:
        config["counterfactual_training"] = {"n_ce": s.n_ce, "tau": s.tau, "lambda_reg": s.lambda_reg, "n_threads": threads,
                                             **({"immutable": data.protected} if protect else {}),
                                             # images: the code's MNIST domain; tabular: cfx's default, the 2-sigma domain
                                             **({"domain": [-1.0, 1.0]} if data.name == "fashion_mnist" else {})}
    wall, cpu = time.perf_counter(), time.process_time()
    report = model.train(data.X_train, data.y_train, **config)
    return model, report, time.perf_counter() - wall, time.process_time() - cpu


def accuracy(model, X, y) -> float:
    return float((model.predict(X).argmax(1) == y).mean())
