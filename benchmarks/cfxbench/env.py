"""The provenance of a run, written once for every benchmark: date, machine, CPU, cores, load,
commit, library, kernels.

Python suites call `environment(command)` (with the library) or `machine(command)` (without it) and
render it with `markdown(env)`. Shell and C programs take the same record from the `env`
subcommand: `python3 benchmarks/harness.py env [--markdown] [--no-library] [--command TEXT]`
(`env --load`: the load averages alone, for a report's last line).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys

from . import ROOT, isa

# the paths whose uncommitted changes make a result "dirty"
SOURCE_PATHS = ("Sources", "include", "bindings", "Package.swift", "benchmarks/cfxbench")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    """The 1, 5 and 15 minute load averages as strings, or None where the system has none."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return None


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def commit() -> str:
    """The checked-out commit, short, or "unknown"."""
    return _git("rev-parse", "--short", "HEAD") or "unknown"


def dirty(paths=SOURCE_PATHS) -> bool:
    """Whether `paths` have uncommitted changes."""
    return bool(_git("status", "--porcelain", "--", *paths))


def harness_command() -> str:
    """This run's command line, as typed from the repository root."""
    return " ".join(["python3 benchmarks/harness.py", *map(shlex.quote, sys.argv[1:])])


def machine(command: str, paths=SOURCE_PATHS) -> dict:
    """Date, machine, CPU, cores, load, commit and command: everything but the library."""
    return {
        "date": now(), "machine": platform.machine(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "loadavg_at_start": load_average(), "commit": commit(), "dirty": dirty(paths),
        "python": platform.python_version(), "command": command,
        # this machine sets these (AVX2 kernels on an AVX-512 CPU); benchmark commands unset them
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }


def library() -> dict:
    """The cfx library that runs: version, path, digest, and the kernels it chose."""
    import cfx
    lib = cfx.library_path()
    with open(lib, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    return {"cfx_version": cfx.library_version(), "libcfx": str(lib), "libcfx_sha256": digest,
            # the kernels that ran: cfx's instruction set, OpenBLAS's core, oneDNN's
            "kernels": isa.kernels()}


def environment(command: str, paths=SOURCE_PATHS) -> dict:
    """machine() and library(): the provenance of a run that loads cfx."""
    return {**machine(command, paths), **library()}


def markdown(env: dict, note: str = "the machine is shared") -> list:
    """The provenance as the first bullet lines of a report (with the load at the end too where
    the run recorded ``loadavg_at_end``)."""
    load, end = env.get("loadavg_at_start"), env.get("loadavg_at_end")
    lines = [f"- date: {env['date']}",
             f"- machine: `{env['machine']}`, {env['cpu']}, {env['cores']} cores"
             + (f" (load average at start {' '.join(load)}"
                + (f", at the end {' '.join(end)}" if end else "") + f"; {note})" if load else "")]
    commit_line = f"- commit `{env['commit']}`{' (plus uncommitted changes)' if env.get('dirty') else ''}"
    if "cfx_version" in env:
        commit_line = (f"- cfx {env['cfx_version']}, commit `{env['commit']}`"
                       f"{' (plus uncommitted changes)' if env.get('dirty') else ''}, "
                       f"libcfx.so sha256 `{env['libcfx_sha256']}`")
    lines.append(commit_line)
    lines.append(f"- command: `{env['command']}`")
    if env.get("kernels"):
        lines.append(f"- kernels: {isa.describe(env['kernels'])}")
    if "openblas_env" in env:
        lines.append(f"- OpenBLAS environment: {openblas_setting(env['openblas_env'])}")
    return lines


def openblas_setting(values: dict) -> str:
    """This machine's OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which force older kernels) as the run
    had them: "unset", as benchmark commands leave them, or the value kept."""
    return ", ".join(f"{k} {'unset' if v is None else repr(v)}" for k, v in values.items())


# ---- the `env` subcommand: the same record for shell and C programs ---------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("--command", default="", help="the command to record")
    parser.add_argument("--markdown", action="store_true", help="Markdown bullet lines instead of JSON")
    parser.add_argument("--no-library", action="store_true", help="do not load cfx (programs that link libcfx or Swift)")
    parser.add_argument("--load", action="store_true", help="only the 1, 5 and 15 minute load averages")
    parser.add_argument("--paths", nargs="*", default=list(SOURCE_PATHS),
                        help="paths whose uncommitted changes mark the run dirty")


def main(args) -> int:
    if args.load:
        print(" ".join(load_average() or ["unknown"]))
        return 0
    env = (machine if args.no_library else environment)(args.command, tuple(args.paths))
    print("\n".join(markdown(env)) if args.markdown else json.dumps(env, indent=2))
    return 0
