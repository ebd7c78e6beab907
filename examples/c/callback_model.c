/*
 * callback_model — a model that cfx does not run itself: a hand-written logistic regression
 * (a loan decision) supplied as a predict callback, explained twice:
 *   1. with predict only: cfx differentiates by central differences (2*d extra rows per gradient);
 *   2. with a vector-Jacobian-product callback too: exact gradients, far fewer predicted rows.
 * Finally a callback that fails shows how errors come back (CFX_ERR_CALLBACK), with the explainer
 * still usable afterwards.
 *
 * Build: cc callback_model.c $(pkg-config --cflags --libs cfx jansson) -lm
 */
#include <cfx.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cfx_result.h"

#define D 3  /* income (10k), debt ratio, years employed */
#define K 2  /* 0 = rejected, 1 = approved */

static const char *feature_names[D] = {"income (10k)", "debt ratio", "years employed"};

typedef struct logreg {
    double w[D];
    double b;
    atomic_long predict_calls;  /* callbacks may run on several cfx worker threads at once */
    atomic_long vjp_calls;
    int fail;                   /* make predict report an error (part 3) */
} logreg;

static double approve_probability(const logreg *m, const double *x) {
    double z = m->b;
    for (size_t j = 0; j < D; j++) z += m->w[j] * x[j];
    return 1.0 / (1.0 + exp(-z));
}

/* cfx_predict_fn: n x d rows in, n x k probabilities out. */
static int predict(void *user, const double *x, size_t n, size_t d, double *proba_out) {
    logreg *m = user;
    atomic_fetch_add(&m->predict_calls, 1);
    if (d != D || m->fail) return 42;  /* any non-zero value: cfx reports CFX_ERR_CALLBACK */
    for (size_t i = 0; i < n; i++) {
        double p = approve_probability(m, x + i * d);
        proba_out[i * K + 0] = 1.0 - p;
        proba_out[i * K + 1] = p;
    }
    return 0;
}

/* cfx_vjp_fn: grad[i] = sum_j cot[i, j] * d proba[i, j] / d x[i].
 * With p = sigmoid(w.x + b): d p1/dx = p(1-p) w and d p0/dx = -p(1-p) w. */
static int vjp(void *user, const double *x, size_t n, size_t d, const double *cotangent, size_t k,
               double *grad_out) {
    logreg *m = user;
    atomic_fetch_add(&m->vjp_calls, 1);
    if (d != D || k != K) return 1;
    for (size_t i = 0; i < n; i++) {
        double p = approve_probability(m, x + i * d);
        double scale = (cotangent[i * K + 1] - cotangent[i * K + 0]) * p * (1.0 - p);
        for (size_t j = 0; j < d; j++) grad_out[i * d + j] = scale * m->w[j];
    }
    return 0;
}

static const double applicants[][D] = {
    {3.0, 0.60, 1.0},
    {3.5, 0.55, 3.0},
    {2.0, 0.30, 6.0},
};
#define N (sizeof applicants / sizeof applicants[0])

/* Explains the applicants; fills results; returns 0 when every applicant got a valid
 * counterfactual (approved, probability within tol of 1). */
static int explain(const char *title, logreg *m, cfx_vjp_fn grad, cfx_result *results) {
    cfx_error err;
    cfx_model *model = NULL;
    cfx_explainer *explainer = NULL;
    char *json = NULL;
    atomic_store(&m->predict_calls, 0);
    atomic_store(&m->vjp_calls, 0);
    if (cfx_model_create_callbacks(D, K, predict, grad, m, &model, &err) != CFX_OK ||
        cfx_explainer_create(model,
                             "{\"method\": \"wachter\", \"target_class\": 1, \"tol\": 0.05,"
                             " \"immutable\": [2], \"feature_range\": [[0, 0, 0], [20, 1, 40]],"
                             " \"return_all\": false}",
                             &explainer, &err) != CFX_OK ||
        cfx_explain(explainer, &applicants[0][0], N, D, &json, &err) != CFX_OK) {
        fprintf(stderr, "%s: %s (%s)\n", title, err.message, cfx_status_string(err.code));
        cfx_explainer_free(explainer);
        cfx_model_free(model);
        return 1;
    }
    long got = cfx_result_read(json, results, N);
    cfx_free(json);
    int failures = got == (long)N ? 0 : 1;
    long predicted = 0;
    printf("\n%s\n", title);
    for (size_t i = 0; i < N && !failures; i++) {
        const cfx_result *r = &results[i];
        double p = approve_probability(m, applicants[i]);
        printf("  applicant %zu: %s (p_approve=%.3f)", i + 1, p >= 0.5 ? "approved" : "rejected", p);
        int ok = r->success && r->has_cf && r->cf_class == 1 &&
                 fabs(approve_probability(m, r->cf_x) - 1.0) <= 0.05 + 1e-9 &&
                 r->cf_x[2] == applicants[i][2];  /* immutable */
        if (!ok) { printf(" -> INVALID counterfactual\n"); failures++; continue; }
        printf(" -> approved with p=%.3f if\n", r->cf_proba[1]);
        for (size_t j = 0; j < D; j++)
            if (fabs(r->cf_x[j] - applicants[i][j]) >= 0.005)
                printf("      %-15s %6.2f -> %6.2f\n", feature_names[j], applicants[i][j], r->cf_x[j]);
        predicted += (long)r->predicted_rows;
    }
    printf("  predict callback calls: %ld, vjp callback calls: %ld, rows predicted: %ld\n",
           (long)atomic_load(&m->predict_calls), (long)atomic_load(&m->vjp_calls), predicted);
    cfx_explainer_free(explainer);
    cfx_model_free(model);
    return failures;
}

int main(void) {
    logreg m = {.w = {0.9, -6.0, 0.15}, .b = -1.0};
    cfx_result numeric[N], exact[N];
    printf("cfx %s: logistic regression written in C, explained through callbacks\n", cfx_version());
    int failures = explain("1. predict callback only (central differences)", &m, NULL, numeric);
    failures += explain("2. predict and vjp callbacks (exact gradients)", &m, vjp, exact);
    if (!failures && atomic_load(&m.vjp_calls) == 0) {
        fprintf(stderr, "the vjp callback was never called\n");
        failures++;
    }
    for (size_t i = 0; i < N && !failures; i++) {
        double gap = 0;
        for (size_t j = 0; j < D; j++) gap = fmax(gap, fabs(numeric[i].cf_x[j] - exact[i].cf_x[j]));
        printf("  applicant %zu: largest difference between the two counterfactuals %.2g\n", i + 1, gap);
    }

    /* 3. A callback that fails: the error names the instance; nothing leaks or aborts. */
    cfx_error err;
    cfx_model *model = NULL;
    cfx_explainer *explainer = NULL;
    char *json = NULL;
    if (cfx_model_create_callbacks(D, K, predict, NULL, &m, &model, &err) != CFX_OK ||
        cfx_explainer_create(model, "{\"method\": \"wachter\", \"n_threads\": 1}", &explainer, &err)) {
        fprintf(stderr, "setup: %s\n", err.message);
        return 1;
    }
    m.fail = 1;
    cfx_status status = cfx_explain(explainer, applicants[0], 1, D, &json, &err);
    printf("\n3. failing callback: status %d (%s): %s\n", status, cfx_status_string(status), err.message);
    if (status != CFX_ERR_CALLBACK) failures++;
    json = NULL;
    m.fail = 0;
    status = cfx_explain(explainer, applicants[0], 1, D, &json, &err);
    printf("   after the callback recovers: %s\n", cfx_status_string(status));
    if (status != CFX_OK) failures++;
    cfx_free(json);
    cfx_explainer_free(explainer);
    cfx_model_free(model);

    printf("\n%s\n", failures ? "FAILED" : "all counterfactuals valid");
    return failures ? 1 : 0;
}
