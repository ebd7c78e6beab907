#!/usr/bin/env bash
# The command line: a happy path per subcommand, and bad input that must fail with a message.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cli=.build/release/cfx-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

expect() {  # expect NAME EXIT_CODE PATTERN -- command...
    local name=$1 code=$2 pattern=$3
    shift 4
    local out status
    out=$("$@" 2>&1)
    status=$?
    if [ "$status" -eq "$code" ] && grep -qE -- "$pattern" <<<"$out"; then
        passed=$((passed + 1)); echo "PASS: $name"
    else
        failed=$((failed + 1)); echo "FAIL: $name (exit $status, wanted $code and /$pattern/): ${out:0:300}"
    fi
}

python3 - "$work" <<'PY'
import json, sys
fixture = json.load(open("Tests/fixtures/iris_mlp.json"))
json.dump(fixture["model"], open(f"{sys.argv[1]}/model.json", "w"))
with open(f"{sys.argv[1]}/x.csv", "w") as f:
    f.write("sl,sw,pl,pw\n")
    for row in fixture["x_test"][:3]:
        f.write(",".join(map(repr, row)) + "\n")
PY
echo '{"method": "wachter", "return_all": false}' > "$work/config.json"
echo "1,2,3" > "$work/short.csv"
printf "1,2,3,4\n1,2,x,4\n" > "$work/text.csv"

expect "version" 0 '^0\.1\.0' -- $cli --version
expect "defaults" 0 '"lam_init":0\.1' -- $cli defaults wachter
expect "predict" 0 '^[0-9.e-]+,[0-9.e-]+,[0-9.e-]+$' -- $cli predict -m "$work/model.json" -d "$work/x.csv"
expect "explain (config file)" 0 '"success":true' -- $cli explain -m "$work/model.json" -c "$work/config.json" -d "$work/x.csv"
expect "explain (inline config)" 0 '"explanations"' -- $cli explain -m "$work/model.json" -c '{"method":"wachter","max_iter":100}' -d "$work/x.csv"
expect "unknown method" 1 'unknown method "nope"' -- $cli explain -m "$work/model.json" -c '{"method":"nope"}' -d "$work/x.csv"
expect "unknown key" 1 'tolx: unknown key' -- $cli explain -m "$work/model.json" -c '{"method":"wachter","tolx":1}' -d "$work/x.csv"
expect "malformed config" 1 'invalid JSON' -- $cli explain -m "$work/model.json" -c '{"method":' -d "$work/x.csv"
expect "short row" 1 'row 1 has 3 values' -- $cli predict -m "$work/model.json" -d "$work/short.csv"
expect "non-numeric cell" 1 "row 2, column 3" -- $cli predict -m "$work/model.json" -d "$work/text.csv"
expect "missing model file" 1 'cannot read' -- $cli predict -m "$work/none.json" -d "$work/x.csv"
expect "unknown defaults" 1 'unknown method' -- $cli defaults alibi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
