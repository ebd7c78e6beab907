/*
 * test_abi.c — tests of the cfx C ABI (include/cfx.h), written against the header only.
 *
 * Build and run with Tests/c/run.sh (the library must already be built:
 * `swift build -c release`). Prints one line per check and, at the end, exactly
 * "N passed, M failed"; exits non-zero when M > 0.
 *
 * Uses jansson (-ljansson) to parse the JSON that cfx returns.
 */
#define _POSIX_C_SOURCE 200809L

#include "cfx.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Check helpers ---------------------------------------------------------------------------- */

static int g_pass, g_fail;

static int check(int cond, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", cond ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (cond)
        g_pass++;
    else
        g_fail++;
    return cond;
}

/* Extra detail for a failure (indented so it is not mistaken for a check line). */
static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("      note: ");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void section(const char *name) {
    printf("---- %s\n", name);
    fflush(stdout);
}

/* Fills an error with garbage, so that a success must actively clear it. */
static void err_reset(cfx_error *e) {
    e->code = (cfx_status)77;
    memset(e->message, 'Z', sizeof e->message);
}

static int msg_terminated(const cfx_error *e) {
    return memchr(e->message, 0, sizeof e->message) != NULL;
}

/* Prints a (possibly unterminated) message safely. */
static const char *msg_of(const cfx_error *e) {
    static _Thread_local char buf[CFX_ERROR_MESSAGE_SIZE + 1];
    memcpy(buf, e->message, CFX_ERROR_MESSAGE_SIZE);
    buf[CFX_ERROR_MESSAGE_SIZE] = 0;
    return buf;
}

static int ci_contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static const char *status_name(cfx_status s) {
    switch (s) {
    case CFX_OK: return "CFX_OK";
    case CFX_ERR_INVALID_ARGUMENT: return "CFX_ERR_INVALID_ARGUMENT";
    case CFX_ERR_JSON: return "CFX_ERR_JSON";
    case CFX_ERR_CONFIG: return "CFX_ERR_CONFIG";
    case CFX_ERR_MODEL: return "CFX_ERR_MODEL";
    case CFX_ERR_SHAPE: return "CFX_ERR_SHAPE";
    case CFX_ERR_NUMERIC: return "CFX_ERR_NUMERIC";
    case CFX_ERR_CALLBACK: return "CFX_ERR_CALLBACK";
    case CFX_ERR_CANCELLED: return "CFX_ERR_CANCELLED";
    case CFX_ERR_INTERNAL: return "CFX_ERR_INTERNAL";
    case CFX_ERR_IO: return "CFX_ERR_IO";
    }
    return "(unknown status)";
}

/* A successful call: status OK, err->code OK, err->message empty. */
static int expect_ok(cfx_status st, const cfx_error *e, const char *what) {
    int ok = st == CFX_OK && e->code == CFX_OK && e->message[0] == 0;
    check(ok, "%s -> CFX_OK, err cleared", what);
    if (!ok)
        note("got status %s (%d), err.code %d, err.message \"%s\"", status_name(st), (int)st,
             (int)e->code, msg_of(e));
    return ok;
}

/* A failed call: expected status, err->code equal to it, a non-empty NUL-terminated message that,
 * if `mention` is not NULL, contains it. Two checks. */
static int expect_err(cfx_status st, const cfx_error *e, cfx_status want, const char *what,
                      const char *mention) {
    int ok1 = st == want && e->code == st;
    check(ok1, "%s -> %s", what, status_name(want));
    if (!ok1)
        note("got status %s (%d), err.code %d, err.message \"%s\"", status_name(st), (int)st,
             (int)e->code, msg_of(e));
    int ok2 = msg_terminated(e) && e->message[0] != 0 && e->message[0] != 'Z' &&
              (mention == NULL || strstr(e->message, mention) != NULL);
    if (mention)
        check(ok2, "%s: message non-empty and mentions \"%s\"", what, mention);
    else
        check(ok2, "%s: message non-empty", what);
    if (!ok2)
        note("message: \"%s\"", msg_of(e));
    else
        note("message: \"%s\"", e->message);
    return ok1 && ok2;
}

/* 1 when s is valid UTF-8. */
static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p >> 5) == 0x6 ? 2 : (*p >> 4) == 0xE ? 3 : (*p >> 3) == 0x1E ? 4 : 0;
        if (len == 0)
            return 0;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += len;
    }
    return 1;
}

/* Runs fn in a child process, so that a crash (trap, abort, segfault) fails one check instead of
 * ending the run. Returns the child's exit code, or -signal, or -1000 on fork failure. */
static int run_isolated(int (*fn)(void *), void *arg) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1000;
    if (pid == 0) {
        alarm(60);
        _exit(fn(arg));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return -1000;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? -WTERMSIG(status) : -1000;
}

/* ---- Reference networks in C ------------------------------------------------------------------ */

typedef enum { L_DENSE, L_RELU, L_TANH, L_SIGMOID, L_SOFTMAX } layer_kind;

typedef struct {
    layer_kind kind;
    size_t in, out;   /* dense only */
    const double *W;  /* out x in, row-major */
    const double *b;  /* out */
} layer_t;

typedef struct {
    size_t d;
    size_t n_layers;
    const layer_t *layers;
} net_t;

#define MAXW 16

static size_t net_k(const net_t *net) {
    size_t k = net->d;
    for (size_t l = 0; l < net->n_layers; l++)
        if (net->layers[l].kind == L_DENSE)
            k = net->layers[l].out;
    return k;
}

/* Forward pass of one row; writes k outputs; returns the smallest |pre-activation| before a relu
 * (to make sure finite differences are taken away from a kink). */
static double net_forward(const net_t *net, const double *x, double *out) {
    double a[MAXW], t[MAXW];
    size_t w = net->d;
    double min_relu = INFINITY;
    memcpy(a, x, w * sizeof *a);
    for (size_t l = 0; l < net->n_layers; l++) {
        const layer_t *L = &net->layers[l];
        switch (L->kind) {
        case L_DENSE:
            for (size_t o = 0; o < L->out; o++) {
                double s = L->b[o];
                for (size_t i = 0; i < L->in; i++)
                    s += L->W[o * L->in + i] * a[i];
                t[o] = s;
            }
            w = L->out;
            memcpy(a, t, w * sizeof *a);
            break;
        case L_RELU:
            for (size_t i = 0; i < w; i++) {
                if (fabs(a[i]) < min_relu)
                    min_relu = fabs(a[i]);
                a[i] = a[i] > 0 ? a[i] : 0;
            }
            break;
        case L_TANH:
            for (size_t i = 0; i < w; i++)
                a[i] = tanh(a[i]);
            break;
        case L_SIGMOID:
            for (size_t i = 0; i < w; i++)
                a[i] = 1.0 / (1.0 + exp(-a[i]));
            break;
        case L_SOFTMAX: {
            double m = a[0], s = 0;
            for (size_t i = 1; i < w; i++)
                if (a[i] > m)
                    m = a[i];
            for (size_t i = 0; i < w; i++) {
                a[i] = exp(a[i] - m);
                s += a[i];
            }
            for (size_t i = 0; i < w; i++)
                a[i] /= s;
            break;
        }
        }
    }
    memcpy(out, a, w * sizeof *a);
    return min_relu;
}

static size_t append(char *buf, size_t cap, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + pos, pos < cap ? cap - pos : 0, fmt, ap);
    va_end(ap);
    return pos + (n > 0 ? (size_t)n : 0);
}

/* Writes the JSON specification of a network (with %.17g, so it round-trips exactly). */
static char *net_spec(const net_t *net) {
    size_t cap = 65536, p = 0;
    char *s = malloc(cap);
    p = append(s, cap, p, "{\"input_shape\": [%zu], \"layers\": [", net->d);
    for (size_t l = 0; l < net->n_layers; l++) {
        const layer_t *L = &net->layers[l];
        if (l)
            p = append(s, cap, p, ", ");
        switch (L->kind) {
        case L_DENSE:
            p = append(s, cap, p, "{\"type\": \"dense\", \"weights\": [");
            for (size_t o = 0; o < L->out; o++) {
                p = append(s, cap, p, "%s[", o ? ", " : "");
                for (size_t i = 0; i < L->in; i++)
                    p = append(s, cap, p, "%s%.17g", i ? ", " : "", L->W[o * L->in + i]);
                p = append(s, cap, p, "]");
            }
            p = append(s, cap, p, "], \"bias\": [");
            for (size_t o = 0; o < L->out; o++)
                p = append(s, cap, p, "%s%.17g", o ? ", " : "", L->b[o]);
            p = append(s, cap, p, "]}");
            break;
        case L_RELU: p = append(s, cap, p, "{\"type\": \"relu\"}"); break;
        case L_TANH: p = append(s, cap, p, "{\"type\": \"tanh\"}"); break;
        case L_SIGMOID: p = append(s, cap, p, "{\"type\": \"sigmoid\"}"); break;
        case L_SOFTMAX: p = append(s, cap, p, "{\"type\": \"softmax\"}"); break;
        }
    }
    p = append(s, cap, p, "]}");
    if (p >= cap) {
        fprintf(stderr, "net_spec: buffer too small\n");
        exit(2);
    }
    return s;
}

/* The 2-feature, 2-class logistic regression used by most tests. */
static const double LR_W[4] = {1.0, -1.0, -1.0, 1.0};
static const double LR_B[2] = {0.0, 0.0};
static const layer_t LR_LAYERS[2] = {
    {L_DENSE, 2, 2, LR_W, LR_B},
    {L_SOFTMAX, 0, 0, NULL, NULL},
};
static const net_t LR_NET = {2, 2, LR_LAYERS};

/* A deeper 3-feature, 3-class net that uses every layer type. */
/* Weights found by a small random search so that every class is reachable (max probability
 * > 0.99 within [-3, 3]^3) and the test points are far from relu kinks. */
static const double M_W1[12] = {-0.6, -2.3, 2.6, 0.1, -2.6, -0.6, 1.5, 0.9, -0.9, -0.8, -0.7, -0.5};
static const double M_B1[4] = {0.3, 0.5, 0.0, -1.1};
static const double M_W2[16] = {2.2, 0.3,  0.8,  -0.3, -1.8, -0.3, 1.1,  -0.9,
                                2.4, -2.5, -0.4, 0.8,  -1.9, -2.5, -2.0, 0.9};
static const double M_B2[4] = {-0.2, 0.0, 1.4, 0.1};
static const double M_W3[16] = {2.4, -1.9, -1.9, 2.8, 6.3,  -1.5, -5.2, 3.2,
                                2.2, 1.1,  -4.4, 1.1, -2.0, 7.8,  -1.9, 3.8};
static const double M_B3[4] = {0.2, -0.4, -0.4, 0.8};
static const double M_W4[12] = {-8.7, -2.9, -3.7, 4.3,   2.9,   -15.2,
                                5.1,  0.9,  -16.8, -10.3, 6.6,  8.4};
static const double M_B4[3] = {0.8, 0.1, 0.8};
static const layer_t MLP_LAYERS[8] = {
    {L_DENSE, 3, 4, M_W1, M_B1}, {L_TANH, 0, 0, NULL, NULL},
    {L_DENSE, 4, 4, M_W2, M_B2}, {L_RELU, 0, 0, NULL, NULL},
    {L_DENSE, 4, 4, M_W3, M_B3}, {L_SIGMOID, 0, 0, NULL, NULL},
    {L_DENSE, 4, 3, M_W4, M_B4}, {L_SOFTMAX, 0, 0, NULL, NULL},
};
static const net_t MLP_NET = {3, 8, MLP_LAYERS};

static cfx_model *make_native(const net_t *net, const char *what) {
    char *spec = net_spec(net);
    cfx_model *m = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_model_create_json(spec, &m, &err);
    int ok = expect_ok(st, &err, what);
    check(ok && m != NULL, "%s: handle is non-NULL", what);
    free(spec);
    return ok ? m : NULL;
}

/* ---- Callback logistic regression ------------------------------------------------------------- */

typedef struct {
    size_t d, k;
    double W[MAXW * MAXW]; /* k x d */
    double b[MAXW];
    atomic_int fail;       /* predict returns this when non-zero */
    atomic_int write_nan;  /* predict writes NaN when non-zero */
    atomic_int vjp_fail;   /* vjp returns this when non-zero */
    atomic_long predict_calls;
    atomic_long predict_rows;
    atomic_long max_rows;
    atomic_long vjp_calls;
    atomic_int bad_args;   /* set when a callback saw unexpected d or k */
} cb_lr;

static void cb_lr_init(cb_lr *u) {
    memset(u, 0, sizeof *u);
    u->d = 2;
    u->k = 2;
    memcpy(u->W, LR_W, sizeof LR_W);
    memcpy(u->b, LR_B, sizeof LR_B);
    atomic_init(&u->fail, 0);
    atomic_init(&u->write_nan, 0);
    atomic_init(&u->vjp_fail, 0);
    atomic_init(&u->predict_calls, 0);
    atomic_init(&u->predict_rows, 0);
    atomic_init(&u->max_rows, 0);
    atomic_init(&u->vjp_calls, 0);
    atomic_init(&u->bad_args, 0);
}

static void cb_lr_row(const cb_lr *u, const double *x, double *p) {
    double z[MAXW], m = -INFINITY, s = 0;
    for (size_t j = 0; j < u->k; j++) {
        z[j] = u->b[j];
        for (size_t i = 0; i < u->d; i++)
            z[j] += u->W[j * u->d + i] * x[i];
        if (z[j] > m)
            m = z[j];
    }
    for (size_t j = 0; j < u->k; j++) {
        p[j] = exp(z[j] - m);
        s += p[j];
    }
    for (size_t j = 0; j < u->k; j++)
        p[j] /= s;
}

static int cb_predict(void *user, const double *x, size_t n, size_t d, double *proba_out) {
    cb_lr *u = user;
    atomic_fetch_add(&u->predict_calls, 1);
    atomic_fetch_add(&u->predict_rows, (long)n);
    long cur = atomic_load(&u->max_rows);
    while ((long)n > cur && !atomic_compare_exchange_weak(&u->max_rows, &cur, (long)n)) {
    }
    if (d != u->d || x == NULL || proba_out == NULL) {
        atomic_store(&u->bad_args, 1);
        return -1;
    }
    int f = atomic_load(&u->fail);
    if (f)
        return f;
    for (size_t r = 0; r < n; r++)
        cb_lr_row(u, x + r * d, proba_out + r * u->k);
    if (atomic_load(&u->write_nan) && n > 0)
        proba_out[0] = NAN;
    return 0;
}

/* Exact VJP of softmax(Wx + b): grad_x = W^T (p * (c - <c, p>)). */
static void cb_lr_vjp_row(const cb_lr *u, const double *x, const double *c, double *g) {
    double p[MAXW], dz[MAXW], cp = 0;
    cb_lr_row(u, x, p);
    for (size_t j = 0; j < u->k; j++)
        cp += c[j] * p[j];
    for (size_t j = 0; j < u->k; j++)
        dz[j] = p[j] * (c[j] - cp);
    for (size_t i = 0; i < u->d; i++) {
        g[i] = 0;
        for (size_t j = 0; j < u->k; j++)
            g[i] += u->W[j * u->d + i] * dz[j];
    }
}

static int cb_vjp(void *user, const double *x, size_t n, size_t d, const double *cot, size_t k,
                  double *grad_out) {
    cb_lr *u = user;
    atomic_fetch_add(&u->vjp_calls, 1);
    if (d != u->d || k != u->k || x == NULL || cot == NULL || grad_out == NULL) {
        atomic_store(&u->bad_args, 1);
        return -1;
    }
    int f = atomic_load(&u->vjp_fail);
    if (f)
        return f;
    for (size_t r = 0; r < n; r++)
        cb_lr_vjp_row(u, x + r * d, cot + r * k, grad_out + r * d);
    return 0;
}

static cfx_model *make_callback(cb_lr *u, int with_vjp, const char *what) {
    cfx_model *m = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st =
        cfx_model_create_callbacks(u->d, u->k, cb_predict, with_vjp ? cb_vjp : NULL, u, &m, &err);
    int ok = expect_ok(st, &err, what);
    check(ok && m != NULL, "%s: handle is non-NULL", what);
    return ok ? m : NULL;
}

/* ---- Explanation helpers ---------------------------------------------------------------------- */

static cfx_explainer *make_explainer(const cfx_model *m, const char *config, const char *what) {
    cfx_explainer *e = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_explainer_create(m, config, &e, &err);
    int ok = expect_ok(st, &err, what);
    check(ok && e != NULL, "%s: handle is non-NULL", what);
    return ok ? e : NULL;
}

/* Runs cfx_explain (expecting success) and parses the output. NULL on failure. */
static json_t *explain_json(const cfx_explainer *e, const double *x, size_t n, size_t d,
                            const char *what, char **raw_out) {
    if (raw_out)
        *raw_out = NULL;
    if (!e) {
        check(0, "%s: skipped (no explainer)", what);
        return NULL;
    }
    char *out = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_explain(e, x, n, d, &out, &err);
    if (!expect_ok(st, &err, what)) {
        cfx_free(out);
        return NULL;
    }
    if (!check(out != NULL, "%s: json_out is non-NULL", what))
        return NULL;
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    if (!check(root != NULL && json_is_object(root), "%s: output parses as a JSON object", what)) {
        note("jansson: %s (line %d col %d); output: %.400s", jerr.text, jerr.line, jerr.column,
             out);
        cfx_free(out);
        json_decref(root);
        return NULL;
    }
    if (raw_out)
        *raw_out = out;
    else
        cfx_free(out);
    return root;
}

typedef struct {
    int target;                /* -1 = "other", else the target class */
    double target_proba, tol;  /* 1.0, 0.05 by default */
    const double *lo, *hi;     /* feature range (d each) or NULL */
    const int *immutable;      /* d flags or NULL */
    int expect_all;            /* 1: "all" must be a non-empty array; 0: absent/null/empty; -1: any */
    int require_success;       /* every instance must succeed */
} expect_t;

static int json_num(json_t *v, double *out) {
    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    return 1;
}

/* Reads an array of `len` numbers. */
static int json_vec(json_t *a, size_t len, double *out) {
    if (!json_is_array(a) || json_array_size(a) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!json_num(json_array_get(a, i), &out[i]))
            return 0;
    return 1;
}

/* Checks the structure and the meaning of an explanation output. */
static void check_explanations(json_t *root, const cfx_model *model, const double *x, size_t n,
                               size_t d, size_t k, const expect_t *ex, const char *what) {
    if (!root)
        return;
    json_t *exps = json_object_get(root, "explanations");
    if (!check(json_is_array(exps) && json_array_size(exps) == n,
               "%s: \"explanations\" is an array of %zu", what, n))
        return;
    double secs = -1, nth = -1;
    check(json_num(json_object_get(root, "seconds"), &secs) && secs >= 0,
          "%s: top-level \"seconds\" >= 0", what);
    check(json_num(json_object_get(root, "n_threads"), &nth) && nth >= 1,
          "%s: top-level \"n_threads\" >= 1", what);

    for (size_t r = 0; r < n; r++) {
        const double *xr = x + r * d;
        json_t *e = json_array_get(exps, r);
        if (!check(json_is_object(e), "%s[%zu]: explanation is an object", what, r))
            continue;
        /* Original prediction as computed by the model itself. */
        double p0[MAXW];
        cfx_error err;
        err_reset(&err);
        cfx_status st = cfx_model_predict(model, xr, 1, d, p0, &err);
        size_t oc = 0;
        for (size_t j = 1; j < k; j++)
            if (p0[j] > p0[oc])
                oc = j;
        double orig_class = -1, orig_proba = -1;
        check(st == CFX_OK && json_num(json_object_get(e, "orig_class"), &orig_class) &&
                  orig_class == (double)oc,
              "%s[%zu]: orig_class == argmax predict (%zu)", what, r, oc);
        check(st == CFX_OK && json_num(json_object_get(e, "orig_proba"), &orig_proba) &&
                  fabs(orig_proba - p0[oc]) < 1e-9,
              "%s[%zu]: orig_proba == max predict (%.6f; got %.6f)", what, r, p0[oc], orig_proba);

        json_t *succ = json_object_get(e, "success");
        json_t *cf = json_object_get(e, "cf");
        if (!check(json_is_boolean(succ), "%s[%zu]: \"success\" is a boolean", what, r))
            continue;
        int success = json_is_true(succ);
        check(success == json_is_object(cf),
              "%s[%zu]: success (%d) <=> cf is an object (else null)", what, r, success);
        check(json_is_null(cf) || json_is_object(cf), "%s[%zu]: cf is an object or null", what, r);
        json_t *meta = json_object_get(e, "meta");
        check(json_is_object(meta) &&
                  json_is_string(json_object_get(meta, "method")) &&
                  strcmp(json_string_value(json_object_get(meta, "method")), "wachter") == 0,
              "%s[%zu]: meta is an object with method \"wachter\"", what, r);
        /* "all": per lambda round, the counterfactuals met (objects). */
        json_t *all = json_object_get(e, "all");
        size_t n_met = 0;
        int all_ok = json_is_array(all);
        for (size_t i = 0; all_ok && i < json_array_size(all); i++) {
            json_t *round = json_array_get(all, i);
            if (!json_is_array(round)) {
                all_ok = 0;
                break;
            }
            for (size_t c = 0; c < json_array_size(round); c++)
                if (json_is_object(json_array_get(round, c)))
                    n_met++;
                else
                    all_ok = 0;
        }
        if (ex->expect_all == 1)
            check(all_ok && (!success || n_met > 0),
                  "%s[%zu]: return_all true: \"all\" is an array of rounds holding the %zu "
                  "counterfactuals met (> 0 when success)", what, r, n_met);
        else if (ex->expect_all == 0)
            check(all == NULL || json_is_null(all) || (all_ok && n_met == 0),
                  "%s[%zu]: return_all false: \"all\" holds no counterfactuals", what, r);

        if (ex->require_success &&
            !check(success, "%s[%zu]: counterfactual found (success true)", what, r))
            continue;
        if (!success)
            continue;

        double X[MAXW], proba[MAXW], cls = -1, dist = -1, lam = -1, idx = -1, loss = 0;
        if (!check(json_vec(json_object_get(cf, "X"), d, X), "%s[%zu]: cf.X has %zu numbers",
                   what, r, d))
            continue;
        if (!check(json_vec(json_object_get(cf, "proba"), k, proba),
                   "%s[%zu]: cf.proba has %zu numbers", what, r, k))
            continue;
        check(json_num(json_object_get(cf, "class"), &cls) && cls >= 0 && cls < (double)k &&
                  cls == floor(cls),
              "%s[%zu]: cf.class is a class index", what, r);
        check(json_num(json_object_get(cf, "distance"), &dist) && dist >= 0 && isfinite(dist),
              "%s[%zu]: cf.distance finite and >= 0", what, r);
        check(json_num(json_object_get(cf, "lambda"), &lam) && lam > 0 && isfinite(lam),
              "%s[%zu]: cf.lambda finite and > 0", what, r);
        check(json_num(json_object_get(cf, "index"), &idx) && idx >= 0 && idx == floor(idx),
              "%s[%zu]: cf.index is a non-negative integer", what, r);
        check(json_num(json_object_get(cf, "loss"), &loss) && isfinite(loss),
              "%s[%zu]: cf.loss is finite", what, r);

        /* distance_fn "l1": sum |X - x|. */
        double l1 = 0;
        for (size_t i = 0; i < d; i++)
            l1 += fabs(X[i] - xr[i]);
        check(fabs(dist - l1) <= 1e-6 * (1 + l1),
              "%s[%zu]: cf.distance equals the L1 distance (%.9g vs %.9g)", what, r, dist, l1);

        /* cf.proba is what the model predicts at cf.X. */
        double pc[MAXW];
        err_reset(&err);
        st = cfx_model_predict(model, X, 1, d, pc, &err);
        double maxdiff = 0;
        size_t pc_cls = 0;
        for (size_t j = 0; j < k; j++) {
            if (fabs(pc[j] - proba[j]) > maxdiff)
                maxdiff = fabs(pc[j] - proba[j]);
            if (pc[j] > pc[pc_cls])
                pc_cls = j;
        }
        check(st == CFX_OK && maxdiff < 1e-9, "%s[%zu]: cf.proba == predict(cf.X) (max diff %.3g)",
              what, r, maxdiff);
        check((double)pc_cls == cls, "%s[%zu]: cf.class == argmax predict(cf.X)", what, r);

        size_t target;
        if (ex->target < 0) {
            check(cls != orig_class, "%s[%zu]: target other: cf.class (%g) != orig_class (%g)",
                  what, r, cls, orig_class);
            target = (size_t)cls;
        } else {
            check(cls == (double)ex->target, "%s[%zu]: cf.class == target_class %d", what, r,
                  ex->target);
            target = (size_t)ex->target;
        }
        if (target < k)
            check(fabs(proba[target] - ex->target_proba) <= ex->tol + 1e-9,
                  "%s[%zu]: cf.proba[target=%zu] = %.6f within tol %.3g of %.3g", what, r, target,
                  proba[target], ex->tol, ex->target_proba);
        if (ex->lo && ex->hi) {
            int inside = 1;
            for (size_t i = 0; i < d; i++)
                if (!(X[i] >= ex->lo[i] && X[i] <= ex->hi[i]))
                    inside = 0;
            check(inside, "%s[%zu]: cf.X within feature_range", what, r);
            if (!inside)
                for (size_t i = 0; i < d; i++)
                    note("X[%zu] = %.17g, range [%g, %g]", i, X[i], ex->lo[i], ex->hi[i]);
        }
        if (ex->immutable) {
            int same = 1;
            for (size_t i = 0; i < d; i++)
                if (ex->immutable[i] && X[i] != xr[i])
                    same = 0;
            check(same, "%s[%zu]: immutable features exactly unchanged", what, r);
            if (!same)
                for (size_t i = 0; i < d; i++)
                    note("x[%zu] = %.17g -> cf.X[%zu] = %.17g", i, xr[i], i, X[i]);
        }
    }
}

/* Copies the cf.X arrays of an output into out (n * d), NaN for a null cf. */
static int extract_cfs(json_t *root, size_t n, size_t d, double *out) {
    json_t *exps = json_object_get(root, "explanations");
    if (!json_is_array(exps) || json_array_size(exps) != n)
        return 0;
    for (size_t r = 0; r < n; r++) {
        json_t *cf = json_object_get(json_array_get(exps, r), "cf");
        if (json_is_null(cf)) {
            for (size_t i = 0; i < d; i++)
                out[r * d + i] = NAN;
            continue;
        }
        if (!json_vec(json_object_get(cf, "X"), d, out + r * d))
            return 0;
    }
    return 1;
}

/* Instances for the 2-feature model: classes 0, 1, 0. */
static const double X3[6] = {0.5, -0.5, -0.3, 0.4, 0.2, 0.1};

/* A successful predict through a handle (used to show a handle still works after an error). */
static void still_predicts(const cfx_model *m, const char *what) {
    double p[4];
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_model_predict(m, X3, 2, 2, p, &err);
    int ok = st == CFX_OK && err.code == CFX_OK && err.message[0] == 0 &&
             fabs(p[0] + p[1] - 1) < 1e-12 && fabs(p[2] + p[3] - 1) < 1e-12;
    check(ok, "%s: model still predicts afterwards", what);
    if (!ok)
        note("status %s, message \"%s\"", status_name(st), msg_of(&err));
}

static void still_explains(const cfx_explainer *e, const char *what) {
    char *out = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_explain(e, X3, 1, 2, &out, &err);
    int ok = st == CFX_OK && err.code == CFX_OK && err.message[0] == 0 && out != NULL &&
             strstr(out, "\"explanations\"") != NULL;
    check(ok, "%s: explainer still explains afterwards", what);
    if (!ok)
        note("status %s, message \"%s\"", status_name(st), msg_of(&err));
    cfx_free(out);
}

/* ---- 1. Version and status strings ------------------------------------------------------------ */

static void test_version(void) {
    section("1. version and status strings");
    const char *v = cfx_version();
    check(v != NULL && strcmp(v, CFX_VERSION_STRING) == 0, "cfx_version() == \"%s\" (got \"%s\")",
          CFX_VERSION_STRING, v ? v : "(null)");
    check(cfx_version() == v, "cfx_version() returns static storage (same pointer twice)");
    for (int s = CFX_OK; s <= CFX_ERR_INTERNAL; s++) {
        const char *str = cfx_status_string((cfx_status)s);
        check(str != NULL && str[0] != 0, "cfx_status_string(%s) non-empty (\"%s\")",
              status_name((cfx_status)s), str ? str : "(null)");
    }
    const char *ok = cfx_status_string(CFX_OK), *inv = cfx_status_string(CFX_ERR_INVALID_ARGUMENT);
    check(ok && inv && strcmp(ok, inv) != 0, "status strings of different codes differ");
    const char *unk = cfx_status_string((cfx_status)1234);
    check(unk != NULL, "cfx_status_string(1234) does not return NULL");
}

/* ---- 2. Native model: shape, predict, vjp ----------------------------------------------------- */

static void test_vjp_fd(const cfx_model *m, const net_t *net, const double *x, const char *name) {
    size_t d = net->d, k = net_k(net);
    double h = 1e-5;
    cfx_error err;
    double worst = 0;
    int ok_calls = 1;
    for (size_t j = 0; j < k; j++) {
        double cot[MAXW] = {0}, g[MAXW];
        cot[j] = 1;
        err_reset(&err);
        cfx_status st = cfx_model_vjp(m, x, 1, d, cot, k, g, &err);
        if (st != CFX_OK || err.code != CFX_OK || err.message[0] != 0) {
            ok_calls = 0;
            note("vjp status %s: %s", status_name(st), msg_of(&err));
            continue;
        }
        for (size_t i = 0; i < d; i++) {
            double xp[MAXW], xm[MAXW], pp[MAXW], pm[MAXW];
            memcpy(xp, x, d * sizeof *x);
            memcpy(xm, x, d * sizeof *x);
            xp[i] += h;
            xm[i] -= h;
            net_forward(net, xp, pp);
            net_forward(net, xm, pm);
            double fd = (pp[j] - pm[j]) / (2 * h);
            if (fabs(fd - g[i]) > worst)
                worst = fabs(fd - g[i]);
        }
    }
    check(ok_calls, "%s: cfx_model_vjp(e_j) succeeds for every class j", name);
    check(ok_calls && worst < 1e-6, "%s: vjp(e_j) matches central differences (max err %.3g)",
          name, worst);
}

static void test_native(void) {
    section("2. native model: shape, predict, vjp");
    cfx_error err;
    cfx_model *m = make_native(&LR_NET, "cfx_model_create_json(logistic 2x2)");
    if (!m)
        return;
    size_t d = 0, k = 0;
    err_reset(&err);
    cfx_status st = cfx_model_shape(m, &d, &k, &err);
    expect_ok(st, &err, "cfx_model_shape");
    check(d == 2 && k == 2, "cfx_model_shape gives d=2, k=2 (got d=%zu, k=%zu)", d, k);
    d = 0;
    err_reset(&err);
    st = cfx_model_shape(m, &d, NULL, &err);
    check(st == CFX_OK && d == 2, "cfx_model_shape(n_classes=NULL) ok, d=2");
    k = 0;
    st = cfx_model_shape(m, NULL, &k, NULL);
    check(st == CFX_OK && k == 2, "cfx_model_shape(n_features=NULL, err=NULL) ok, k=2");

    /* predict: 3 rows, vs softmax computed in C */
    double p[6];
    err_reset(&err);
    st = cfx_model_predict(m, X3, 3, 2, p, &err);
    expect_ok(st, &err, "cfx_model_predict(3 rows)");
    double worst = 0, worst_sum = 0;
    for (size_t r = 0; r < 3; r++) {
        double ref[2];
        net_forward(&LR_NET, X3 + 2 * r, ref);
        for (size_t j = 0; j < 2; j++)
            if (fabs(ref[j] - p[2 * r + j]) > worst)
                worst = fabs(ref[j] - p[2 * r + j]);
        if (fabs(p[2 * r] + p[2 * r + 1] - 1) > worst_sum)
            worst_sum = fabs(p[2 * r] + p[2 * r + 1] - 1);
    }
    check(st == CFX_OK && worst_sum < 1e-12, "predict rows sum to 1 (max dev %.3g)", worst_sum);
    check(st == CFX_OK && worst < 1e-12, "predict matches softmax in C (max err %.3g)", worst);
    /* extreme logits stay finite and normalised */
    double xe[2] = {400, -400}, pe[2] = {-1, -1};
    err_reset(&err);
    st = cfx_model_predict(m, xe, 1, 2, pe, &err);
    check(st == CFX_OK && isfinite(pe[0]) && isfinite(pe[1]) && fabs(pe[0] - 1) < 1e-12 &&
              pe[1] >= 0 && pe[1] < 1e-12,
          "predict with logits +-800 is stable (p = [%g, %g], %s)", pe[0], pe[1],
          status_name(st));

    /* vjp: e_j vs finite differences, at the three instances */
    for (size_t r = 0; r < 3; r++) {
        char name[64];
        snprintf(name, sizeof name, "logistic vjp at row %zu", r);
        test_vjp_fd(m, &LR_NET, X3 + 2 * r, name);
    }
    /* vjp over a batch with a general cotangent equals the per-row sums of the e_j results */
    {
        double cot[6] = {0.3, -1.2, 2.0, 0.5, -0.7, 0.1}, g[6], ref[6];
        err_reset(&err);
        st = cfx_model_vjp(m, X3, 3, 2, cot, 2, g, &err);
        expect_ok(st, &err, "cfx_model_vjp(3 rows, general cotangent)");
        double w = 0;
        for (size_t r = 0; r < 3; r++) {
            double h = 1e-5;
            for (size_t i = 0; i < 2; i++) {
                double xp[2], xm[2], pp[2], pm[2];
                memcpy(xp, X3 + 2 * r, sizeof xp);
                memcpy(xm, X3 + 2 * r, sizeof xm);
                xp[i] += h;
                xm[i] -= h;
                net_forward(&LR_NET, xp, pp);
                net_forward(&LR_NET, xm, pm);
                ref[2 * r + i] = 0;
                for (size_t j = 0; j < 2; j++)
                    ref[2 * r + i] += cot[2 * r + j] * (pp[j] - pm[j]) / (2 * h);
                if (fabs(ref[2 * r + i] - g[2 * r + i]) > w)
                    w = fabs(ref[2 * r + i] - g[2 * r + i]);
            }
        }
        check(st == CFX_OK && w < 1e-6, "batched vjp matches finite differences (max err %.3g)", w);
    }

    /* A deeper network with every layer type. */
    cfx_model *mlp = make_native(&MLP_NET, "cfx_model_create_json(mlp 3-4-4-4-3, all layer types)");
    if (mlp) {
        err_reset(&err);
        st = cfx_model_shape(mlp, &d, &k, &err);
        check(st == CFX_OK && d == 3 && k == 3, "mlp shape d=3, k=3 (got %zu, %zu)", d, k);
        const double xm[6] = {0.3, -0.8, 0.5, -0.5, -0.5, 0.5};
        double pm[6];
        err_reset(&err);
        st = cfx_model_predict(mlp, xm, 2, 3, pm, &err);
        expect_ok(st, &err, "mlp predict(2 rows)");
        double w = 0;
        for (size_t r = 0; r < 2; r++) {
            double ref[3];
            double kink = net_forward(&MLP_NET, xm + 3 * r, ref);
            check(kink > 1e-3, "mlp test row %zu is away from relu kinks (min |pre-relu| = %.3g)",
                  r, kink);
            for (size_t j = 0; j < 3; j++)
                if (fabs(ref[j] - pm[3 * r + j]) > w)
                    w = fabs(ref[j] - pm[3 * r + j]);
        }
        check(st == CFX_OK && w < 1e-12, "mlp predict matches the C forward pass (max err %.3g)",
              w);
        test_vjp_fd(mlp, &MLP_NET, xm, "mlp vjp at row 0");
        test_vjp_fd(mlp, &MLP_NET, xm + 3, "mlp vjp at row 1");
        cfx_model_free(mlp);
    }
    cfx_model_free(m);
}

/* cfx_methods: every method with its parameter table; each row's default is the one
 * cfx_default_config gives; every method takes the constraint keys and sparsify. */
static void test_methods(void) {
    char *js = NULL;
    cfx_error err;
    err_reset(&err);
    expect_ok(cfx_methods(&js, &err), &err, "cfx_methods");
    json_error_t jerr;
    json_t *root = js ? json_loads(js, 0, &jerr) : NULL;
    cfx_free(js);
    check(json_is_array(root) && json_array_size(root) >= 5, "cfx_methods lists the methods");
    size_t i;
    json_t *method;
    json_array_foreach(root, i, method) {
        const char *name = json_string_value(json_object_get(method, "name"));
        char *defaults = NULL;
        expect_ok(cfx_default_config(name ? name : "", &defaults, &err), &err, "cfx_default_config(a listed method)");
        json_t *config = defaults ? json_loads(defaults, 0, &jerr) : NULL;
        cfx_free(defaults);
        const char *shared[] = {"feature_range", "immutable", "monotone", "sparsify"};
        const size_t wanted = 4;
        size_t found = 0;
        size_t j;
        json_t *row;
        json_array_foreach(json_object_get(method, "parameters"), j, row) {
            const char *key = json_string_value(json_object_get(row, "key"));
            if (!key) continue;
            for (size_t s = 0; s < wanted; s++) found += strcmp(key, shared[s]) == 0;
            check(json_equal(json_object_get(row, "default"), json_object_get(config, key)),
                  "%s: %s's default is cfx_default_config's", name, key);
            check(json_is_string(json_object_get(row, "doc")) && json_string_length(json_object_get(row, "doc")) > 0,
                  "%s: %s has a doc line", name, key);
        }
        check(found == wanted, "%s takes the shared keys (feature_range, immutable, monotone, sparsify)", name ? name : "?");
        json_decref(config);
    }
    json_decref(root);
}

/* ---- 3. Default configuration ------------------------------------------------------------------ */

static void test_default_config(void) {
    section("3. default configuration");
    char *js = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_default_config("wachter", &js, &err);
    expect_ok(st, &err, "cfx_default_config(\"wachter\")");
    if (!check(js != NULL, "default config string non-NULL"))
        return;
    const char *keys[] = {"\"method\"", "\"target_proba\"", "\"tol\"", "\"target_class\"",
                          "\"max_iter\"", "\"early_stop\"", "\"lam_init\"", "\"max_lam_steps\"",
                          "\"learning_rate_init\"", "\"decay\"", "\"feature_range\"", "\"eps\"",
                          "\"init\"", "\"distance_fn\"", "\"immutable\"", "\"n_threads\"",
                          "\"seed\"", "\"return_all\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        check(strstr(js, keys[i]) != NULL, "default config contains %s", keys[i]);
    json_error_t jerr;
    json_t *root = json_loads(js, 0, &jerr);
    check(json_is_object(root), "default config parses as a JSON object");
    if (json_is_object(root)) {
        double v;
        json_t *m = json_object_get(root, "method");
        check(json_is_string(m) && strcmp(json_string_value(m), "wachter") == 0,
              "default method == \"wachter\"");
        check(json_num(json_object_get(root, "target_proba"), &v) && v == 1.0,
              "default target_proba == 1.0");
        check(json_num(json_object_get(root, "tol"), &v) && v == 0.05, "default tol == 0.05");
        check(json_num(json_object_get(root, "max_iter"), &v) && v == 1000,
              "default max_iter == 1000");
        check(json_num(json_object_get(root, "lam_init"), &v) && v == 0.1,
              "default lam_init == 0.1");
        check(json_num(json_object_get(root, "early_stop"), &v) && v == 50,
              "default early_stop == 50");
        check(json_num(json_object_get(root, "max_lam_steps"), &v) && v == 10,
              "default max_lam_steps == 10");
        check(json_is_true(json_object_get(root, "return_all")), "default return_all == true");
        json_t *tc = json_object_get(root, "target_class");
        check(json_is_string(tc) && strcmp(json_string_value(tc), "other") == 0,
              "default target_class == \"other\"");
    }
    cfx_free(js);

    /* The default config is accepted as a configuration. */
    cfx_model *m = make_native(&LR_NET, "model for default-config round trip");
    if (m && root) {
        char *txt = json_dumps(root, JSON_COMPACT);
        cfx_explainer *e = make_explainer(m, txt, "cfx_explainer_create(default config verbatim)");
        free(txt);
        cfx_explainer_free(e);
    }
    json_decref(root);

    /* cfx_explainer_config reflects the passed values and fills in defaults. */
    if (m) {
        cfx_explainer *e =
            make_explainer(m, "{\"method\":\"wachter\",\"tol\":0.07,\"max_iter\":321}",
                           "cfx_explainer_create(tol 0.07, max_iter 321)");
        if (e) {
            char *cj = NULL;
            err_reset(&err);
            st = cfx_explainer_config(e, &cj, &err);
            expect_ok(st, &err, "cfx_explainer_config");
            json_t *c = cj ? json_loads(cj, 0, &jerr) : NULL;
            double v;
            check(json_is_object(c), "effective config parses as an object");
            check(json_num(json_object_get(c, "tol"), &v) && v == 0.07,
                  "effective config tol == 0.07");
            check(json_num(json_object_get(c, "max_iter"), &v) && v == 321,
                  "effective config max_iter == 321");
            check(json_num(json_object_get(c, "lam_init"), &v) && v == 0.1,
                  "effective config fills default lam_init == 0.1");
            json_decref(c);
            cfx_free(cj);
            cfx_explainer_free(e);
        }
    }
    cfx_model_free(m);
}

/* ---- 4. Explain with the native model ---------------------------------------------------------- */

static void test_explain_native(void) {
    section("4. explain, native model");
    cfx_model *m = make_native(&LR_NET, "model for explain");
    if (!m)
        return;
    static const double lo[2] = {-1, -1}, hi[2] = {1, 1};

    /* Plain wachter, defaults. */
    {
        cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\"}", "explainer {wachter}");
        char *raw = NULL;
        json_t *root = explain_json(e, X3, 3, 2, "explain 3 rows {wachter}", &raw);
        if (raw) {
            check(strstr(raw, "\"explanations\"") != NULL, "raw output contains \"explanations\"");
            check(strstr(raw, "\"success\": true") || strstr(raw, "\"success\":true"),
                  "raw output contains \"success\": true");
        }
        expect_t ex = {-1, 1.0, 0.05, NULL, NULL, NULL, 1, 1};
        check_explanations(root, m, X3, 3, 2, 2, &ex, "wachter default");
        json_decref(root);
        cfx_free(raw);
        cfx_explainer_free(e);
    }
    /* feature_range [-1, 1] (scalar form). */
    {
        cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\",\"feature_range\":[-1,1]}",
                                          "explainer {feature_range [-1,1]}");
        json_t *root = explain_json(e, X3, 3, 2, "explain 3 rows, feature_range [-1,1]", NULL);
        expect_t ex = {-1, 1.0, 0.05, lo, hi, NULL, 1, 1};
        check_explanations(root, m, X3, 3, 2, 2, &ex, "feature_range [-1,1]");
        json_decref(root);
        cfx_explainer_free(e);
    }
    /* target_class 1, return_all false, on class-0 instances. */
    {
        const double x0[4] = {0.5, -0.5, 0.2, 0.1};
        cfx_explainer *e = make_explainer(
            m, "{\"method\":\"wachter\",\"target_class\":1,\"return_all\":false}",
            "explainer {target_class 1, return_all false}");
        char *raw = NULL;
        json_t *root = explain_json(e, x0, 2, 2, "explain 2 class-0 rows, target_class 1", &raw);
        if (raw)
            check(strstr(raw, "\"class\": 1") || strstr(raw, "\"class\":1"),
                  "raw output contains \"class\": 1");
        expect_t ex = {1, 1.0, 0.05, NULL, NULL, NULL, 0, 1};
        check_explanations(root, m, x0, 2, 2, 2, &ex, "target_class 1");
        json_decref(root);
        cfx_free(raw);
        cfx_explainer_free(e);
    }
    /* target_class "same" on class-0 instances: raise the class-0 probability to 0.95. */
    {
        const double x0[4] = {0.5, -0.5, 0.2, 0.1};
        cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\",\"target_class\":\"same\"}",
                                          "explainer {target_class same}");
        json_t *root = explain_json(e, x0, 2, 2, "explain 2 class-0 rows, target_class same", NULL);
        expect_t ex = {0, 1.0, 0.05, NULL, NULL, NULL, 1, 1};
        check_explanations(root, m, x0, 2, 2, 2, &ex, "target_class same");
        json_decref(root);
        cfx_explainer_free(e);
    }
    /* immutable [0] with a per-feature range (feature 1 needs room beyond 1). */
    {
        static const double lo2[2] = {-1, -3}, hi2[2] = {1, 3};
        static const int imm[2] = {1, 0};
        cfx_explainer *e = make_explainer(
            m, "{\"method\":\"wachter\",\"immutable\":[0],\"feature_range\":[[-1,-3],[1,3]]}",
            "explainer {immutable [0], feature_range per feature}");
        json_t *root = explain_json(e, X3, 3, 2, "explain 3 rows, immutable [0]", NULL);
        expect_t ex = {-1, 1.0, 0.05, lo2, hi2, imm, 1, 1};
        check_explanations(root, m, X3, 3, 2, 2, &ex, "immutable [0]");
        json_decref(root);
        cfx_explainer_free(e);
    }
    /* target_proba 0.8, tol 0.02: the counterfactual stops near 0.8. */
    {
        cfx_explainer *e = make_explainer(
            m, "{\"method\":\"wachter\",\"target_proba\":0.8,\"tol\":0.02,\"n_threads\":1}",
            "explainer {target_proba 0.8, tol 0.02, n_threads 1}");
        json_t *root = explain_json(e, X3, 3, 2, "explain 3 rows, target_proba 0.8", NULL);
        expect_t ex = {-1, 0.8, 0.02, NULL, NULL, NULL, 1, 1};
        check_explanations(root, m, X3, 3, 2, 2, &ex, "target_proba 0.8");
        json_decref(root);
        cfx_explainer_free(e);
    }
    /* An impossible target: success false and cf null, but the call succeeds. */
    {
        cfx_explainer *e = make_explainer(
            m, "{\"method\":\"wachter\",\"immutable\":[0,1],\"max_iter\":50,\"max_lam_steps\":2}",
            "explainer {immutable [0,1]} (no counterfactual possible)");
        json_t *root = explain_json(e, X3, 1, 2, "explain with every feature immutable", NULL);
        if (root) {
            json_t *e0 = json_array_get(json_object_get(root, "explanations"), 0);
            check(json_is_false(json_object_get(e0, "success")) &&
                      json_is_null(json_object_get(e0, "cf")),
                  "all immutable: success false and cf null");
        }
        json_decref(root);
        cfx_explainer_free(e);
    }
    /* Same result for n_threads 1 and 2 (deterministic, independent of scheduling). */
    {
        cfx_explainer *e1 = make_explainer(m, "{\"method\":\"wachter\",\"n_threads\":1}",
                                           "explainer {n_threads 1}");
        cfx_explainer *e2 = make_explainer(m, "{\"method\":\"wachter\",\"n_threads\":2}",
                                           "explainer {n_threads 2}");
        json_t *r1 = explain_json(e1, X3, 3, 2, "explain with n_threads 1", NULL);
        json_t *r2 = explain_json(e2, X3, 3, 2, "explain with n_threads 2", NULL);
        double c1[6], c2[6];
        if (r1 && r2) {
            int ok = extract_cfs(r1, 3, 2, c1) && extract_cfs(r2, 3, 2, c2) &&
                     memcmp(c1, c2, sizeof c1) == 0;
            check(ok, "cf.X identical for n_threads 1 and 2");
            double n1 = 0, n2 = 0;
            json_num(json_object_get(r1, "n_threads"), &n1);
            json_num(json_object_get(r2, "n_threads"), &n2);
            check(n1 == 1, "n_threads 1 reported as 1 (got %g)", n1);
            check(n2 >= 1 && n2 <= 2, "n_threads 2 reported as 1..2 (got %g)", n2);
        }
        json_decref(r1);
        json_decref(r2);
        cfx_explainer_free(e1);
        cfx_explainer_free(e2);
    }
    /* Explain on the deeper net. */
    {
        cfx_model *mlp = make_native(&MLP_NET, "mlp model for explain");
        if (mlp) {
            const double xm[6] = {0.3, -0.8, 0.5, -0.5, -0.5, 0.5};
            cfx_explainer *e = make_explainer(mlp, "{\"method\":\"wachter\",\"tol\":0.1,"
                                                   "\"target_proba\":0.9}",
                                              "mlp explainer");
            json_t *root = explain_json(e, xm, 2, 3, "mlp explain 2 rows", NULL);
            expect_t ex = {-1, 0.9, 0.1, NULL, NULL, NULL, 1, 0};
            check_explanations(root, mlp, xm, 2, 3, 3, &ex, "mlp");
            json_decref(root);
            cfx_explainer_free(e);
            cfx_model_free(mlp);
        }
    }
    cfx_model_free(m);
}

/* ---- 5. Callback models ------------------------------------------------------------------------ */

static void test_callbacks(void) {
    section("5. callback models");
    cfx_error err;
    cfx_status st;
    static const double lo[2] = {-1, -1}, hi[2] = {1, 1};

    /* Without vjp: numerical gradients. */
    {
        cb_lr u;
        cb_lr_init(&u);
        cfx_model *m = make_callback(&u, 0, "cfx_model_create_callbacks(vjp NULL)");
        if (m) {
            size_t d = 0, k = 0;
            st = cfx_model_shape(m, &d, &k, NULL);
            check(st == CFX_OK && d == 2 && k == 2, "callback model shape d=2, k=2");
            double p[6], ref[6];
            err_reset(&err);
            st = cfx_model_predict(m, X3, 3, 2, p, &err);
            expect_ok(st, &err, "callback predict(3 rows)");
            for (size_t r = 0; r < 3; r++)
                cb_lr_row(&u, X3 + 2 * r, ref + 2 * r);
            check(st == CFX_OK && memcmp(p, ref, sizeof p) == 0,
                  "callback predict returns the callback's numbers");
            /* numerical vjp vs the exact one */
            const double cot[2] = {1.0, -0.5};
            double g[2], gref[2];
            long calls0 = atomic_load(&u.predict_calls);
            atomic_store(&u.max_rows, 0);
            err_reset(&err);
            st = cfx_model_vjp(m, X3, 1, 2, cot, 2, g, &err);
            expect_ok(st, &err, "callback cfx_model_vjp (central differences)");
            cb_lr_vjp_row(&u, X3, cot, gref);
            double w = fmax(fabs(g[0] - gref[0]), fabs(g[1] - gref[1]));
            check(st == CFX_OK && w < 1e-4, "numerical vjp close to exact (max err %.3g)", w);
            long calls = atomic_load(&u.predict_calls) - calls0;
            long rows = atomic_load(&u.max_rows);
            check(calls == 1 && rows == 4,
                  "numerical vjp of one row: one predict call with 2*d = 4 rows (got %ld calls, "
                  "max %ld rows)",
                  calls, rows);

            cfx_explainer *e =
                make_explainer(m, "{\"method\":\"wachter\",\"feature_range\":[-1,1]}",
                               "explainer on callback model (no vjp)");
            json_t *root = explain_json(e, X3, 3, 2, "explain, callback model without vjp", NULL);
            expect_t ex = {-1, 1.0, 0.05, lo, hi, NULL, 1, 1};
            check_explanations(root, m, X3, 3, 2, 2, &ex, "callback no-vjp");
            json_decref(root);
            check(!atomic_load(&u.bad_args), "callbacks always got the right d and buffers");

            /* meta counts what the callback saw (one instance, one thread). */
            {
                cfx_explainer *e1 = make_explainer(
                    m, "{\"method\":\"wachter\",\"n_threads\":1,\"eps\":[0.01,0.02]}",
                    "explainer on callback model {n_threads 1, eps per feature}");
                long c0 = atomic_load(&u.predict_calls), r0 = atomic_load(&u.predict_rows);
                json_t *r1 = explain_json(e1, X3, 1, 2, "explain 1 row, callback, n_threads 1", NULL);
                long dc = atomic_load(&u.predict_calls) - c0, dr = atomic_load(&u.predict_rows) - r0;
                if (r1) {
                    json_t *meta =
                        json_object_get(json_array_get(json_object_get(r1, "explanations"), 0), "meta");
                    double mc = -1, mr = -1;
                    json_num(json_object_get(meta, "model_calls"), &mc);
                    json_num(json_object_get(meta, "predicted_rows"), &mr);
                    check(mc == (double)dc, "meta.model_calls (%g) == predict callback calls (%ld)",
                          mc, dc);
                    check(mr == (double)dr, "meta.predicted_rows (%g) == rows given to predict (%ld)",
                          mr, dr);
                    json_t *e0 = json_array_get(json_object_get(r1, "explanations"), 0);
                    check(json_is_true(json_object_get(e0, "success")),
                          "callback with per-feature eps finds a counterfactual");
                }
                json_decref(r1);
                cfx_explainer_free(e1);
            }

            /* Failure switched on, then off again. */
            if (e) {
                char *out = NULL;
                atomic_store(&u.fail, 42);
                err_reset(&err);
                st = cfx_explain(e, X3, 2, 2, &out, &err);
                expect_err(st, &err, CFX_ERR_CALLBACK, "explain with predict returning 42", NULL);
                check(strstr(err.message, "42") != NULL,
                      "callback error message carries the returned value 42");
                cfx_free(out);
                out = NULL;
                double pp[2];
                err_reset(&err);
                st = cfx_model_predict(m, X3, 1, 2, pp, &err);
                expect_err(st, &err, CFX_ERR_CALLBACK, "predict with predict returning 42", NULL);
                atomic_store(&u.fail, 0);
                still_explains(e, "after callback failure");
                still_predicts(m, "after callback failure");

                atomic_store(&u.write_nan, 1);
                err_reset(&err);
                st = cfx_explain(e, X3, 2, 2, &out, &err);
                int ok = (st == CFX_ERR_NUMERIC || st == CFX_ERR_CALLBACK) && err.code == st &&
                         msg_terminated(&err) && err.message[0] != 0 && err.message[0] != 'Z';
                check(ok, "explain with predict writing NaN -> CFX_ERR_NUMERIC or CALLBACK");
                note("got %s: \"%s\"", status_name(st), msg_of(&err));
                cfx_free(out);
                out = NULL;
                err_reset(&err);
                st = cfx_model_predict(m, X3, 1, 2, pp, &err);
                ok = (st == CFX_ERR_NUMERIC || st == CFX_ERR_CALLBACK) && err.code == st &&
                     msg_terminated(&err) && err.message[0] != 0 && err.message[0] != 'Z';
                check(ok, "predict with predict writing NaN -> CFX_ERR_NUMERIC or CALLBACK");
                note("got %s: \"%s\"", status_name(st), msg_of(&err));
                atomic_store(&u.write_nan, 0);
                still_explains(e, "after NaN from callback");
            }
            cfx_explainer_free(e);
            cfx_model_free(m);
        }
    }
    /* With an exact vjp. */
    {
        cb_lr u;
        cb_lr_init(&u);
        cfx_model *m = make_callback(&u, 1, "cfx_model_create_callbacks(with vjp)");
        if (m) {
            const double cot[6] = {1.0, -0.5, 0.2, 0.7, -1.0, 0.0};
            double g[6], gref[6];
            long v0 = atomic_load(&u.vjp_calls);
            err_reset(&err);
            st = cfx_model_vjp(m, X3, 3, 2, cot, 2, g, &err);
            expect_ok(st, &err, "callback cfx_model_vjp (exact callback)");
            for (size_t r = 0; r < 3; r++)
                cb_lr_vjp_row(&u, X3 + 2 * r, cot + 2 * r, gref + 2 * r);
            check(st == CFX_OK && memcmp(g, gref, sizeof g) == 0,
                  "cfx_model_vjp returns the vjp callback's numbers");
            check(atomic_load(&u.vjp_calls) > v0, "cfx_model_vjp called the vjp callback");

            cfx_explainer *e =
                make_explainer(m, "{\"method\":\"wachter\",\"feature_range\":[-1,1]}",
                               "explainer on callback model (with vjp)");
            long vb = atomic_load(&u.vjp_calls);
            json_t *root = explain_json(e, X3, 3, 2, "explain, callback model with vjp", NULL);
            expect_t ex = {-1, 1.0, 0.05, lo, hi, NULL, 1, 1};
            check_explanations(root, m, X3, 3, 2, 2, &ex, "callback vjp");
            json_decref(root);
            check(atomic_load(&u.vjp_calls) > vb, "explain used the vjp callback");
            check(!atomic_load(&u.bad_args), "callbacks always got the right d, k and buffers");

            if (e) {
                char *out = NULL;
                atomic_store(&u.vjp_fail, 7);
                err_reset(&err);
                st = cfx_explain(e, X3, 1, 2, &out, &err);
                expect_err(st, &err, CFX_ERR_CALLBACK, "explain with vjp returning 7", NULL);
                cfx_free(out);
                err_reset(&err);
                st = cfx_model_vjp(m, X3, 1, 2, cot, 2, g, &err);
                expect_err(st, &err, CFX_ERR_CALLBACK, "cfx_model_vjp with vjp returning 7", NULL);
                atomic_store(&u.vjp_fail, 0);
                still_explains(e, "after vjp failure");
            }
            cfx_explainer_free(e);
            cfx_model_free(m);
        }
    }
}

/* ---- 6. Bad inputs ----------------------------------------------------------------------------- */

static void bad_spec(const char *spec, cfx_status want, const char *what, const char *mention) {
    cfx_model *m = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_model_create_json(spec, &m, &err);
    expect_err(st, &err, want, what, mention);
    if (st == CFX_OK)
        cfx_model_free(m);
}

static void bad_config(const cfx_model *m, const char *cfg, cfx_status want, const char *what,
                       const char *mention) {
    cfx_explainer *e = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_explainer_create(m, cfg, &e, &err);
    expect_err(st, &err, want, what, mention);
    if (st == CFX_OK)
        cfx_explainer_free(e);
}

/* Child-process body: 0 when an overflowing n * d is rejected cleanly. */
static int overflow_probe(void *arg) {
    int which = *(int *)arg;
    char *spec = net_spec(&LR_NET);
    cfx_model *m = NULL;
    cfx_explainer *e = NULL;
    if (cfx_model_create_json(spec, &m, NULL) != CFX_OK ||
        cfx_explainer_create(m, "{\"method\":\"wachter\"}", &e, NULL) != CFX_OK)
        return 3;
    free(spec);
    double x[4] = {0, 0, 0, 0}, p[4], cot[4] = {1, 0, 1, 0};
    size_t n = (size_t)1 << 62;
    char *out = NULL;
    cfx_error err;
    cfx_status st;
    if (which == 0)
        st = cfx_model_predict(m, x, n, 2, p, &err);
    else if (which == 1)
        st = cfx_model_vjp(m, x, n, 2, cot, 2, p, &err);
    else
        st = cfx_explain(e, x, n, 2, &out, &err);
    cfx_explainer_free(e);
    cfx_model_free(m);
    return (st == CFX_ERR_SHAPE || st == CFX_ERR_INVALID_ARGUMENT) && err.message[0] ? 0 : 4;
}

static void test_bad_inputs(void) {
    section("6. bad inputs");
    cfx_error err;
    cfx_status st;

    /* Model specifications. */
    bad_spec("{\"input_shape\": [2], \"layers\": [", CFX_ERR_JSON, "spec: truncated JSON", NULL);
    {
        cfx_model *m = NULL;
        err_reset(&err);
        st = cfx_model_create_json("{\"input_shape\": [2],\n \"layers\": [}", &m, &err);
        check(st == CFX_ERR_JSON && ci_contains(err.message, "line"),
              "spec JSON error message has a line (and column): \"%s\"", msg_of(&err));
    }
    bad_spec("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[1,2,3],[4,5,"
             "6]], \"bias\": [0,0]}, {\"type\": \"dense\", \"weights\": [[1,2],[3,4]], \"bias\": "
             "[0,0]}]}",
             CFX_ERR_MODEL, "spec: dense 3-wide input on d=2", NULL);
    bad_spec("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[1,2],[3,4],"
             "[5,6]], \"bias\": [0,0,0]}, {\"type\": \"dense\", \"weights\": [[1,2],[3,4]], "
             "\"bias\": [0,0]}, {\"type\": \"softmax\"}]}",
             CFX_ERR_MODEL, "spec: mismatched dense shapes (3 out -> 2 in)", NULL);
    bad_spec("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[1,2],[3]], "
             "\"bias\": [0,0]}]}",
             CFX_ERR_MODEL, "spec: ragged weights", NULL);
    bad_spec("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[1,2],[3,4]]"
             ", \"bias\": [0,0,0]}]}",
             CFX_ERR_MODEL, "spec: bias of the wrong length", NULL);
    bad_spec("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[1,\"a\"],[3"
             ",4]], \"bias\": [0,0]}]}",
             CFX_ERR_MODEL, "spec: non-numeric weight", NULL);
    bad_spec("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"weights\": [[1,-1],[-1,1"
             "]], \"bias\": [0,0]}, {\"type\": \"conv9d\"}]}",
             CFX_ERR_MODEL, "spec: unknown layer type", "conv9d");
    bad_spec("{\"layers\": [{\"type\": \"softmax\"}]}", CFX_ERR_MODEL, "spec: no input_shape",
             "input_shape");
    bad_spec("{\"input_shape\": [0], \"layers\": [{\"type\": \"softmax\"}]}", CFX_ERR_MODEL,
             "spec: input_shape [0]", NULL);
    bad_spec("[1, 2]", CFX_ERR_MODEL, "spec: not an object", NULL);
    {
        cfx_model *m = NULL;
        err_reset(&err);
        st = cfx_model_create_json(NULL, &m, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "cfx_model_create_json(spec NULL)", NULL);
        char *spec = net_spec(&LR_NET);
        err_reset(&err);
        st = cfx_model_create_json(spec, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "cfx_model_create_json(out NULL)", NULL);
        st = cfx_model_create_json("{", &m, NULL);
        check(st == CFX_ERR_JSON, "cfx_model_create_json(bad JSON, err NULL) returns CFX_ERR_JSON");
        free(spec);
    }

    /* Callback model creation. */
    {
        cb_lr u;
        cb_lr_init(&u);
        cfx_model *m = NULL;
        err_reset(&err);
        st = cfx_model_create_callbacks(2, 2, NULL, cb_vjp, &u, &m, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "create_callbacks(predict NULL)", NULL);
        err_reset(&err);
        st = cfx_model_create_callbacks(0, 2, cb_predict, NULL, &u, &m, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "create_callbacks(n_features 0)", NULL);
        err_reset(&err);
        st = cfx_model_create_callbacks(2, 0, cb_predict, NULL, &u, &m, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "create_callbacks(n_classes 0)", NULL);
        err_reset(&err);
        st = cfx_model_create_callbacks(2, 2, cb_predict, NULL, &u, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "create_callbacks(out NULL)", NULL);
        st = cfx_model_create_callbacks(2, 2, NULL, NULL, &u, &m, NULL);
        check(st == CFX_ERR_INVALID_ARGUMENT,
              "create_callbacks(predict NULL, err NULL) returns CFX_ERR_INVALID_ARGUMENT");
    }

    cfx_model *m = make_native(&LR_NET, "model for bad-input tests");
    if (!m)
        return;
    cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\",\"max_iter\":200}",
                                      "explainer for bad-input tests");
    if (!e) {
        cfx_model_free(m);
        return;
    }

    /* Configurations. */
    bad_config(m, "{\"method\": \"wachter\",", CFX_ERR_JSON, "config: truncated JSON", NULL);
    bad_config(m, "{\"method\": wachter}", CFX_ERR_JSON, "config: bare word", NULL);
    bad_config(m, "{\"method\":\"nope\"}", CFX_ERR_CONFIG, "config: unknown method", "method");
    bad_config(m, "{}", CFX_ERR_CONFIG, "config: no method", "method");
    bad_config(m, "{\"method\":42}", CFX_ERR_CONFIG, "config: method not a string", "method");
    bad_config(m, "[\"wachter\"]", CFX_ERR_CONFIG, "config: not an object", NULL);
    bad_config(m, "{\"method\":\"wachter\",\"tolerance\":0.1}", CFX_ERR_CONFIG,
               "config: unknown key", "tolerance");
    bad_config(m, "{\"method\":\"wachter\",\"tol\":\"x\"}", CFX_ERR_CONFIG,
               "config: tol of the wrong type", "tol");
    bad_config(m, "{\"method\":\"wachter\",\"tol\":-1}", CFX_ERR_CONFIG, "config: tol -1", "tol");
    bad_config(m, "{\"method\":\"wachter\",\"max_iter\":1.5}", CFX_ERR_CONFIG,
               "config: max_iter 1.5 (not an integer)", "max_iter");
    bad_config(m, "{\"method\":\"wachter\",\"n_threads\":-1}", CFX_ERR_CONFIG,
               "config: n_threads -1", "n_threads");
    bad_config(m, "{\"method\":\"wachter\",\"target_class\":5}", CFX_ERR_CONFIG,
               "config: target_class 5 with k=2", "target_class");
    bad_config(m, "{\"method\":\"wachter\",\"target_class\":\"sideways\"}", CFX_ERR_CONFIG,
               "config: target_class \"sideways\"", "target_class");
    bad_config(m, "{\"method\":\"wachter\",\"immutable\":[7]}", CFX_ERR_CONFIG,
               "config: immutable [7] with d=2", "immutable");
    bad_config(m, "{\"method\":\"wachter\",\"feature_range\":[1,-1]}", CFX_ERR_CONFIG,
               "config: feature_range min > max", "feature_range");
    bad_config(m, "{\"method\":\"wachter\",\"feature_range\":[[0],[1]]}", CFX_ERR_CONFIG,
               "config: per-feature range of length 1 with d=2", "feature_range");
    bad_config(m, "{\"method\":\"wachter\",\"eps\":[0.1,0.1,0.1]}", CFX_ERR_CONFIG,
               "config: eps of length 3 with d=2", "eps");
    bad_config(m, "{\"method\":\"wachter\",\"distance_fn\":\"l7\"}", CFX_ERR_CONFIG,
               "config: distance_fn \"l7\"", "distance_fn");
    bad_config(m, "{\"method\":\"wachter\",\"decay\":1}", CFX_ERR_CONFIG,
               "config: decay not a boolean", "decay");
    {
        cfx_explainer *e2 = NULL;
        err_reset(&err);
        st = cfx_explainer_create(NULL, "{\"method\":\"wachter\"}", &e2, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explainer_create(model NULL)", NULL);
        err_reset(&err);
        st = cfx_explainer_create(m, NULL, &e2, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explainer_create(config NULL)", NULL);
        err_reset(&err);
        st = cfx_explainer_create(m, "{\"method\":\"wachter\"}", NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explainer_create(out NULL)", NULL);
        st = cfx_explainer_create(m, "{\"method\":\"nope\"}", &e2, NULL);
        check(st == CFX_ERR_CONFIG, "explainer_create(unknown method, err NULL) -> CONFIG");
        char *js = NULL;
        err_reset(&err);
        st = cfx_default_config("nope", &js, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "default_config(\"nope\")", "nope");
        err_reset(&err);
        st = cfx_default_config(NULL, &js, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "default_config(NULL)", NULL);
        err_reset(&err);
        st = cfx_default_config("wachter", NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "default_config(json_out NULL)", NULL);
        err_reset(&err);
        st = cfx_explainer_config(NULL, &js, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explainer_config(NULL)", NULL);
        err_reset(&err);
        st = cfx_explainer_config(e, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explainer_config(json_out NULL)", NULL);
    }
    still_predicts(m, "after config errors");
    still_explains(e, "after config errors");

    /* Shapes. */
    {
        double p[8], g[8];
        const double cot[4] = {1, 0, 0, 1};
        char *out = NULL;
        err_reset(&err);
        st = cfx_model_predict(m, X3, 2, 3, p, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "predict with d=3 on a d=2 model", NULL);
        err_reset(&err);
        st = cfx_model_vjp(m, X3, 1, 3, cot, 2, g, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "vjp with d=3 on a d=2 model", NULL);
        err_reset(&err);
        st = cfx_model_vjp(m, X3, 1, 2, cot, 3, g, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "vjp with k=3 on a k=2 model", NULL);
        err_reset(&err);
        st = cfx_explain(e, X3, 2, 3, &out, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "explain with d=3 on a d=2 model", NULL);
        cfx_free(out);
        out = NULL;
        err_reset(&err);
        st = cfx_explain(e, X3, 2, 1, &out, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "explain with d=1 on a d=2 model", NULL);
        cfx_free(out);
        out = NULL;
        st = cfx_explain(e, X3, 2, 3, &out, NULL);
        check(st == CFX_ERR_SHAPE, "explain with wrong d and err NULL -> CFX_ERR_SHAPE");
        cfx_free(out);
    }
    still_predicts(m, "after shape errors");
    still_explains(e, "after shape errors");

    /* Non-finite inputs. */
    {
        double xn[4] = {0.5, NAN, 0.1, 0.2}, xi[2] = {INFINITY, 0.0}, p[4], g[2];
        const double cot[2] = {1, 0}, cotn[2] = {NAN, 0};
        char *out = NULL;
        err_reset(&err);
        st = cfx_explain(e, xn, 2, 2, &out, &err);
        expect_err(st, &err, CFX_ERR_NUMERIC, "explain with NaN in an instance", NULL);
        cfx_free(out);
        out = NULL;
        err_reset(&err);
        st = cfx_explain(e, xi, 1, 2, &out, &err);
        expect_err(st, &err, CFX_ERR_NUMERIC, "explain with +inf in an instance", NULL);
        cfx_free(out);
        out = NULL;
        err_reset(&err);
        st = cfx_model_predict(m, xn, 2, 2, p, &err);
        expect_err(st, &err, CFX_ERR_NUMERIC, "predict with NaN input", NULL);
        err_reset(&err);
        st = cfx_model_vjp(m, xi, 1, 2, cot, 2, g, &err);
        expect_err(st, &err, CFX_ERR_NUMERIC, "vjp with inf input", NULL);
        err_reset(&err);
        st = cfx_model_vjp(m, X3, 1, 2, cotn, 2, g, &err);
        expect_err(st, &err, CFX_ERR_NUMERIC, "vjp with NaN cotangent", NULL);
    }
    still_predicts(m, "after numeric errors");
    still_explains(e, "after numeric errors");

    /* NULL arguments. */
    {
        double p[4], g[2];
        const double cot[2] = {1, 0};
        char *out = NULL;
        size_t d;
        err_reset(&err);
        st = cfx_model_shape(NULL, &d, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "model_shape(model NULL)", NULL);
        err_reset(&err);
        st = cfx_model_predict(NULL, X3, 1, 2, p, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "predict(model NULL)", NULL);
        err_reset(&err);
        st = cfx_model_predict(m, NULL, 1, 2, p, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "predict(x NULL)", NULL);
        err_reset(&err);
        st = cfx_model_predict(m, X3, 1, 2, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "predict(proba_out NULL)", NULL);
        st = cfx_model_predict(NULL, X3, 1, 2, p, NULL);
        check(st == CFX_ERR_INVALID_ARGUMENT, "predict(model NULL, err NULL) -> INVALID_ARGUMENT");
        err_reset(&err);
        st = cfx_model_vjp(NULL, X3, 1, 2, cot, 2, g, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "vjp(model NULL)", NULL);
        err_reset(&err);
        st = cfx_model_vjp(m, X3, 1, 2, NULL, 2, g, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "vjp(cotangent NULL)", NULL);
        err_reset(&err);
        st = cfx_model_vjp(m, X3, 1, 2, cot, 2, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "vjp(grad_out NULL)", NULL);
        err_reset(&err);
        st = cfx_explain(NULL, X3, 1, 2, &out, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explain(explainer NULL)", NULL);
        err_reset(&err);
        st = cfx_explain(e, NULL, 1, 2, &out, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explain(x NULL)", NULL);
        err_reset(&err);
        st = cfx_explain(e, X3, 1, 2, NULL, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "explain(json_out NULL)", NULL);
        st = cfx_explain(e, NULL, 1, 2, &out, NULL);
        check(st == CFX_ERR_INVALID_ARGUMENT, "explain(x NULL, err NULL) -> INVALID_ARGUMENT");
        /* n == 0: either an empty result or INVALID_ARGUMENT, never anything else. */
        out = NULL;
        err_reset(&err);
        st = cfx_explain(e, X3, 0, 2, &out, &err);
        check(st == CFX_OK || st == CFX_ERR_INVALID_ARGUMENT,
              "explain with n=0 -> CFX_OK or INVALID_ARGUMENT (got %s: \"%s\")", status_name(st),
              st == CFX_OK ? "" : msg_of(&err));
        cfx_free(out);
    }
    still_predicts(m, "after NULL-argument errors");
    still_explains(e, "after NULL-argument errors");

    /* Successful calls with err == NULL. */
    {
        double p[2];
        char *out = NULL;
        st = cfx_model_predict(m, X3, 1, 2, p, NULL);
        check(st == CFX_OK, "predict with err NULL -> CFX_OK");
        st = cfx_explain(e, X3, 1, 2, &out, NULL);
        check(st == CFX_OK && out != NULL, "explain with err NULL -> CFX_OK");
        cfx_free(out);
    }
    /* Long messages are truncated, NUL-terminated and stay valid UTF-8. */
    for (int pre = 0; pre < 2; pre++) {
        char cfg[2048];
        int p = snprintf(cfg, sizeof cfg, "{\"method\":\"wachter\",\"%s", pre ? "a" : "");
        for (int i = 0; i < 400; i++) {
            cfg[p++] = (char)0xC3; /* U+00E9, 2 bytes */
            cfg[p++] = (char)0xA9;
        }
        snprintf(cfg + p, sizeof cfg - (size_t)p, "\":1}");
        cfx_explainer *e2 = NULL;
        err_reset(&err);
        st = cfx_explainer_create(m, cfg, &e2, &err);
        check(st == CFX_ERR_CONFIG, "unknown 800-byte key (offset %d) -> CFX_ERR_CONFIG", pre);
        size_t len = msg_terminated(&err) ? strlen(err.message) : (size_t)-1;
        check(len != (size_t)-1 && len > 0 && len < CFX_ERROR_MESSAGE_SIZE,
              "long message truncated to fit and NUL-terminated (length %zu)", len);
        int valid = len != (size_t)-1 && utf8_valid(err.message);
        check(valid, "truncated message (offset %d) is valid UTF-8", pre);
        if (!valid && len != (size_t)-1 && len >= 2)
            note("message ends with bytes 0x%02x 0x%02x", (unsigned char)err.message[len - 2],
                 (unsigned char)err.message[len - 1]);
        if (st == CFX_OK)
            cfx_explainer_free(e2);
    }
    /* The unknown-key message lists the keys that are accepted. */
    {
        err_reset(&err);
        cfx_explainer *e2 = NULL;
        st = cfx_explainer_create(m, "{\"method\":\"wachter\",\"tolerance\":0.1}", &e2, &err);
        if (st == CFX_OK)
            cfx_explainer_free(e2);
        if (strstr(err.message, "known keys")) {
            const char *keys[] = {"target_proba", "tol", "target_class", "max_iter",
                                  "early_stop", "lam_init", "max_lam_steps",
                                  "learning_rate_init", "decay", "feature_range", "eps", "init",
                                  "distance_fn", "immutable", "n_threads", "seed", "return_all"};
            int all = 1;
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                if (!strstr(err.message, keys[i])) {
                    note("\"%s\" is accepted but not listed", keys[i]);
                    all = 0;
                }
            check(all, "unknown-key message lists every accepted key");
        }
    }
    /* A one-class network cannot be explained. */
    {
        static const double W1[2] = {1, 1}, B1[1] = {0};
        static const layer_t L1[2] = {{L_DENSE, 2, 1, W1, B1}, {L_SIGMOID, 0, 0, NULL, NULL}};
        static const net_t N1 = {2, 2, L1};
        cfx_model *m1 = make_native(&N1, "one-class network (dense 2->1, sigmoid)");
        if (m1) {
            cfx_explainer *e1 = NULL;
            err_reset(&err);
            st = cfx_explainer_create(m1, "{\"method\":\"wachter\"}", &e1, &err);
            check((st == CFX_ERR_CONFIG || st == CFX_ERR_MODEL) && err.code == st &&
                      err.message[0] != 0,
                  "explainer on a 1-class model -> CFX_ERR_CONFIG or CFX_ERR_MODEL (got %s: \"%s\")",
                  status_name(st), msg_of(&err));
            if (st == CFX_OK)
                cfx_explainer_free(e1);
            cfx_model_free(m1);
        }
    }
    cfx_explainer_free(e);
    cfx_model_free(m);

    /* Sizes whose product overflows: an error, not a crash (run in a child process). */
    for (int which = 0; which < 3; which++) {
        static const char *names[3] = {"predict", "vjp", "explain"};
        int rc = run_isolated(overflow_probe, &which);
        check(rc == 0, "%s with n = 2^62, d = 2 (n*d overflows) -> SHAPE or INVALID_ARGUMENT, "
              "no crash (child exit %d)", names[which], rc);
    }
}

/* ---- 7. Threads -------------------------------------------------------------------------------- */

#define N_THREADS 4
#define N_REPEAT 3

typedef struct {
    const cfx_explainer *e;
    const double *x;
    size_t n, d;
    cfx_status st[N_REPEAT];
    char *out[N_REPEAT];
    char msg[N_REPEAT][CFX_ERROR_MESSAGE_SIZE];
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    for (int r = 0; r < N_REPEAT; r++) {
        cfx_error err;
        err_reset(&err);
        j->out[r] = NULL;
        j->st[r] = cfx_explain(j->e, j->x, j->n, j->d, &j->out[r], &err);
        memcpy(j->msg[r], err.message, sizeof err.message);
        j->msg[r][CFX_ERROR_MESSAGE_SIZE - 1] = 0;
    }
    return NULL;
}

static void run_threads(const cfx_explainer *e, const double *x, size_t n, size_t d,
                        const char *what) {
    if (!e)
        return;
    thread_job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    int started[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (thread_job){.e = e, .x = x, .n = n, .d = d};
        started[t] = pthread_create(&th[t], NULL, thread_main, &jobs[t]) == 0;
    }
    for (int t = 0; t < N_THREADS; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    int all_started = 1, all_ok = 1, all_same = 1, all_parsed = 1;
    double ref[MAXW * 8], cur[MAXW * 8];
    int have_ref = 0;
    for (int t = 0; t < N_THREADS; t++) {
        all_started &= started[t];
        if (!started[t])
            continue;
        for (int r = 0; r < N_REPEAT; r++) {
            if (jobs[t].st[r] != CFX_OK || jobs[t].out[r] == NULL) {
                all_ok = 0;
                note("thread %d run %d: %s \"%s\"", t, r, status_name(jobs[t].st[r]),
                     jobs[t].msg[r]);
                continue;
            }
            json_t *root = json_loads(jobs[t].out[r], 0, NULL);
            if (!root || !extract_cfs(root, n, d, cur)) {
                all_parsed = 0;
            } else if (!have_ref) {
                memcpy(ref, cur, n * d * sizeof *cur);
                have_ref = 1;
            } else if (memcmp(ref, cur, n * d * sizeof *cur) != 0) {
                all_same = 0;
            }
            json_decref(root);
            cfx_free(jobs[t].out[r]);
        }
    }
    check(all_started, "%s: %d threads started", what, N_THREADS);
    check(all_ok, "%s: all %d concurrent explains succeed", what, N_THREADS * N_REPEAT);
    check(all_parsed && have_ref, "%s: all outputs parse and have cf.X arrays", what);
    check(all_same && have_ref, "%s: cf.X identical across threads", what);
}

static void test_threads(void) {
    section("7. threads");
    cfx_model *m = make_native(&LR_NET, "model for threads");
    if (!m)
        return;
    cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\",\"feature_range\":[-1,1]}",
                                      "shared explainer (n_threads default)");
    run_threads(e, X3, 3, 2, "native, 4 threads");
    /* Serial reference equals the concurrent result. */
    if (e) {
        json_t *r1 = explain_json(e, X3, 3, 2, "serial reference explain", NULL);
        cfx_explainer *e1 = make_explainer(
            m, "{\"method\":\"wachter\",\"feature_range\":[-1,1],\"n_threads\":1}",
            "explainer n_threads 1");
        json_t *r2 = explain_json(e1, X3, 3, 2, "serial reference explain, n_threads 1", NULL);
        double a[6], b[6];
        if (r1 && r2)
            check(extract_cfs(r1, 3, 2, a) && extract_cfs(r2, 3, 2, b) &&
                      memcmp(a, b, sizeof a) == 0,
                  "n_threads default and 1 give identical cf.X");
        json_decref(r1);
        json_decref(r2);
        cfx_explainer_free(e1);
    }
    /* Concurrent predict on the shared model. */
    cfx_explainer_free(e);

    /* A callback model shared by threads (callbacks must be called concurrently and safely). */
    cb_lr u;
    cb_lr_init(&u);
    cfx_model *cm = make_callback(&u, 1, "callback model for threads");
    if (cm) {
        cfx_explainer *ce = make_explainer(cm, "{\"method\":\"wachter\"}",
                                           "shared explainer on callback model");
        run_threads(ce, X3, 3, 2, "callback, 4 threads");
        check(!atomic_load(&u.bad_args), "callbacks under threads got the right arguments");
        cfx_explainer_free(ce);
        cfx_model_free(cm);
    }
    cfx_model_free(m);
}

/* ---- 8. Freeing ------------------------------------------------------------------------------- */

static void test_free(void) {
    section("8. freeing");
    cfx_free(NULL);
    check(1, "cfx_free(NULL) returns");
    cfx_model_free(NULL);
    check(1, "cfx_model_free(NULL) returns");
    cfx_explainer_free(NULL);
    check(1, "cfx_explainer_free(NULL) returns");

    cfx_model *m = make_native(&LR_NET, "model to free before its explainer");
    if (!m)
        return;
    cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\"}", "explainer keeping the model");
    cfx_model_free(m);
    if (e) {
        char *out = NULL;
        cfx_error err;
        err_reset(&err);
        cfx_status st = cfx_explain(e, X3, 3, 2, &out, &err);
        expect_ok(st, &err, "explain after freeing the model");
        check(out && (strstr(out, "\"success\": true") || strstr(out, "\"success\":true")),
              "explain after freeing the model finds counterfactuals");
        cfx_free(out);
        char *cj = NULL;
        err_reset(&err);
        st = cfx_explainer_config(e, &cj, &err);
        expect_ok(st, &err, "explainer_config after freeing the model");
        cfx_free(cj);
        cfx_explainer_free(e);
    }

    /* Two explainers on one model, freed in either order. */
    m = make_native(&LR_NET, "model shared by two explainers");
    if (m) {
        cfx_explainer *a = make_explainer(m, "{\"method\":\"wachter\"}", "explainer A");
        cfx_explainer *b = make_explainer(m, "{\"method\":\"wachter\"}", "explainer B");
        cfx_model_free(m);
        cfx_explainer_free(a);
        if (b)
            still_explains(b, "explainer B after freeing model and explainer A");
        cfx_explainer_free(b);
    }
}

/* ---- 9. Model files ---------------------------------------------------------------------------- */

/* Predictions of two models on the 3-feature points agree within tol (0: bit for bit). */
static int same_predictions(const cfx_model *a, const cfx_model *b, double tol) {
    static const double X[9] = {0.5, -0.5, 1.0, -0.3, 0.4, 2.0, 0.2, 0.1, -1.5};
    double pa[9], pb[9];
    cfx_error err;
    if (cfx_model_predict(a, X, 3, 3, pa, &err) != CFX_OK || cfx_model_predict(b, X, 3, 3, pb, &err) != CFX_OK)
        return 0;
    for (int i = 0; i < 9; i++)
        if (tol == 0 ? memcmp(&pa[i], &pb[i], sizeof pa[i]) != 0 : fabs(pa[i] - pb[i]) > tol)
            return 0;
    return 1;
}

static void put_u64le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int write_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    size_t w = fwrite(bytes, 1, n, f);
    return fclose(f) == 0 && w == n;
}

/* A safetensors file written by hand: the logistic regression's weight (F32) and bias (F64). */
static int write_lr_safetensors(const char *path, const char *weight_dtype) {
    const char *header_fmt = "{\"layers.0.weight\":{\"dtype\":\"%s\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                             "\"layers.0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[16,32]}}";
    char header[256];
    int hn = snprintf(header, sizeof header, header_fmt, weight_dtype);
    unsigned char buf[512];
    put_u64le(buf, (uint64_t)hn);
    memcpy(buf + 8, header, (size_t)hn);
    unsigned char *data = buf + 8 + hn;
    for (int i = 0; i < 4; i++) {
        float w = (float)LR_W[i];
        uint32_t bits;
        memcpy(&bits, &w, 4);
        for (int b = 0; b < 4; b++)
            data[4 * i + b] = (unsigned char)(bits >> (8 * b));
    }
    for (int i = 0; i < 2; i++) {
        uint64_t bits;
        memcpy(&bits, &LR_B[i], 8);
        put_u64le(data + 16 + 8 * i, bits);
    }
    return write_bytes(path, buf, 8 + (size_t)hn + 32);
}

static void test_model_files(void) {
    section("9. model files");
    char dir[] = "/tmp/cfx-test-files-XXXXXX";
    if (!check(mkdtemp(dir) != NULL, "temporary directory for model files"))
        return;
    char spec[256], weights[256], sub[256], path[256];
    snprintf(spec, sizeof spec, "%s/mlp.json", dir);
    snprintf(sub, sizeof sub, "%s/weights", dir);
    snprintf(weights, sizeof weights, "%s/weights/mlp.safetensors", dir);
    mkdir(sub, 0755);
    cfx_error err;
    cfx_status st;

    cfx_model *m = make_native(&MLP_NET, "model to save");
    if (!m)
        return;

    /* Spec + weights file (F64): exact round trip, "weights" relative to the spec. */
    err_reset(&err);
    st = cfx_model_save(m, spec, weights, NULL, &err);
    expect_ok(st, &err, "cfx_model_save(spec, weights file)");
    json_error_t jerr;
    json_t *saved = json_load_file(spec, 0, &jerr);
    json_t *wv = saved ? json_object_get(saved, "weights") : NULL;
    check(json_is_string(wv) && strcmp(json_string_value(wv), "weights/mlp.safetensors") == 0,
          "saved spec names the weights file relative to itself (\"weights/mlp.safetensors\")");
    json_decref(saved);
    cfx_model *loaded = NULL;
    err_reset(&err);
    st = cfx_model_load(spec, &loaded, &err);
    if (expect_ok(st, &err, "cfx_model_load(spec with weights)"))
        check(same_predictions(m, loaded, 0), "loaded model predicts bit for bit like the saved one");
    cfx_model_free(loaded);

    /* F32 weights. */
    err_reset(&err);
    st = cfx_model_save(m, spec, weights, "{\"dtype\": \"F32\"}", &err);
    expect_ok(st, &err, "cfx_model_save(dtype F32)");
    loaded = NULL;
    err_reset(&err);
    st = cfx_model_load(spec, &loaded, &err);
    if (expect_ok(st, &err, "cfx_model_load(F32 weights)"))
        check(same_predictions(m, loaded, 1e-5), "F32 weights predict within 1e-5");
    cfx_model_free(loaded);

    /* Inline tensors, and the spec as JSON. */
    snprintf(path, sizeof path, "%s/inline.json", dir);
    err_reset(&err);
    st = cfx_model_save(m, path, NULL, NULL, &err);
    expect_ok(st, &err, "cfx_model_save(inline tensors)");
    loaded = NULL;
    err_reset(&err);
    st = cfx_model_load(path, &loaded, &err);
    if (expect_ok(st, &err, "cfx_model_load(inline tensors)"))
        check(same_predictions(m, loaded, 0), "inline round trip predicts bit for bit");
    cfx_model_free(loaded);
    char *text = NULL;
    err_reset(&err);
    st = cfx_model_spec(m, &text, &err);
    if (expect_ok(st, &err, "cfx_model_spec")) {
        json_t *root = json_loads(text, 0, &jerr);
        check(root && json_is_array(json_object_get(root, "layers")) && !json_object_get(root, "weights"),
              "cfx_model_spec returns layers, without a weights file");
        json_decref(root);
        loaded = NULL;
        err_reset(&err);
        st = cfx_model_create_json(text, &loaded, &err);
        if (expect_ok(st, &err, "cfx_model_create_json(cfx_model_spec output)"))
            check(same_predictions(m, loaded, 0), "the spec recreates the model bit for bit");
        cfx_model_free(loaded);
    }
    cfx_free(text);

    /* A safetensors file written by hand (F32 weight, F64 bias) loads. */
    snprintf(path, sizeof path, "%s/lr.safetensors", dir);
    check(write_lr_safetensors(path, "F32"), "hand-written safetensors file");
    snprintf(path, sizeof path, "%s/lr.json", dir);
    const char *lr_spec = "{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"outputs\": 2}, "
                          "{\"type\": \"softmax\"}], \"weights\": \"lr.safetensors\"}";
    check(write_bytes(path, lr_spec, strlen(lr_spec)), "spec naming lr.safetensors");
    loaded = NULL;
    err_reset(&err);
    st = cfx_model_load(path, &loaded, &err);
    if (expect_ok(st, &err, "cfx_model_load(hand-written safetensors)")) {
        double p[2], ref[2];
        cfx_model_predict(loaded, X3, 1, 2, p, &err);
        net_forward(&LR_NET, X3, ref);
        check(fabs(p[0] - ref[0]) < 1e-12 && fabs(p[1] - ref[1]) < 1e-12, "hand-written weights predict as the reference");
    }
    cfx_model_free(loaded);

    /* Bad files. */
    snprintf(path, sizeof path, "%s/lr.safetensors", dir);
    write_lr_safetensors(path, "I8");
    snprintf(path, sizeof path, "%s/lr.json", dir);
    loaded = NULL;
    err_reset(&err);
    st = cfx_model_load(path, &loaded, &err);
    expect_err(st, &err, CFX_ERR_MODEL, "cfx_model_load(unknown dtype)", "layers.0.weight: dtype \"I8\"");
    check(loaded == NULL, "no handle after a failed load");
    snprintf(path, sizeof path, "%s/lr.safetensors", dir);
    write_bytes(path, "\x10\0\0\0\0\0\0\0{\"a\":", 13);
    snprintf(path, sizeof path, "%s/lr.json", dir);
    err_reset(&err);
    st = cfx_model_load(path, &loaded, &err);
    expect_err(st, &err, CFX_ERR_MODEL, "cfx_model_load(truncated safetensors)", "lr.safetensors");
    snprintf(path, sizeof path, "%s/none.json", dir);
    err_reset(&err);
    st = cfx_model_load(path, &loaded, &err);
    expect_err(st, &err, CFX_ERR_IO, "cfx_model_load(missing file)", "none.json: cannot read");
    err_reset(&err);
    st = cfx_model_load(NULL, &loaded, &err);
    expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "cfx_model_load(NULL path)", "spec_path");
    err_reset(&err);
    st = cfx_model_save(m, spec, weights, "{\"dtype\": \"F16\"}", &err);
    expect_err(st, &err, CFX_ERR_CONFIG, "cfx_model_save(dtype F16)", "dtype");

    cb_lr u;
    cb_lr_init(&u);
    cfx_model *cb = make_callback(&u, 0, "callback model to save");
    err_reset(&err);
    st = cfx_model_save(cb, spec, NULL, NULL, &err);
    expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "cfx_model_save(callback model)", "callback");
    text = NULL;
    err_reset(&err);
    st = cfx_model_spec(cb, &text, &err);
    expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "cfx_model_spec(callback model)", "callback");
    cfx_model_free(cb);
    cfx_model_free(m);

    const char *names[] = {"mlp.json", "weights/mlp.safetensors", "inline.json", "lr.json", "lr.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);
}

/* ---- 10. Training ------------------------------------------------------------------------------ */

static const char *TRAIN_SPEC =
    "{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"outputs\": 8}, "
    "{\"type\": \"batch_norm\"}, {\"type\": \"relu\"}, {\"type\": \"dense\", \"outputs\": 2}, "
    "{\"type\": \"softmax\"}]}";

#define TRAIN_N 200

/* Two classes: inside (1) or outside (0) a circle of radius 1, points from a fixed LCG. */
static void train_data(double *x, double *y) {
    uint64_t state = 12345;
    for (size_t i = 0; i < TRAIN_N; i++) {
        for (size_t j = 0; j < 2; j++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i * 2 + j] = ((double)(state >> 11) / 9007199254740992.0) * 4.0 - 2.0;
        }
        y[i] = x[i * 2] * x[i * 2] + x[i * 2 + 1] * x[i * 2 + 1] < 1.4 ? 1.0 : 0.0;
    }
}

typedef struct {
    int calls;
    int cancel_at;  /* 0 = never */
    int bad_json;
} progress_state;

static int on_progress(void *user, const char *progress_json) {
    progress_state *p = user;
    p->calls++;
    json_error_t jerr;
    json_t *root = json_loads(progress_json, 0, &jerr);
    if (!json_is_object(root) || !json_is_integer(json_object_get(root, "epoch")) ||
        json_integer_value(json_object_get(root, "epoch")) != p->calls ||
        !json_is_real(json_object_get(root, "loss")))
        p->bad_json++;
    json_decref(root);
    return p->cancel_at > 0 && p->calls >= p->cancel_at;
}

static double accuracy_of(const cfx_model *m, const double *x, const double *y) {
    double proba[TRAIN_N * 2];
    cfx_error err;
    if (cfx_model_predict(m, x, TRAIN_N, 2, proba, &err) != CFX_OK)
        return -1;
    int correct = 0;
    for (size_t i = 0; i < TRAIN_N; i++)
        correct += (proba[i * 2 + 1] > proba[i * 2]) == (y[i] == 1.0);
    return (double)correct / TRAIN_N;
}

/* A training call that must fail with `want`, leave *report NULL and the weights unchanged. */
static void train_fails(cfx_model *m, const double *x, const double *targets, size_t width,
                        const char *config, cfx_status want, const char *what, const char *mention) {
    double before[TRAIN_N * 2], after[TRAIN_N * 2];
    cfx_error err;
    cfx_model_predict(m, x, TRAIN_N, 2, before, &err);
    char *report = (char *)"sentinel";
    err_reset(&err);
    cfx_status st = cfx_model_train(m, x, TRAIN_N, 2, targets, width, config, NULL, NULL, &report,
                                    &err);
    expect_err(st, &err, want, what, mention);
    check(report == NULL, "%s: report_json set to NULL", what);
    cfx_model_predict(m, x, TRAIN_N, 2, after, &err);
    check(memcmp(before, after, sizeof before) == 0, "%s: the model is unchanged", what);
}

static void test_training(void) {
    section("10. training");
    double x[TRAIN_N * 2], y[TRAIN_N];
    train_data(x, y);
    cfx_error err;

    char *defaults = NULL;
    err_reset(&err);
    expect_ok(cfx_default_config("train", &defaults, &err), &err, "cfx_default_config(\"train\")");
    const char *keys[] = {"\"loss\"", "\"optimizer\"", "\"learning_rate\"", "\"momentum\"",
                          "\"nesterov\"", "\"weight_decay\"", "\"batch_size\"", "\"epochs\"",
                          "\"shuffle\"", "\"seed\"", "\"schedule\"", "\"validation_split\"",
                          "\"early_stopping_patience\"", "\"n_threads\""};
    for (size_t i = 0; defaults && i < sizeof keys / sizeof *keys; i++)
        check(strstr(defaults, keys[i]) != NULL, "default training config contains %s", keys[i]);

    cfx_model *m = NULL;
    err_reset(&err);
    if (!expect_ok(cfx_model_create_json(TRAIN_SPEC, &m, &err), &err,
                   "create a network from an architecture-only spec"))
        return;
    double initial = accuracy_of(m, x, y);

    /* The default config, passed back as it is, trains. */
    progress_state progress = {0, 0, 0};
    char *report = NULL;
    err_reset(&err);
    cfx_status st = cfx_model_train(m, x, TRAIN_N, 2, y, 1, defaults, on_progress, &progress,
                                    &report, &err);
    expect_ok(st, &err, "train with the default config");
    check(progress.calls == 10 && progress.bad_json == 0,
          "progress called once per epoch (10) with valid JSON (%d calls, %d bad)", progress.calls,
          progress.bad_json);
    cfx_free(report);
    cfx_free(defaults);

    progress = (progress_state){0, 0, 0};
    report = NULL;
    err_reset(&err);
    st = cfx_model_train(m, x, TRAIN_N, 2, y, 1,
                         "{\"learning_rate\": 0.03, \"epochs\": 40, \"batch_size\": 16, "
                         "\"schedule\": {\"type\": \"cosine\"}, \"validation_split\": 0.2, "
                         "\"seed\": 3}",
                         on_progress, &progress, &report, &err);
    expect_ok(st, &err, "train 40 epochs with a validation split");
    json_error_t jerr;
    json_t *root = report ? json_loads(report, 0, &jerr) : NULL;
    check(json_is_object(root), "report_json parses as an object");
    json_t *history = json_object_get(root, "history");
    check(json_is_array(history) && json_array_size(history) == 40, "history has 40 epochs");
    check(json_integer_value(json_object_get(root, "validation_rows")) == 40,
          "40 validation rows (0.2 of 200)");
    json_t *last = json_array_get(history, json_array_size(history) - 1);
    double val_accuracy = json_real_value(json_object_get(last, "val_accuracy"));
    check(val_accuracy >= 0.85, "validation accuracy after training >= 0.85 (got %.3f)",
          val_accuracy);
    json_decref(root);
    cfx_free(report);
    double trained = accuracy_of(m, x, y);
    check(trained >= 0.9 && trained > initial,
          "training accuracy %.3f >= 0.9 and above the initial %.3f", trained, initial);

    /* The trained network written out reads back to the same predictions. */
    char *spec = NULL;
    err_reset(&err);
    expect_ok(cfx_model_spec(m, &spec, &err), &err, "cfx_model_spec of the trained model");
    cfx_model *copy = NULL;
    if (spec && cfx_model_create_json(spec, &copy, &err) == CFX_OK) {
        double p1[TRAIN_N * 2], p2[TRAIN_N * 2];
        cfx_model_predict(m, x, TRAIN_N, 2, p1, &err);
        cfx_model_predict(copy, x, TRAIN_N, 2, p2, &err);
        check(memcmp(p1, p2, sizeof p1) == 0, "the written spec predicts exactly as the model");
        check(strstr(spec, "running_var") != NULL, "the written spec holds batch norm's running_var");
    } else {
        check(0, "the written spec reads back");
    }
    cfx_model_free(copy);
    cfx_free(spec);

    /* Cancelling from the progress callback. */
    progress = (progress_state){0, 2, 0};
    report = NULL;
    err_reset(&err);
    st = cfx_model_train(m, x, TRAIN_N, 2, y, 1, "{\"epochs\": 50}", on_progress, &progress,
                         &report, &err);
    expect_err(st, &err, CFX_ERR_CANCELLED, "progress callback returning 1 at epoch 2",
               "after epoch 2");
    check(progress.calls == 2, "no epoch runs after the cancelling one (%d calls)", progress.calls);
    root = report ? json_loads(report, 0, &jerr) : NULL;
    check(json_is_true(json_object_get(root, "cancelled")) &&
              json_array_size(json_object_get(root, "history")) == 2,
          "a cancelled run still returns its report, with cancelled = true and 2 epochs");
    json_decref(root);
    cfx_free(report);
    still_predicts(m, "model after a cancelled training run");
    check(accuracy_of(m, x, y) >= 0.85, "the cancelled run's model still classifies");

    /* Bad configs and targets: clear errors, nothing changed. */
    double bad_y[TRAIN_N];
    memcpy(bad_y, y, sizeof bad_y);
    train_fails(m, x, y, 1, "{\"epochs\": 2, \"learning_rat\": 0.1}", CFX_ERR_CONFIG,
                "unknown config key", "learning_rat");
    train_fails(m, x, y, 1, "{\"loss\": \"hinge\"}", CFX_ERR_CONFIG, "bad loss", "loss");
    train_fails(m, x, y, 1, "{\"batch_size\": 0}", CFX_ERR_CONFIG, "batch_size 0", "batch_size");
    train_fails(m, x, y, 1, "{\"optimizer\": \"rmsprop\"}", CFX_ERR_CONFIG, "bad optimizer",
                "optimizer");
    train_fails(m, x, y, 1, "{\"schedule\": {\"type\": \"step\", \"gama\": 0.5}}", CFX_ERR_CONFIG,
                "unknown schedule key", "schedule.gama");
    train_fails(m, x, y, 1, "{\"early_stopping_patience\": 3}", CFX_ERR_CONFIG,
                "early stopping without a validation split", "validation_split");
    train_fails(m, x, y, 1, "{\"epochs\": ", CFX_ERR_JSON, "malformed config", NULL);
    train_fails(m, x, y, 2, "{}", CFX_ERR_SHAPE, "target_width 2 for cross_entropy",
                "target_width");
    train_fails(m, x, NULL, 1, "{}", CFX_ERR_INVALID_ARGUMENT, "NULL targets for cross_entropy",
                "targets");
    bad_y[7] = NAN;
    train_fails(m, x, bad_y, 1, "{}", CFX_ERR_NUMERIC, "NaN target", "targets[7]");
    bad_y[7] = 5;
    train_fails(m, x, bad_y, 1, "{}", CFX_ERR_INVALID_ARGUMENT, "class index 5 of 2 classes",
                "out of range");
    bad_y[7] = 0.5;
    train_fails(m, x, bad_y, 1, "{}", CFX_ERR_INVALID_ARGUMENT, "class index 0.5",
                "not a class index");
    train_fails(m, x, y, 1, "{\"loss\": \"mse\"}", CFX_ERR_SHAPE,
                "mse with class indices as 1-wide targets", "values per row");

    err_reset(&err);
    report = NULL;
    st = cfx_model_train(m, x, 0, 2, y, 1, "{}", NULL, NULL, &report, &err);
    expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "train on n = 0 rows", "n");

    /* Callback models cannot be trained or written. */
    cb_lr u;
    cb_lr_init(&u);
    cfx_model *cm = make_callback(&u, 1, "callback model for training");
    if (cm) {
        report = NULL;
        err_reset(&err);
        st = cfx_model_train(cm, x, TRAIN_N, 2, y, 1, "{}", NULL, NULL, &report, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "train a callback model",
                   "only native models can be trained");
        char *cspec = NULL;
        err_reset(&err);
        expect_err(cfx_model_spec(cm, &cspec, &err), &err, CFX_ERR_INVALID_ARGUMENT,
                   "cfx_model_spec of a callback model", "native");
        cfx_model_free(cm);
    }
    cfx_model_free(m);

    /* An autoencoder: mse against the input itself (targets NULL). */
    cfx_model *ae = NULL;
    err_reset(&err);
    if (expect_ok(cfx_model_create_json("{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", "
                                         "\"outputs\": 2}]}",
                                         &ae, &err),
                  &err, "create a linear autoencoder")) {
        report = NULL;
        err_reset(&err);
        st = cfx_model_train(ae, x, TRAIN_N, 2, NULL, 0,
                             "{\"loss\": \"mse\", \"optimizer\": \"sgd\", \"learning_rate\": 0.05, "
                             "\"epochs\": 30}",
                             NULL, NULL, &report, &err);
        expect_ok(st, &err, "train an autoencoder (mse, NULL targets)");
        root = report ? json_loads(report, 0, &jerr) : NULL;
        history = json_object_get(root, "history");
        double first = json_real_value(json_object_get(json_array_get(history, 0), "loss"));
        double final = json_real_value(
            json_object_get(json_array_get(history, json_array_size(history) - 1), "loss"));
        check(final < 0.01 && final < first, "autoencoder loss falls below 0.01 (%.3g -> %.3g)",
              first, final);
        check(json_is_null(json_object_get(json_array_get(history, 0), "accuracy")),
              "mse reports no accuracy");
        json_decref(root);
        cfx_free(report);
        cfx_model_free(ae);
    }
}

/* ---- 11. Evaluation (metrics) ----------------------------------------------------------------- */

/* The model of the metric tests: logits (3 x0, 3 x1, -3 x0 - 3 x1), softmax. (1, 0) is class 0,
 * (0, 1) class 1, (-1, -1) class 2. */
static int ev_predict(void *user, const double *x, size_t n, size_t d, double *proba) {
    (void)user;
    for (size_t r = 0; r < n; r++) {
        double z[3] = {3 * x[r * d], 3 * x[r * d + 1], -3 * x[r * d] - 3 * x[r * d + 1]};
        double mx = fmax(z[0], fmax(z[1], z[2])), s = 0;
        for (int c = 0; c < 3; c++)
            s += (z[c] = exp(z[c] - mx));
        for (int c = 0; c < 3; c++)
            proba[r * 3 + c] = z[c] / s;
    }
    return 0;
}

/* An "autoencoder" that halves its input: ||x'/2 - x'||^2 = ||x'||^2 / 4. */
static int ev_halve(void *user, const double *x, size_t n, size_t d, double *out) {
    (void)user;
    for (size_t i = 0; i < n * d; i++)
        out[i] = x[i] / 2;
    return 0;
}

static cfx_evaluator *ev_create(const cfx_model *m, const double *xt, size_t nt, const double *yt,
                                const char *options, const char *what) {
    cfx_evaluator *ev = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_evaluator_create(m, xt, nt, 2, yt, options, &ev, &err);
    if (!expect_ok(st, &err, what) || !check(ev != NULL, "%s: handle non-NULL", what))
        return NULL;
    return ev;
}

static json_t *ev_json(const cfx_evaluator *ev, const double *x, const double *xcf, size_t n,
                       const char *request, const char *what) {
    if (!ev) {
        check(0, "%s: skipped (no evaluator)", what);
        return NULL;
    }
    char *out = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_evaluate(ev, x, xcf, n, 2, request, &out, &err);
    if (!expect_ok(st, &err, what))
        return NULL;
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    check(root != NULL && json_is_object(root), "%s: output parses as a JSON object", what);
    cfx_free(out);
    return root;
}

/* instances[key][i] (NAN when null or missing) and summary[key][stat]. */
static double ev_at(json_t *root, const char *key, size_t i) {
    json_t *v = json_array_get(json_object_get(json_object_get(root, "instances"), key), i);
    if (json_is_boolean(v))
        return json_is_true(v) ? 1 : 0;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double ev_stat(json_t *root, const char *key, const char *stat) {
    json_t *v = json_object_get(json_object_get(json_object_get(root, "summary"), key), stat);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void ev_bad(const cfx_evaluator *ev, const double *x, const double *xcf, size_t n,
                   const char *request, cfx_status want, const char *what, const char *mention) {
    char *out = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_evaluate(ev, x, xcf, n, 2, request, &out, &err);
    expect_err(st, &err, want, what, mention);
    check(out == NULL, "%s: json_out stays NULL", what);
}

static void test_evaluation(void) {
    section("11. evaluation (metrics)");
    cfx_model *m = NULL, *ae = NULL;
    cfx_error err;
    cfx_status st;
    err_reset(&err);
    st = cfx_model_create_callbacks(2, 3, ev_predict, NULL, NULL, &m, &err);
    if (!expect_ok(st, &err, "metrics model"))
        return;

    /* Proximity, sparsity and validity without training data. Originals: class 0, 0, 1;
     * counterfactuals: class 1, 0 (invalid for "other"), 2. */
    {
        const double x[6] = {1, 0, 1, 0, 0, 1}, xcf[6] = {0, 2, 1 + 1e-9, 0, -1, -1};
        cfx_evaluator *ev = ev_create(m, NULL, 0, NULL, NULL, "evaluator without training data");
        json_t *r = ev_json(ev, x, xcf, 3, NULL, "evaluate 3 rows");
        if (r) {
            check(json_integer_value(json_object_get(r, "n")) == 3 &&
                      json_integer_value(json_object_get(r, "n_found")) == 3 &&
                      json_integer_value(json_object_get(r, "n_valid")) == 2,
                  "n 3, n_found 3, n_valid 2");
            check(ev_at(r, "validity", 0) == 1 && ev_at(r, "validity", 1) == 0 && ev_at(r, "validity", 2) == 1,
                  "validity [true, false, true] for \"other\"");
            check(fabs(ev_stat(r, "validity", "mean") - 2.0 / 3) < 1e-15 && ev_stat(r, "validity", "n") == 3,
                  "validity mean 2/3 over n 3");
            check(ev_at(r, "l1", 0) == 3 && fabs(ev_at(r, "l2", 0) - sqrt(5)) < 1e-15,
                  "l1 3, l2 sqrt(5) for (1,0) -> (0,2)");
            check(ev_at(r, "l0", 0) == 2 && ev_at(r, "l0", 1) == 0,
                  "l0 2, and 0 for a change of 1e-9 (sparsity_tol 1e-6)");
            check(isnan(ev_at(r, "l1_mad", 0)) && ev_stat(r, "l1_mad", "n") == 0 &&
                      json_is_null(json_object_get(r, "mad")),
                  "no training data: l1_mad null, mad null");
            check(ev_at(r, "cf_class", 0) == 1 && ev_at(r, "orig_class", 2) == 1, "cf_class and orig_class");
            json_decref(r);
        }
        r = ev_json(ev, x, xcf, 3, "{\"target_class\": 2}", "evaluate, target_class 2");
        if (r)
            check(ev_at(r, "validity", 0) == 0 && ev_at(r, "validity", 2) == 1, "target_class 2: only row 2 valid");
        json_decref(r);
        r = ev_json(ev, x, xcf, 3, "{\"target_class\": [1, \"same\", 0]}", "evaluate, per-row targets");
        if (r)
            check(ev_at(r, "validity", 0) == 1 && ev_at(r, "validity", 1) == 1 && ev_at(r, "validity", 2) == 0,
                  "per-row targets [1, same, 0]: [true, true, false]");
        json_decref(r);
        /* p_0 at (2, 0) ~ 0.99752 */
        const double x1[2] = {1, 0}, cf1[2] = {2, 0};
        r = ev_json(ev, x1, cf1, 1, "{\"target_class\": \"same\", \"target_proba\": 0.999}",
                    "evaluate, target_proba 0.999");
        if (r)
            check(ev_at(r, "validity", 0) == 0 && fabs(ev_at(r, "target_proba", 0) - 1 / (1 + exp(-6) + exp(-12))) < 1e-12,
                  "target_proba 0.999 not reached (p = 0.99752): invalid");
        json_decref(r);
        /* Costs from meta. */
        r = ev_json(ev, x, xcf, 3,
                    "{\"meta\": [{\"seconds\": 1, \"model_calls\": 10, \"gradient_evaluations\": 4, \"method\": \"wachter\"},"
                    " {\"seconds\": 3, \"model_calls\": 30}, null]}",
                    "evaluate with meta");
        if (r)
            check(ev_stat(r, "seconds", "mean") == 2 && ev_stat(r, "seconds", "n") == 2 &&
                      ev_stat(r, "model_calls", "median") == 20 && ev_stat(r, "gradient_evaluations", "n") == 1,
                  "cost summaries from meta (null and missing keys left out)");
        json_decref(r);
        cfx_evaluator_free(ev);
    }

    /* All invalid: rows of NaN. */
    {
        const double x[4] = {1, 0, 0, 1}, xcf[4] = {NAN, NAN, NAN, NAN};
        cfx_evaluator *ev = ev_create(m, NULL, 0, NULL, NULL, "evaluator for missing counterfactuals");
        json_t *r = ev_json(ev, x, xcf, 2, NULL, "evaluate 2 rows of NaN");
        if (r) {
            check(json_integer_value(json_object_get(r, "n_found")) == 0 && ev_stat(r, "validity", "mean") == 0,
                  "rows of NaN: none found, validity 0");
            check(ev_stat(r, "l1", "n") == 0 && isnan(ev_stat(r, "l1", "mean")) && isnan(ev_at(r, "l1", 0)),
                  "rows of NaN: l1 null, summarised over 0 rows");
            json_t *found = json_object_get(json_object_get(r, "instances"), "found");
            check(json_is_false(json_array_get(found, 0)) && json_is_false(json_array_get(found, 1)),
                  "found is [false, false]");
            json_decref(r);
        }
        const double partial[4] = {NAN, 1, 0, 1};
        ev_bad(ev, x, partial, 2, NULL, CFX_ERR_NUMERIC, "a row partly NaN", "x_cf: row 0");
        cfx_evaluator_free(ev);
    }

    /* MAD with a constant feature; nearest neighbours with a tie. */
    {
        const double xt[10] = {0, 5, 1, 5, 2, 5, 3, 5, 10, 5};
        cfx_evaluator *ev = ev_create(m, xt, 5, NULL, NULL, "evaluator with 5 training rows");
        const double x[2] = {1, 0}, xcf[2] = {3, 0.5};
        json_t *r = ev_json(ev, x, xcf, 1, NULL, "evaluate with training data");
        if (r) {
            double mad[2] = {NAN, NAN};
            check(json_vec(json_object_get(r, "mad"), 2, mad) && mad[0] == 1 && mad[1] == 0, "mad [1, 0]");
            check(ev_at(r, "l1_mad", 0) == 2.5, "l1_mad 2/1 + 0.5/1 (MAD 0 divides by mad_zero_scale 1)");
            json_decref(r);
        }
        cfx_evaluator_free(ev);
        ev = ev_create(m, xt, 5, NULL, "{\"mad_zero_scale\": 0.25}", "evaluator, mad_zero_scale 0.25");
        r = ev_json(ev, x, xcf, 1, NULL, "evaluate, mad_zero_scale 0.25");
        if (r)
            check(ev_at(r, "l1_mad", 0) == 4, "l1_mad 2 + 0.5/0.25");
        json_decref(r);
        cfx_evaluator_free(ev);

        const double xt2[8] = {1, 1, -1, 1, 0, 3, 0, 1.5}, yt[4] = {1, 1, 1, 0};
        ev = ev_create(m, xt2, 4, yt, NULL, "evaluator with labels");
        const double cf[2] = {0, 1};
        r = ev_json(ev, x, cf, 1, NULL, "evaluate, nearest neighbour tie");
        if (r)
            check(ev_at(r, "nn_distance", 0) == 1 && ev_at(r, "nn_index", 0) == 0,
                  "tie between rows 0 and 1 at distance 1: nn_index 0 (row 3 is nearer but class 0)");
        json_decref(r);
        cfx_evaluator_free(ev);
        const double ybad[4] = {1, 1, 1.5, 0};
        cfx_evaluator *bad = NULL;
        err_reset(&err);
        st = cfx_evaluator_create(m, xt2, 4, 2, ybad, NULL, &bad, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "y_train 1.5", "y_train[2]");
    }

    /* Constraints: range by a tiny epsilon, immutable, one-hot group. */
    {
        cfx_evaluator *ev = ev_create(m, NULL, 0, NULL,
                                      "{\"feature_range\": [-1, [1, 2]], \"immutable\": [1], \"cat_vars\": {\"0\": 2}}",
                                      "evaluator with constraints");
        const double x[6] = {0, 1, 0, 1, 1, 1};
        const double xcf[6] = {0, 1, 1 + 1e-12, 1, 1, 1 + 1e-15};
        json_t *r = ev_json(ev, x, xcf, 3, NULL, "evaluate constraints");
        if (r) {
            check(ev_at(r, "in_range", 0) == 1 && ev_at(r, "in_range", 1) == 0 && ev_at(r, "in_range", 2) == 1,
                  "in_range: 1 + 1e-12 is outside [-1, 1]");
            check(ev_at(r, "immutable_ok", 0) == 1 && ev_at(r, "immutable_ok", 2) == 0,
                  "immutable_ok: a change of 1e-15 is a violation");
            check(ev_at(r, "categories_ok", 0) == 1 && ev_at(r, "categories_ok", 2) == 0 &&
                      ev_at(r, "categories_ok", 1) == 0,
                  "categories_ok: (0, 1) valid; (1, 1 + 1e-15) and (1 + 1e-12, 1) not one-hot");
            check(ev_at(r, "constraints_ok", 0) == 1 && ev_at(r, "constraints_ok", 2) == 0, "constraints_ok");
            json_decref(r);
        }
        cfx_evaluator_free(ev);
    }

    /* Autoencoder, roles. */
    {
        cfx_evaluator *ev = ev_create(m, NULL, 0, NULL, NULL, "evaluator for the autoencoder");
        err_reset(&err);
        st = cfx_model_create_callbacks(2, 2, ev_halve, NULL, NULL, &ae, &err);
        expect_ok(st, &err, "autoencoder model");
        err_reset(&err);
        st = cfx_evaluator_set_model(ev, "autoencoder", ae, &err);
        expect_ok(st, &err, "cfx_evaluator_set_model(autoencoder)");
        const double x[2] = {1, 0}, xcf[2] = {0, 2};
        json_t *r = ev_json(ev, x, xcf, 1, NULL, "evaluate with an autoencoder");
        if (r)
            check(ev_at(r, "ae_error", 0) == 1, "ae_error ||(0,1) - (0,2)||^2 = 1");
        json_decref(r);
        err_reset(&err);
        st = cfx_evaluator_set_model(ev, "autoencoder", m, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "autoencoder with 3 outputs", "autoencoder");
        err_reset(&err);
        st = cfx_evaluator_set_model(ev, "density", ae, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "role density (densities go through cfx_evaluator_set_density)", "cfx_evaluator_set_density");
        err_reset(&err);
        st = cfx_evaluator_set_model(ev, "autoencoder", NULL, &err);
        expect_ok(st, &err, "cfx_evaluator_set_model(autoencoder, NULL) removes it");
        r = ev_json(ev, x, xcf, 1, NULL, "evaluate without the autoencoder");
        if (r)
            check(isnan(ev_at(r, "ae_error", 0)), "ae_error null once removed");
        json_decref(r);

        /* Bad arguments. */
        ev_bad(ev, x, xcf, 1, "{\"target_clas\": 1}", CFX_ERR_CONFIG, "unknown request key", "target_clas");
        ev_bad(ev, x, xcf, 1, "{\"target_class\": 3}", CFX_ERR_CONFIG, "target_class 3", "target_class");
        ev_bad(ev, x, xcf, 1, "{\"meta\": []}", CFX_ERR_SHAPE, "meta of the wrong length", "meta");
        ev_bad(ev, x, xcf, 1, "{\"target_proba\": 2}", CFX_ERR_CONFIG, "target_proba 2", "target_proba");
        ev_bad(ev, x, xcf, 1, "{", CFX_ERR_JSON, "invalid request JSON", "request_json");
        ev_bad(NULL, x, xcf, 1, NULL, CFX_ERR_INVALID_ARGUMENT, "NULL evaluator", "evaluator");
        ev_bad(ev, x, NULL, 1, NULL, CFX_ERR_INVALID_ARGUMENT, "NULL x_cf", "x_cf");
        {
            char *out = NULL;
            err_reset(&err);
            st = cfx_evaluate(ev, x, xcf, 1, 3, NULL, &out, &err);
            expect_err(st, &err, CFX_ERR_SHAPE, "d 3 for a 2-feature model", NULL);
        }
        cfx_evaluator_free(ev);
        cfx_evaluator *bad = NULL;
        err_reset(&err);
        st = cfx_evaluator_create(m, NULL, 0, 2, NULL, "{\"sparsity_tol\": -1}", &bad, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "sparsity_tol -1", "sparsity_tol");
        err_reset(&err);
        st = cfx_evaluator_create(m, NULL, 0, 2, NULL, "{\"plausibility\": \"l2\"}", &bad, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "unknown option key", "plausibility");
        err_reset(&err);
        st = cfx_evaluator_create(m, NULL, 0, 2, NULL, "{\"cat_vars\": {\"1\": 2}}", &bad, &err);
        expect_err(st, &err, CFX_ERR_CONFIG, "cat_vars group beyond the features", "cat_vars");
        err_reset(&err);
        st = cfx_evaluator_create(m, NULL, 3, 2, NULL, NULL, &bad, &err);
        expect_err(st, &err, CFX_ERR_INVALID_ARGUMENT, "x_train NULL with n_train 3", "x_train");
        check(bad == NULL, "failed creates leave *out NULL");
        cfx_evaluator_free(NULL);
    }
    cfx_model_free(ae);
    cfx_model_free(m);
}

/* ---- 12. CFProto ------------------------------------------------------------------------------ */

/* Prototype-guided counterfactuals: fit before explain, k-d tree prototypes, alibi's keys. */
static void test_cfproto(void) {
    section("12. cfproto (k-d trees)");
    cfx_model *m = make_native(&LR_NET, "model for cfproto");
    if (!m)
        return;
    cfx_explainer *e = make_explainer(
        m, "{\"method\":\"cfproto\",\"use_kdtree\":true,\"theta\":10,\"max_iterations\":200,\"c_steps\":3}",
        "explainer {cfproto, use_kdtree}");
    if (!e) {
        cfx_model_free(m);
        return;
    }
    cfx_error err;
    char *out = NULL;
    expect_err(cfx_explain(e, X3, 3, 2, &out, &err), &err, CFX_ERR_INVALID_ARGUMENT,
               "cfproto explain before fit", "cfx_explainer_fit");
    expect_err(cfx_explainer_set_model(e, "decoder", m, &err), &err, CFX_ERR_CONFIG,
               "cfproto set_model role decoder", "encoder, autoencoder");
    double train[2 * 64];
    for (int i = 0; i < 64; i++) {
        train[2 * i] = -1.5 + 3.0 * (i % 8) / 7.0;
        train[2 * i + 1] = -1.5 + 3.0 * (i / 8) / 7.0 + 0.01;
    }
    expect_ok(cfx_explainer_fit(e, train, 64, 2, NULL, &err), &err, "cfproto fit on 64 rows");
    json_t *root = explain_json(e, X3, 3, 2, "cfproto explain 3 rows", NULL);
    json_t *list = json_object_get(root, "explanations");
    for (size_t r = 0; r < json_array_size(list); r++) {
        json_t *x = json_array_get(list, r);
        int orig = (int)json_integer_value(json_object_get(x, "orig_class"));
        json_t *cf = json_object_get(x, "cf");
        check(json_is_object(cf), "cfproto row %zu: a counterfactual", r);
        check(json_integer_value(json_object_get(x, "id_proto")) == 1 - orig,
              "cfproto row %zu: id_proto is the other class", r);
        check(json_array_size(json_object_get(x, "orig_proba")) == 2, "cfproto row %zu: orig_proba has 2 values", r);
        if (!json_is_object(cf))
            continue;
        json_t *X = json_object_get(cf, "X");
        double cx[2] = {json_real_value(json_array_get(X, 0)), json_real_value(json_array_get(X, 1))}, p[2];
        expect_ok(cfx_model_predict(m, cx, 1, 2, p, &err), &err, "predict at cf.X");
        int cls = (int)json_integer_value(json_object_get(cf, "class"));
        check(cls == (p[1] > p[0]) && cls != orig, "cfproto row %zu: cf.class is the model's on cf.X and not the original", r);
        check(json_array_size(json_object_get(cf, "grads_graph")) == 2 && json_array_size(json_object_get(cf, "grads_num")) == 2,
              "cfproto row %zu: gradients have 2 values", r);
    }
    json_decref(root);
    cfx_explainer_free(e);
    cfx_model_free(m);
}

/* ---- 13. DeDUCE, JSMA and feature densities ------------------------------------------------- */

/* A 1x4x4 conv net with a 2-value "features" output (global average pooling) and 2 classes. */
static const char *DEDUCE_SPEC =
    "{\"input_shape\": [1, 4, 4], \"layers\": ["
    "{\"type\": \"conv2d\", \"out_channels\": 2, \"kernel_size\": 3, \"padding\": 1,"
    " \"tensors\": {\"weight\": [0.5, -0.2, 0.1, 0.3, 0.8, -0.4, 0.2, 0.1, 0.6,"
    "                           -0.3, 0.4, 0.2, 0.7, -0.5, 0.1, -0.2, 0.3, 0.9], \"bias\": [0.1, -0.1]}},"
    "{\"type\": \"leaky_relu\"}, {\"type\": \"global_avg_pool\", \"name\": \"features\"},"
    "{\"type\": \"dense\", \"weights\": [[6, -4], [-5, 7]], \"bias\": [0, 0]}, {\"type\": \"softmax\"}]}";

static void test_deduce(void) {
    section("13. DeDUCE, JSMA and feature densities");
    cfx_error err;
    cfx_model *m = NULL;
    err_reset(&err);
    cfx_status st = cfx_model_create_json(DEDUCE_SPEC, &m, &err);
    if (!check(st == CFX_OK, "create the conv net (%s)", err.message)) return;
    enum { N = 40 };
    double x[N * 16], y[N];
    unsigned state = 12345;
    for (int i = 0; i < N * 16; i++) {
        state = state * 1103515245u + 12345u;
        x[i] = (double)((state >> 8) % 1000) / 999.0;
    }
    for (int i = 0; i < N; i++) y[i] = (double)(i % 2);

    cfx_density *density = NULL;
    err_reset(&err);
    expect_ok(cfx_density_fit(m, "features", x, N, 16, y, &density, &err), &err, "cfx_density_fit");
    char *info = NULL;
    err_reset(&err);
    expect_ok(cfx_density_info(density, &info, &err), &err, "cfx_density_info");
    check(info && strstr(info, "\"jitter\"") && strstr(info, "\"given\""), "density info: %s", info ? info : "(null)");
    cfx_free(info);
    double per[4 * 2], mix[4];
    err_reset(&err);
    expect_ok(cfx_density_log_prob(density, m, x, 4, 16, per, mix, &err), &err, "cfx_density_log_prob");
    for (int r = 0; r < 4; r++)
        check(fabs(mix[r] - log(exp(per[2 * r]) + exp(per[2 * r + 1]))) < 1e-9, "mixture = log-sum-exp (row %d)", r);
    err_reset(&err);
    st = cfx_density_log_prob(density, m, x, 4, 16, NULL, NULL, &err);
    check(st == CFX_ERR_INVALID_ARGUMENT, "log_prob with no output is an invalid argument");
    const char *path = "Tests/c/build/density.safetensors";
    err_reset(&err);
    expect_ok(cfx_density_save(density, path, &err), &err, "cfx_density_save");
    cfx_density *loaded = NULL;
    err_reset(&err);
    expect_ok(cfx_density_load(path, &loaded, &err), &err, "cfx_density_load");
    double again[4 * 2];
    err_reset(&err);
    expect_ok(cfx_density_log_prob(loaded, m, x, 4, 16, again, NULL, &err), &err, "log_prob of the loaded density");
    check(memcmp(again, per, sizeof per) == 0, "a saved and loaded density gives the same log densities");
    remove(path);

    /* Explain before fit fails; fit (or set_density) then explain. */
    cfx_explainer *e = NULL;
    err_reset(&err);
    expect_ok(cfx_explainer_create(m, "{\"method\": \"deduce\", \"max_iter\": 100}", &e, &err), &err, "create deduce");
    char *json = NULL;
    err_reset(&err);
    st = cfx_explain(e, x, 2, 16, &json, &err);
    check(st == CFX_ERR_INVALID_ARGUMENT && strstr(err.message, "not fitted"), "explain before fit: %s", err.message);
    err_reset(&err);
    expect_ok(cfx_explainer_set_density(e, loaded, &err), &err, "cfx_explainer_set_density");
    err_reset(&err);
    if (expect_ok(cfx_explain(e, x, 2, 16, &json, &err), &err, "explain with deduce")) {
        check(strstr(json, "\"instance\":1") && strstr(json, "\"target_class\"")
              && (strstr(json, "\"log_density\"") || strstr(json, "\"reason\"")),
              "deduce explanations have instance, target_class and log_density or reason");
        cfx_free(json);
    }
    cfx_explainer_free(e);
    err_reset(&err);
    st = cfx_explainer_create(m, "{\"method\": \"deduce\", \"feature_output\": \"nope\"}", &e, &err);
    check(st == CFX_ERR_CONFIG, "an unknown feature output is a config error");
    err_reset(&err);
    expect_ok(cfx_explainer_create(m, "{\"method\": \"jsma\", \"target_class\": 1}", &e, &err), &err, "create jsma");
    err_reset(&err);
    if (expect_ok(cfx_explain(e, x, 2, 16, &json, &err), &err, "explain with jsma")) cfx_free(json);
    err_reset(&err);
    st = cfx_explainer_set_density(e, density, &err);
    check(st == CFX_ERR_CONFIG, "jsma takes no density");
    cfx_explainer_free(e);
    cfx_density_free(loaded);
    cfx_density_free(density);
    cfx_density_free(NULL);
    cfx_model_free(m);
}

/* ---- 14. Sparse and diverse counterfactuals (sparsify, n_counterfactuals, cfx_evaluate_sets) ---- */

static void test_sets(void) {
    section("14. sparse and diverse counterfactuals");
    cfx_model *m = make_native(&LR_NET, "model for sets");
    if (!m)
        return;
    cfx_error err;
    cfx_explainer *bad = NULL;
    const char *bad_configs[][2] = {
        {"{\"method\":\"wachter\",\"n_counterfactuals\":0}", "n_counterfactuals"},
        {"{\"method\":\"wachter\",\"n_counterfactuals\":101}", "n_counterfactuals"},
        {"{\"method\":\"cfproto\",\"n_counterfactuals\":-3}", "n_counterfactuals"},
        {"{\"method\":\"wachter\",\"diversity_weight\":-1}", "diversity_weight"},
        {"{\"method\":\"wachter\",\"sparsify\":\"yes\"}", "sparsify"},
        {"{\"method\":\"jsma\",\"sparsify_repair_steps\":-1}", "sparsify_repair_steps"},
    };
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        err_reset(&err);
        expect_err(cfx_explainer_create(m, bad_configs[i][0], &bad, &err), &err, CFX_ERR_CONFIG, bad_configs[i][0],
                   bad_configs[i][1]);
    }
    cfx_explainer *e = make_explainer(m, "{\"method\":\"wachter\",\"n_counterfactuals\":3,\"sparsify\":true}",
                                      "explainer {wachter, 3 counterfactuals, sparsify}");
    if (!e) {
        cfx_model_free(m);
        return;
    }
    json_t *root = explain_json(e, X3, 3, 2, "wachter sets of 3", NULL);
    json_t *list = json_object_get(root, "explanations");
    double members[3 * 3 * 2];
    for (size_t i = 0; i < 3 * 3 * 2; i++) members[i] = NAN;
    for (size_t r = 0; r < json_array_size(list); r++) {
        json_t *x = json_array_get(list, r);
        int orig = (int)json_integer_value(json_object_get(x, "orig_class"));
        json_t *cfs = json_object_get(x, "cfs");
        check(json_array_size(cfs) == 3, "row %zu: \"cfs\" lists 3 members", r);
        check(json_is_integer(json_object_get(json_object_get(x, "cf"), "restored")), "row %zu: cf.restored", r);
        check(json_real_value(json_object_get(x, "diversity")) > 0, "row %zu: diversity > 0", r);
        for (size_t j = 0; j < json_array_size(cfs) && j < 3; j++) {
            json_t *X = json_object_get(json_array_get(cfs, j), "X");
            double cx[2], p[2];
            if (!check(json_vec(X, 2, cx), "row %zu member %zu: X has 2 numbers", r, j))
                continue;
            expect_ok(cfx_model_predict(m, cx, 1, 2, p, &err), &err, "predict at a member");
            int cls = p[1] > p[0];
            check(cls != orig && p[cls] >= 0.95 - 1e-12, "row %zu member %zu: valid on its own (class %d, p %.3f)", r, j,
                  cls, p[cls]);
            members[(r * 3 + j) * 2] = cx[0];
            members[(r * 3 + j) * 2 + 1] = cx[1];
        }
    }
    json_decref(root);

    /* Set metrics of those sets: every member valid, diversity the mean pairwise L1. */
    cfx_evaluator *ev = NULL;
    err_reset(&err);
    if (expect_ok(cfx_evaluator_create(m, NULL, 0, 2, NULL, NULL, &ev, &err), &err, "evaluator for sets")) {
        char *out = NULL;
        err_reset(&err);
        if (expect_ok(cfx_evaluate_sets(ev, X3, members, 3, 3, 2, NULL, &out, &err), &err, "cfx_evaluate_sets 3 x 3")) {
            json_t *r = json_loads(out, 0, NULL);
            json_t *sets = json_object_get(r, "sets");
            double l1 = 0;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < a; b++)
                    l1 += fabs(members[a * 2] - members[b * 2]) + fabs(members[a * 2 + 1] - members[b * 2 + 1]);
            check(json_is_true(json_array_get(json_object_get(sets, "all_valid"), 0)), "set 0: every member valid");
            check(fabs(json_real_value(json_array_get(json_object_get(sets, "diversity"), 0)) - l1 / 3) < 1e-12,
                  "set 0: diversity is the mean pairwise L1");
            check(json_integer_value(json_object_get(r, "k")) == 3 &&
                      json_integer_value(json_object_get(json_object_get(r, "members"), "n")) == 9,
                  "k 3, 9 member rows");
            json_decref(r);
            cfx_free(out);
        }
        out = NULL;
        expect_err(cfx_evaluate_sets(ev, X3, members, 3, 0, 2, NULL, &out, &err), &err, CFX_ERR_INVALID_ARGUMENT,
                   "cfx_evaluate_sets with k 0", "k");
        expect_err(cfx_evaluate_sets(ev, X3, NULL, 3, 3, 2, NULL, &out, &err), &err, CFX_ERR_INVALID_ARGUMENT,
                   "cfx_evaluate_sets with x_cfs NULL", "x_cfs");
        expect_err(cfx_evaluate_sets(ev, X3, members, 3, SIZE_MAX / 4, 2, NULL, &out, &err), &err,
                   CFX_ERR_INVALID_ARGUMENT, "cfx_evaluate_sets with a huge k", "k");
        cfx_evaluator_free(ev);
    }
    cfx_explainer_free(e);
    cfx_model_free(m);
}

/* Section 15, in a file of its own. */
#include "test_hostile.c"
/* Section 15, in a file of its own. */
#include "test_on_error.c"
#include "test_dtype.c"

/* FOCUS on a tree ensemble (Tests/fixtures/trees): config errors name their key, a network is
 * refused, one row explains. */
static void test_focus(void) {
    section("FOCUS (tree ensembles)");
    cfx_model *t = NULL;
    cfx_error err;
    err_reset(&err);
    cfx_status st = cfx_model_load("Tests/fixtures/trees/xgboost_cancer.json", &t, &err);
    if (!expect_ok(st, &err, "cfx_model_load(xgboost_cancer.json)"))
        return;
    bad_config(t, "{\"method\":\"focus\",\"sigma\":0}", CFX_ERR_CONFIG, "focus: sigma 0", "sigma");
    bad_config(t, "{\"method\":\"focus\",\"temperature\":-1}", CFX_ERR_CONFIG, "focus: temperature -1", "temperature");
    bad_config(t, "{\"method\":\"focus\",\"max_steps\":0}", CFX_ERR_CONFIG, "focus: max_steps 0", "max_steps");
    bad_config(t, "{\"method\":\"focus\",\"distance\":\"cosine\"}", CFX_ERR_CONFIG, "focus: distance cosine", "distance");
    bad_config(t, "{\"method\":\"focus\",\"shrinkk\":true}", CFX_ERR_CONFIG, "focus: unknown key", "shrinkk");
    bad_config(t, "{\"method\":\"focus\",\"immutable\":[30]}", CFX_ERR_CONFIG, "focus: immutable 30", "immutable");
    bad_config(t, "{\"method\":\"focus\",\"monotone\":{\"0\":\"up\"}}", CFX_ERR_CONFIG, "focus: monotone up", "monotone");
    cfx_model *net = make_native(&LR_NET, "network for focus");
    if (net) {
        bad_config(net, "{\"method\":\"focus\"}", CFX_ERR_CONFIG, "focus on a network", "tree ensemble");
        cfx_model_free(net);
    }
    cfx_explainer *e = make_explainer(t, "{\"method\":\"focus\",\"max_steps\":50,\"n_threads\":1}", "explainer {focus}");
    if (e) {
        double x[30] = {0};
        char *out = NULL;
        err_reset(&err);
        st = cfx_explain(e, x, 1, 30, &out, &err);
        if (expect_ok(st, &err, "cfx_explain(focus, one row)"))
            check(out && strstr(out, "\"orig_class\"") && strstr(out, "\"success\""), "focus explanation has orig_class and success");
        cfx_free(out);
        err_reset(&err);
        st = cfx_explain(e, x, 1, 29, &out, &err);
        expect_err(st, &err, CFX_ERR_SHAPE, "cfx_explain(focus, 29 features)", NULL);
        cfx_explainer_free(e);
    }
    cfx_model_free(t);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_version();
    test_native();
    test_default_config();
    test_methods();
    test_explain_native();
    test_callbacks();
    test_bad_inputs();
    test_threads();
    test_free();
    test_model_files();
    test_focus();
    test_training();
    test_evaluation();
    test_cfproto();
    test_deduce();
    test_sets();
    test_hostile();
    test_on_error();
    test_dtype();
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail > 0 ? 1 : 0;
}
