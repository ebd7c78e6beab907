/* C tests of issue 13's additions: the "eccco" method, "monotone" constraints (Wachter and the
 * evaluator's monotone_ok) and cfx_model_train's "counterfactual_training". */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfx.h"

static int g_pass, g_fail;

static int check(int cond, const char *what) {
    if (cond) g_pass++;
    else { g_fail++; fprintf(stderr, "FAIL: %s\n", what); }
    return cond;
}

/* Classes along +x, +y and -(x+y): logits 3x, 3y, -3x-3y. */
static const char *LINEAR =
    "{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[3, 0], [0, 3], [-3, -3]]},"
    " {\"type\": \"softmax\"}]}";

static json_t *explain(cfx_model *m, const char *config, const double *x, size_t n) {
    cfx_error err;
    cfx_explainer *e = NULL;
    if (!check(cfx_explainer_create(m, config, &e, &err) == CFX_OK, config)) {
        fprintf(stderr, "  %s\n", err.message);
        return NULL;
    }
    char *out = NULL;
    cfx_status st = cfx_explain(e, x, n, 2, &out, &err);
    cfx_explainer_free(e);
    if (!check(st == CFX_OK, "cfx_explain")) { fprintf(stderr, "  %s\n", err.message); return NULL; }
    json_t *root = json_loads(out, 0, NULL);
    cfx_free(out);
    return root;
}

static void test_eccco(cfx_model *m) {
    const double x[6] = {1.5, 0.2, 0.1, 1.4, -1.2, -1.0};
    json_t *root = explain(m, "{\"method\": \"eccco\", \"max_steps\": 200, \"monotone\": {\"0\": \"decrease\"}}", x, 3);
    if (!root) return;
    json_t *exps = json_object_get(root, "explanations");
    check(json_array_size(exps) == 3, "eccco: one explanation per row");
    for (size_t r = 0; r < 3; r++) {
        json_t *e = json_array_get(exps, r), *last = json_object_get(e, "last");
        int t = (int)json_integer_value(json_object_get(e, "target_class"));
        double p = json_real_value(json_array_get(json_object_get(last, "proba"), t));
        double x0 = json_real_value(json_array_get(json_object_get(last, "X"), 0));
        check(t != json_integer_value(json_object_get(e, "orig_class")), "eccco: target differs from the prediction");
        check(x0 <= x[2 * r], "eccco: decrease-only feature 0 did not increase");
        if (json_is_true(json_object_get(e, "success"))) check(p >= 0.75, "eccco: success means p_target >= 0.75");
        else check(json_is_null(json_object_get(e, "cf")), "eccco: no cf without success");
        check(json_is_object(json_object_get(e, "meta")), "eccco: meta");
    }
    check(json_is_true(json_object_get(json_array_get(exps, 0), "success")), "eccco: row 0 reaches its target");
    json_decref(root);

    cfx_error err;
    cfx_explainer *bad = NULL;
    check(cfx_explainer_create(m, "{\"method\": \"eccco\", \"monotone\": {\"7\": \"increase\"}}", &bad, &err) == CFX_ERR_CONFIG
              && strstr(err.message, "monotone") != NULL, "eccco: a monotone feature out of range is a config error naming it");
    check(cfx_explainer_create(m, "{\"method\": \"eccco\", \"monotone\": {\"0\": \"up\"}}", &bad, &err) == CFX_ERR_CONFIG,
          "eccco: an unknown direction is a config error");
}

static void test_wachter_monotone(cfx_model *m) {
    const double x[2] = {1.5, 0.2};
    json_t *root = explain(m, "{\"method\": \"wachter\", \"target_class\": 1, \"target_proba\": 0.6, \"tol\": 0.1,"
                              " \"max_iter\": 300, \"monotone\": {\"0\": \"increase\"}}", x, 1);
    if (!root) return;
    json_t *cf = json_object_get(json_array_get(json_object_get(root, "explanations"), 0), "cf");
    if (check(json_is_object(cf), "wachter monotone: a counterfactual"))
        check(json_real_value(json_array_get(json_object_get(cf, "X"), 0)) >= 1.5, "wachter: increase-only feature 0 did not decrease");
    json_decref(root);
}

static void test_monotone_ok(cfx_model *m) {
    cfx_error err;
    cfx_evaluator *ev = NULL;
    if (!check(cfx_evaluator_create(m, NULL, 0, 2, NULL, "{\"monotone\": {\"0\": \"increase\"}}", &ev, &err) == CFX_OK,
               "evaluator with monotone")) return;
    const double x[4] = {0, 0, 0, 0}, cf[4] = {1, 5, -1e-15, 5};
    char *out = NULL;
    if (check(cfx_evaluate(ev, x, cf, 2, 2, NULL, &out, &err) == CFX_OK, "cfx_evaluate")) {
        json_t *root = json_loads(out, 0, NULL);
        json_t *ok = json_object_get(json_object_get(root, "instances"), "monotone_ok");
        check(json_is_true(json_array_get(ok, 0)) || json_number_value(json_array_get(ok, 0)) == 1, "monotone_ok row 0");
        check(json_is_false(json_array_get(ok, 1)) || (json_is_number(json_array_get(ok, 1)) && json_number_value(json_array_get(ok, 1)) == 0),
              "monotone_ok row 1: a decrease of 1e-15 is a violation");
        json_decref(root);
        cfx_free(out);
    }
    cfx_evaluator_free(ev);
}

static void test_counterfactual_training(void) {
    cfx_error err;
    cfx_model *m = NULL;
    const char *spec = "{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1], [0.4, 0.4]]},"
                       " {\"type\": \"relu\"}, {\"type\": \"dense\", \"weights\": [[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, -0.1, 0.2]]},"
                       " {\"type\": \"softmax\"}]}";
    if (!check(cfx_model_create_json(spec, &m, &err) == CFX_OK, "mlp")) return;
    enum { N = 200 };
    double x[2 * N], y[N];
    for (int i = 0; i < N; i++) {
        double a = 3.14159 * (i / 2) / (N / 2);
        y[i] = i % 2;
        x[2 * i] = i % 2 ? 1 - cos(a) : cos(a);
        x[2 * i + 1] = i % 2 ? 0.5 - sin(a) : sin(a);
    }
    char *report = NULL;
    cfx_status st = cfx_model_train(m, x, N, 2, y, 1,
        "{\"epochs\": 3, \"batch_size\": 20, \"learning_rate\": 0.01, \"counterfactual_training\": {\"n_ce\": 50, \"immutable\": [1]}}",
        NULL, NULL, &report, &err);
    if (check(st == CFX_OK, "counterfactual training runs")) {
        json_t *root = json_loads(report, 0, NULL);
        json_t *history = json_object_get(root, "history");
        check(json_array_size(history) == 3, "three epochs");
        json_t *ct = json_object_get(json_array_get(history, 2), "counterfactual");
        check(json_is_object(ct), "epochs report the counterfactual terms");
        check(json_integer_value(json_object_get(ct, "n_ce")) == 50, "n_ce 50");
        double share = json_real_value(json_object_get(ct, "mature_share"));
        check(share >= 0 && share <= 1, "mature_share in [0, 1]");
        check(isfinite(json_real_value(json_object_get(ct, "ridge"))), "ridge finite");
        check(json_is_object(json_object_get(json_object_get(root, "config"), "counterfactual_training")), "effective config keeps it");
        json_decref(root);
        cfx_free(report);
    } else {
        fprintf(stderr, "  %s\n", err.message);
    }
    report = NULL;
    st = cfx_model_train(m, x, N, 2, y, 1, "{\"counterfactual_training\": {\"burn_in\": 2}}", NULL, NULL, &report, &err);
    check(st == CFX_ERR_CONFIG && strstr(err.message, "burn_in") != NULL, "a bad burn_in is a config error naming it");
    st = cfx_model_train(m, x, N, 2, y, 1, "{\"counterfactual_training\": {\"n_cee\": 2}}", NULL, NULL, &report, &err);
    check(st == CFX_ERR_CONFIG && strstr(err.message, "n_cee") != NULL, "an unknown key is a config error naming it");
    cfx_model_free(m);
}

static void test_training_metrics(cfx_model *m) {
    cfx_error err;
    char *out = NULL;
    const double xt[8] = {1, 0, 2, 0, 0, 1, 0, 3}, yt[4] = {0, 0, 1, 1};
    const double x[4] = {0, 0, 0, 0}, cf[4] = {0.5, 2, 3, 0}, targets[2] = {1, 0};
    if (check(cfx_plausibility(m, xt, yt, 4, x, cf, targets, 2, 2, NULL, &out, &err) == CFX_OK, "cfx_plausibility")) {
        json_t *root = json_loads(out, 0, NULL);
        check(fabs(json_real_value(json_object_get(root, "ip")) - 1.5) < 1e-12, "ip: 1.5 by hand");
        check(fabs(json_real_value(json_object_get(root, "cost")) - 2.75) < 1e-12, "cost: 2.75 by hand");
        json_decref(root);
        cfx_free(out);
    }
    const double xr[6] = {0.4, 0.1, 0.1, 0.5, -0.3, -0.4}, yr[3] = {0, 1, 2};
    out = NULL;
    if (check(cfx_robust_accuracy(m, xr, yr, 3, 2, "{\"attack\": \"fgsm\", \"epsilons\": [0, 1]}", &out, &err) == CFX_OK,
              "cfx_robust_accuracy")) {
        json_t *root = json_loads(out, 0, NULL), *acc = json_object_get(root, "accuracy");
        check(json_real_value(json_array_get(acc, 0)) == 1 && json_real_value(json_array_get(acc, 1)) < 1, "fgsm at eps 1 breaks the model");
        json_decref(root);
        cfx_free(out);
    }
    check(cfx_robust_accuracy(m, xr, yr, 3, 2, "{\"attack\": \"cw\"}", &out, &err) == CFX_ERR_CONFIG, "unknown attack: config error");
    check(cfx_plausibility(m, xt, yt, 4, x, cf, NULL, 2, 2, NULL, &out, &err) == CFX_ERR_INVALID_ARGUMENT, "targets NULL: an error");
}

int main(void) {
    cfx_error err;
    cfx_model *m = NULL;
    if (cfx_model_create_json(LINEAR, &m, &err) != CFX_OK) {
        fprintf(stderr, "cannot create the model: %s\n", err.message);
        return 1;
    }
    test_eccco(m);
    test_wachter_monotone(m);
    test_monotone_ok(m);
    test_training_metrics(m);
    cfx_model_free(m);
    test_counterfactual_training();
    printf("test_cftrain: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
