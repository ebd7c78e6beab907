# skip_feature FEATURE REASON: reports an optional suite as skipped. When CFX_REQUIRE names FEATURE
# (CI sets it in .ci/run, e.g. CFX_REQUIRE=torch,dask,sanitizers), the skip is an error instead:
# prints why and returns 1, so that a green run means every required feature ran. Python tests tag
# their skips the same way ("[FEATURE] reason", Tests/python/conftest.py). Sourced by the scripts.
skip_feature() {
    local feature=$1 reason=$2
    if [[ ",${CFX_REQUIRE:-}," == *",$feature,"* ]]; then
        echo "==> [$feature] skipped, but CFX_REQUIRE=$CFX_REQUIRE requires it: $reason" >&2
        return 1
    fi
    echo "==> [$feature] skipped: $reason"
}
