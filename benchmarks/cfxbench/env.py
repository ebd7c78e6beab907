"""The environment of a run: date, machine, commit, library."""
import datetime
import hashlib
import os
import platform
import subprocess

from . import isa
from .datasets import ROOT


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(command: str) -> dict:
    import cfx
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    lib = cfx.library_path()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine": platform.machine(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--", "Sources", "include", "bindings", "benchmarks/cfxbench")),
        "cfx_version": cfx.library_version(), "libcfx": str(lib),
        "libcfx_sha256": hashlib.sha256(open(lib, "rb").read()).hexdigest()[:12],
        "python": platform.python_version(), "command": command,
        # this machine sets these (AVX2 kernels on an AVX-512 CPU); benchmark commands unset them
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        # the kernels that ran: cfx's instruction set, OpenBLAS's core, oneDNN's
        "kernels": isa.kernels(),
    }
