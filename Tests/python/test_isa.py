"""cfx's kernels under each instruction set the processor runs (CFX_ISA, docs/networks.md): the set
asked for is the set that runs, and its promises hold end to end: a row explained alone, in a batch
and on two threads gives the same bits, and the avx512 and avx2 sets give the same bits."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import cfx
from cfx.export import from_sklearn

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

# Run in a fresh process, since the set is chosen once per process: prints the set in use and, per
# dtype, the explanations' counterfactuals and the probabilities, alone, in a batch and on 2 threads.
_CHILD = r"""
import json, sys
import numpy as np
import cfx
spec, rows = json.load(open(sys.argv[1])), np.array(json.load(open(sys.argv[2])))
out = {"isa": cfx.runtime_info()["isa"]}
for dtype in ("float64", "float32"):
    model = cfx.Model.from_json(spec).astype(dtype)
    def cfs(explanations):
        return [e.cf["X"].tobytes().hex() if e.cf is not None else None for e in explanations]
    wachter = cfx.Wachter(model, target_class="other", max_iter=300)
    out[dtype] = {
        "alone": [cfs([wachter.explain(x)])[0] for x in rows],
        "batch": cfs(wachter.explain(rows)),
        "threads": cfs(cfx.Wachter(model, target_class="other", max_iter=300, n_threads=2).explain(rows)),
        "proba": [model.predict(x).tobytes().hex() for x in rows],
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    """A 64-64-64-10 MLP on scikit-learn's digits (alibi's digits architecture) and four test rows."""
    from sklearn.neural_network import MLPClassifier
    with open(os.path.join(FIXTURES, "digits.json")) as f:
        data = json.load(f)
    mean, scale = np.array(data["mean"]), np.array(data["scale"])
    x_train = (np.array(data["x_train"]) - mean) / scale
    x_test = (np.array(data["x_test"][:4]) - mean) / scale
    with warnings.catch_warnings():  # 60 epochs: accurate enough, not converged
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=60, random_state=0).fit(x_train, data["y_train"])
    folder = tmp_path_factory.mktemp("isa")
    spec, rows = folder / "spec.json", folder / "rows.json"
    spec.write_text(json.dumps(from_sklearn(mlp)))
    rows.write_text(json.dumps(x_test.tolist()))
    return str(spec), str(rows)


def _child(isa, code, *args):
    """What Python code prints in a fresh process with CFX_ISA=isa (unset for None)."""
    env = {k: v for k, v in os.environ.items() if k != "CFX_ISA"}
    if isa is not None:
        env["CFX_ISA"] = isa
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _run(isa, files):
    return json.loads(_child(isa, _CHILD, *files))


def test_runtime_info_names_the_sets():
    info = cfx.runtime_info()
    assert info["isa_supported"][-1] == "baseline"
    assert info["isa"] in info["isa_supported"]
    assert set(info["isa_supported"]) <= {"avx512", "avx2", "baseline"}


def test_each_set_keeps_its_promises(digits_files):
    supported = cfx.runtime_info()["isa_supported"]
    results = {isa: _run(isa, digits_files) for isa in supported}
    for isa, result in results.items():
        assert result["isa"] == isa, f"CFX_ISA={isa} ran {result['isa']}"
        for dtype in ("float64", "float32"):
            runs = result[dtype]
            assert any(cf is not None for cf in runs["alone"]), f"{isa} {dtype}: no counterfactual to compare"
            assert runs["batch"] == runs["alone"], f"{isa} {dtype}: a batch changed a row's counterfactual"
            assert runs["threads"] == runs["alone"], f"{isa} {dtype}: two threads changed a counterfactual"
    if "avx512" in results and "avx2" in results:
        assert results["avx512"]["float32"] == results["avx2"]["float32"]
        assert results["avx512"]["float64"] == results["avx2"]["float64"]


def test_unset_or_unknown_set_gives_the_widest():
    widest = cfx.runtime_info()["isa_supported"][0]
    for isa in (None, "sse9", ""):
        assert _child(isa, "import cfx; print(cfx.runtime_info()['isa'])").strip() == widest, f"CFX_ISA={isa!r}"
