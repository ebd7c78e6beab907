"""float32 convolutions on both backends: oneDNN, loaded at run time when libdnnl.so.2 is there, and
cfx's im2col + sgemm, which runs without it or with CFX_DNNL=off. cfx.runtime_info() names the one
that runs; both give the same predictions and input gradients within float32 rounding."""
import ctypes
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

import cfx

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "benchmarks" / "models" / "fashion_cnn.json"  # two convolutions, poolings, dense layers

# Run in a child process: the backend is chosen once per process.
CHILD = """
import json, sys
import numpy as np
import cfx
x, cot = (np.array(v) for v in json.load(sys.stdin))
model = cfx.Model.load(sys.argv[1]).astype("float32")
json.dump({"info": cfx.runtime_info(), "p": model.predict(x).tolist(), "g": model.vjp(x, cot).tolist()}, sys.stdout)
"""


def onednn_loadable():
    try:
        ctypes.CDLL("libdnnl.so.2")
        return True
    except OSError:
        return False


def run(x, cot, prefix=(), **env):
    proc = subprocess.run([*prefix, sys.executable, "-c", CHILD, str(MODEL)], input=json.dumps([x.tolist(), cot.tolist()]),
                          env={**os.environ, "CFX_LIBRARY": cfx.library_path(), **env},
                          capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(proc.stdout)
    return out["info"], np.array(out["p"]), np.array(out["g"])


def inputs():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(5, 28 * 28))
    return x, rng.normal(size=(5, 10))


def test_runtime_info_names_the_backend_that_runs():
    info = cfx.runtime_info()
    if os.environ.get("CFX_DNNL") == "off" or not onednn_loadable():
        assert (info["conv_backend"], info["onednn"], info["onednn_isa"]) == ("im2col-sgemm", None, None)
    else:
        assert info["conv_backend"] == "onednn"
        assert info["onednn"].count(".") == 2 and info["onednn_isa"]


def test_both_backends_agree_within_float32_rounding():
    x, cot = inputs()
    default_info, p_default, g_default = run(x, cot)
    off_info, p_off, g_off = run(x, cot, CFX_DNNL="off")
    assert off_info["conv_backend"] == "im2col-sgemm"
    assert default_info["conv_backend"] == ("onednn" if onednn_loadable() else "im2col-sgemm")
    np.testing.assert_allclose(p_off, p_default, rtol=0, atol=1e-5)
    np.testing.assert_allclose(g_off, g_default, rtol=0, atol=1e-4 * np.abs(g_default).max())
    # And both are the float64 network's values within float32 rounding.
    model = cfx.Model.load(MODEL)
    np.testing.assert_allclose(p_off, model.predict(x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(g_off, model.vjp(x, cot), rtol=0, atol=1e-4 * np.abs(g_default).max())


def test_without_the_onednn_library_the_fallback_runs():
    """libdnnl.so.2 made unloadable, as on a machine without it: its files are hidden behind
    /dev/null in a private mount namespace of the child (root, unshare)."""
    x, cot = inputs()
    # Where the dynamic loader finds it (its cache; CFX tests set no LD_LIBRARY_PATH).
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    hidden = sorted({os.path.realpath(p) for p in re.findall(r"^\s*libdnnl\.so\.2 .*=> (\S+)$", cache, re.M)})
    assert hidden or not onednn_loadable(), "libdnnl.so.2 loads, but not from a path ldconfig lists"
    prefix = ()
    if hidden:
        if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
            pytest.skip("[namespaces] unshare -m is not permitted here (it needs root)")
        mounts = " && ".join(f"mount --bind /dev/null {shlex.quote(p)}" for p in hidden)
        prefix = ("unshare", "-m", "sh", "-c", mounts + ' && exec "$@"', "sh")
    info, p, g = run(x, cot, prefix)
    assert (info["conv_backend"], info["onednn"]) == ("im2col-sgemm", None)
    _, p_off, g_off = run(x, cot, CFX_DNNL="off")
    np.testing.assert_array_equal(p, p_off)
    np.testing.assert_array_equal(g, g_off)
