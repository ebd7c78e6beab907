/*
 * threaded — one explainer shared by 4 POSIX threads, each explaining different instances.
 *
 *   threaded MODEL.json DATA.csv
 *
 * Models and explainers are immutable after creation, so any number of threads may call
 * cfx_explain on the same handle at once (see cfx.h). Thread t explains rows t, t+4, t+8, ...
 * one call per row. Every result is checked: a counterfactual exists, the model predicts its
 * class at its point, that class differs from the original, its probability is within tol of
 * target_proba, and it equals (bit for bit) the counterfactual of a single-threaded batch run
 * on the main thread: results do not depend on the thread they ran on.
 *
 * Build: cc threaded.c $(pkg-config --cflags --libs cfx jansson) -lpthread -lm
 */
#include <cfx.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfx_result.h"

#define N_THREADS 4
#define MAX_ROWS 256
#define TARGET_PROBA 1.0
#define TOL 0.05

static const char *CONFIG =
    "{\"method\": \"wachter\", \"target_class\": \"other\", \"target_proba\": 1.0, \"tol\": 0.05,"
    " \"return_all\": false, \"n_threads\": 1}";

typedef struct job {
    int id;
    const cfx_explainer *explainer;  /* shared by all threads */
    const cfx_model *model;
    const double *x;
    size_t n, d;
    cfx_result *results;             /* this thread writes results[i] for its rows only */
    int explained, errors;
    char message[CFX_ERROR_MESSAGE_SIZE + 64];
} job;

static void *work(void *arg) {
    job *jb = arg;
    for (size_t i = (size_t)jb->id; i < jb->n; i += N_THREADS) {
        char *json = NULL;
        cfx_error err;
        if (cfx_explain(jb->explainer, jb->x + i * jb->d, 1, jb->d, &json, &err) != CFX_OK) {
            snprintf(jb->message, sizeof jb->message, "row %zu: %s", i, err.message);
            jb->errors++;
            continue;
        }
        if (cfx_result_read(json, &jb->results[i], 1) != 1) {
            snprintf(jb->message, sizeof jb->message, "row %zu: unexpected JSON", i);
            jb->errors++;
        }
        cfx_free(json);
        jb->explained++;
    }
    return NULL;
}

/* Numeric CSV rows (a first line that is not numeric is skipped as a header). */
static size_t read_rows(const char *path, size_t d, double *x, size_t max) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return 0; }
    char line[4096];
    size_t n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        size_t j = 0;
        for (; j < d; j++, p = end + (*end == ',')) {
            x[n * d + j] = strtod(p, &end);
            if (end == p) break;
        }
        if (j == d) n++;
    }
    fclose(f);
    return n;
}

/* The problems with result r of row x, or NULL when it is a valid counterfactual. */
static const char *check(const cfx_model *model, const cfx_result *r, const cfx_result *reference,
                         size_t d, size_t k) {
    if (!r->success || !r->has_cf) return "no counterfactual";
    if (r->n_x != d || r->n_proba != k) return "wrong sizes";
    if (r->cf_class == r->orig_class) return "counterfactual class equals the original class";
    double proba[CFX_RESULT_MAX_CLASSES];
    if (cfx_model_predict(model, r->cf_x, 1, d, proba, NULL) != CFX_OK) return "predict failed";
    size_t best = 0;
    for (size_t c = 1; c < k; c++) if (proba[c] > proba[best]) best = c;
    if ((int)best != r->cf_class) return "the model does not predict cf.class at cf.X";
    if (fabs(proba[r->cf_class] - TARGET_PROBA) > TOL + 1e-6) return "target probability not met";
    if (memcmp(r->cf_x, reference->cf_x, d * sizeof(double)) != 0)
        return "differs from the single-threaded run";
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s MODEL.json DATA.csv\n", argv[0]); return 2; }
    cfx_error err;
    char *spec = read_file(argv[1]);
    cfx_model *model = NULL;
    cfx_explainer *explainer = NULL;
    if (!spec || cfx_model_create_json(spec, &model, &err) != CFX_OK ||
        cfx_explainer_create(model, CONFIG, &explainer, &err) != CFX_OK) {
        fprintf(stderr, "setup: %s\n", spec ? err.message : "cannot read the model");
        return 1;
    }
    free(spec);
    size_t d = 0, k = 0;
    cfx_model_shape(model, &d, &k, NULL);
    double *x = malloc(MAX_ROWS * d * sizeof *x);
    size_t n = read_rows(argv[2], d, x, MAX_ROWS);
    if (n < N_THREADS) { fprintf(stderr, "%s: need at least %d rows\n", argv[2], N_THREADS); return 1; }

    /* The reference: one batch call on this thread. */
    cfx_result *reference = calloc(n, sizeof *reference), *results = calloc(n, sizeof *results);
    char *json = NULL;
    if (cfx_explain(explainer, x, n, d, &json, &err) != CFX_OK ||
        cfx_result_read(json, reference, n) != (long)n) {
        fprintf(stderr, "reference run: %s\n", err.message);
        return 1;
    }
    cfx_free(json);

    pthread_t threads[N_THREADS];
    job jobs[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (job){.id = t, .explainer = explainer, .model = model, .x = x, .n = n, .d = d,
                        .results = results};
        if (pthread_create(&threads[t], NULL, work, &jobs[t]) != 0) { perror("pthread_create"); return 1; }
    }
    int failures = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(threads[t], NULL);
        printf("thread %d: %d instances explained, %d errors%s%s\n", t, jobs[t].explained,
               jobs[t].errors, jobs[t].errors ? ": " : "", jobs[t].message);
        failures += jobs[t].errors;
    }
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        const char *problem = check(model, &results[i], &reference[i], d, k);
        if (problem) { printf("row %zu: INVALID: %s\n", i, problem); failures++; }
        else valid++;
    }
    printf("%zu/%zu counterfactuals valid and identical to the single-threaded run\n", valid, n);

    cfx_explainer_free(explainer);
    cfx_model_free(model);
    free(reference);
    free(results);
    free(x);
    return failures ? 1 : 0;
}
