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
# The same model as a spec in specs/ with its weights in weights/ (written by the pure-Python
# safetensors writer), loaded from another working directory.
mkdir -p "$work/specs" "$work/weights"
PYTHONPATH=bindings/python python3 - "$work" <<'PY'
import json, sys
import numpy as np
from cfx import safetensors
work = sys.argv[1]
spec = json.load(open(f"{work}/model.json"))
tensors, layers = {}, []
for i, layer in enumerate(spec["layers"]):
    if layer["type"] == "dense":
        tensors[f"layers.{i}.weight"] = np.array(layer["weights"], dtype=np.float64)
        tensors[f"layers.{i}.bias"] = np.array(layer["bias"], dtype=np.float64)
        layer = {"type": "dense", "outputs": len(layer["weights"])}
    layers.append(layer)
safetensors.save_file(tensors, f"{work}/weights/model.safetensors")
json.dump({"input_shape": spec["input_shape"], "layers": layers, "weights": "../weights/model.safetensors"},
          open(f"{work}/specs/model.json", "w"))
del tensors["layers.0.bias"]
safetensors.save_file(tensors, f"{work}/weights/broken.safetensors")
json.dump({"input_shape": spec["input_shape"], "layers": layers, "weights": "../weights/broken.safetensors"},
          open(f"{work}/specs/broken.json", "w"))
PY
python3 - "$work" <<'PY'
import json, sys
digits = json.load(open("Tests/fixtures/digits.json"))
mean, scale = digits["mean"], digits["scale"]
with open(f"{sys.argv[1]}/digits_x.csv", "w") as f:
    for row in digits["x_train"][:400]:
        f.write(",".join(repr((v - m) / s) for v, m, s in zip(row, mean, scale)) + "\n")
with open(f"{sys.argv[1]}/digits_y.csv", "w") as f:
    f.write("label\n" + "".join(f"{y}\n" for y in digits["y_train"][:400]))
with open(f"{sys.argv[1]}/digits_y_short.csv", "w") as f:
    f.write("".join(f"{y}\n" for y in digits["y_train"][:10]))
json.dump({"input_shape": [64], "layers": [{"type": "dense", "outputs": 32}, {"type": "batch_norm"},
           {"type": "relu"}, {"type": "dense", "outputs": 10}, {"type": "softmax"}]},
          open(f"{sys.argv[1]}/digits_mlp.json", "w"))
PY
echo '{"method": "wachter", "return_all": false}' > "$work/config.json"
echo "1,2,3" > "$work/short.csv"
printf "1,2,3,4\n1,2,x,4\n" > "$work/text.csv"

version=$(sed -n 's/^#define CFX_VERSION_STRING "\(.*\)"$/\1/p' include/cfx.h)
expect "version (the header's CFX_VERSION_STRING, $version)" 0 "^${version//./\\.}\$" -- $cli --version
expect "defaults" 0 '"lam_init":0\.1' -- $cli defaults wachter
expect "methods lists every method" 0 'eccco' -- $cli methods
expect "methods: a method's keys with constraints" 0 'sparsify_repair_steps +100 +\(in 0\.\.\.100000\)' -- $cli methods eccco
expect "methods: unknown method" 1 'unknown method' -- $cli methods alibi
expect "explain --help names every method" 0 'eccco, feature_tweaking.*genetic' -- $cli explain --help
expect "predict" 0 '^[0-9.e-]+,[0-9.e-]+,[0-9.e-]+$' -- $cli predict -m "$work/model.json" -d "$work/x.csv"
expect "explain (config file)" 0 '"success":true' -- $cli explain -m "$work/model.json" -c "$work/config.json" -d "$work/x.csv"
expect "explain progress bar on stderr" 0 'instances 3/3' -- bash -c "$cli explain -m $work/model.json -c $work/config.json -d $work/x.csv 2>&1 >/dev/null"
expect "explain --quiet prints no bar" 0 '^$' -- bash -c "$cli explain -q -m $work/model.json -c $work/config.json -d $work/x.csv 2>&1 >/dev/null"
expect "explain (inline config)" 0 '"explanations"' -- $cli explain -m "$work/model.json" -c '{"method":"wachter","max_iter":100}' -d "$work/x.csv"
# Tree ensembles (docs/trees.md): an XGBoost JSON model predicts and Feature Tweaking explains it.
python3 -c "import json; rows = json.load(open('Tests/fixtures/breast_cancer_mlp.json'))['x_test'][:3]; print('\\n'.join(','.join(map(repr, r)) for r in rows))" >"$work/cancer.csv"
expect "predict (XGBoost JSON)" 0 '^[0-9.e-]+,[0-9.e-]+$' -- $cli predict -m Tests/fixtures/trees/xgboost_cancer.json -d "$work/cancer.csv"
expect "explain (feature_tweaking on LightGBM text)" 0 '"method":"feature_tweaking"' -- $cli explain -q -m Tests/fixtures/trees/lightgbm_cancer.txt --method feature_tweaking -d "$work/cancer.csv"
expect "explain (wachter on a tree ensemble: no gradient)" 1 'no gradient' -- $cli explain -q -m Tests/fixtures/trees/xgboost_cancer.json -c '{"method":"wachter","max_iter":10}' -d "$work/cancer.csv"
expect "explain without a config: Wachter defaults" 0 '"method":"wachter"' -- $cli explain -q -m "$work/model.json" -d "$work/x.csv"
expect "explain --method cfproto" 0 '"method":"cfproto"' -- $cli explain -q --method cfproto -m "$work/model.json" -d "$work/x.csv" -c '{"max_iterations": 50}'
expect "--method and the config's method disagree" 1 'disagrees' -- $cli explain -q --method jsma -m "$work/model.json" -c "$work/config.json" -d "$work/x.csv"
expect "explain --format table names the changed features" 0 '^    (sl|sw|pl|pw) +[-0-9.e]+ +[-0-9.e]+ +[-+][0-9.e]+' -- $cli explain -q -f table -m "$work/model.json" -c "$work/config.json" -d "$work/x.csv"
expect "explain --format csv header" 0 '^row,orig_class,orig_proba,cf_class,cf_proba,success,l1,sl,sw,pl,pw,cf_sl,cf_sw,cf_pl,cf_pw$' -- $cli explain -q -f csv -m "$work/model.json" -c "$work/config.json" -d "$work/x.csv"
expect "explain --format jsonl: one line per row" 0 '^3$' -- bash -c "$cli explain -q -f jsonl -m $work/model.json -c $work/config.json -d $work/x.csv | python3 -c 'import json,sys; rows=[json.loads(l) for l in sys.stdin]; assert [r[\"row\"] for r in rows]==[0,1,2] and all(\"all\" not in r for r in rows); print(len(rows))'"
expect "explain --format csv: counterfactual columns reproduce the class" 0 '^ok$' -- bash -c "$cli explain -q -f csv -m $work/model.json -c $work/config.json -d $work/x.csv > $work/cf.csv && python3 -c 'import csv; rows=list(csv.DictReader(open(\"$work/cf.csv\"))); assert len(rows)==3 and all(r[\"cf_class\"]!=r[\"orig_class\"] for r in rows); print(\"ok\")' && cut -d, -f12-15 $work/cf.csv | tail -n +2 > $work/cfx.csv && $cli predict -f jsonl -m $work/model.json -d $work/cfx.csv > $work/cfp.jsonl && python3 -c 'import csv,json; a=[json.loads(l)[\"class\"] for l in open(\"$work/cfp.jsonl\")]; b=[int(r[\"cf_class\"]) for r in csv.DictReader(open(\"$work/cf.csv\"))]; assert a==b, (a,b)'"
expect "explain --format csv: DeDUCE-style targets get a column" 0 '^row,target_class,' -- $cli explain -q --method jsma -f csv -m "$work/model.json" -c '{"feature_range": [-3, 3]}' -d "$work/x.csv"
expect "explain --format table warns about instances outside feature_range" 0 'warning: the instance lies outside feature_range \(feature [0-3] = ' -- $cli explain -q -f table -m "$work/model.json" -c '{"method": "wachter", "feature_range": [-0.5, 0.5], "max_iter": 100}' -d "$work/x.csv"
expect "predict --format json" 0 '^\{"predictions":\[\{"row":0,"class":[0-2],"proba"' -- $cli predict -f json -m "$work/model.json" -d "$work/x.csv"
expect "predict --format table" 0 '^ +row +class +p0 +p1 +p2$' -- $cli predict -f table -m "$work/model.json" -d "$work/x.csv"
expect "unknown --format" 64 'format' -- $cli predict -f yaml -m "$work/model.json" -d "$work/x.csv"
expect "help names the binary" 0 'USAGE: cfx-cli' -- $cli --help
expect "unknown method" 1 'unknown method "nope"' -- $cli explain -m "$work/model.json" -c '{"method":"nope"}' -d "$work/x.csv"
expect "explain a diverse sparse set (config keys)" 0 '"cfs":\[\{.*"restored":' -- $cli explain -q -m "$work/model.json" -c '{"method":"wachter","n_counterfactuals":3,"sparsify":true,"return_all":false}' -d "$work/x.csv"
expect "bad n_counterfactuals" 1 'n_counterfactuals: must be in 1...100' -- $cli explain -m "$work/model.json" -c '{"method":"wachter","n_counterfactuals":0}' -d "$work/x.csv"
expect "unknown key" 1 'tolx: unknown key' -- $cli explain -m "$work/model.json" -c '{"method":"wachter","tolx":1}' -d "$work/x.csv"
expect "malformed config" 1 'invalid JSON' -- $cli explain -m "$work/model.json" -c '{"method":' -d "$work/x.csv"
expect "short row" 1 'row 1 has 3 values' -- $cli predict -m "$work/model.json" -d "$work/short.csv"
expect "non-numeric cell" 1 "row 2, column 3" -- $cli predict -m "$work/model.json" -d "$work/text.csv"
expect "missing model file" 1 'cannot read' -- $cli predict -m "$work/none.json" -d "$work/x.csv"
# An ONNX file (skl2onnx's MLPClassifier on 4 features, Tests/fixtures/onnx) by its extension.
expect "predict --model m.onnx" 0 '^[0-9.e-]+,[0-9.e-]+,[0-9.e-]+$' -- $cli predict -m Tests/fixtures/onnx/sklearn_mlp.onnx -d "$work/x.csv"
printf 'not protobuf' > "$work/bad.onnx"
expect "a bad ONNX file names it" 1 'bad.onnx: ' -- $cli predict -m "$work/bad.onnx" -d "$work/x.csv"
same_predictions() {  # the spec with a weights file predicts exactly as the inline one, from another directory
    [ "$($cli predict -m "$work/model.json" -d "$work/x.csv")" = "$(cd / && "$OLDPWD/$cli" predict -m "$work/specs/model.json" -d "$work/x.csv")" ] && echo same
}
expect "predict (spec with a weights file elsewhere)" 0 '^same$' -- same_predictions
expect "explain (spec with a weights file elsewhere)" 0 '"success":true' -- $cli explain -m "$work/specs/model.json" -c "$work/config.json" -d "$work/x.csv"
expect "weights file missing a tensor" 1 'layers\.0\.bias: missing from .*broken\.safetensors' -- $cli predict -m "$work/specs/broken.json" -d "$work/x.csv"
expect "unknown defaults" 1 'unknown method' -- $cli defaults alibi

train=(-m "$work/digits_mlp.json" -d "$work/digits_x.csv" -l "$work/digits_y.csv")
expect "train defaults" 0 '"learning_rate":0\.001' -- $cli defaults train
expect "train (report on stdout)" 0 '"epochs_run":5' -- $cli train "${train[@]}" -c '{"epochs": 5, "learning_rate": 0.01}' -o "$work/trained.json" --quiet
expect "train (progress bar on stderr)" 0 'epoch 3/3 loss [0-9.]+ acc' -- $cli train "${train[@]}" -c '{"epochs": 3}' -o "$work/trained3.json"
expect "train --quiet prints no bar" 0 '^\{"history"' -- $cli train "${train[@]}" -c '{"epochs": 1}' -o "$work/trained1.json" -q
expect "trained model predicts" 0 '^[0-9.e-]+(,[0-9.e-]+){9}$' -- $cli predict -m "$work/trained.json" -d "$work/digits_x.csv"
if python3 - "$work" <<'PY'
import json, subprocess, sys
work = sys.argv[1]
spec = json.load(open(f"{work}/trained.json"))
assert "running_var" in json.dumps(spec), "the trained spec has batch norm's running statistics"
out = subprocess.run([".build/release/cfx-cli", "predict", "-m", f"{work}/trained.json", "-d", f"{work}/digits_x.csv"],
                     check=True, capture_output=True, text=True).stdout.split()
labels = [int(line) for line in open(f"{work}/digits_y.csv").read().split()[1:]]
correct = sum(max(range(10), key=lambda c: float(row.split(",")[c])) == y for row, y in zip(out, labels))
assert correct / len(labels) >= 0.9, correct / len(labels)
PY
then passed=$((passed + 1)); echo "PASS: trained model fits its training data (>= 90%)"
else failed=$((failed + 1)); echo "FAIL: trained model fits its training data (>= 90%)"; fi
expect "train with counterfactual training" 0 '"counterfactual":\{"n_ce":50,"mature_share"' -- $cli train "${train[@]}" -c '{"epochs": 2, "counterfactual_training": {"n_ce": 50, "max_steps": 10}}' -o "$work/trained_ct.json" -q
expect "train: bad counterfactual training key" 1 'n_cee' -- $cli train "${train[@]}" -c '{"counterfactual_training": {"n_cee": 5}}' -o "$work/bad.json"
expect "train: bad config" 1 'batch_size' -- $cli train "${train[@]}" -c '{"batch_size": 0}' -o "$work/bad.json"
expect "train: unknown key" 1 'epoch: unknown key' -- $cli train "${train[@]}" -c '{"epoch": 3}' -o "$work/bad.json"
expect "train: labels of another length" 1 '10 rows, but' -- $cli train -m "$work/digits_mlp.json" -d "$work/digits_x.csv" -l "$work/digits_y_short.csv" -o "$work/bad.json"
expect "train: autoencoder needs a matching output" 1 'autoencoder' -- $cli train -m "$work/digits_mlp.json" -d "$work/digits_x.csv" -c '{"loss": "mse"}' -o "$work/bad.json"
expect "train: missing model file" 1 'cannot read' -- $cli train -m "$work/none.json" -d "$work/digits_x.csv" -o "$work/bad.json"


# Streaming: CSV and JSONL of any size to JSONL in chunks, per-row errors, resume.
python3 - "$work" <<'PY'
import json, sys
fixture = json.load(open("Tests/fixtures/iris_mlp.json"))
rows = (fixture["x_test"] + fixture["x_train"])[:50]
with open(f"{sys.argv[1]}/big.csv", "w") as f:
    f.write("sl,sw,pl,pw\n")
    for i, row in enumerate(rows):
        if i == 7: f.write("1.0,nan,0.5,0.2\n")      # not finite: recorded as that row's error
        elif i == 11: f.write("1.0,abc,0.5,0.2\n")   # not a number: recorded too
        else: f.write(",".join(map(repr, row)) + "\n")
with open(f"{sys.argv[1]}/big.jsonl", "w") as f:
    for i, row in enumerate(rows[:10]):
        f.write(json.dumps(row if i % 2 else {"x": row}) + "\n")
PY
stream=(explain -m "$work/model.json" -c '{"method":"wachter","max_iter":200}' --chunk-rows 8)
expect "stream: CSV to JSONL with a progress bar" 0 'rows 50 \(100% of the input' -- $cli "${stream[@]}" -d "$work/big.csv" -o "$work/full.jsonl"
expect "stream: JSONL input" 0 '^$' -- $cli "${stream[@]}" -q -d "$work/big.jsonl" -o "$work/from_jsonl.jsonl"
# A run stopped after 21 rows (the 22nd line half written) resumes and gives the same file.
head -n 21 "$work/full.jsonl" > "$work/partial.jsonl"
sed -n 22p "$work/full.jsonl" | head -c 40 >> "$work/partial.jsonl"
expect "stream: --resume" 0 '^$' -- $cli "${stream[@]}" -q --resume -d "$work/big.csv" -o "$work/partial.jsonl"
if python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
full = [json.loads(line) for line in open(f"{work}/full.jsonl")]
resumed = [json.loads(line) for line in open(f"{work}/partial.jsonl")]
assert [r["row"] for r in full] == list(range(50)), "one line per row, in order"
assert [r["row"] for r in resumed] == list(range(50)), "resumed: every row exactly once"
strip = lambda r: {k: v for k, v in r.items() if k != "meta"}
assert [strip(r) for r in resumed] == [strip(r) for r in full], "resumed run equals the full run"
assert full[7]["success"] is False and full[7]["cf"] is None and "row 7, feature 1 is nan" in full[7]["error"]["message"]
assert full[7]["error"]["status"] == "non-finite number"
assert full[11]["error"]["status"] == "invalid argument" and '"abc" is not a number' in full[11]["error"]["message"]
ok = [r for i, r in enumerate(full) if i not in (7, 11)]
assert all("error" not in r for r in ok) and sum(r["success"] for r in ok) >= 45
jl = [json.loads(line) for line in open(f"{work}/from_jsonl.jsonl")]
assert len(jl) == 10 and [strip(r) for r in jl if r["row"] != 7] == [strip(r) for r in full[:10] if r["row"] != 7], \
    "JSONL input gives the CSV's lines (row 7 is NaN in the CSV only)"
PY
then passed=$((passed + 1)); echo "PASS: stream: rows once, in order, per-row errors, resume equals a full run"
else failed=$((failed + 1)); echo "FAIL: stream: rows once, in order, per-row errors, resume equals a full run"; fi
expect "stream: --chunk-rows must be positive" 1 'chunk-rows' -- $cli "${stream[@]}" --chunk-rows 0 -d "$work/big.csv" -o "$work/bad.jsonl"
expect "stream: missing input" 1 'cannot read' -- $cli "${stream[@]}" -d "$work/none.csv" -o "$work/bad.jsonl"

# DeDUCE and JSMA give one explanation per target class: a row's line holds them all.
expect "stream: JSMA" 0 '^$' -- $cli explain -q --method jsma -m "$work/model.json" -c '{"feature_range": [-3, 3]}' --chunk-rows 2 -d "$work/x.csv" -o "$work/jsma.jsonl"
if python3 - "$work" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(f"{sys.argv[1]}/jsma.jsonl")]
assert [r["row"] for r in lines] == [0, 1, 2], "one line per row, numbered across chunks"
for r in lines:
    targets = [e["target_class"] for e in r["explanations"]]
    assert len(targets) == 2 and r["explanations"][0]["orig_class"] not in targets, targets
    assert all("instance" not in e for e in r["explanations"]), "instance numbers the chunk: left out"
PY
then passed=$((passed + 1)); echo "PASS: stream: JSMA rows hold every target's explanation"
else failed=$((failed + 1)); echo "FAIL: stream: JSMA rows hold every target's explanation"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
