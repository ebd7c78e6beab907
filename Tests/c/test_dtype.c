/*
 * test_dtype.c — section 17 of test_abi.c (included there): float32 networks and
 * cfx_model_convert, through the header alone.
 */

static void test_dtype(void) {
    section("17. float32 networks and cfx_model_convert");
    cfx_error err;
    cfx_model *m64 = NULL, *m32 = NULL, *m32x2 = NULL, *back = NULL;
    err_reset(&err);
    if (!expect_ok(cfx_model_create_json(DEDUCE_SPEC, &m64, &err), &err, "create the conv net")) return;
    err_reset(&err);
    expect_ok(cfx_model_convert(m64, "{\"dtype\": \"float32\"}", &m32, &err), &err, "convert to float32");
    err_reset(&err);
    expect_ok(cfx_model_convert(m32, "{\"threads\": 2}", &m32x2, &err), &err, "the float32 model on 2 threads");
    err_reset(&err);
    expect_ok(cfx_model_convert(m32, "{\"dtype\": \"float64\"}", &back, &err), &err, "back to float64");
    if (!m32 || !m32x2 || !back) goto done;

    enum { N = 8, D = 16, K = 2 };
    double x[N * D], cot[N * K];
    unsigned state = 777;
    for (int i = 0; i < N * D; i++) {
        state = state * 1103515245u + 12345u;
        x[i] = (double)((state >> 8) % 1000) / 999.0;
    }
    for (int i = 0; i < N * K; i++) cot[i] = (i % 3) - 1.0;
    double p64[N * K], p32[N * K], p32x2[N * K], pback[N * K], g64[N * D], g32[N * D], g32x2[N * D];
    err_reset(&err);
    expect_ok(cfx_model_predict(m64, x, N, D, p64, &err), &err, "predict float64");
    expect_ok(cfx_model_predict(m32, x, N, D, p32, &err), &err, "predict float32");
    expect_ok(cfx_model_predict(m32x2, x, N, D, p32x2, &err), &err, "predict float32, 2 threads");
    expect_ok(cfx_model_predict(back, x, N, D, pback, &err), &err, "predict converted back");
    expect_ok(cfx_model_vjp(m64, x, N, D, cot, K, g64, &err), &err, "vjp float64");
    expect_ok(cfx_model_vjp(m32, x, N, D, cot, K, g32, &err), &err, "vjp float32");
    expect_ok(cfx_model_vjp(m32x2, x, N, D, cot, K, g32x2, &err), &err, "vjp float32, 2 threads");
    double worst = 0, gscale = 0, gworst = 0;
    for (int i = 0; i < N * K; i++) worst = fmax(worst, fabs(p64[i] - p32[i]));
    for (int i = 0; i < N * D; i++) {
        gscale = fmax(gscale, fabs(g64[i]));
        gworst = fmax(gworst, fabs(g64[i] - g32[i]));
    }
    check(worst <= 1e-4, "float32 probabilities within 1e-4 of float64 (largest difference %.2e)", worst);
    check(worst > 0, "float32 really computes in single precision (differs from float64)");
    check(gworst <= 1e-3 * gscale, "float32 input gradients within 1e-3 (relative) of float64 (%.2e of %.2e)", gworst, gscale);
    check(memcmp(p32, p32x2, sizeof p32) == 0 && memcmp(g32, g32x2, sizeof g32) == 0,
          "2 threads give exactly the 1-thread float32 results");
    check(memcmp(p64, pback, sizeof p64) == 0, "float32 and back to float64 gives exactly the float64 results");

    /* The spec says the dtype; a spec with "dtype" loads as such. */
    char *spec = NULL;
    err_reset(&err);
    if (expect_ok(cfx_model_spec(m32, &spec, &err), &err, "spec of the float32 model")) {
        check(strstr(spec, "\"dtype\":\"float32\"") != NULL || strstr(spec, "\"dtype\": \"float32\"") != NULL,
              "the float32 model's spec says \"dtype\": \"float32\"");
        cfx_model *reread = NULL;
        double again[N * K];
        err_reset(&err);
        if (expect_ok(cfx_model_create_json(spec, &reread, &err), &err, "create from the float32 spec")) {
            expect_ok(cfx_model_predict(reread, x, N, D, again, &err), &err, "predict with the reread model");
            check(memcmp(again, p32, sizeof again) == 0, "the reread float32 model predicts exactly as before");
            cfx_model_free(reread);
        }
        cfx_free(spec);
    }

    /* A float32 model explains (DeDUCE with a density fitted through it). */
    double y[N];
    for (int i = 0; i < N; i++) y[i] = (double)(i % 2);
    cfx_density *density = NULL;
    err_reset(&err);
    if (expect_ok(cfx_density_fit(m32, "features", x, N, D, y, &density, &err), &err, "density fit on the float32 model")) {
        cfx_explainer *e = NULL;
        char *json = NULL;
        err_reset(&err);
        expect_ok(cfx_explainer_create(m32, "{\"method\": \"deduce\", \"max_iter\": 50, \"n_threads\": 2}", &e, &err), &err, "deduce on float32");
        expect_ok(cfx_explainer_set_density(e, density, &err), &err, "set the density");
        if (expect_ok(cfx_explain(e, x, 1, D, &json, &err), &err, "explain one instance on 2 threads")) {
            check(strstr(json, "\"target_class\"") != NULL, "a float32 DeDUCE explanation");
            cfx_free(json);
        }
        cfx_explainer_free(e);
        cfx_density_free(density);
    }

    /* Errors: unknown dtype, unknown key, bad threads, a callback model, NULL out. */
    cfx_model *bad = NULL;
    err_reset(&err);
    check(cfx_model_convert(m64, "{\"dtype\": \"float16\"}", &bad, &err) == CFX_ERR_CONFIG && strstr(err.message, "dtype") && !bad,
          "an unknown dtype is a config error naming dtype: %s", err.message);
    err_reset(&err);
    check(cfx_model_convert(m64, "{\"dtyp\": \"float32\"}", &bad, &err) == CFX_ERR_CONFIG && strstr(err.message, "dtyp"),
          "an unknown key is a config error naming it: %s", err.message);
    err_reset(&err);
    check(cfx_model_convert(m64, "{\"threads\": -1}", &bad, &err) == CFX_ERR_CONFIG && strstr(err.message, "threads"),
          "negative threads is a config error: %s", err.message);
    err_reset(&err);
    check(cfx_model_convert(m64, "{\"dtype\": 32}", &bad, &err) == CFX_ERR_CONFIG, "a dtype that is not a string: %s", err.message);
    err_reset(&err);
    check(cfx_model_convert(m64, "{nope", &bad, &err) == CFX_ERR_JSON, "malformed options are a JSON error");
    err_reset(&err);
    check(cfx_model_convert(m64, NULL, NULL, &err) == CFX_ERR_INVALID_ARGUMENT, "a NULL out is an invalid argument");
    err_reset(&err);
    check(cfx_model_convert(NULL, NULL, &bad, &err) == CFX_ERR_INVALID_ARGUMENT, "a NULL model is an invalid argument");
    err_reset(&err);
    check(cfx_model_create_json("{\"input_shape\": [2], \"layers\": [{\"type\": \"softmax\"}], \"dtype\": \"half\"}", &bad, &err) == CFX_ERR_MODEL
          && strstr(err.message, "dtype"), "an unknown dtype in a spec is a model error: %s", err.message);
    cfx_model *same = NULL;
    err_reset(&err);
    if (expect_ok(cfx_model_convert(m64, NULL, &same, &err), &err, "NULL options copy the handle")) {
        double again[N * K];
        expect_ok(cfx_model_predict(same, x, N, D, again, &err), &err, "predict with the copy");
        check(memcmp(again, p64, sizeof again) == 0, "the copy predicts exactly as the source");
        cfx_model_free(same);
    }
    /* The new handle has weights of its own: training it leaves the source as it was. */
    cfx_model *copy = NULL;
    err_reset(&err);
    if (expect_ok(cfx_model_convert(m64, "{\"threads\": 2}", &copy, &err), &err, "a copy on 2 threads")) {
        double labels[N], before[N * K], after[N * K], trained[N * K];
        for (int i = 0; i < N; i++) labels[i] = (double)(i % 2);
        expect_ok(cfx_model_predict(m64, x, N, D, before, &err), &err, "predict with the source");
        char *report = NULL;
        expect_ok(cfx_model_train(copy, x, N, D, labels, 1, "{\"epochs\": 2, \"learning_rate\": 0.5}", NULL, NULL, &report, &err),
                  &err, "train the copy");
        cfx_free(report);
        expect_ok(cfx_model_predict(m64, x, N, D, after, &err), &err, "predict with the source again");
        expect_ok(cfx_model_predict(copy, x, N, D, trained, &err), &err, "predict with the trained copy");
        check(memcmp(before, after, sizeof before) == 0, "training a converted handle leaves its source unchanged");
        check(memcmp(before, trained, sizeof before) != 0, "the converted handle did train");
        cfx_model_free(copy);
    }

    /* What the library runs on. */
    char *info = NULL;
    err_reset(&err);
    if (expect_ok(cfx_runtime_info(&info, &err), &err, "cfx_runtime_info")) {
        json_error_t jerr;
        json_t *root = json_loads(info, 0, &jerr);
        check(root && json_is_string(json_object_get(root, "openblas_core"))
                  && json_integer_value(json_object_get(root, "cores")) >= 1
                  && strcmp(json_string_value(json_object_get(root, "version")), CFX_VERSION_STRING) == 0,
              "runtime info has version, openblas_core and cores: %s", info);
        /* oneDNN with its version and ISA, or the fallback with nulls; CFX_DNNL=off forces the fallback. */
        const char *backend = root ? json_string_value(json_object_get(root, "conv_backend")) : NULL;
        int onednn = backend && strcmp(backend, "onednn") == 0;
        const char *dnnl_setting = getenv("CFX_DNNL");
        check(backend && (onednn || strcmp(backend, "im2col-sgemm") == 0)
                  && json_is_string(json_object_get(root, "onednn")) == onednn
                  && json_is_string(json_object_get(root, "onednn_isa")) == onednn
                  && !(onednn && dnnl_setting && strcmp(dnnl_setting, "off") == 0),
              "runtime info names the convolution backend, with oneDNN's version and ISA only when it runs: %s", info);
        json_decref(root);
        cfx_free(info);
    }
    err_reset(&err);
    check(cfx_runtime_info(NULL, &err) == CFX_ERR_INVALID_ARGUMENT, "cfx_runtime_info with a NULL out is an invalid argument");
done:
    cfx_model_free(back);
    cfx_model_free(m32x2);
    cfx_model_free(m32);
    cfx_model_free(m64);
}
