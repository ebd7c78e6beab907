/*
 * cfx_result.h — reads the few fields the examples need out of cfx_explain's JSON result (and the
 * files they are given), so that
 * the examples depend on nothing but libcfx (a real program would use its JSON library).
 *
 * This is not a general JSON parser. It relies on the documented shape of a Wachter result,
 *   {"explanations": [{"cf": {"X": [...], "distance": .., "lambda": .., "class": .., "proba": [...],
 *                             ...} or null, "all": [...], "orig_class": .., "orig_proba": ..,
 *                      "success": .., "meta": {..., "model_calls": .., "predicted_rows": ..}}, ...],
 *    ...}
 * and on "return_all": false, so that "all" holds no further counterfactuals.
 */
#ifndef CFX_RESULT_H
#define CFX_RESULT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFX_RESULT_MAX_FEATURES 64
#define CFX_RESULT_MAX_CLASSES 16

typedef struct cfx_result {
    int has_cf;                               /* cf is not null                            */
    int success;
    int orig_class;
    double orig_proba;
    int cf_class;
    size_t n_x, n_proba;
    double cf_x[CFX_RESULT_MAX_FEATURES];     /* cf.X                                      */
    double cf_proba[CFX_RESULT_MAX_CLASSES];  /* cf.proba                                  */
    double distance, lambda;
    double model_calls, predicted_rows;
} cfx_result;

/* The whole file at `path` as a NUL-terminated string (free it), or NULL with the reason on stderr. */
static inline char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return NULL; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) { free(text); text = NULL; }
    if (text) text[size] = '\0';
    fclose(f);
    return text;
}

/* The first `"key":` in [from, end), pointing just past the colon, or NULL. */
static const char *cfx_result_find(const char *from, const char *end, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = from; p && p + klen + 3 <= end; p++) {
        p = memchr(p, '"', (size_t)(end - p));
        if (!p || p + klen + 3 > end) return NULL;
        if (strncmp(p + 1, key, klen) == 0 && p[klen + 1] == '"' && p[klen + 2] == ':')
            return p + klen + 3;
    }
    return NULL;
}

/* Reads "[a, b, ...]" at p into out (at most max values); returns the count or -1. */
static long cfx_result_array(const char *p, double *out, size_t max) {
    if (!p || *p != '[') return -1;
    p++;
    size_t n = 0;
    while (*p && *p != ']') {
        char *next;
        double v = strtod(p, &next);
        if (next == p || n == max) return -1;
        out[n++] = v;
        p = next;
        if (*p == ',') p++;
    }
    return *p == ']' ? (long)n : -1;
}

/* Fills out[0..max) from the explanations of `json`; returns how many were read, or -1 when the
 * text does not have the expected shape. */
static long cfx_result_read(const char *json, cfx_result *out, size_t max) {
    const char *end = json + strlen(json);
    const char *p = cfx_result_find(json, end, "explanations");
    if (!p) return -1;
    size_t n = 0;
    const char *cf = cfx_result_find(p, end, "cf");
    while (cf && n < max) {
        const char *next = cfx_result_find(cf, end, "cf");
        const char *stop = next ? next : end;
        cfx_result *r = &out[n];
        memset(r, 0, sizeof *r);
        r->has_cf = strncmp(cf, "null", 4) != 0;
        const char *v;
        if (r->has_cf) {
            long nx = cfx_result_array(cfx_result_find(cf, stop, "X"), r->cf_x, CFX_RESULT_MAX_FEATURES);
            long np = cfx_result_array(cfx_result_find(cf, stop, "proba"), r->cf_proba, CFX_RESULT_MAX_CLASSES);
            if (nx < 0 || np < 0) return -1;
            r->n_x = (size_t)nx;
            r->n_proba = (size_t)np;
            if (!(v = cfx_result_find(cf, stop, "class"))) return -1;
            r->cf_class = atoi(v);
            if ((v = cfx_result_find(cf, stop, "distance"))) r->distance = strtod(v, NULL);
            if ((v = cfx_result_find(cf, stop, "lambda"))) r->lambda = strtod(v, NULL);
        }
        if (!(v = cfx_result_find(cf, stop, "orig_class"))) return -1;
        r->orig_class = atoi(v);
        if ((v = cfx_result_find(cf, stop, "orig_proba"))) r->orig_proba = strtod(v, NULL);
        if (!(v = cfx_result_find(cf, stop, "success"))) return -1;
        r->success = strncmp(v, "true", 4) == 0;
        if ((v = cfx_result_find(cf, stop, "model_calls"))) r->model_calls = strtod(v, NULL);
        if ((v = cfx_result_find(cf, stop, "predicted_rows"))) r->predicted_rows = strtod(v, NULL);
        n++;
        cf = next;
    }
    return (long)n;
}

#endif /* CFX_RESULT_H */
