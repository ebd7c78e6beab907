"""The network of a cfx model spec outside cfx, for the comparison scripts that run in other
virtual environments (alibi's, DiCE's): a Keras model (for alibi, TensorFlow gradients) and a
NumPy predict function (a black box), both with the spec's exact weights.

Only what the benchmark models use: dense layers (weights out x in, PyTorch's layout) each
followed by at most one of relu, tanh, sigmoid, softmax. Inline tensors only (the spec as
``cfx.Model.spec()`` / ``to_json()`` writes it). Needs NumPy; TensorFlow only for keras_model.
"""
import numpy as np


def parse_spec(spec):
    """[[W (out x in), b, activation]] from a cfx model spec; activations fold into the dense
    layer before them."""
    layers = []
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "dense":
            w = np.asarray(layer["weights"], dtype=np.float64)
            b = np.asarray(layer.get("bias", np.zeros(w.shape[0])), dtype=np.float64)
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
