/*
 * wachter_bench.c — speed and quality of cfx's Wachter method on the iris MLP fixture.
 *
 * Two models of the same network:
 *   native    cfx_model_create_json on the fixture's spec (exact gradients by backpropagation)
 *   blackbox  cfx_model_create_callbacks whose predict calls cfx_model_predict on the native
 *             model and which has no vjp, so cfx uses central differences (eps 0.01)
 * For each model and n_threads in {1, 2}, all test instances go to one cfx_explain call with
 * {"method":"wachter","return_all":false,"n_threads":T}, repeated R times; the median wall time
 * (CLOCK_MONOTONIC around cfx_explain) divided by the number of instances is the time per
 * counterfactual. One more row runs the native model on 1 thread with "return_all": true
 * (the default: each lambda round's closest candidate in "all"), to show what "all" costs.
 *
 * Usage: wachter_bench [--fixture PATH] [--repeats R] [--threads T2] [--json OUT]
 * Prints a Markdown table to stdout. Built and run by `python3 benchmarks/harness.py wachter` (benchmarks/cfxbench/wachter.py).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfx.h"

#define VALID_PROBA 0.95

static void die(const char *what, const cfx_error *err) {
    fprintf(stderr, "wachter_bench: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- The black-box model: predict through the native model, no vjp ------------------------- */

static int blackbox_predict(void *user, const double *x, size_t n, size_t d, double *proba_out) {
    const cfx_model *native = user;
    return cfx_model_predict(native, x, n, d, proba_out, NULL) == CFX_OK ? 0 : 1;
}

/* ---- One measured configuration ------------------------------------------------------------ */

typedef struct {
    const char *model;   /* "native" or "blackbox" */
    int threads;         /* n_threads asked for */
    int return_all;
    /* measured */
    int threads_used;
    double ms_median;    /* median wall ms per counterfactual */
    double ms_min, ms_max;
    double cfx_seconds_median; /* the "seconds" cfx reports for the whole batch */
    double json_bytes;   /* length of the returned JSON */
    int n, n_success, n_valid;
    double mean_l1;      /* over valid counterfactuals */
    double mean_model_calls, mean_predicted_rows, mean_gradient_evaluations;
    double mean_instance_ms; /* mean of meta.seconds, in ms */
    int deterministic;   /* every repeat returned the same counterfactuals */
    json_t *per_instance; /* [{"orig_class", "cf_class", "valid", "l1"}], owned */
    char *cf_signature;  /* for comparing runs; owned */
} result;

/* A compact text of every instance's cf (class and X rounded to 12 digits), to compare runs. */
static char *cf_signature(json_t *explanations) {
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    s[0] = 0;
    size_t i;
    json_t *e;
    json_array_foreach(explanations, i, e) {
        char buf[512];
        json_t *cf = json_object_get(e, "cf");
        int w;
        if (!json_is_object(cf)) {
            w = snprintf(buf, sizeof buf, "%zu:null;", i);
        } else {
            json_t *X = json_object_get(cf, "X");
            w = snprintf(buf, sizeof buf, "%zu:%lld", i, (long long)json_integer_value(json_object_get(cf, "class")));
            size_t j;
            json_t *v;
            json_array_foreach(X, j, v) {
                w += snprintf(buf + w, sizeof buf - (size_t)w, ",%.12g", json_number_value(v));
            }
            w += snprintf(buf + w, sizeof buf - (size_t)w, ";");
        }
        while (len + (size_t)w + 1 > cap) { cap *= 2; s = realloc(s, cap); }
        memcpy(s + len, buf, (size_t)w + 1);
        len += (size_t)w;
    }
    return s;
}

static void measure(result *r, const cfx_model *model, const double *x, size_t n, size_t d, int repeats) {
    char config[256];
    snprintf(config, sizeof config, "{\"method\":\"wachter\",\"return_all\":%s,\"n_threads\":%d}",
             r->return_all ? "true" : "false", r->threads);
    cfx_error err;
    cfx_explainer *explainer = NULL;
    if (cfx_explainer_create(model, config, &explainer, &err) != CFX_OK) die("cfx_explainer_create", &err);

    double *wall = calloc((size_t)repeats, sizeof *wall);
    double *reported = calloc((size_t)repeats, sizeof *reported);
    r->deterministic = 1;
    r->n = (int)n;
    for (int rep = 0; rep < repeats; rep++) {
        char *out = NULL;
        double t0 = now_seconds();
        cfx_status st = cfx_explain(explainer, x, n, d, &out, &err);
        double t1 = now_seconds();
        if (st != CFX_OK) die("cfx_explain", &err);
        wall[rep] = (t1 - t0) * 1e3 / (double)n;
        r->json_bytes = (double)strlen(out);

        json_error_t jerr;
        json_t *root = json_loads(out, 0, &jerr);
        cfx_free(out);
        if (!root) { fprintf(stderr, "wachter_bench: cfx returned invalid JSON: %s\n", jerr.text); exit(1); }
        reported[rep] = json_number_value(json_object_get(root, "seconds"));
        r->threads_used = (int)json_integer_value(json_object_get(root, "n_threads"));
        json_t *explanations = json_object_get(root, "explanations");
        if (json_array_size(explanations) != n) { fprintf(stderr, "wachter_bench: %zu explanations for %zu instances\n", json_array_size(explanations), n); exit(1); }

        char *sig = cf_signature(explanations);
        if (rep == 0) {
            r->cf_signature = sig;
            /* quality and cost numbers from the first repeat (the search is deterministic) */
            int succ = 0, valid = 0;
            double l1 = 0, calls = 0, rows = 0, grads = 0, secs = 0;
            size_t i;
            json_t *e;
            r->per_instance = json_array();
            json_array_foreach(explanations, i, e) {
                json_t *cf = json_object_get(e, "cf");
                json_t *meta = json_object_get(e, "meta");
                long long orig = json_integer_value(json_object_get(e, "orig_class"));
                json_t *rec = json_object();
                json_object_set_new(rec, "orig_class", json_integer(orig));
                json_object_set_new(rec, "cf_class", json_is_object(cf) ? json_copy(json_object_get(cf, "class")) : json_null());
                json_object_set_new(rec, "valid", json_false());
                json_object_set_new(rec, "l1", json_null());
                json_array_append_new(r->per_instance, rec);
                calls += (double)json_integer_value(json_object_get(meta, "model_calls"));
                rows += (double)json_integer_value(json_object_get(meta, "predicted_rows"));
                grads += (double)json_integer_value(json_object_get(meta, "gradient_evaluations"));
                secs += json_number_value(json_object_get(meta, "seconds"));
                if (!json_is_object(cf)) continue;
                succ++;
                long long cls = json_integer_value(json_object_get(cf, "class"));
                double p = json_number_value(json_array_get(json_object_get(cf, "proba"), (size_t)cls));
                if (cls != orig && p >= VALID_PROBA) {
                    valid++;
                    double dist = 0;
                    json_t *X = json_object_get(cf, "X");
                    for (size_t j = 0; j < d; j++) dist += fabs(json_number_value(json_array_get(X, j)) - x[i * d + j]);
                    l1 += dist;
                    json_object_set_new(rec, "valid", json_true());
                    json_object_set_new(rec, "l1", json_real(dist));
                }
            }
            r->n_success = succ;
            r->n_valid = valid;
            r->mean_l1 = valid ? l1 / valid : NAN;
            r->mean_model_calls = calls / (double)n;
            r->mean_predicted_rows = rows / (double)n;
            r->mean_gradient_evaluations = grads / (double)n;
            r->mean_instance_ms = secs * 1e3 / (double)n;
        } else {
            if (strcmp(sig, r->cf_signature) != 0) r->deterministic = 0;
            free(sig);
        }
        json_decref(root);
    }
    double *sorted = malloc((size_t)repeats * sizeof *sorted);
    memcpy(sorted, wall, (size_t)repeats * sizeof *sorted);
    r->ms_median = median(sorted, repeats);
    r->ms_min = sorted[0];
    r->ms_max = sorted[repeats - 1];
    r->cfx_seconds_median = median(reported, repeats);
    free(sorted);
    free(wall);
    free(reported);
    cfx_explainer_free(explainer);
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    const char *fixture = "Tests/fixtures/iris_mlp.json";
    const char *json_path = NULL;
    int repeats = 7, threads2 = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fixture") && i + 1 < argc) fixture = argv[++i];
        else if ((!strcmp(argv[i], "--repeats") || !strcmp(argv[i], "-r")) && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads2 = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--fixture PATH] [--repeats R] [--threads T2] [--json OUT]\n", argv[0]);
            return 2;
        }
    }
    if (repeats < 1) repeats = 1;
    if (strcmp(cfx_version(), CFX_VERSION_STRING) != 0) {
        fprintf(stderr, "wachter_bench: header %s, library %s\n", CFX_VERSION_STRING, cfx_version());
        return 1;
    }

    json_error_t jerr;
    json_t *fx = json_load_file(fixture, 0, &jerr);
    if (!fx) { fprintf(stderr, "wachter_bench: %s: %s (line %d)\n", fixture, jerr.text, jerr.line); return 1; }
    char *spec = json_dumps(json_object_get(fx, "model"), JSON_COMPACT);
    json_t *xt = json_object_get(fx, "x_test");
    size_t n = json_array_size(xt), d = json_array_size(json_array_get(xt, 0));
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * d + j] = json_number_value(json_array_get(json_array_get(xt, i), j));

    cfx_error err;
    cfx_model *native = NULL, *blackbox = NULL;
    if (cfx_model_create_json(spec, &native, &err) != CFX_OK) die("cfx_model_create_json", &err);
    size_t d_model = 0, k = 0;
    if (cfx_model_shape(native, &d_model, &k, &err) != CFX_OK) die("cfx_model_shape", &err);
    if (d_model != d) { fprintf(stderr, "wachter_bench: model has %zu features, x_test %zu\n", d_model, d); return 1; }
    if (cfx_model_create_callbacks(d, k, blackbox_predict, NULL, native, &blackbox, &err) != CFX_OK)
        die("cfx_model_create_callbacks", &err);

    /* sanity: the native model reproduces the fixture's proba_test */
    double *proba = malloc(n * k * sizeof *proba), max_diff = 0;
    if (cfx_model_predict(native, x, n, d, proba, &err) != CFX_OK) die("cfx_model_predict", &err);
    json_t *pt = json_object_get(fx, "proba_test");
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++) {
            double diff = fabs(proba[i * k + c] - json_number_value(json_array_get(json_array_get(pt, i), c)));
            if (diff > max_diff) max_diff = diff;
        }
    if (max_diff > 1e-9) fprintf(stderr, "wachter_bench: warning: predict differs from proba_test by %g\n", max_diff);

    result rs[5] = {
        {.model = "native", .threads = 1},   {.model = "native", .threads = threads2},
        {.model = "blackbox", .threads = 1}, {.model = "blackbox", .threads = threads2},
        {.model = "native", .threads = 1, .return_all = 1},
    };
    int nr = 5;
    for (int i = 0; i < nr; i++) {
        fprintf(stderr, "wachter_bench: %s, %d thread(s), return_all %s, %d repeats...\n", rs[i].model, rs[i].threads,
                rs[i].return_all ? "true" : "false", repeats);
        measure(&rs[i], !strcmp(rs[i].model, "native") ? native : blackbox, x, n, d, repeats);
    }
    /* The same counterfactuals whatever the thread count, and (up to gradient error) model kind? */
    int same_threads_native = !strcmp(rs[0].cf_signature, rs[1].cf_signature);
    int same_threads_blackbox = !strcmp(rs[2].cf_signature, rs[3].cf_signature);
    int same_return_all = !strcmp(rs[0].cf_signature, rs[4].cf_signature);

    printf("| model | n_threads (used) | return_all | ms / cf (median of %d) | min–max ms / cf | valid | mean L1 | model calls / inst | predicted rows / inst | gradients / inst | JSON KB |\n", repeats);
    printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nr; i++) {
        result *r = &rs[i];
        printf("| %s | %d (%d) | %s | %.3f | %.3f–%.3f | %d/%d | %.3f | %.0f | %.0f | %.0f | %.1f |\n", r->model, r->threads,
               r->threads_used, r->return_all ? "true" : "false", r->ms_median, r->ms_min, r->ms_max, r->n_valid, r->n,
               r->mean_l1, r->mean_model_calls, r->mean_predicted_rows, r->mean_gradient_evaluations, r->json_bytes / 1024.0);
    }
    printf("\nvalid: cf found, cf.class != orig_class and cf.proba[cf.class] >= %.2f. ms / cf: wall time of one "
           "cfx_explain call over all %zu instances divided by %zu. Same counterfactuals on 1 and %d threads: native %s, "
           "blackbox %s; with return_all: %s; identical across repeats: %s. Native predict vs proba_test: max |diff| %.2g.\n",
           VALID_PROBA, n, n, threads2, same_threads_native ? "yes" : "NO", same_threads_blackbox ? "yes" : "NO",
           same_return_all ? "yes" : "NO",
           (rs[0].deterministic && rs[1].deterministic && rs[2].deterministic && rs[3].deterministic && rs[4].deterministic) ? "yes" : "NO",
           max_diff);

    if (json_path) {
        json_t *out = json_object();
        json_object_set_new(out, "fixture", json_string(fixture));
        json_object_set_new(out, "cfx_version", json_string(cfx_version()));
        json_object_set_new(out, "instances", json_integer((json_int_t)n));
        json_object_set_new(out, "repeats", json_integer(repeats));
        json_object_set_new(out, "valid_proba", json_real(VALID_PROBA));
        json_object_set_new(out, "predict_max_abs_diff", json_real(max_diff));
        json_object_set_new(out, "same_cf_across_threads_native", json_boolean(same_threads_native));
        json_object_set_new(out, "same_cf_across_threads_blackbox", json_boolean(same_threads_blackbox));
        json_object_set_new(out, "same_cf_with_return_all", json_boolean(same_return_all));
        json_t *arr = json_array();
        for (int i = 0; i < nr; i++) {
            result *r = &rs[i];
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(r->model));
            json_object_set_new(o, "n_threads", json_integer(r->threads));
            json_object_set_new(o, "n_threads_used", json_integer(r->threads_used));
            json_object_set_new(o, "return_all", json_boolean(r->return_all));
            json_object_set_new(o, "ms_per_cf_median", json_real(r->ms_median));
            json_object_set_new(o, "ms_per_cf_min", json_real(r->ms_min));
            json_object_set_new(o, "ms_per_cf_max", json_real(r->ms_max));
            json_object_set_new(o, "cfx_reported_seconds_median", json_real(r->cfx_seconds_median));
            json_object_set_new(o, "mean_instance_ms", json_real(r->mean_instance_ms));
            json_object_set_new(o, "json_bytes", json_integer((json_int_t)r->json_bytes));
            json_object_set_new(o, "n", json_integer(r->n));
            json_object_set_new(o, "n_success", json_integer(r->n_success));
            json_object_set_new(o, "n_valid", json_integer(r->n_valid));
            json_object_set_new(o, "validity", json_real((double)r->n_valid / r->n));
            json_object_set_new(o, "mean_l1", isnan(r->mean_l1) ? json_null() : json_real(r->mean_l1));
            json_object_set_new(o, "mean_model_calls", json_real(r->mean_model_calls));
            json_object_set_new(o, "mean_predicted_rows", json_real(r->mean_predicted_rows));
            json_object_set_new(o, "mean_gradient_evaluations", json_real(r->mean_gradient_evaluations));
            json_object_set_new(o, "deterministic_across_repeats", json_boolean(r->deterministic));
            json_object_set(o, "instances", r->per_instance);
            json_array_append_new(arr, o);
        }
        json_object_set_new(out, "results", arr);
        if (json_dump_file(out, json_path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
            fprintf(stderr, "wachter_bench: cannot write %s\n", json_path);
            return 1;
        }
        json_decref(out);
    }

    for (int i = 0; i < nr; i++) {
        free(rs[i].cf_signature);
        json_decref(rs[i].per_instance);
    }
    cfx_model_free(blackbox);
    cfx_model_free(native);
    free(proba);
    free(x);
    free(spec);
    json_decref(fx);
    return 0;
}
