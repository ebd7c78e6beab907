"""The instruction sets a benchmark runs on: what each library chose, AVX2 forced on an AVX-512
processor (when no AVX2-only machine is at hand), and the FMA peak of one core."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import ROOT

# What an AVX2 processor runs, forced on an AVX-512 one: cfx's own kernels, OpenBLAS, oneDNN (cfx's
# and PyTorch's), PyTorch's ATen kernels and MKL. Each library reads its variable when it loads or
# first runs, so the process starts again with them set.
FORCED = {
    "avx2": {"CFX_ISA": "avx2", "OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
_MARK = "CFX_BENCH_FORCED_ISA"


def force(isa):
    """Runs this script again with `isa` forced, unless it is None / "native" or already forced."""
    if isa in (None, "native") or os.environ.get(_MARK) == isa:
        return
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_L2_SIZE"}
    env.update(FORCED[isa])
    env[_MARK] = isa
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def force_from_arguments():
    """force() the set named by --isa SET or --isa=SET on the command line, if any."""
    for i, argument in enumerate(sys.argv):
        if argument == "--isa" and i + 1 < len(sys.argv):
            force(sys.argv[i + 1])
        elif argument.startswith("--isa="):
            force(argument.split("=", 1)[1])


def forced():
    """The set this run forced, or None (each library chose for the processor)."""
    return os.environ.get(_MARK)


def kernels(torch=None) -> dict:
    """Which kernels ran: cfx's own set, OpenBLAS's core, oneDNN, and PyTorch's CPU capability."""
    import cfx
    info = cfx.runtime_info()
    out = {key: info.get(key) for key in ("isa", "isa_supported", "openblas_core", "onednn", "onednn_isa")}
    out["forced"] = forced()
    if torch is not None:
        out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def describe(k: dict) -> str:
    """One line for a report."""
    parts = [f"cfx kernels `{k['isa']}` (processor runs {', '.join(k['isa_supported'] or [])})",
             f"OpenBLAS core `{k['openblas_core']}`", f"oneDNN {k['onednn']}"
             + (f" `{k['onednn_isa']}`" if k.get("onednn_isa") else "")]
    if k.get("torch_cpu_capability"):
        parts.append(f"PyTorch CPU capability `{k['torch_cpu_capability']}`")
    lead = f"**{k['forced']} forced** ({', '.join(f'{n}={v}' for n, v in FORCED[k['forced']].items())}): " \
        if k.get("forced") else "as chosen for this processor: "
    return lead + "; ".join(parts)


def fma_peak() -> dict:
    """One core's float32 multiply-adds per second by vector width, from
    benchmarks/networks/fma_peak.c (compiled here with clang or cc)."""
    compiler = shutil.which("clang") or shutil.which("cc")
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "fma_peak"
        subprocess.run([compiler, "-O2", "-o", str(binary), str(ROOT / "benchmarks" / "networks" / "fma_peak.c")],
                       check=True)
        return json.loads(subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout)
