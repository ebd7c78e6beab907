/*
 * cfx_result.h — the few fields the examples need from cfx_explain's JSON result, parsed with
 * jansson (the JSON library libcfx.so itself uses; build with `pkg-config --cflags --libs cfx
 * jansson`), and a helper that reads a whole file.
 *
 * The result of a Wachter run is documented in include/cfx.h and docs/methods/wachter.md:
 *   {"explanations": [{"cf": {"X": [...], "distance": .., "lambda": .., "class": .., "proba": [...],
 *                             ...} or null, "all": [...], "orig_class": .., "orig_proba": ..,
 *                      "success": .., "meta": {..., "model_calls": .., "predicted_rows": ..}}, ...],
 *    ...}
 */
#ifndef CFX_RESULT_H
#define CFX_RESULT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

/* A number member of `object` (an integer or a real), or `fallback` when it is missing. */
static double cfx_result_number(const json_t *object, const char *key, double fallback) {
    const json_t *value = json_object_get(object, key);
    return json_is_number(value) ? json_number_value(value) : fallback;
}

/* Copies the JSON array of numbers `array` into out (at most max values); returns the count or -1. */
static long cfx_result_numbers(const json_t *array, double *out, size_t max) {
    if (!json_is_array(array) || json_array_size(array) > max) return -1;
    size_t i;
    json_t *value;
    json_array_foreach(array, i, value) {
        if (!json_is_number(value)) return -1;
        out[i] = json_number_value(value);
    }
    return (long)json_array_size(array);
}

/* Fills out[0..max) from the "explanations" of cfx_explain's result `json`; returns how many were
 * read, or -1 (with the reason on stderr) when the text is not the documented result. */
static long cfx_result_read(const char *json, cfx_result *out, size_t max) {
    json_error_t error;
    json_t *root = json_loads(json, 0, &error);
    if (!root) {
        fprintf(stderr, "result JSON, line %d: %s\n", error.line, error.text);
        return -1;
    }
    const json_t *explanations = json_object_get(root, "explanations");
    long n = 0;
    size_t i;
    json_t *e;
    if (!json_is_array(explanations)) n = -1;
    else json_array_foreach(explanations, i, e) {
        if (i == max) break;
        cfx_result *r = &out[i];
        memset(r, 0, sizeof *r);
        const json_t *cf = json_object_get(e, "cf");
        r->has_cf = json_is_object(cf);
        if (r->has_cf) {
            long nx = cfx_result_numbers(json_object_get(cf, "X"), r->cf_x, CFX_RESULT_MAX_FEATURES);
            long np = cfx_result_numbers(json_object_get(cf, "proba"), r->cf_proba, CFX_RESULT_MAX_CLASSES);
            if (nx < 0 || np < 0) { n = -1; break; }
            r->n_x = (size_t)nx;
            r->n_proba = (size_t)np;
            r->cf_class = (int)json_integer_value(json_object_get(cf, "class"));
            r->distance = cfx_result_number(cf, "distance", 0);
            r->lambda = cfx_result_number(cf, "lambda", 0);
        }
        r->orig_class = (int)json_integer_value(json_object_get(e, "orig_class"));
        r->orig_proba = cfx_result_number(e, "orig_proba", 0);
        r->success = json_is_true(json_object_get(e, "success"));
        const json_t *meta = json_object_get(e, "meta");
        r->model_calls = cfx_result_number(meta, "model_calls", 0);
        r->predicted_rows = cfx_result_number(meta, "predicted_rows", 0);
        n++;
    }
    if (n < 0) fprintf(stderr, "result JSON: not the documented explanations\n");
    json_decref(root);
    return n;
}

#endif /* CFX_RESULT_H */
