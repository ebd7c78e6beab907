/*
 * cfx.h — the C interface of cfx, a counterfactual-explanation engine.
 *
 * This header is the whole contract between cfx and its callers (C, C++, Python through ctypes,
 * Julia through ccall). Everything below is stable within a major version.
 *
 * Conventions
 * -----------
 * - Every fallible function returns a cfx_status (CFX_OK == 0 on success) and, when `err` is not
 *   NULL, fills it with the same code and a NUL-terminated message that names the offending field
 *   (for example "tol: must be >= 0, got -1.0"). On success `err->code` is CFX_OK and
 *   `err->message` is empty. `err` may always be NULL.
 * - A failed call changes no handle: every handle stays valid and usable after an error.
 * - Handles are opaque. Each `*_create*` has a matching `*_free`; freeing NULL is a no-op.
 * - Configurations and explanations are UTF-8 JSON text; a key given twice is a CFX_ERR_JSON error.
 *   Bulk numbers are row-major `double` buffers: `n` rows (instances) of `d` features, with n and d
 *   at least 1 (otherwise CFX_ERR_INVALID_ARGUMENT) and d equal to the model's (CFX_ERR_SHAPE).
 * - Error messages are valid UTF-8, cut at a character boundary when they are longer than the
 *   message buffer.
 * - Memory that cfx returns (JSON strings) belongs to the caller, who frees it with cfx_free().
 * - cfx never aborts, exits or prints. NaN or infinite inputs are rejected with CFX_ERR_NUMERIC.
 * - Thread safety: models and explainers are immutable after creation; any number of threads may
 *   call cfx_model_predict and cfx_explain on the same handles at once. A batch passed to
 *   cfx_explain is spread over `n_threads` worker threads (config key, 0 = all cores), so
 *   callback functions must tolerate being called from several threads at once (or set
 *   "n_threads": 1).
 */
#ifndef CFX_H
#define CFX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------------------------------- */

#define CFX_VERSION_MAJOR 0
#define CFX_VERSION_MINOR 1
#define CFX_VERSION_PATCH 0
#define CFX_VERSION_STRING "0.1.0"

/* The version of the loaded library, "MAJOR.MINOR.PATCH". Static storage: do not free.
 * Compare with CFX_VERSION_STRING to detect a header/library mismatch. */
const char *cfx_version(void);

/* ---- Errors ----------------------------------------------------------------------------------- */

typedef enum cfx_status {
    CFX_OK = 0,
    CFX_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, zero size or other bad argument to a function */
    CFX_ERR_JSON = 2,             /* text that is not valid JSON (message has line and column)   */
    CFX_ERR_CONFIG = 3,           /* unknown key or method, wrong type, out-of-range value        */
    CFX_ERR_MODEL = 4,            /* an invalid model specification                               */
    CFX_ERR_SHAPE = 5,            /* buffer sizes that do not match the model                     */
    CFX_ERR_NUMERIC = 6,          /* NaN or infinity in an input or a model output                */
    CFX_ERR_CALLBACK = 7,         /* a caller-supplied callback reported failure                  */
    CFX_ERR_CANCELLED = 8,        /* reserved: the caller cancelled a long run                    */
    CFX_ERR_INTERNAL = 9          /* a bug in cfx; please report it with the message              */
} cfx_status;

#define CFX_ERROR_MESSAGE_SIZE 512

typedef struct cfx_error {
    cfx_status code;
    char message[CFX_ERROR_MESSAGE_SIZE]; /* NUL-terminated, truncated to fit */
} cfx_error;

/* A short constant description of a status code ("ok", "invalid argument", ...). Do not free. */
const char *cfx_status_string(cfx_status status);

/* Frees memory returned by cfx (JSON strings). NULL is a no-op. */
void cfx_free(void *ptr);

/* ---- Models ----------------------------------------------------------------------------------- */

/* A classifier: n x d features in, n x k class probabilities out. */
typedef struct cfx_model cfx_model;

/* Creates a native network from a JSON specification:
 *
 *   {"input_shape": [d],
 *    "layers": [{"type": "dense", "weights": [[...d...], ...k rows...], "bias": [...k...]},
 *               {"type": "relu"}, {"type": "tanh"}, {"type": "sigmoid"}, {"type": "softmax"}],
 *    "metadata": {...}}
 *
 * Dense weights are stored out x in (PyTorch's layout); "bias" may be omitted (zeros). "metadata"
 * is optional and free-form (class names, provenance); cfx ignores it. Any other key is an error.
 * The network's output is read as class probabilities as it is, so a classifier should end with
 * softmax. cfx computes exact input gradients by backpropagation. Errors name the layer, e.g.
 * "layers[2] (dense): bias has 3 values, expected 4". */
cfx_status cfx_model_create_json(const char *spec_json, cfx_model **out, cfx_error *err);

/* Caller-supplied probabilities: writes n x k probabilities for the n x d rows of `x` into
 * `proba_out`. Returns 0 on success, any other value on failure (cfx reports CFX_ERR_CALLBACK
 * with that value). */
typedef int (*cfx_predict_fn)(void *user, const double *x, size_t n, size_t d, double *proba_out);

/* Optional caller-supplied vector-Jacobian product: for each of the n rows writes
 * grad_out[i, :] = sum_j cotangent[i, j] * d proba[i, j] / d x[i, :]  (n x d), i.e. the gradient
 * of sum(cotangent * predict(x)) with respect to x. Returns 0 on success. */
typedef int (*cfx_vjp_fn)(void *user, const double *x, size_t n, size_t d, const double *cotangent,
                          size_t k, double *grad_out);

/* Creates a model from callbacks. `vjp` may be NULL: cfx then differentiates `predict` by central
 * differences, batching all 2*d perturbed rows of an instance into one predict call. `user` is
 * passed back unchanged and must outlive the model. */
cfx_status cfx_model_create_callbacks(size_t n_features, size_t n_classes, cfx_predict_fn predict,
                                      cfx_vjp_fn vjp, void *user, cfx_model **out, cfx_error *err);

void cfx_model_free(cfx_model *model);

/* The number of input features d and of classes k. Either output pointer may be NULL. */
cfx_status cfx_model_shape(const cfx_model *model, size_t *n_features, size_t *n_classes,
                           cfx_error *err);

/* Class probabilities of n rows: `x` holds n * d doubles, `proba_out` room for n * k. */
cfx_status cfx_model_predict(const cfx_model *model, const double *x, size_t n, size_t d,
                             double *proba_out, cfx_error *err);

/* The model's vector-Jacobian product (exact for native networks, by callback or central
 * differences otherwise): grad_out (n x d) = cotangent (n x k) times d proba / d x, per row. */
cfx_status cfx_model_vjp(const cfx_model *model, const double *x, size_t n, size_t d,
                         const double *cotangent, size_t k, double *grad_out, cfx_error *err);

/* ---- Explainers ------------------------------------------------------------------------------- */

/* A configured method bound to a model. Configure it (cfx_explainer_set_model, cfx_explainer_fit)
 * before sharing it between threads; those calls are nevertheless safe while other threads
 * explain: each explain call sees the explainer either before or after the change. */
typedef struct cfx_explainer cfx_explainer;

/* The default configuration of a method ("wachter", "cfproto") as a JSON object, every key present.
 * Free *json_out with cfx_free. */
cfx_status cfx_default_config(const char *method, char **json_out, cfx_error *err);

/* Creates an explainer from a JSON configuration {"method": "wachter", ...}. Keys that are
 * omitted take their defaults; unknown keys, wrong types and out-of-range values are errors.
 * The explainer keeps its own reference to the model, so the model handle may be freed first.
 * Methods need a model with at least 2 classes (a 1-output model is a CFX_ERR_CONFIG error). */
cfx_status cfx_explainer_create(const cfx_model *model, const char *config_json,
                                cfx_explainer **out, cfx_error *err);

void cfx_explainer_free(cfx_explainer *explainer);

/* The explainer's effective configuration (defaults filled in) as JSON. Free with cfx_free. */
cfx_status cfx_explainer_config(const cfx_explainer *explainer, char **json_out, cfx_error *err);

/* Gives the explainer an auxiliary model in a role the method accepts (for example "encoder" or
 * "autoencoder" for prototype-guided counterfactuals). The explainer keeps its own reference.
 * A role the method does not take is a CFX_ERR_CONFIG error naming the accepted roles. */
cfx_status cfx_explainer_set_model(cfx_explainer *explainer, const char *role, const cfx_model *model,
                                   cfx_error *err);

/* Fits the method on training data: n rows of d features in `x` and, when `y` is not NULL, a
 * class label per row (whole numbers 0..k-1 as doubles; NULL uses the model's predictions).
 * Methods that need training data (prototypes, class densities) fail in cfx_explain until they
 * are fitted; methods that need none (Wachter) accept and ignore it, as alibi does. Fitting again
 * replaces the previous fit. */
cfx_status cfx_explainer_fit(cfx_explainer *explainer, const double *x, size_t n, size_t d,
                             const double *y, cfx_error *err);

/* Explains n instances (`x`: n * d doubles, row-major). On success *json_out is
 *
 *   {"explanations": [ {...one per instance...} ], "seconds": total, "n_threads": used}
 *
 * with, for the Wachter method, per instance: "cf" ({"X", "distance", "lambda", "index", "class",
 * "proba", "loss"} or null), "all" (one list per lambda round of the counterfactuals met; the
 * lists are empty with "return_all": false), "orig_class", "orig_proba", "success" and "meta"
 * ({"method", "params" (the effective config), "model_calls", "predicted_rows",
 * "gradient_evaluations", "seconds"}). For prototype-guided counterfactuals ("cfproto"; fit first
 * when it uses k-d trees, an encoder, cat_vars or a trust-score threshold), per instance: "cf"
 * ({"X" (model input, valid categories), "class" and "proba" (the model's on that X), "distance",
 * "c", "c_step", "iteration", "grads_graph", "grads_num"} or null), "all" (per c step, each new
 * best), "orig_class", "orig_proba" (all class probabilities), "id_proto" (or null),
 * "trust_score" (or null), "success" and "meta" (as above plus "iterations", "feature_range" and,
 * with cat_vars, "category_values"). When one instance fails (a callback error, say), the
 * whole call fails with a message that starts "instance i: ". Free *json_out with cfx_free. */
cfx_status cfx_explain(const cfx_explainer *explainer, const double *x, size_t n, size_t d,
                       char **json_out, cfx_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CFX_H */
