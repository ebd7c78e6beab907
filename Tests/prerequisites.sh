# Installs what building and testing cfx needs when it is missing (sourced by the README's commands).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# jansson (JSON) and Debian's OpenBLAS (pthread build), which libcfx.so links statically.
if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists jansson \
       && [ -f /usr/lib/"$(uname -m)"-linux-gnu/openblas-pthread/libopenblas.a ]; }; then
    echo "==> installing libjansson-dev, libopenblas-pthread-dev and pkg-config (apt)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libjansson-dev libopenblas-pthread-dev pkg-config >/dev/null
fi

if ! python3 -c "import numpy, sklearn, pytest, matplotlib" >/dev/null 2>&1; then
    echo "==> installing numpy, scikit-learn, pytest and matplotlib (pip)"
    python3 -m pip install -q numpy scikit-learn pytest matplotlib \
        || python3 -m pip install -q --break-system-packages numpy scikit-learn pytest matplotlib
fi

# Optional: the `safetensors` package, for the interoperability test of cfx's weights files (the
# test is skipped, with the reason printed, when it cannot be installed).
if ! python3 -c "import safetensors" >/dev/null 2>&1; then
    python3 -m pip install -q safetensors >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages safetensors >/dev/null 2>&1 \
        || echo "==> could not install safetensors (pip): its interoperability test will be skipped"
fi
