/*
 * test_hostile.c — section 15 of test_abi.c (it is #included there and uses its helpers): inputs
 * that once crashed the host process, hostile sizes, misused handles, bad callback outputs,
 * cancellation inside one search and of a training epoch, and the functions and conventions the
 * other sections do not reach (cfx_model_create_callbacks_ex, cfx_evaluator_set_density, out-
 * parameters cleared on entry, one status per condition, CFX_ERR_IO, the CFX_MAX_* limits).
 */

/* A spec that must fail with CFX_ERR_MODEL naming `field`, after which `still` still works. */
static void hostile_spec(const char *spec, const char *field, const cfx_model *still) {
    cfx_model *m = (cfx_model *)0x1;  /* garbage: must be set to NULL */
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_model_create_json(spec, &m, &err);
    char what[160];
    snprintf(what, sizeof what, "hostile spec (%.*s...)", 90, spec);
    expect_err(st, &err, CFX_ERR_MODEL, what, field);
    check(m == NULL, "%s: out set to NULL", what);
    still_predicts(still, what);
}

/* A callback whose outputs are chosen by `mode`. */
typedef struct {
    int mode;        /* 0 valid softmax, 1 negative, 2 zeros, 3 1e308, 4 times 5, 5 logits */
    int vjp_mode;    /* 0 valid (of probabilities, or of logits in mode 5), 1 +-1e200, 2 NaN */
    atomic_int cancel_after_reports;
} hostile_cb;

static void hostile_logits(const double *x, double *z) {
    z[0] = x[0] - x[1];
    z[1] = x[1] - x[0];
    z[2] = 0.5 * x[0];
}

static int hostile_predict(void *user, const double *x, size_t n, size_t d, double *p) {
    hostile_cb *u = user;
    for (size_t r = 0; r < n; r++) {
        double z[3], s = 0, *pr = p + r * 3;
        hostile_logits(x + r * d, z);
        if (u->mode == 5) {
            memcpy(pr, z, sizeof z);
            continue;
        }
        for (int c = 0; c < 3; c++) s += exp(z[c]);
        for (int c = 0; c < 3; c++) {
            double v = exp(z[c]) / s;
            switch (u->mode) {
            case 1: v = -v; break;
            case 2: v = 0; break;
            case 3: v = 1e308; break;
            case 4: v *= 5; break;
            default: break;
            }
            pr[c] = v;
        }
    }
    return 0;
}

static int hostile_vjp(void *user, const double *x, size_t n, size_t d, const double *cot, size_t k,
                       double *g) {
    hostile_cb *u = user;
    (void)k;
    for (size_t r = 0; r < n; r++) {
        const double *c = cot + r * 3;
        double *gr = g + r * d;
        double dz[3];
        if (u->mode == 5) {
            memcpy(dz, c, sizeof dz);  /* the cotangent of the logits */
        } else {
            double z[3], p[3], s = 0, cp = 0;
            hostile_logits(x + r * d, z);
            for (int j = 0; j < 3; j++) s += exp(z[j]);
            for (int j = 0; j < 3; j++) { p[j] = exp(z[j]) / s; cp += c[j] * p[j]; }
            for (int j = 0; j < 3; j++) dz[j] = p[j] * (c[j] - cp);
        }
        gr[0] = dz[0] - dz[1] + 0.5 * dz[2];
        gr[1] = dz[1] - dz[0];
        if (u->vjp_mode == 1) { gr[0] = 1e200; gr[1] = -1e200; }
        if (u->vjp_mode == 2) gr[0] = NAN;
    }
    return 0;
}

static int cancel_at_first_report(void *user, const char *json) {
    int *reports = user;
    (*reports)++;
    json_t *root = json_loads(json, 0, NULL);
    int cancel = 0;
    if (root) {
        json_t *iterations = json_object_get(root, "iterations");
        json_t *in_progress = json_object_get(root, "in_progress");
        /* explanations: cancel once a search has run; training: at the first report mid-epoch */
        cancel = (iterations && json_integer_value(iterations) > 0) || json_is_true(in_progress);
        json_decref(root);
    }
    return cancel;
}

/* A density file (k = 2 classes, D = 1) with the given counts, in cfx's density format. */
static int write_density(const char *path, double count0, double count1) {
    char header[512];
    int len = snprintf(header, sizeof header,
                       "{\"__metadata__\":{\"format\":\"cfx-feature-density\",\"version\":\"1\","
                       "\"feature_output\":\"features\",\"n_features\":\"2\",\"jitter\":\"0\",\"labels\":\"given\"},"
                       "\"means\":{\"dtype\":\"F64\",\"shape\":[2,1],\"data_offsets\":[0,16]},"
                       "\"covariances\":{\"dtype\":\"F64\",\"shape\":[2,1,1],\"data_offsets\":[16,32]},"
                       "\"counts\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]}}");
    unsigned char bytes[8 + 512 + 48];
    put_u64le(bytes, (uint64_t)len);
    memcpy(bytes + 8, header, (size_t)len);
    double data[6] = {0.0, 1.0, 1.0, 2.0, count0, count1};
    memcpy(bytes + 8 + len, data, sizeof data);
    return write_bytes(path, bytes, 8 + (size_t)len + sizeof data);
}

static void test_hostile(void) {
    section("15. hostile sizes, misuse and bad callbacks never crash the host");
    cfx_error err;
    cfx_status st;
    cfx_model *mlp = make_native(&LR_NET, "reference model (2 features, 2 classes)");
    if (!mlp)
        return;

    /* Sizes that once trapped (overflow) or aborted (terabyte allocations). */
    hostile_spec("{\"input_shape\":[9223372036854775807],\"layers\":[{\"type\":\"dense\",\"outputs\":3},{\"type\":\"softmax\"}]}",
                 "input_shape", mlp);
    hostile_spec("{\"input_shape\":[4294967296],\"layers\":[{\"type\":\"dense\",\"outputs\":3},{\"type\":\"softmax\"}]}",
                 "input_shape", mlp);
    hostile_spec("{\"input_shape\":[4],\"layers\":[{\"type\":\"dense\",\"outputs\":9223372036854775807},{\"type\":\"softmax\"}]}",
                 "layers[0].outputs", mlp);
    hostile_spec("{\"input_shape\":[4],\"layers\":[{\"type\":\"dense\",\"outputs\":4294967296},{\"type\":\"softmax\"}]}",
                 "layers[0].outputs", mlp);
    hostile_spec("{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel_size\":3,\"padding\":9223372036854775807}]}",
                 "padding", mlp);
    hostile_spec("{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel_size\":3,\"padding\":2147483648}]}",
                 "padding", mlp);
    hostile_spec("{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":9223372036854775807,\"kernel_size\":3}]}",
                 "layers[0].out_channels", mlp);
    hostile_spec("{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2147483648,\"kernel_size\":3}]}",
                 "layers[0].out_channels", mlp);
    hostile_spec("{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"channel_pad\",\"out_channels\":9223372036854775807}]}",
                 "layers[0].out_channels", mlp);
    hostile_spec("{\"input_shape\":[1,9223372036854775807,9223372036854775807],\"layers\":[{\"type\":\"flatten\"}]}",
                 "input_shape", mlp);
    hostile_spec("{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"max_pool2d\",\"kernel_size\":2,\"stride\":9223372036854775807}]}",
                 "stride", mlp);
    /* Exactly over a documented limit. */
    {
        char spec[256];
        snprintf(spec, sizeof spec, "{\"input_shape\":[%lld],\"layers\":[{\"type\":\"softmax\"}]}", CFX_MAX_FEATURES + 1);
        hostile_spec(spec, "input_shape", mlp);
        snprintf(spec, sizeof spec, "{\"input_shape\":[%lld],\"layers\":[{\"type\":\"softmax\"}]}", CFX_MAX_CLASSES + 1);
        hostile_spec(spec, "classes", mlp);
        snprintf(spec, sizeof spec, "{\"input_shape\":[1,8,8],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":1,\"kernel_size\":3,\"stride\":%lld}]}",
                 CFX_MAX_WINDOW + 1);
        hostile_spec(spec, "stride", mlp);
    }

    /* cat_vars with sizes near 2^63, in the evaluator and in cfproto. */
    {
        const char *bad[] = {"{\"cat_vars\":{\"9223372036854775807\":1}}", "{\"cat_vars\":{\"1\":9223372036854775807}}",
                             "{\"cat_vars\":{\"1\":4097}}"};
        for (size_t i = 0; i < 3; i++) {
            cfx_evaluator *ev = (cfx_evaluator *)0x1;
            err_reset(&err);
            st = cfx_evaluator_create(mlp, NULL, 0, 0, NULL, bad[i], &ev, &err);
            expect_err(st, &err, CFX_ERR_CONFIG, bad[i], "cat_vars");
            check(ev == NULL, "evaluator %s: out set to NULL", bad[i]);
        }
        cfx_explainer *e = (cfx_explainer *)0x1;
        err_reset(&err);
        st = cfx_explainer_create(mlp, "{\"method\":\"cfproto\",\"ohe\":true,\"cat_vars\":{\"1\":9223372036854775807}}", &e, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "cfproto cat_vars of 2^63-1 categories", "cat_vars");
        check(e == NULL, "cfproto cat_vars: out set to NULL");
        still_predicts(mlp, "after hostile cat_vars");
    }

    /* Density files whose counts are not row counts. */
    {
        char dir[] = "/tmp/cfx-hostile-XXXXXX";
        if (check(mkdtemp(dir) != NULL, "temporary directory")) {
            char path[256];
            snprintf(path, sizeof path, "%s/density.safetensors", dir);
            const double counts[][2] = {{1e300, 5}, {9.3e18, 5}, {-5, 5}, {0.5, 5}, {5, NAN}};
            for (size_t i = 0; i < 5; i++) {
                write_density(path, counts[i][0], counts[i][1]);
                cfx_density *den = (cfx_density *)0x1;
                err_reset(&err);
                st = cfx_density_load(path, &den, &err);
                char what[96];
                snprintf(what, sizeof what, "density with counts [%g, %g]", counts[i][0], counts[i][1]);
                expect_err(st, &err, CFX_ERR_MODEL, what, isnan(counts[i][1]) ? "counts: value 1 is nan" : "counts[");
                check(den == NULL, "%s: out set to NULL", what);
            }
            write_density(path, 5, 7);
            cfx_density *den = NULL;
            err_reset(&err);
            expect_ok(cfx_density_load(path, &den, &err), &err, "a density with whole counts >= 2 loads");
            /* Writing where no file can be written is an I/O error. */
            err_reset(&err);
            st = cfx_density_save(den, "/nonexistent-dir/d.safetensors", &err);
            expect_err(st, &err, CFX_ERR_IO, "cfx_density_save to a missing directory", "/nonexistent-dir/d.safetensors");
            err_reset(&err);
            st = cfx_model_save(mlp, "/nonexistent-dir/m.json", NULL, NULL, &err);
            expect_err(st, &err, CFX_ERR_IO, "cfx_model_save to a missing directory", "/nonexistent-dir/m.json");
            err_reset(&err);
            st = cfx_density_load("/nonexistent-dir/d.safetensors", &den, &err);
            expect_err(st, &err, CFX_ERR_IO, "cfx_density_load of a missing file", "cannot read");
            check(den == NULL, "a failed load sets out to NULL");
            cfx_density_free(den);
            unlink(path);
            rmdir(dir);
        }
    }

    /* Callback models with hostile sizes. */
    {
        hostile_cb u = {0};
        const size_t sizes[][2] = {{2, ((size_t)1 << 62) + 1}, {2, (size_t)1 << 40}, {2, ((size_t)1 << 62)},
                                   {((size_t)1 << 62) + 1, 3}, {(size_t)CFX_MAX_FEATURES + 1, 3}, {2, (size_t)-1}};
        for (size_t i = 0; i < 6; i++) {
            cfx_model *m = (cfx_model *)0x1;
            err_reset(&err);
            st = cfx_model_create_callbacks(sizes[i][0], sizes[i][1], hostile_predict, NULL, &u, &m, &err);
            char what[96];
            snprintf(what, sizeof what, "callback model of %zu features, %zu classes", sizes[i][0], sizes[i][1]);
            expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, what, sizes[i][0] == 2 ? "n_classes" : "n_features");
            check(m == NULL, "%s: out set to NULL", what);
        }
        /* Row counts whose products overflow or pass the buffer limit are refused before any read. */
        cfx_model *m = NULL;
        err_reset(&err);
        expect_ok(cfx_model_create_callbacks(2, 3, hostile_predict, hostile_vjp, &u, &m, &err), &err, "callback model 2 x 3");
        double x[2] = {0.3, -0.2}, p[3], g[2], c[3] = {1, 0, 0};
        const size_t rows[] = {(size_t)1 << 62, (size_t)-1, ((size_t)CFX_MAX_BUFFER_ELEMENTS / 2) + 1};
        for (size_t i = 0; i < 3; i++) {
            err_reset(&err);
            st = cfx_model_predict(m, x, rows[i], 2, p, &err);
            expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "predict with a row count over the limits", "over the limit");
            err_reset(&err);
            st = cfx_model_vjp(m, x, rows[i], 2, c, 3, g, &err);
            expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "vjp with a row count over the limits", "over the limit");
        }
        /* Outputs that are not probabilities, gradients that are not finite or absurd. */
        const char *names[] = {"valid", "negative", "all-zero", "1e308", "unnormalised (x5)"};
        for (int mode = 1; mode <= 4; mode++) {
            u.mode = mode;
            err_reset(&err);
            st = cfx_model_predict(m, x, 1, 2, p, &err);
            char what[96];
            snprintf(what, sizeof what, "predict callback returning %s probabilities", names[mode]);
            expect_err(st, &err, CFX_ERR_CALLBACK, what, "row 0");
            cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\",\"n_threads\":1}", "wachter on a bad callback");
            char *json = NULL;
            err_reset(&err);
            st = cfx_explain(e, x, 1, 2, &json, &err);
            snprintf(what, sizeof what, "wachter on %s probabilities", names[mode]);
            expect_err(st, &err, CFX_ERR_CALLBACK, what, "instance 0");
            check(json == NULL, "%s: no explanation", what);
            cfx_explainer_free(e);
        }
        u.mode = 0;
        for (int vjp_mode = 1; vjp_mode <= 2; vjp_mode++) {
            u.vjp_mode = vjp_mode;
            err_reset(&err);
            st = cfx_model_vjp(m, x, 1, 2, c, 3, g, &err);
            expect_err(st, &err, CFX_ERR_CALLBACK, vjp_mode == 1 ? "vjp of +-1e200" : "vjp of NaN", "vjp callback");
        }
        u.vjp_mode = 0;
        err_reset(&err);
        expect_ok(cfx_model_predict(m, x, 1, 2, p, &err), &err, "the same model predicts once the callback behaves");
        cfx_model_free(m);
    }

    /* cfx_model_create_callbacks_ex: logits (cfx applies the softmax and chains it) and values. */
    {
        hostile_cb u = {0};
        u.mode = 5;
        cfx_model *m = NULL;
        err_reset(&err);
        expect_ok(cfx_model_create_callbacks_ex(2, 3, hostile_predict, hostile_vjp, &u, "{\"output\":\"logits\"}", &m, &err),
                  &err, "cfx_model_create_callbacks_ex(logits)");
        double x[2] = {0.7, -0.4}, p[3], z[3], s = 0;
        err_reset(&err);
        if (expect_ok(cfx_model_predict(m, x, 1, 2, p, &err), &err, "predict of a logits model")) {
            hostile_logits(x, z);
            for (int cl = 0; cl < 3; cl++) s += exp(z[cl]);
            int close = 1;
            for (int cl = 0; cl < 3; cl++) close &= fabs(p[cl] - exp(z[cl]) / s) < 1e-12;
            check(close, "a logits model's probabilities are the softmax of its logits");
        }
        /* The chained gradient against central differences of cfx's own probabilities. */
        double c[3] = {0.2, -1.0, 0.5}, g[2];
        err_reset(&err);
        if (expect_ok(cfx_model_vjp(m, x, 1, 2, c, 3, g, &err), &err, "vjp of a logits model")) {
            int close = 1;
            for (int j = 0; j < 2; j++) {
                double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, pp[3], pm[3], fd = 0;
                xp[j] += 1e-6;
                xm[j] -= 1e-6;
                cfx_model_predict(m, xp, 1, 2, pp, NULL);
                cfx_model_predict(m, xm, 1, 2, pm, NULL);
                for (int cl = 0; cl < 3; cl++) fd += c[cl] * (pp[cl] - pm[cl]) / 2e-6;
                close &= fabs(fd - g[j]) < 1e-6;
            }
            check(close, "a logits model's vjp (logit gradient chained through the softmax) matches finite differences");
        }
        cfx_model_free(m);
        const char *bad_options[][2] = {{"{\"output\":\"odds\"}", "output"}, {"{\"outputs\":\"logits\"}", "outputs"}};
        for (size_t i = 0; i < 2; i++) {
            m = (cfx_model *)0x1;
            err_reset(&err);
            st = cfx_model_create_callbacks_ex(2, 3, hostile_predict, NULL, &u, bad_options[i][0], &m, &err);
            expect_err(st, &err, CFX_ERR_CONFIG, bad_options[i][0], bad_options[i][1]);
            check(m == NULL, "%s: out set to NULL", bad_options[i][0]);
        }
        err_reset(&err);
        st = cfx_model_create_callbacks_ex(2, 3, hostile_predict, NULL, &u, "{", &m, &err);
        expect_err(st, &err, CFX_ERR_JSON, "callback options that are not JSON", "options_json");
        /* A model of plain values is an auxiliary model, not a classifier. */
        err_reset(&err);
        expect_ok(cfx_model_create_callbacks_ex(2, 3, hostile_predict, NULL, &u, "{\"output\":\"values\"}", &m, &err), &err,
                  "cfx_model_create_callbacks_ex(values)");
        cfx_explainer *e = (cfx_explainer *)0x1;
        err_reset(&err);
        st = cfx_explainer_create(m, "{\"method\":\"wachter\"}", &e, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "explaining a model of plain values", "values");
        check(e == NULL, "explainer of a values model: out set to NULL");
        cfx_model_free(m);
    }

    /* Handles of one type where another is expected, freed handles, frees of the wrong type. */
    {
        cfx_evaluator *ev = NULL;
        err_reset(&err);
        expect_ok(cfx_evaluator_create(mlp, NULL, 0, 0, NULL, NULL, &ev, &err), &err, "an evaluator");
        char *json = (char *)0x1;
        err_reset(&err);
        st = cfx_explain((const cfx_explainer *)ev, X3, 1, 2, &json, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "an evaluator passed as an explainer", "cfx_evaluator, not a cfx_explainer");
        check(json == NULL, "json_out set to NULL on a misused handle");
        err_reset(&err);
        st = cfx_explainer_set_density((cfx_explainer *)mlp, (const cfx_density *)ev, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "a model passed as an explainer", "not a cfx_explainer");
        cfx_explainer_free((cfx_explainer *)ev);  /* the wrong free: ignored */
        double p[3];
        err_reset(&err);
        st = cfx_model_predict((const cfx_model *)ev, X3, 1, 2, p, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "an evaluator passed as a model", "cfx_evaluator, not a cfx_model");
        double xcf[2] = {0.4, -0.4};
        err_reset(&err);
        json = NULL;
        if (expect_ok(cfx_evaluate(ev, X3, xcf, 1, 2, NULL, &json, &err), &err, "the evaluator survives a free of the wrong type"))
            cfx_free(json);
        cfx_evaluator_free(ev);
        err_reset(&err);
        st = cfx_evaluate(ev, X3, xcf, 1, 2, NULL, &json, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "a freed evaluator", "not a live cfx_evaluator");
        cfx_evaluator_free(ev);  /* freeing twice: ignored */
        size_t d = 0;
        err_reset(&err);
        expect_ok(cfx_model_shape(mlp, &d, NULL, &err), &err, "other handles are unaffected");
    }

    /* One status for one condition: NaN labels are CFX_ERR_NUMERIC everywhere, labels that are
     * not class indices CFX_ERR_INVALID_ARGUMENT everywhere. */
    {
        double x[4] = {0.1, 0.2, 0.3, 0.4}, y_nan[2] = {0, NAN}, y_bad[2] = {0, 7};
        cfx_explainer *e = make_explainer(mlp, "{\"method\":\"cfproto\"}", "cfproto for labels");
        cfx_evaluator *ev = (cfx_evaluator *)0x1;
        err_reset(&err);
        expect_err(cfx_explainer_fit(e, x, 2, 2, y_nan, &err), &err, CFX_ERR_NUMERIC, "cfx_explainer_fit with a NaN label", "y[1]");
        err_reset(&err);
        expect_err(cfx_explainer_fit(e, x, 2, 2, y_bad, &err), &err, CFX_ERR_INVALID_ARGUMENT, "cfx_explainer_fit with label 7", "y[1]");
        err_reset(&err);
        expect_err(cfx_evaluator_create(mlp, x, 2, 2, y_nan, NULL, &ev, &err), &err, CFX_ERR_NUMERIC,
                   "cfx_evaluator_create with a NaN label", "y_train[1]");
        err_reset(&err);
        expect_err(cfx_evaluator_create(mlp, x, 2, 2, y_bad, NULL, &ev, &err), &err, CFX_ERR_INVALID_ARGUMENT,
                   "cfx_evaluator_create with label 7", "y_train[1]");
        check(ev == NULL, "a failed cfx_evaluator_create sets out to NULL");
        cfx_explainer_free(e);
    }

    /* Out-parameters are NULL after any error, for every function that has one. */
    {
        char *text = (char *)0x1;
        err_reset(&err);
        cfx_default_config("nope", &text, &err);
        check(text == NULL, "cfx_default_config: json_out NULL after an error");
        check(cfx_methods(NULL, &err) == CFX_ERR_INVALID_ARGUMENT, "cfx_methods: a NULL json_out is an error");
        text = (char *)0x1;
        cfx_explainer_config(NULL, &text, &err);
        check(text == NULL, "cfx_explainer_config: json_out NULL after an error");
        text = (char *)0x1;
        cfx_model_spec(NULL, &text, &err);
        check(text == NULL, "cfx_model_spec: json_out NULL after an error");
        text = (char *)0x1;
        cfx_explain_progress(NULL, X3, 1, 3, NULL, NULL, &text, &err);
        check(text == NULL, "cfx_explain_progress: json_out NULL after an error");
        text = (char *)0x1;
        cfx_density_info(NULL, &text, &err);
        check(text == NULL, "cfx_density_info: json_out NULL after an error");
        text = (char *)0x1;
        cfx_model_train(NULL, X3, 1, 3, NULL, 1, "{}", NULL, NULL, &text, &err);
        check(text == NULL, "cfx_model_train: report_json NULL after an error");
        cfx_model *m = (cfx_model *)0x1;
        cfx_model_load(NULL, &m, &err);
        check(m == NULL, "cfx_model_load: out NULL after an error");
        cfx_density *den = (cfx_density *)0x1;
        cfx_density_fit(NULL, NULL, X3, 1, 3, NULL, &den, &err);
        check(den == NULL, "cfx_density_fit: out NULL after an error");
    }

    /* Cancellation inside one long search (a max_iter of 10^7 on one instance), for each
     * method, and inside a training epoch. */
    {
        const char *configs[] = {"{\"method\":\"wachter\",\"max_iter\":10000000,\"max_lam_steps\":1000,\"target_proba\":1,\"tol\":0,\"n_threads\":1}",
                                 "{\"method\":\"cfproto\",\"max_iterations\":10000000,\"n_threads\":1}"};
        for (size_t i = 0; i < 2; i++) {
            cfx_explainer *e = make_explainer(mlp, configs[i], "a search of 10^7 steps");
            int reports = 0;
            char *json = (char *)0x1;
            err_reset(&err);
            st = cfx_explain_progress(e, X3, 1, 2, cancel_at_first_report, &reports, &json, &err);
            char what[64];
            snprintf(what, sizeof what, "cancelling one %s search", i == 0 ? "wachter" : "cfproto");
            expect_err(st, &err, CFX_ERR_CANCELLED, what, "cancelled after 0 of 1");
            check(json == NULL && reports >= 1, "%s: the progress callback saw iterations before the instance ended", what);
            char *config = NULL;
            err_reset(&err);
            expect_ok(cfx_explainer_config(e, &config, &err), &err, "the cancelled explainer is still usable");
            cfx_free(config);
            err_reset(&err);
            st = cfx_explain_progress(e, X3, 1, 2, cancel_at_first_report, &reports, &json, &err);
            check(st == CFX_ERR_CANCELLED, "%s: cancelling again works too", what);
            cfx_explainer_free(e);
        }
        cfx_model *m = NULL;
        err_reset(&err);
        expect_ok(cfx_model_create_json(TRAIN_SPEC, &m, &err), &err, "a network to train");
        enum { N = 2000 };
        static double x[N * 2], y[N];
        for (int i = 0; i < N; i++) {
            x[2 * i] = sin(i * 0.37);
            x[2 * i + 1] = cos(i * 0.11);
            y[i] = x[2 * i] > x[2 * i + 1];
        }
        double before[3] = {0}, after[3] = {0};
        size_t d = 0;
        cfx_model_shape(m, &d, NULL, NULL);
        cfx_model_predict(m, x, 1, d, before, NULL);
        int reports = 0;
        char *report = NULL;
        err_reset(&err);
        st = cfx_model_train(m, x, N, 2, y, 1, "{\"batch_size\":1,\"epochs\":3}", cancel_at_first_report, &reports, &report, &err);
        expect_err(st, &err, CFX_ERR_CANCELLED, "cancelling a training epoch of 2000 batches", "cancelled");
        cfx_model_predict(m, x, 1, d, after, NULL);
        check(reports == 1 && memcmp(before, after, sizeof before) == 0,
              "a training cancelled in its first epoch keeps the initial weights (%d report)", reports);
        cfx_free(report);
        cfx_model_free(m);
    }

    /* cfx_evaluator_set_density: log_density present with a density, null after removing it. */
    {
        static const char *conv =
            "{\"input_shape\":[1,4,4],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel_size\":3},"
            "{\"type\":\"relu\"},{\"type\":\"global_avg_pool\",\"name\":\"features\"},{\"type\":\"dense\",\"outputs\":2},{\"type\":\"softmax\"}]}";
        cfx_model *m = NULL;
        err_reset(&err);
        expect_ok(cfx_model_create_json(conv, &m, &err), &err, "a small conv net");
        enum { N = 40 };
        static double x[N * 16], y[N];
        for (int i = 0; i < N * 16; i++) x[i] = sin(i * 0.7) + (i / 16 % 2);
        for (int i = 0; i < N; i++) y[i] = i % 2;
        cfx_density *den = NULL;
        err_reset(&err);
        expect_ok(cfx_density_fit(m, NULL, x, N, 16, y, &den, &err), &err, "a density for the evaluator");
        cfx_evaluator *ev = NULL;
        err_reset(&err);
        expect_ok(cfx_evaluator_create(m, NULL, 0, 0, NULL, NULL, &ev, &err), &err, "an evaluator of the conv net");
        err_reset(&err);
        expect_ok(cfx_evaluator_set_density(ev, den, &err), &err, "cfx_evaluator_set_density");
        char *json = NULL;
        err_reset(&err);
        if (expect_ok(cfx_evaluate(ev, x, x + 16, 1, 16, "{\"target_class\":1}", &json, &err), &err, "evaluate with a density")) {
            json_t *root = json_loads(json, 0, NULL);
            json_t *values = json_object_get(json_object_get(root, "instances"), "log_density");
            check(json_is_number(json_array_get(values, 0)), "log_density is a number with a density");
            json_decref(root);
            cfx_free(json);
        }
        err_reset(&err);
        expect_ok(cfx_evaluator_set_density(ev, NULL, &err), &err, "cfx_evaluator_set_density(NULL) removes it");
        if (cfx_evaluate(ev, x, x + 16, 1, 16, NULL, &json, &err) == CFX_OK) {
            json_t *root = json_loads(json, 0, NULL);
            check(json_is_null(json_array_get(json_object_get(json_object_get(root, "instances"), "log_density"), 0)),
                  "log_density is null without a density");
            json_decref(root);
            cfx_free(json);
        }
        err_reset(&err);
        st = cfx_evaluator_set_density(ev, (const cfx_density *)m, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "a model passed as a density", "not a cfx_density");
        cfx_evaluator_free(ev);
        cfx_density_free(den);
        cfx_model_free(m);
    }
    cfx_model_free(mlp);
}
