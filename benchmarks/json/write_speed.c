/*
 * write_speed.c — how fast cfx writes JSON, alone: cfx_model_spec on the network of an
 * mlp-speed cache file (benchmarks/out/mlp_models/NAME.json) writes every weight inline as a
 * number, like the arrays of an explanation, with no search around it. Prints the bytes of one
 * spec and the median over REPEATS batches of CALLS calls of the MB of JSON written per second.
 *
 * Usage: write_speed CACHE.json [REPEATS] [CALLS]   (built and run by `benchmarks/harness.py json-output`)
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfx.h"
#include "clock.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: write_speed CACHE.json [REPEATS] [CALLS]\n");
        return 1;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 7, calls = argc > 3 ? atoi(argv[3]) : 50;
    json_error_t error;
    json_t *cache = json_load_file(argv[1], 0, &error);
    char *spec = cache ? json_dumps(json_object_get(cache, "spec"), JSON_COMPACT) : NULL;
    cfx_error err;
    cfx_model *model = NULL;
    if (!spec || cfx_model_create_json(spec, &model, &err) != CFX_OK) {
        fprintf(stderr, "write_speed: %s: cannot read the model\n", argv[1]);
        return 1;
    }
    double *rates = malloc((size_t)repeats * sizeof *rates), bytes = 0;
    for (int r = -1; r < repeats; r++) {  /* r = -1: warm-up */
        double started = now_seconds();
        for (int c = 0; c < calls; c++) {
            char *json = NULL;
            if (cfx_model_spec(model, &json, &err) != CFX_OK) {
                fprintf(stderr, "write_speed: %s\n", err.message);
                return 1;
            }
            bytes = (double)strlen(json);
            cfx_free(json);
        }
        if (r >= 0) rates[r] = bytes * calls / 1e6 / (now_seconds() - started);
    }
    qsort(rates, (size_t)repeats, sizeof *rates, cmp_double);
    printf("cfx_model_spec: %.0f KB of JSON per call, %.0f MB/s (median of %d x %d calls; min %.0f, max %.0f)\n",
           bytes / 1e3, rates[repeats / 2], repeats, calls, rates[0], rates[repeats - 1]);
    cfx_model_free(model);
    free(spec);
    free(rates);
    json_decref(cache);
    return 0;
}
