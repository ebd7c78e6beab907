/*
 * explain_file — explains the rows of a CSV file with a native cfx model read from a model file
 * (cfx_model_load: a JSON spec, or an ONNX file when the path ends in .onnx).
 *
 *   explain_file MODEL.json|MODEL.onnx DATA.csv [N_ROWS [CONFIG_JSON]]
 *
 * DATA.csv has one instance per line, optionally after a header line of feature names (used in
 * the printout). Prints, per instance, the class change and the features that moved.
 * Exits non-zero on any cfx error, or when no instance gets a counterfactual.
 *
 * Build: cc explain_file.c $(pkg-config --cflags --libs cfx jansson)
 */
#include <cfx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfx_result.h"

#define MAX_ROWS 1024

/* Reads up to max_rows rows of d numbers; a first line that does not start with a number is taken
 * as the header, split on commas into names[0..d). Returns the row count, or -1. */
static long read_csv(const char *path, size_t d, double *x, size_t max_rows, char names[][64]) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return -1; }
    char line[4096];
    long n = 0;
    int first = 1;
    while (fgets(line, sizeof line, f) && (size_t)n < max_rows) {
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        char *end;
        strtod(line, &end);
        if (first && end == line) {  /* header */
            char *save = NULL, *tok = strtok_r(line, ",\r\n", &save);
            for (size_t j = 0; tok && j < d; j++, tok = strtok_r(NULL, ",\r\n", &save))
                snprintf(names[j], 64, "%s", tok);
            first = 0;
            continue;
        }
        first = 0;
        char *p = line;
        for (size_t j = 0; j < d; j++) {
            x[(size_t)n * d + j] = strtod(p, &end);
            if (end == p) {
                fprintf(stderr, "%s: line %ld: expected %zu numbers\n", path, n + 1, d);
                fclose(f);
                return -1;
            }
            p = end + (*end == ',');
        }
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.json|MODEL.onnx DATA.csv [N_ROWS [CONFIG_JSON]]\n", argv[0]);
        return 2;
    }
    size_t max_rows = argc > 3 ? (size_t)atol(argv[3]) : 5;
    const char *config = argc > 4 ? argv[4]
        : "{\"method\": \"wachter\", \"target_class\": \"other\", \"return_all\": false}";
    if (max_rows == 0 || max_rows > MAX_ROWS) max_rows = MAX_ROWS;

    printf("cfx %s (header %s)\n", cfx_version(), CFX_VERSION_STRING);
    cfx_error err;
    cfx_model *model = NULL;
    if (cfx_model_load(argv[1], &model, &err) != CFX_OK) {
        fprintf(stderr, "%s: %s (%s)\n", argv[1], err.message, cfx_status_string(err.code));
        return 1;
    }
    size_t d = 0, k = 0;
    cfx_model_shape(model, &d, &k, NULL);
    printf("model %s: %zu features, %zu classes\n", argv[1], d, k);
    if (d > CFX_RESULT_MAX_FEATURES || k > CFX_RESULT_MAX_CLASSES) {
        fprintf(stderr, "this example handles at most %d features and %d classes\n",
                CFX_RESULT_MAX_FEATURES, CFX_RESULT_MAX_CLASSES);
        return 1;
    }

    char (*names)[64] = calloc(d, sizeof *names);
    double *x = malloc(max_rows * d * sizeof *x);
    for (size_t j = 0; j < d; j++) snprintf(names[j], 64, "x%zu", j);
    long n = read_csv(argv[2], d, x, max_rows, names);
    if (n <= 0) { fprintf(stderr, "%s: no instances\n", argv[2]); return 1; }

    cfx_explainer *explainer = NULL;
    if (cfx_explainer_create(model, config, &explainer, &err) != CFX_OK) {
        fprintf(stderr, "config: %s\n", err.message);
        return 1;
    }
    cfx_model_free(model);  /* the explainer keeps its own reference */

    char *json = NULL;
    if (cfx_explain(explainer, x, (size_t)n, d, &json, &err) != CFX_OK) {
        fprintf(stderr, "explain: %s (%s)\n", err.message, cfx_status_string(err.code));
        return 1;
    }
    cfx_result *results = calloc((size_t)n, sizeof *results);
    long got = cfx_result_read(json, results, (size_t)n);
    cfx_free(json);
    if (got != n) { fprintf(stderr, "unexpected result JSON\n"); return 1; }

    int width = 7;
    for (size_t j = 0; j < d; j++) if ((int)strlen(names[j]) > width) width = (int)strlen(names[j]);
    int n_ok = 0;
    for (long i = 0; i < n; i++) {
        const cfx_result *r = &results[i];
        const double *row = x + (size_t)i * d;
        printf("\nInstance %ld: class %d (p=%.3f)", i + 1, r->orig_class, r->orig_proba);
        if (!r->success || !r->has_cf) { printf(" -> no counterfactual found\n"); continue; }
        n_ok++;
        printf(" -> class %d (p=%.3f)\n", r->cf_class, r->cf_proba[r->cf_class]);
        printf("    %-*s  %8s  %8s  %8s\n", width, "feature", "before", "after", "change");
        for (size_t j = 0; j < d; j++) {
            double delta = r->cf_x[j] - row[j];
            if (delta > -0.005 && delta < 0.005) continue;
            printf("    %-*s  %8.3f  %8.3f  %+8.3f\n", width, names[j], row[j], r->cf_x[j], delta);
        }
        printf("    L1 distance %.3f, lambda %.4g, model calls %.0f\n", r->distance, r->lambda,
               r->model_calls);
    }
    printf("\n%d/%ld instances have a counterfactual.\n", n_ok, n);
    cfx_explainer_free(explainer);
    free(results);
    free(x);
    free(names);
    return n_ok > 0 ? 0 : 1;
}
