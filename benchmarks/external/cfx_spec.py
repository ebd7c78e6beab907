"""The network of a cfx model spec outside cfx, for the comparison scripts that run in other
virtual environments (alibi's, DiCE's): a Keras model (for alibi, TensorFlow gradients) and a
NumPy predict function (a black box), both with the spec's exact weights.

Only what the benchmark models use: dense layers (weights out x in, PyTorch's layout) each
followed by at most one of relu, tanh, sigmoid, softmax. Inline tensors only: nested
``"weights"``/``"bias"`` (scikit-learn exports, fixtures) or flat ``"tensors"`` (``cfx.Model.spec()``). Needs NumPy; TensorFlow only for keras_model.
"""
import argparse
import json

import numpy as np


def read_job():
    """A runner's command line, --job JOB.json --out OUT.json: the job (from the harness) and the
    path of the output."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--job", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.job) as f:
        return json.load(f), args.out


def parse_spec(spec):
    """[[W (out x in), b, activation]] from a cfx model spec; activations fold into the dense
    layer before them."""
    layers = []
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "dense":
            if "weights" in layer:   # inline, nested out x in (the hand-written and exported form)
                w = np.asarray(layer["weights"], dtype=np.float64)
                b = np.asarray(layer.get("bias", np.zeros(w.shape[0])), dtype=np.float64)
            else:                    # "tensors": flat row-major weight (out x in) and bias (cfx_model_spec)
                t = layer["tensors"]
                out = int(layer.get("outputs", len(t["bias"])))
                w = np.asarray(t["weight"], dtype=np.float64).reshape(out, -1)
                b = np.asarray(t.get("bias", np.zeros(out)), dtype=np.float64)
            layers.append([w, b, "linear"])
        elif kind in ("relu", "tanh", "sigmoid", "softmax"):
            if not layers or layers[-1][2] != "linear":
                raise SystemExit(f"unsupported layer order: {kind} not right after a dense layer")
            layers[-1][2] = kind
        else:
            raise SystemExit(f"unsupported layer type {kind}")
    return layers


def keras_model(layers, d):
    """A tf.keras Sequential with the layers' weights (kernel in x out, float32)."""
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.Input(shape=(d,))] +
                                [tf.keras.layers.Dense(w.shape[0], activation=act) for w, _, act in layers])
    weights = []
    for w, b, _ in layers:
        weights += [w.T.astype(np.float32), b.astype(np.float32)]
    model.set_weights(weights)
    return model


def _activation(z, kind):
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if kind == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


def numpy_predict(layers):
    """The same network as a NumPy black box (float64): rows in, probabilities out."""
    def predict(x):
        h = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        for w, b, kind in layers:
            h = _activation(h @ w.T + b, kind)
        return h
    return predict


class Counted:
    """Counts the calls and rows of a black-box predict function."""
    def __init__(self, fn):
        self.fn, self.calls, self.rows = fn, 0, 0

    def __call__(self, x):
        self.calls += 1
        self.rows += len(x)
        return self.fn(x)


def _tensor(layer, name, shape):
    """A layer's tensor from inline nested lists (``weights``/``bias``) or flat ``tensors``."""
    if "tensors" in layer and name in layer["tensors"]:
        return np.asarray(layer["tensors"][name], dtype=np.float64).reshape(shape)
    key = {"weight": "weights"}.get(name, name)
    return np.asarray(layer[key], dtype=np.float64).reshape(shape)


def keras_model_from_spec(spec):
    """A tf.keras model of a cfx spec with convolutions: input_shape [c, h, w] (rows stored NCHW,
    as cfx) or [d]; layers dense, conv2d (stride, padding, bias), max_pool2d, avg_pool2d (padding
    0), flatten and the activations. Keras computes channels-last, so the image is permuted to
    HWC after the input and back to CHW before flatten: the flattened order is cfx's."""
    import tensorflow as tf
    L = tf.keras.layers
    shape = [int(v) for v in spec["input_shape"]]
    d = int(np.prod(shape))
    inp = tf.keras.Input(shape=(d,))
    x = inp
    weights = []
    cur = list(shape)                              # cfx's view: [c, h, w] or [n]
    if len(shape) == 3:
        x = L.Permute((2, 3, 1))(L.Reshape(tuple(shape))(x))
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "conv2d":
            c, h, w = cur
            out, k = int(layer["out_channels"]), int(layer["kernel_size"])
            s, p = int(layer.get("stride", 1)), int(layer.get("padding", 0))
            bias = layer.get("bias", True) is not False
            wt = _tensor(layer, "weight", (out, c, k, k))
            if p:
                x = L.ZeroPadding2D(p)(x)
            conv = L.Conv2D(out, k, strides=s, padding="valid", use_bias=bias)
            x = conv(x)
            conv.set_weights([wt.transpose(2, 3, 1, 0).astype(np.float32)] +
                             ([_tensor(layer, "bias", (out,)).astype(np.float32)] if bias else []))
            cur = [out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1]
        elif kind in ("max_pool2d", "avg_pool2d"):
            c, h, w = cur
            k = int(layer["kernel_size"])
            s = int(layer.get("stride", k))
            if int(layer.get("padding", 0)):
                raise SystemExit(f"{kind} with padding is not supported here")
            pool = L.MaxPooling2D if kind == "max_pool2d" else L.AveragePooling2D
            x = pool(pool_size=k, strides=s, padding="valid")(x)
            cur = [c, (h - k) // s + 1, (w - k) // s + 1]
        elif kind == "flatten":
            if len(cur) == 3:
                x = L.Flatten()(L.Permute((3, 1, 2))(x))
            cur = [int(np.prod(cur))]
        elif kind == "dense":
            out = int(layer.get("outputs", 0)) or len(layer.get("bias", []))
            wt = _tensor(layer, "weight", (out, -1))
            dense = L.Dense(out)
            x = dense(x)
            dense.set_weights([wt.T.astype(np.float32), _tensor(layer, "bias", (out,)).astype(np.float32)])
            cur = [out]
        elif kind in ("relu", "tanh", "sigmoid", "softmax"):
            x = L.Activation(kind)(x)
        else:
            raise SystemExit(f"unsupported layer type {kind} for the Keras rebuild")
    del weights
    return tf.keras.Model(inp, x)
