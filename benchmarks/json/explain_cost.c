/*
 * explain_cost.c — what an explanation's output costs from C: cfx_explain on one row per call,
 * in several configurations of the same search, on an MLP of the mlp-speed subcommand's cache
 * (benchmarks/out/mlp_models/NAME.json: {"spec", "X_train", "X_test", ...}).
 *
 * Each configuration is a JSON object of config keys added to the method's parameters (Wachter:
 * the defaults; CFProto: use_kdtree true, theta 10, fitted on X_train; both with feature_range =
 * the training range, n_threads 1, as in mlp-speed). For each, N test rows are explained one
 * per call, REPEATS rounds after a warm-up, each round one pass of every configuration in turn;
 * the table gives the median over passes of the mean ms per call (wall, CLOCK_MONOTONIC around
 * cfx_explain: the search, building and writing the JSON; and CPU time of the calling thread,
 * which runs the search with n_threads 1, steadier on a shared machine), its ratio to the first
 * configuration's, and the mean bytes of JSON per call. The last column is the output's marginal
 * speed against the first configuration: (bytes - bytes_0) / (cpu - cpu_0), MB of output per
 * second of extra CPU time (everything the extra output costs: recording the candidates, the JSON
 * values, writing them).
 *
 * Usage: explain_cost CACHE.json METHOD N REPEATS CONFIG_JSON... (prints a Markdown table)
 * Built and run by `python3 benchmarks/harness.py json-output` (benchmarks/json/run_json.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfx.h"
#include "clock.h"

static void die(const char *what, const char *why) {
    fprintf(stderr, "explain_cost: %s: %s\n", what, why);
    exit(1);
}

/* The rows of a JSON array of arrays as one row-major buffer; *n and *d get the shape. */
static double *rows_of(json_t *array, size_t *n, size_t *d) {
    *n = json_array_size(array);
    *d = *n ? json_array_size(json_array_get(array, 0)) : 0;
    double *x = malloc(*n * *d * sizeof *x);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < *d; j++)
            x[i * *d + j] = json_number_value(json_array_get(json_array_get(array, i), j));
    return x;
}

/* The method's config: its parameters, the training range, one thread, plus `extra`'s keys. */
static char *config_text(const char *method, const double *x_train, size_t n, size_t d, const char *extra) {
    json_t *config = json_pack("{s:s, s:i}", "method", method, "n_threads", 1);
    if (strcmp(method, "cfproto") == 0) {
        json_object_set_new(config, "use_kdtree", json_true());
        json_object_set_new(config, "theta", json_real(10.0));
    }
    json_t *lo = json_array(), *hi = json_array();
    for (size_t j = 0; j < d; j++) {
        double a = x_train[j], b = x_train[j];
        for (size_t i = 1; i < n; i++) {
            double v = x_train[i * d + j];
            a = v < a ? v : a;
            b = v > b ? v : b;
        }
        json_array_append_new(lo, json_real(a));
        json_array_append_new(hi, json_real(b));
    }
    json_object_set_new(config, "feature_range", json_pack("[o, o]", lo, hi));
    json_error_t error;
    json_t *keys = json_loads(extra, 0, &error);
    if (!json_is_object(keys)) die(extra, "expected a JSON object of config keys");
    json_object_update(config, keys);
    json_decref(keys);
    char *text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    return text;
}

int main(int argc, char **argv) {
    if (argc < 6) die("usage", "explain_cost CACHE.json METHOD N REPEATS CONFIG_JSON...");
    const char *method = argv[2];
    int n_rows = atoi(argv[3]), repeats = atoi(argv[4]);
    json_error_t error;
    json_t *cache = json_load_file(argv[1], 0, &error);
    if (!cache) die(argv[1], error.text);
    size_t n_train, n_test, d, d2;
    double *x_train = rows_of(json_object_get(cache, "X_train"), &n_train, &d);
    double *x_test = rows_of(json_object_get(cache, "X_test"), &n_test, &d2);
    if ((size_t)n_rows > n_test) n_rows = (int)n_test;
    char *spec = json_dumps(json_object_get(cache, "spec"), JSON_COMPACT);
    cfx_error err;
    cfx_model *model = NULL;
    if (cfx_model_create_json(spec, &model, &err) != CFX_OK) die("model", err.message);

    int n_configs = argc - 5;
    cfx_explainer **explainers = calloc((size_t)n_configs, sizeof *explainers);
    double *wall = calloc((size_t)(n_configs * repeats), sizeof *wall), *cpu = calloc((size_t)(n_configs * repeats), sizeof *cpu);
    double *bytes = calloc((size_t)n_configs, sizeof *bytes);
    for (int c = 0; c < n_configs; c++) {
        char *config = config_text(method, x_train, n_train, d, argv[5 + c]);
        if (cfx_explainer_create(model, config, &explainers[c], &err) != CFX_OK) die(argv[5 + c], err.message);
        if (strcmp(method, "cfproto") == 0 && cfx_explainer_fit(explainers[c], x_train, n_train, d, NULL, &err) != CFX_OK)
            die("fit", err.message);
        free(config);
    }
    /* Passes in turn, every configuration once per round, so that the machine's other load falls
     * on all of them alike; round -1 warms up. */
    for (int r = -1; r < repeats; r++)
        for (int c = 0; c < n_configs; c++) {
            double started = now_seconds(), cpu_started = cpu_seconds();
            for (int i = 0; i < n_rows; i++) {
                char *json = NULL;
                if (cfx_explain(explainers[c], x_test + (size_t)i * d, 1, d, &json, &err) != CFX_OK) die("explain", err.message);
                if (r == 0) bytes[c] += (double)strlen(json) / n_rows;
                cfx_free(json);
            }
            if (r >= 0) {
                wall[c * repeats + r] = (now_seconds() - started) * 1e3 / n_rows;
                cpu[c * repeats + r] = (cpu_seconds() - cpu_started) * 1e3 / n_rows;
            }
        }
    printf("| configuration | ms / call (median) | thread CPU ms / call (median) | CPU / first row's | KB JSON / call "
           "| extra output MB/s (CPU) |\n|---|---:|---:|---:|---:|---:|\n");
    double cpu0 = 0;
    for (int c = 0; c < n_configs; c++) {
        qsort(wall + c * repeats, (size_t)repeats, sizeof *wall, cmp_double);
        qsort(cpu + c * repeats, (size_t)repeats, sizeof *cpu, cmp_double);
        double ms = wall[c * repeats + repeats / 2], cpu_ms = cpu[c * repeats + repeats / 2];
        if (c == 0) cpu0 = cpu_ms;
        printf("| `%s` | %.3f | %.3f | %.2f | %.1f | ", argv[5 + c], ms, cpu_ms, cpu_ms / cpu0, bytes[c] / 1e3);
        if (c > 0 && cpu_ms > cpu0) printf("%.0f |\n", (bytes[c] - bytes[0]) / 1e3 / (cpu_ms - cpu0));
        else printf(" |\n");
        cfx_explainer_free(explainers[c]);
    }
    free(explainers);
    free(wall);
    free(cpu);
    free(bytes);
    cfx_model_free(model);
    free(spec);
    free(x_train);
    free(x_test);
    json_decref(cache);
    return 0;
}
