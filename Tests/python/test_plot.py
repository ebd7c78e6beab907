"""cfx.plot: tabular, image and trace plots (skipped, with the reason, without matplotlib)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cfx

REPO = Path(__file__).resolve().parents[2]

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    HAVE_MPL = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_MPL = False

needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="[matplotlib] matplotlib is not installed "
                               "(pip install matplotlib); cfx.plot is optional")

SPEC = {"input_shape": [3], "layers": [
    {"type": "dense", "weights": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "bias": [0.0, 0.0]},
    {"type": "softmax"}]}


@pytest.fixture(scope="module")
def exp():
    with cfx.Model.from_json(SPEC) as model:
        return cfx.Wachter(model, target_class=1, max_iter=300, immutable=[2]).explain(
            np.array([1.0, 0.0, 0.5]))


def test_import_cfx_does_not_import_matplotlib():
    code = "import sys, cfx; assert 'matplotlib' not in sys.modules; print('ok')"
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_missing_matplotlib_gives_clear_error(monkeypatch, exp):
    import cfx.plot as cplot
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        cplot.changed_features(exp)


@needs_mpl
def test_changed_features_from_explanation(exp, tmp_path):
    assert exp.success
    fig = cfx.plot.changed_features(exp, feature_names=["a", "b", "c"],
                                    class_names=["no", "yes"])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "c" not in labels                  # immutable: unchanged, not shown
    assert set(labels) <= {"a", "b"} and labels
    assert "no" in ax.get_title() and "yes" in ax.get_title()
    png = tmp_path / "changed.png"
    fig.savefig(png)
    assert png.stat().st_size > 1000
    plt.close(fig)


@needs_mpl
def test_changed_features_from_arrays_largest_change_on_top():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    cf = np.array([0.5, 1.0, 0.0, 3.0001])
    fig = cfx.plot.changed_features(x, cf, threshold=0.01)
    ax = fig.axes[0]
    ticks = ax.get_yticks()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    top = labels[int(np.argmax(ticks))]
    assert top == "x2" and sorted(labels) == ["x0", "x2"]
    plt.close(fig)
    with pytest.raises(ValueError, match="feature_names"):
        cfx.plot.changed_features(x, cf, feature_names=["a"])
    with pytest.raises(ValueError, match="features"):
        cfx.plot.changed_features(x, cf[:2])


@needs_mpl
def test_changed_features_transform_and_no_cf(exp):
    fig = cfx.plot.changed_features(exp, transform=lambda v: 10 * v + 5, threshold=1.0)
    assert fig.axes[0].get_xlim()[1] > 5
    plt.close(fig)
    fig, ax = plt.subplots()
    out = cfx.plot.changed_features(np.zeros(3), {"X": None}, ax=ax)
    assert out is fig
    plt.close(fig)


@needs_mpl
def test_image_grey_and_rgb(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random(28 * 28)
    cf = x.copy()
    cf[100:140] += 0.5
    fig = cfx.plot.image(x, cf, shape=(28, 28))
    image_axes = [a for a in fig.axes if a.images]
    assert len(image_axes) >= 3
    diff = image_axes[2].images[0].get_array()
    assert diff.shape == (28, 28) and np.isclose(np.abs(diff).max(), 0.5)
    fig.savefig(tmp_path / "image.png")
    plt.close(fig)
    x3 = rng.random(3 * 8 * 8)
    fig = cfx.plot.image(x3, x3[::-1], shape=(3, 8, 8))
    assert fig.axes[0].images[0].get_array().shape == (8, 8, 3)
    plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        cfx.plot.image(x, cf, shape=(27, 28))


@needs_mpl
def test_trace_list_and_dict():
    steps = [{"step": i, "target_proba": 1 - np.exp(-i / 10), "loss": np.exp(-i / 10) + 0.01,
              "note": "text"} for i in range(50)]
    fig = cfx.plot.trace(steps, target_proba=1.0, tol=0.05, title="run")
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines[0].get_xdata()) == 50
    assert fig.axes[0].get_ylabel() == "target proba" and fig.axes[1].get_ylabel() == "loss"
    plt.close(fig)
    fig = cfx.plot.trace({"p_target": [0.1, 0.5, 0.9], "loss": [1.0, 0.5, 0.2],
                          "distance": [0, 1, 2]}, keys=["p_target", "loss", "distance"])
    assert len(fig.axes) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="available"):
        cfx.plot.trace({"foo": [1, 2]})


@needs_mpl
def test_plot_iris_example_writes_png():
    pytest.importorskip("sklearn", reason="[sklearn] the iris example trains with scikit-learn")
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"), MPLBACKEND="Agg")
    script = REPO / "examples" / "python" / "plot_iris.py"
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         cwd=script.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    png = REPO / "examples" / "python" / "out" / "iris_changed_features.png"
    assert png.is_file() and png.stat().st_size > 10000
