"""A Keras MLP exported to ONNX by tf2onnx loads in cfx with Keras's probabilities (within 1e-5)
and exact input gradients (against TensorFlow's GradientTape, within 1e-4 relative).

Not run in CI: TensorFlow takes 1.3 GB installed (tensorflow-cpu 2.21 with Keras 3), so this test
runs only where tensorflow and tf2onnx are installed, e.g. a virtual environment of its own
(docs/onnx.md); elsewhere it is skipped with a [keras] reason, which CFX_REQUIRE does not name.
tf2onnx 1.17's ``convert.from_keras`` fails on Keras 3 models (a KeyError on a Keras tensor
name), so the model is converted as a tf.function, which gives the same graph.
"""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="[keras] tensorflow is not installed (see docs/onnx.md)")
tf2onnx = pytest.importorskip("tf2onnx", reason="[keras] tf2onnx is not installed (see docs/onnx.md)")

import cfx  # noqa: E402


def test_keras_mlp(tmp_path):
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(16, activation="relu"),
                                 tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X, y, epochs=30, verbose=0)  # trained: biases are not zero, so the graph has its Adds
    signature = (tf.TensorSpec((None, 4), tf.float32, name="x"),)
    function = tf.function(lambda x: model(x), input_signature=signature)
    tf2onnx.convert.from_function(function, input_signature=signature, output_path=str(tmp_path / "keras.onnx"))
    imported = cfx.Model.load(tmp_path / "keras.onnx")
    np.testing.assert_allclose(imported.predict(X.astype(np.float64)), model(X).numpy(), atol=1e-5, rtol=0)
    cotangent = np.random.default_rng(0).normal(size=(10, 3))
    x = tf.constant(X[:10])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(model(x) * tf.constant(cotangent, tf.float32))
    expected = tape.gradient(loss, x).numpy()
    got = imported.vjp(X[:10].astype(np.float64), cotangent)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
