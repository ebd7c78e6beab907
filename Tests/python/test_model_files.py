"""Model files from Python: Model.load / save / spec, and the pure-Python safetensors module
(files it writes load in cfx and in the `safetensors` package, and the other way round)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import cfx
from cfx import safetensors as st

RNG = np.random.default_rng(11)
W1, B1 = RNG.normal(size=(6, 4)), RNG.normal(size=6)
W2, B2 = RNG.normal(size=(3, 6)), RNG.normal(size=3)
X = RNG.normal(size=(5, 4))
ARCH = {"input_shape": [4], "layers": [{"type": "dense", "outputs": 6}, {"type": "tanh"},
                                      {"type": "dense", "outputs": 3}, {"type": "softmax"}]}
TENSORS = {"layers.0.weight": W1, "layers.0.bias": B1, "layers.2.weight": W2, "layers.2.bias": B2}


def reference(X):
    z = np.tanh(X @ W1.T + B1) @ W2.T + B2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def write_model(directory, tensors=TENSORS, weights="w/model.safetensors"):
    (directory / "w").mkdir(exist_ok=True)
    st.save_file(tensors, directory / "w" / "model.safetensors")
    (directory / "model.json").write_text(json.dumps({**ARCH, "weights": weights}))
    return directory / "model.json"


def test_pure_python_file_loads_in_cfx(tmp_path):
    with cfx.Model.load(write_model(tmp_path)) as m:
        np.testing.assert_allclose(m.predict(X), reference(X), rtol=0, atol=1e-12)


def test_weights_path_of_a_spec_string(tmp_path):
    write_model(tmp_path)
    spec = {**ARCH, "weights": str(tmp_path / "w" / "model.safetensors")}  # absolute: any directory
    np.testing.assert_allclose(cfx.Model.from_json(spec).predict(X), reference(X), atol=1e-12)
    # Dense weights inline, its bias from the file.
    layers = [dict(ARCH["layers"][0], weights=W1.tolist())] + ARCH["layers"][1:]
    del layers[0]["outputs"]
    st.save_file({k: v for k, v in TENSORS.items() if k != "layers.0.weight"}, tmp_path / "rest.safetensors")
    spec = {"input_shape": [4], "layers": layers, "weights": str(tmp_path / "rest.safetensors")}
    np.testing.assert_allclose(cfx.Model.from_json(spec).predict(X), reference(X), atol=1e-12)


def test_pure_python_float32_and_float16_load(tmp_path):
    for dtype, tol in ((np.float32, 1e-5), (np.float16, 2e-2)):
        path = write_model(tmp_path, {k: v.astype(dtype) for k, v in TENSORS.items()})
        with cfx.Model.load(path) as m:
            np.testing.assert_allclose(m.predict(X), reference(X), rtol=0, atol=tol)


def test_save_load_spec_round_trip(tmp_path):
    m = cfx.Model.load(write_model(tmp_path))
    m.save(tmp_path / "out.json", tmp_path / "out.safetensors")
    assert json.loads((tmp_path / "out.json").read_text())["weights"] == "out.safetensors"
    loaded = st.load_file(tmp_path / "out.safetensors")
    assert list(loaded) == list(TENSORS)
    for name, value in TENSORS.items():
        assert loaded[name].dtype == np.float64
        np.testing.assert_array_equal(loaded[name], value)  # F64: exact
    m2 = cfx.Model.load(tmp_path / "out.json")
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))

    m.save(tmp_path / "f32.json", tmp_path / "f32.safetensors", dtype="F32")
    assert st.load_file(tmp_path / "f32.safetensors")["layers.0.weight"].dtype == np.float32
    np.testing.assert_allclose(cfx.Model.load(tmp_path / "f32.json").predict(X), reference(X), atol=1e-5)

    m.save(tmp_path / "inline.json")
    spec = json.loads((tmp_path / "inline.json").read_text())
    assert "weights" not in spec and spec["layers"][0]["tensors"]["weight"]
    np.testing.assert_array_equal(cfx.Model.load(tmp_path / "inline.json").predict(X), m.predict(X))

    spec = m.spec()
    assert spec["input_shape"] == [4] and "weights" not in spec
    np.testing.assert_array_equal(np.reshape(spec["layers"][0]["tensors"]["weight"], (6, 4)), W1)
    np.testing.assert_array_equal(cfx.Model.from_json(spec).predict(X), m.predict(X))


def test_file_errors(tmp_path):
    bad = dict(TENSORS)
    del bad["layers.2.bias"]
    with pytest.raises(cfx.ModelError, match=r"layers\.2\.bias: missing from .*model\.safetensors"):
        cfx.Model.load(write_model(tmp_path, bad))
    with pytest.raises(cfx.ModelError, match=r"layers\.0\.weight: shape \[4, 6\] in .*the network expects \[6, 4\] \(outputs × inputs, PyTorch's layout\): transpose it"):
        cfx.Model.load(write_model(tmp_path, {**TENSORS, "layers.0.weight": W1.T}))
    with pytest.raises(cfx.ModelError, match=r"layers\.7\.weight: in .*no such tensor"):
        cfx.Model.load(write_model(tmp_path, {**TENSORS, "layers.7.weight": W1}))
    cfx.Model.load(write_model(tmp_path, {**TENSORS, "extra.num_batches_tracked": np.array(3)})).close()
    nan = W1.copy()
    nan[1, 2] = np.nan
    with pytest.raises(cfx.ModelError, match=r"layers\.0\.weight: value 6 is nan"):
        cfx.Model.load(write_model(tmp_path, {**TENSORS, "layers.0.weight": nan}))
    with pytest.raises(cfx.ModelError, match=r"layers\.0\.weight: dtype \"I64\""):
        cfx.Model.load(write_model(tmp_path, {**TENSORS, "layers.0.weight": np.ones((6, 4), dtype=np.int64)}))
    path = write_model(tmp_path)
    data = (tmp_path / "w" / "model.safetensors").read_bytes()
    (tmp_path / "w" / "model.safetensors").write_bytes(data[:-5])
    with pytest.raises(cfx.ModelError, match=r"model\.safetensors: .*out of range"):
        cfx.Model.load(path)
    with pytest.raises(cfx.FileError, match=r"none\.json: cannot read the file"):
        cfx.Model.load(tmp_path / "none.json")
    callback = cfx.Model.from_callable(lambda X: np.full((len(X), 2), 0.5), 4, 2)
    with pytest.raises(cfx.InvalidArgumentError, match="callback model"):
        callback.save(tmp_path / "cb.json")
    with pytest.raises(cfx.InvalidArgumentError, match="callback model"):
        callback.spec()
    with pytest.raises(cfx.ConfigError, match="dtype"):
        cfx.Model.load(write_model(tmp_path)).save(tmp_path / "x.json", tmp_path / "x.st", dtype="F16")


def test_pure_python_module():
    tensors = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.float32([1.5, -2]),
               "c": np.zeros((0, 4)), "d": np.array([1, 2], dtype=np.int32), "e": np.array(True)}
    data = st.save(tensors, metadata={"format": "pt"})
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    back = st.load(data)
    assert list(back) == list(tensors)
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)
    # BF16 by hand: 1.0 and -0.15625.
    header = b'{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}'
    np.testing.assert_array_equal(st.load(struct.pack("<Q", len(header)) + header + bytes([0x80, 0x3F, 0x20, 0xBE]))["x"],
                                  [1.0, -0.15625])
    for broken, pattern in ((data[:5], "too short"), (data[:20], "past the end"), (data[:-1], "out of range|cover"),
                            (struct.pack("<Q", 3) + b"{x}", "not valid JSON")):
        with pytest.raises(st.SafetensorsError, match=pattern):
            st.load(broken)
    with pytest.raises(st.SafetensorsError, match="complex"):
        st.save({"z": np.zeros(2, dtype=np.complex128)})


def test_interoperability_with_the_safetensors_package(tmp_path):
    try:
        import safetensors.numpy as reference_st
    except ImportError:
        pytest.skip("[safetensors] the safetensors package is not installed (pip install safetensors)")
    # The package's files load in cfx and in the pure-Python reader.
    reference_st.save_file({k: v.astype(np.float32) for k, v in TENSORS.items()}, str(tmp_path / "ref.safetensors"))
    (tmp_path / "ref.json").write_text(json.dumps({**ARCH, "weights": "ref.safetensors"}))
    np.testing.assert_allclose(cfx.Model.load(tmp_path / "ref.json").predict(X), reference(X), atol=1e-5)
    ours = st.load_file(tmp_path / "ref.safetensors")
    for name, value in TENSORS.items():
        np.testing.assert_array_equal(ours[name], value.astype(np.float32))
    # Files written by cfx and by the pure-Python writer load in the package.
    cfx.Model.load(tmp_path / "ref.json").save(tmp_path / "cfx.json", tmp_path / "cfx.safetensors", dtype="F32")
    st.save_file(TENSORS, tmp_path / "py.safetensors", metadata={"format": "pt"})
    for name in ("cfx.safetensors", "py.safetensors"):
        loaded = reference_st.load_file(str(tmp_path / name))
        assert set(loaded) == set(TENSORS)
        for key, value in TENSORS.items():
            np.testing.assert_allclose(loaded[key], value, rtol=1e-6 if name == "cfx.safetensors" else 0)
