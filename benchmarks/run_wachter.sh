#!/usr/bin/env bash
# Benchmarks cfx's Wachter method on the iris MLP fixture and, when the alibi venv exists
# ($ALIBI_VENV, default benchmarks/.venv-alibi; see benchmarks/alibi/setup.sh), alibi's
# CounterFactual on the same network in the same run.
# Writes benchmarks/results/wachter_iris.md and .json; scratch files go to benchmarks/out/.
#
# Environment: REPEATS (cfx repeats, default 7), ALIBI_N (instances for alibi with the Keras model,
# default 45 = all), ALIBI_N_BLACKBOX (instances for alibi with a black-box predict, default 45),
# SKIP_BUILD=1 (use the existing .build/release/libcfx.so instead of `swift build -c release`).
# Takes about 4 minutes with alibi (alibi needs ~2 s per counterfactual), seconds without.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
LIB="$ROOT/.build/release"
OUT="$ROOT/benchmarks/out"
RES="$ROOT/benchmarks/results"
VENV="${ALIBI_VENV:-$ROOT/benchmarks/.venv-alibi}"
REPEATS="${REPEATS:-7}"
ALIBI_N="${ALIBI_N:-45}"
ALIBI_N_BLACKBOX="${ALIBI_N_BLACKBOX:-45}"
COMMAND="$(env | grep -E '^(REPEATS|ALIBI_N|ALIBI_N_BLACKBOX|SKIP_BUILD)=' | sort | tr '\n' ' ')benchmarks/run_wachter.sh${*:+ $*}"
mkdir -p "$OUT" "$RES"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release >&2
fi
if [ ! -f "$LIB/libcfx.so" ]; then
    echo "run_wachter.sh: $LIB/libcfx.so not found; build it with: swift build -c release" >&2
    exit 2
fi

"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -I include benchmarks/wachter_bench.c \
    -L "$LIB" -lcfx -Wl,-rpath,"$LIB" -ljansson -lpthread -lm -o "$OUT/wachter_bench"

# Environment of the run.
dirty=false
if [ -n "$(git status --porcelain -- Sources include Package.swift 2>/dev/null)" ]; then dirty=true; fi
python3 - "$OUT/env.json" "$COMMAND" "$dirty" "$LIB/libcfx.so" <<'EOF'
import datetime, hashlib, json, os, platform, subprocess, sys
out, command, dirty, lib = sys.argv[1:5]
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
           "arch": subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip(),
           "cpu": cpu, "cores": os.cpu_count(), "commit": commit or "unknown", "dirty": dirty == "true",
           "lib_sha256": hashlib.sha256(open(lib, "rb").read()).hexdigest(), "command": command,
           "loadavg_at_start": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None},
          open(out, "w"), indent=2)
EOF

echo "== cfx ==" >&2
"$OUT/wachter_bench" --repeats "$REPEATS" --json "$OUT/cfx_wachter.json" >&2

alibi_args=(--alibi-missing "$VENV does not exist")
if [ -x "$VENV/bin/python" ]; then
    echo "== alibi ($ALIBI_N native, $ALIBI_N_BLACKBOX black-box instances) ==" >&2
    rm -f "$OUT/alibi_wachter.json"
    if "$VENV/bin/python" benchmarks/alibi/wachter_alibi.py --n "$ALIBI_N" --n-blackbox "$ALIBI_N_BLACKBOX" \
        --out "$OUT/alibi_wachter.json" 2> >(grep -v -E 'Warning|warnings.warn|updates=self.state_updates' >&2); then
        alibi_args=(--alibi "$OUT/alibi_wachter.json")
    else
        alibi_args=(--alibi-missing "benchmarks/alibi/wachter_alibi.py failed (exit $?); see its output above")
    fi
fi

python3 benchmarks/report_wachter.py --cfx "$OUT/cfx_wachter.json" "${alibi_args[@]}" --env "$OUT/env.json" \
    --md "$RES/wachter_iris.md" --json "$RES/wachter_iris.json"
cat "$RES/wachter_iris.md"
