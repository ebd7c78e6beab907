/* Section 15 of test_abi.c (included there): "on_error": "record" — per-row errors. */

/* Predicts like cb_predict but fails (returns 7) for any batch holding a row with x[0] > 5. */
static int cb_predict_fail_large(void *user, const double *x, size_t n, size_t d, double *proba_out) {
    for (size_t r = 0; r < n; r++)
        if (x[r * d] > 5)
            return 7;
    return cb_predict(user, x, n, d, proba_out);
}

/* The explanation of row `i` of a record-mode run, checked to be a failed row with `want`. */
static void check_failed_row(json_t *exps, size_t i, cfx_status want, const char *mention, const char *what) {
    json_t *e = json_array_get(exps, i);
    json_t *error = json_object_get(e, "error");
    check(json_is_object(error), "%s: row %zu has an \"error\" object", what, i);
    check(json_integer_value(json_object_get(e, "instance")) == (json_int_t)i, "%s: row %zu: \"instance\" is %zu", what, i, i);
    check(json_is_false(json_object_get(e, "success")), "%s: row %zu: \"success\" is false", what, i);
    check(json_is_null(json_object_get(e, "cf")), "%s: row %zu: \"cf\" is null", what, i);
    check(json_integer_value(json_object_get(error, "code")) == (json_int_t)want, "%s: row %zu: error code is %s",
          what, i, status_name(want));
    const char *status = json_string_value(json_object_get(error, "status"));
    check(status && strcmp(status, cfx_status_string(want)) == 0, "%s: row %zu: error status is \"%s\"", what, i,
          cfx_status_string(want));
    const char *message = json_string_value(json_object_get(error, "message"));
    check(message && strstr(message, mention), "%s: row %zu: message mentions \"%s\" (%s)", what, i, mention,
          message ? message : "none");
}

/* The explanation of a healthy row in record mode equals the one of raise mode. */
static void check_same_row(json_t *recorded, json_t *raised, const char *what) {
    json_t *keys[] = {json_object_get(recorded, "cf"), json_object_get(raised, "cf")};
    check(!json_object_get(recorded, "error"), "%s: no \"error\" member", what);
    check(json_equal(keys[0], keys[1]) && json_equal(json_object_get(recorded, "success"), json_object_get(raised, "success"))
              && json_equal(json_object_get(recorded, "orig_class"), json_object_get(raised, "orig_class")),
          "%s: same cf, success and orig_class as in raise mode", what);
}

static void test_on_error(void) {
    section("15. per-row errors (\"on_error\": \"record\")");
    cfx_model *m = make_native(&LR_NET, "model for on_error");
    if (!m)
        return;
    cfx_error err;
    char *out = NULL;
    /* Rows 1 and 3 are not finite. */
    const double x[8] = {0.5, -0.5, NAN, 0.1, 0.2, 0.1, -0.3, INFINITY};
    const double finite[4] = {0.5, -0.5, 0.2, 0.1};

    cfx_explainer *raise = make_explainer(m, "{\"method\":\"wachter\", \"n_threads\": 2}", "explainer, on_error raise (default)");
    err_reset(&err);
    expect_err(cfx_explain(raise, x, 4, 2, &out, &err), &err, CFX_ERR_NUMERIC, "raise mode: a NaN fails the call", "row 1");
    json_t *raised = explain_json(raise, finite, 2, 2, "raise mode: finite rows", NULL);

    cfx_explainer *record = make_explainer(m, "{\"method\":\"wachter\", \"n_threads\": 2, \"on_error\": \"record\"}",
                                           "explainer, on_error record");
    json_t *root = explain_json(record, x, 4, 2, "record mode: NaN and infinity recorded per row", NULL);
    json_t *exps = json_object_get(root, "explanations");
    if (check(json_array_size(exps) == 4, "record mode: 4 explanations for 4 rows") && raised) {
        json_t *rexps = json_object_get(raised, "explanations");
        check_same_row(json_array_get(exps, 0), json_array_get(rexps, 0), "record mode, row 0");
        check_failed_row(exps, 1, CFX_ERR_NUMERIC, "row 1, feature 0 is nan", "record mode, NaN");
        check_same_row(json_array_get(exps, 2), json_array_get(rexps, 1), "record mode, row 2");
        check_failed_row(exps, 3, CFX_ERR_NUMERIC, "row 3, feature 1 is inf", "record mode, infinity");
    }
    json_decref(root);
    json_decref(raised);
    err_reset(&err);
    cfx_explainer *bad = NULL;
    expect_err(cfx_explainer_create(m, "{\"method\":\"cfproto\", \"on_error\": \"ignore\"}", &bad, &err), &err,
               CFX_ERR_CONFIG, "on_error other than raise/record", "on_error");
    cfx_explainer_free(raise);
    cfx_explainer_free(record);
    cfx_model_free(m);

    /* A callback that fails on some rows: those rows record CFX_ERR_CALLBACK, the others complete. */
    cb_lr u;
    cb_lr_init(&u);
    cfx_model *cm = NULL;
    err_reset(&err);
    if (!expect_ok(cfx_model_create_callbacks(2, 2, cb_predict_fail_large, NULL, &u, &cm, &err), &err,
                   "callback model failing on x[0] > 5"))
        return;
    const double y[6] = {0.5, -0.5, 9.0, 0.0, 0.2, 0.1};
    cfx_explainer *e = make_explainer(cm, "{\"method\":\"wachter\", \"on_error\": \"record\"}", "explainer on the failing callback");
    root = explain_json(e, y, 3, 2, "record mode: a failing callback", NULL);
    exps = json_object_get(root, "explanations");
    if (check(json_array_size(exps) == 3, "record mode with callback: 3 explanations")) {
        check(json_is_true(json_object_get(json_array_get(exps, 0), "success")), "row 0 succeeds");
        check_failed_row(exps, 1, CFX_ERR_CALLBACK, "instance 1", "failing callback");
        check(json_is_true(json_object_get(json_array_get(exps, 2), "success")), "row 2 succeeds");
    }
    json_decref(root);
    cfx_explainer_free(e);
    cfx_model_free(cm);
}
