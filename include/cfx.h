/**
 * @file cfx.h
 * @brief The C interface of cfx, a counterfactual-explanation engine.
 *
 * This header is the whole contract between cfx and its callers (C, C++, Python through ctypes,
 * Julia through ccall). Everything below is stable within a major version (docs/c-api.md,
 * "Versions and stability"; while the major version is 0, a minor version may still break it,
 * and CHANGELOG.md says so). The guide to this API is docs/c-api.md.
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
 * - cfx never aborts, exits or prints, whatever its inputs. NaN or infinite inputs are rejected
 *   with CFX_ERR_NUMERIC. Every size from a caller, a spec or a file is checked against the limits
 *   below (CFX_MAX_*) with overflow-checked arithmetic before anything is allocated.
 * - Every out-parameter (`out`, `json_out`, `report_json`) is set to NULL on entry, so that it is
 *   NULL after any error (cfx_model_train's report excepted on cancellation, see Training).
 * - Handles carry their type: a handle of one type passed where another is expected (a
 *   cfx_density * as a cfx_explainer *), or one already freed, is CFX_ERR_INVALID_ARGUMENT naming
 *   the argument; freeing such a pointer is ignored. (Memory that was never a cfx handle cannot
 *   be told apart from a freed one; do not pass it.)
 * - Thread safety: models and explainers are immutable after creation (except while
 *   cfx_model_train changes a model's weights, see Training); any number of threads may
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

/** Major version of this header: changes when the ABI or a documented JSON key changes
 * incompatibly (while it is 0, a minor version may still break the ABI; see CHANGELOG.md). */
#define CFX_VERSION_MAJOR 0
/** Minor version: compatible additions (functions, status codes, methods, config keys). */
#define CFX_VERSION_MINOR 3
/** Patch version: fixes that keep every documented behaviour. */
#define CFX_VERSION_PATCH 0
/** "MAJOR.MINOR.PATCH" of this header; cfx_version() returns the loaded library's. */
#define CFX_VERSION_STRING "0.3.0"

/** The version of the loaded library, "MAJOR.MINOR.PATCH". Static storage: do not free.
 * Compare with CFX_VERSION_STRING to detect a header/library mismatch. */
const char *cfx_version(void);

/* ---- Errors ----------------------------------------------------------------------------------- */

/** What a call returned: CFX_OK (0) on success, otherwise the kind of error. New codes are only
 * ever appended. */
typedef enum cfx_status {
    CFX_OK = 0,                   /**< success                                                     */
    CFX_ERR_INVALID_ARGUMENT = 1, /**< a NULL pointer, zero size or other bad argument to a function */
    CFX_ERR_JSON = 2,             /**< text that is not valid JSON (message has line and column)   */
    CFX_ERR_CONFIG = 3,           /**< unknown key or method, wrong type, out-of-range value        */
    CFX_ERR_MODEL = 4,            /**< an invalid model specification                               */
    CFX_ERR_SHAPE = 5,            /**< buffer sizes that do not match the model                     */
    CFX_ERR_NUMERIC = 6,          /**< NaN or infinity in an input or a native model's output       */
    CFX_ERR_CALLBACK = 7,         /**< a callback reported failure or returned invalid outputs      */
    CFX_ERR_CANCELLED = 8,        /**< the caller cancelled a long run (a progress callback)        */
    CFX_ERR_INTERNAL = 9,         /**< a bug in cfx; please report it with the message              */
    CFX_ERR_IO = 10               /**< a file that cannot be read or written (message has the path) */
} cfx_status;

/* ---- Limits ----------------------------------------------------------------------------------- */

/* The largest sizes cfx accepts. A larger value from a caller, a model spec or a file is an
 * error naming the field (CFX_ERR_INVALID_ARGUMENT for function arguments, CFX_ERR_MODEL in a
 * spec or a weights/density file, CFX_ERR_CONFIG in a config), never an allocation attempt.
 * Networks are evaluated in passes of at most 2^26 values (512 MiB) of working memory per thread
 * (one example per pass when a single one needs more), so a large n costs time, not memory. */

/** Input features d of a model. */
#define CFX_MAX_FEATURES (1LL << 28)
/** Classes k of a model. */
#define CFX_MAX_CLASSES (1LL << 24)
/** Values in one tensor of a network: one example's activations at a layer, a layer's weights or scratch. */
#define CFX_MAX_TENSOR_ELEMENTS (1LL << 28)
/** Values in all tensors of a network together (2 GiB as double). */
#define CFX_MAX_PARAMETERS (1LL << 28)
/** Values a network needs per example to evaluate and differentiate it (activations, gradients, scratch). */
#define CFX_MAX_ROW_ELEMENTS (1LL << 29)
/** Values in one caller buffer: n*d inputs, n*k outputs. */
#define CFX_MAX_BUFFER_ELEMENTS (1LL << 31)
/** Categories of one categorical variable (cat_vars). */
#define CFX_MAX_CATEGORIES (1LL << 12)
/** kernel_size, stride and padding of convolution and pooling layers. */
#define CFX_MAX_WINDOW (1LL << 10)
/** Bytes of a spec, weights or density file that cfx reads (8 GiB). */
#define CFX_MAX_FILE_BYTES (1LL << 33)
/** Features of a model without a vjp callback: its numerical gradient predicts 2*d rows of d values at once. */
#define CFX_MAX_NUMERICAL_GRADIENT_FEATURES (1LL << 12)

/** Size of cfx_error's message buffer, including the terminating NUL. */
#define CFX_ERROR_MESSAGE_SIZE 512

/** The error of a failed call: filled by every fallible function whose `err` is not NULL (with
 * CFX_OK and an empty message on success). Caller-allocated, e.g. on the stack. */
typedef struct cfx_error {
    cfx_status code;              /**< the status the call returned */
    char message[CFX_ERROR_MESSAGE_SIZE]; /**< NUL-terminated, truncated to fit */
} cfx_error;

/** A short constant description of a status code ("ok", "invalid argument", ...).
 *
 * - Ownership: static storage; do not free. An unknown code gives a description too, never NULL.
 * - Threads: any thread, at any time. */
const char *cfx_status_string(cfx_status status);

/** Frees memory that cfx returned: the JSON texts of `json_out` and `report_json` out-parameters.
 *
 * - Arguments: `ptr` is NULL (a no-op) or a pointer cfx returned and that was not freed yet.
 * - Ownership: use it, not free(): the library may use another allocator. Never pass a handle
 *   (handles have their `*_free`).
 * - Threads: any thread, once per pointer. */
void cfx_free(void *ptr);

/** What the loaded library runs on, as JSON: version, OpenBLAS kernel set, convolution backend
 * (oneDNN or im2col-sgemm), cores, and the instruction sets of cfx's kernels. For benchmark and bug
 * reports; the keys and the environment variables that steer them (CFX_ISA, CFX_DNNL) are in
 * docs/c-api.md, "Runtime information".
 *
 * - Ownership: free `*json_out` with cfx_free.
 * - Threads: any thread. */
cfx_status cfx_runtime_info(char **json_out, cfx_error *err);

/* ---- Models ----------------------------------------------------------------------------------- */

/** A classifier: n x d features in, n x k class probabilities out. A native network (from a spec
 * or a file) or a pair of callbacks. Immutable after creation, except while cfx_model_train
 * changes a native network's weights; any number of threads may predict with one model at once. */
typedef struct cfx_model cfx_model;

/** Creates a native network from a JSON spec: {"input_shape": [d], "layers": [...], "weights",
 * "dtype", "metadata"}. The layers, their keys and the tensor layouts are in docs/model-format.md.
 *
 * - Arguments: `spec_json` is UTF-8 JSON text. A relative "weights" path is resolved against the
 *   current directory.
 * - Ownership: free `*out` with cfx_model_free.
 * - Errors: CFX_ERR_JSON (not JSON), CFX_ERR_MODEL (an invalid spec or weights file; the message
 *   names the key, e.g. "layers[2].bias: has 3 values, expected 4"), CFX_ERR_IO (a weights file
 *   that cannot be read).
 * - Threads: any thread. */
cfx_status cfx_model_create_json(const char *spec_json, cfx_model **out, cfx_error *err);

/** Caller-supplied probabilities: writes n x k probabilities for the n x d rows of `x` into
 * `proba_out`. Returns 0 on success, any other value on failure (cfx reports CFX_ERR_CALLBACK
 * with that value). `x` and `proba_out` are valid only during the call. Called from cfx's worker
 * threads, several at once (or set "n_threads": 1 in the explainer's config). */
typedef int (*cfx_predict_fn)(void *user, const double *x, size_t n, size_t d, double *proba_out);

/** Optional caller-supplied vector-Jacobian product: for each of the n rows writes
 * grad_out[i, :] = sum_j cotangent[i, j] * d proba[i, j] / d x[i, :]  (n x d), i.e. the gradient
 * of sum(cotangent * predict(x)) with respect to x. Returns 0 on success. Buffers and threads as
 * for cfx_predict_fn. */
typedef int (*cfx_vjp_fn)(void *user, const double *x, size_t n, size_t d, const double *cotangent,
                          size_t k, double *grad_out);

/** Creates a model from callbacks; cfx_model_create_callbacks_ex with `options_json` NULL.
 *
 * - Arguments: n_features is 1...CFX_MAX_FEATURES, n_classes 1...CFX_MAX_CLASSES. `vjp` may be
 *   NULL: cfx then differentiates `predict` by central differences, batching the 2*d perturbed
 *   rows of an instance into one predict call. `user` is passed back to both unchanged.
 * - Ownership: free `*out` with cfx_model_free. `user` (and what it points to) belongs to the
 *   caller and must outlive the model and every explainer and evaluator built on it.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (a size out of range, `predict` NULL). Later calls fail with
 *   CFX_ERR_CALLBACK naming the row when a callback returns non-zero or outputs that break the
 *   checks of docs/c-api.md, "Callback models" (finite probabilities in [-1e-4, 1 + 1e-4] summing to
 *   1 within 1e-4; finite gradients).
 * - Threads: any thread; the callbacks must tolerate concurrent calls (see cfx_predict_fn). */
cfx_status cfx_model_create_callbacks(size_t n_features, size_t n_classes, cfx_predict_fn predict,
                                      cfx_vjp_fn vjp, void *user, cfx_model **out, cfx_error *err);

/** cfx_model_create_callbacks with options.
 *
 * - Arguments: `options_json` is NULL or {"output": "probabilities" | "logits" | "values"}:
 *   "probabilities" (the default) are checked as above; with "logits" predict writes n x k finite
 *   logits and cfx applies the softmax (a vjp then differentiates the logits); with "values"
 *   predict writes any finite values (an encoder's codes, an autoencoder's reconstructions;
 *   n_classes is the output width), for a model that serves in an auxiliary role
 *   (cfx_explainer_set_model, cfx_evaluator_set_model) and cannot be explained.
 * - Ownership, threads: as cfx_model_create_callbacks.
 * - Errors: as cfx_model_create_callbacks; CFX_ERR_CONFIG (unknown keys or values), CFX_ERR_JSON. */
cfx_status cfx_model_create_callbacks_ex(size_t n_features, size_t n_classes, cfx_predict_fn predict,
                                         cfx_vjp_fn vjp, void *user, const char *options_json,
                                         cfx_model **out, cfx_error *err);

/** Frees a model handle. Explainers and evaluators built on it keep their own reference, so it may
 * be freed right after they are created.
 *
 * - Arguments: NULL is a no-op; a handle of another type, or one freed already, is ignored.
 * - Threads: not while another thread uses this handle. */
void cfx_model_free(cfx_model *model);

/** The number of input features d and of classes (outputs) k.
 *
 * - Arguments: either output pointer may be NULL.
 * - Threads: any number of threads at once. */
cfx_status cfx_model_shape(const cfx_model *model, size_t *n_features, size_t *n_classes,
                           cfx_error *err);

/** Class probabilities of n rows.
 *
 * - Arguments: `x` holds n * d doubles (row-major), `proba_out` room for n * k; d is the model's.
 * - Errors: CFX_ERR_SHAPE (d), CFX_ERR_NUMERIC (NaN or infinity in `x`, or in a native network's
 *   output), CFX_ERR_CALLBACK (a callback model's callback failed or broke the checks).
 * - Threads: any number of threads at once, on one model; one call's network work is split over
 *   the model's "threads" (cfx_model_convert). */
cfx_status cfx_model_predict(const cfx_model *model, const double *x, size_t n, size_t d,
                             double *proba_out, cfx_error *err);

/** The model's vector-Jacobian product: grad_out (n x d) = cotangent (n x k) times d proba / d x,
 * per row. Exact for native networks (backpropagation), by the vjp callback or central
 * differences for callback models.
 *
 * - Arguments: `x` n * d, `cotangent` n * k with k the model's, `grad_out` room for n * d.
 * - Errors, threads: as cfx_model_predict; CFX_ERR_MODEL for a tree ensemble, which has no gradient. */
cfx_status cfx_model_vjp(const cfx_model *model, const double *x, size_t n, size_t d,
                         const double *cotangent, size_t k, double *grad_out, cfx_error *err);

/** A new handle for the same model, computing in another number type or with more threads.
 *
 * - Arguments: `options_json` is NULL or {"dtype": "float32" | "float64", "threads": N}. "dtype"
 *   (native networks only) is the number type of every pass (predict, gradients, searches,
 *   densities, training); weights stay double inside cfx, so converting loses nothing
 *   (docs/networks.md). "threads" (default 1; 0 = all cores, at most 4096) is how many threads
 *   cfx_model_predict and cfx_model_vjp on the new handle split one call's work over; results do
 *   not depend on it. "relax_sigma": σ > 0 (tree ensembles only) makes a handle that predicts
 *   with the real ensemble and whose gradient (cfx_model_vjp, and so the gradient methods: wachter,
 *   eccco, sets, sparsify) is that of the ensemble relaxed by sigmoid splits of sharpness σ
 *   (docs/trees.md, docs/methods/focus.md); validity is always the real ensemble's.
 * - Ownership: free `*out` with cfx_model_free. A native network's new handle has weights of its
 *   own (training it leaves the source as it was); the source stays valid and unchanged.
 * - Errors: CFX_ERR_INVALID_ARGUMENT ("dtype" for a callback model), CFX_ERR_CONFIG (unknown keys,
 *   bad values, "relax_sigma" for a model that is not a tree ensemble), CFX_ERR_JSON.
 * - Threads: any thread. */
cfx_status cfx_model_convert(const cfx_model *model, const char *options_json, cfx_model **out,
                             cfx_error *err);

/* ---- Model files ------------------------------------------------------------------------------ */

/* A model file is a JSON spec (as for cfx_model_create_json) whose "weights" may name a
 * safetensors file (F64, F32, F16 or BF16 read; F64 or F32 written), with tensors named by their
 * path in the network ("layers.0.weight", "layers.3.main.0.weight"). docs/model-format.md, "Model
 * files", has the naming, the strictness rules and the errors. */

/** Loads a model file; its relative "weights" path is resolved against the spec file's directory.
 * A path ending in ".onnx" is read as an ONNX file into the same kind of network (docs/onnx.md);
 * an XGBoost JSON model (it starts with {"learner":) or a LightGBM text model (it starts with
 * "tree") into a tree ensemble, which predicts but has no gradient (docs/trees.md).
 *
 * - Ownership: free `*out` with cfx_model_free.
 * - Errors: CFX_ERR_IO (a spec or weights file that cannot be read; the message starts with its
 *   path), CFX_ERR_JSON (invalid JSON in the spec), CFX_ERR_MODEL (an invalid spec or weights
 *   file: a missing, extra or misshapen tensor, a truncated file, NaN; the message starts with the
 *   spec's path).
 * - Threads: any thread. */
cfx_status cfx_model_load(const char *spec_path, cfx_model **out, cfx_error *err);

/** Saves a native network: with `weights_path`, the tensors there as safetensors and a spec without
 * inline tensors at `spec_path` that names the weights file (relative to the spec's directory);
 * with `weights_path` NULL, one spec with every tensor inline. The spec's "metadata" is kept.
 *
 * - Arguments: `options_json` is NULL or {"dtype": "F64" | "F32"}: F64 (the default) round-trips
 *   exactly, F32 halves the file (weights_path only).
 * - Ownership: files are written to a temporary name and renamed into place.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (a callback model), CFX_ERR_IO (a path that cannot be
 *   written), CFX_ERR_CONFIG (bad options).
 * - Threads: not while the model trains. */
cfx_status cfx_model_save(const cfx_model *model, const char *spec_path, const char *weights_path,
                          const char *options_json, cfx_error *err);

/** The spec of a native network with every tensor inline (and its "metadata"), as JSON text that
 * cfx_model_create_json accepts.
 *
 * - Ownership: free `*json_out` with cfx_free.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (a callback model).
 * - Threads: not while the model trains. */
cfx_status cfx_model_spec(const cfx_model *model, char **json_out, cfx_error *err);

/* ---- End of model files ----------------------------------------------------------------------- */

/* ---- Training --------------------------------------------------------------------------------- */

/** Progress of a long call (cfx_model_train, cfx_explain_progress): called with a JSON report that
 * is valid only during the call; returns 0 to go on, anything else to stop. cfx_model_train
 * reports after every epoch and, with "in_progress": true, during one; cfx_explain_progress as
 * instances finish. The reports' keys are in docs/c-api.md, "Progress and cancellation". Called
 * on the thread that made the call, never on a worker thread. */
typedef int (*cfx_progress_fn)(void *user, const char *progress_json);

/** Trains a native network in place by minibatch gradient descent, from its current weights (a
 * spec without tensors starts from PyTorch-like initial values, seed 0). The losses, optimisers,
 * schedules, early stopping, counterfactual training, every config key and the report are in
 * docs/training.md, "From C".
 *
 * - Arguments: `x` n x d rows as for cfx_model_predict. "cross_entropy" (the default loss) takes
 *   `targets` = one class index per row as a double, target_width 1; "mse" takes n x
 *   target_width values of the fitted output, or `targets` NULL to reconstruct `x`.
 *   `config_json` is {"method": "train" (optional), ...}, omitted keys taking the defaults of
 *   cfx_default_config("train"). `progress` may be NULL; `user` is passed back unchanged.
 * - Ownership: `*report_json` (the history and a summary) is set on success and on
 *   CFX_ERR_CANCELLED, NULL after any other error; free it with cfx_free.
 * - Weights: on success the last epoch's (the best epoch's when early stopping restored them); on
 *   cancellation the last completed epoch's; after any other error as they were before the call.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (a callback model, `targets` NULL for cross_entropy, a class
 *   index that is not a whole number in 0..k-1), CFX_ERR_SHAPE (d, target_width),
 *   CFX_ERR_NUMERIC (NaN or infinite `x` or targets, a loss that diverges), CFX_ERR_CONFIG,
 *   CFX_ERR_JSON, CFX_ERR_CANCELLED (the progress callback stopped it).
 * - Threads: the weights change, and explainers built on the model share them: do not use the
 *   model, or any explainer or evaluator holding it, from other threads while it trains, and do
 *   not train one model from two threads at once. Training runs on the config's "n_threads". */
cfx_status cfx_model_train(cfx_model *model, const double *x, size_t n, size_t d,
                           const double *targets, size_t target_width, const char *config_json,
                           cfx_progress_fn progress, void *user, char **report_json,
                           cfx_error *err);

/* A trained network is saved with cfx_model_save, or read as JSON with cfx_model_spec. */

/* ---- End of Training -------------------------------------------------------------------------- */

/* ---- Explainers ------------------------------------------------------------------------------- */

/** A configured method bound to a model. Configure it (cfx_explainer_set_model, cfx_explainer_fit)
 * before sharing it between threads; those calls are nevertheless safe while other threads
 * explain: each explain call sees the explainer either before or after the change. */
typedef struct cfx_explainer cfx_explainer;

/** The default configuration of a method as a JSON object, every key present.
 *
 * - Arguments: `method` is "wachter", "cfproto", "deduce", "jsma" or "eccco" (the keys are on each
 *   method's page, docs/methods/), or "train" for the training config of cfx_model_train.
 * - Ownership: free `*json_out` with cfx_free.
 * - Errors: CFX_ERR_CONFIG (an unknown method).
 * - Threads: any thread. */
cfx_status cfx_default_config(const char *method, char **json_out, cfx_error *err);

/** The methods cfx offers and their parameters, from the tables the library validates configs
 * with: [{"name": "wachter", "parameters": [{"key": "target_proba", "default": 1.0,
 * "constraint": "in [0, 1]", "doc": "..."}, ...]}, ...], every key of cfx_default_config in its
 * order (the method's own, then "n_threads", "seed" and "on_error", which every method takes).
 *
 * - Ownership: free `*json_out` with cfx_free.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (`json_out` NULL).
 * - Threads: any thread. */
cfx_status cfx_methods(char **json_out, cfx_error *err);

/** Creates an explainer from a JSON configuration {"method": "wachter", ...}; omitted keys take
 * their defaults (cfx_default_config).
 *
 * - Arguments: `model` needs at least 2 classes and, for "deduce" and "eccco", must be a native
 *   network.
 * - Ownership: free `*out` with cfx_explainer_free. The explainer keeps its own reference to the
 *   model, so the model handle may be freed first.
 * - Errors: CFX_ERR_JSON; CFX_ERR_CONFIG (an unknown method or key, a wrong type, an out-of-range
 *   value, a model that the method cannot explain), naming the key.
 * - Threads: any thread. */
cfx_status cfx_explainer_create(const cfx_model *model, const char *config_json,
                                cfx_explainer **out, cfx_error *err);

/** Frees an explainer handle.
 *
 * - Arguments: NULL is a no-op; a handle of another type, or one freed already, is ignored.
 * - Threads: not while another thread uses this handle. */
void cfx_explainer_free(cfx_explainer *explainer);

/** The explainer's effective configuration (defaults filled in) as JSON.
 *
 * - Ownership: free `*json_out` with cfx_free.
 * - Threads: any number of threads at once. */
cfx_status cfx_explainer_config(const cfx_explainer *explainer, char **json_out, cfx_error *err);

/** Gives the explainer an auxiliary model in a role its method takes ("encoder" or "autoencoder"
 * for "cfproto"), replacing any earlier one.
 *
 * - Ownership: the explainer keeps its own reference to `model`.
 * - Errors: CFX_ERR_CONFIG (a role the method does not take, the message naming the accepted
 *   ones; a model whose shape does not fit the role).
 * - Threads: safe while other threads explain (each call sees the explainer before or after). */
cfx_status cfx_explainer_set_model(cfx_explainer *explainer, const char *role, const cfx_model *model,
                                   cfx_error *err);

/** Fits the method on training data, replacing any earlier fit. Methods that need training data
 * (CFProto's prototypes and categories, DeDUCE's density, ECCCo's conformal calibration) fail in
 * cfx_explain until they are fitted. The others accept it: Wachter (as alibi does) takes only the
 * features' MADs from it (the units of "sparsify" and "n_counterfactuals"); JSMA ignores it.
 *
 * - Arguments: `x` n x d rows; `y` NULL (the model's predictions are used) or n class labels,
 *   whole numbers 0..k-1 as doubles.
 * - Ownership: `x` and `y` are read during the call only.
 * - Errors: CFX_ERR_SHAPE (d), CFX_ERR_NUMERIC (NaN or infinity in `x` or `y`),
 *   CFX_ERR_INVALID_ARGUMENT (a label that is not a whole number in 0..k-1, too few rows of a
 *   class for a density).
 * - Threads: safe while other threads explain (each call sees the explainer before or after). */
cfx_status cfx_explainer_fit(cfx_explainer *explainer, const double *x, size_t n, size_t d,
                             const double *y, cfx_error *err);

/** Explains n instances. On success `*json_out` is {"explanations": [...], "seconds", "n_threads"}
 * with one entry per instance (DeDUCE and JSMA: per instance and target class, instance-major).
 * The entries of each method are on its page, docs/methods/ (section "Output"); sparse and diverse
 * counterfactuals in docs/sparse-diverse.md; the whole object in docs/c-api.md, "What cfx_explain
 * returns".
 *
 * - Arguments: `x` holds n * d doubles, row-major, d the model's.
 * - Ownership: free `*json_out` with cfx_free.
 * - Errors: CFX_ERR_SHAPE (d), CFX_ERR_NUMERIC (NaN or infinity in `x`), CFX_ERR_INVALID_ARGUMENT
 *   (a method that needs cfx_explainer_fit or cfx_explainer_set_density first), CFX_ERR_CALLBACK.
 *   One failing instance fails the call with a message that starts "instance i: ", unless the
 *   config says "on_error": "record": failed rows then get an "error" entry and the call succeeds
 *   (docs/c-api.md, "What cfx_explain returns").
 * - Threads: any number of threads at once, on one explainer. The batch is spread over the config's
 *   "n_threads" worker threads (0 = all cores), which call a callback model's functions; results do
 *   not depend on the count. */
cfx_status cfx_explain(const cfx_explainer *explainer, const double *x, size_t n, size_t d,
                       char **json_out, cfx_error *err);

/* ---- Densities -------------------------------------------------------------------------------- */

/** DDU's feature-space density (Mukhoti et al., "Deep Deterministic Uncertainty"), the plausibility
 * model of DeDUCE: one Gaussian per class fitted to a native network's feature output. Fitting,
 * the jitter that makes covariances positive definite, the scores and the file format are in
 * docs/methods/deduce.md. A density is immutable: any number of threads may use it at once. */
typedef struct cfx_density cfx_density;

/** Fits a density on training rows.
 *
 * - Arguments: `x` n x d rows, d the model's features; `y` NULL (group by the model's
 *   predictions) or n whole numbers 0..k-1 as doubles; every class needs at least 2 rows.
 *   `feature_output` names the network output (NULL means "features").
 * - Ownership: free `*out` with cfx_density_free. The density does not keep the model.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (a callback model, an unknown output name, a label that is
 *   not a whole number in 0..k-1, a class with fewer than 2 rows), CFX_ERR_SHAPE (d),
 *   CFX_ERR_NUMERIC (NaN or infinity in `x` or `y`, a covariance that no jitter makes positive
 *   definite).
 * - Threads: any thread; the fit runs on all cores. */
cfx_status cfx_density_fit(const cfx_model *model, const char *feature_output, const double *x, size_t n, size_t d,
                           const double *y, cfx_density **out, cfx_error *err);

/** Frees a density handle; explainers and evaluators it was given to keep their own reference.
 *
 * - Arguments: NULL is a no-op; a handle of another type, or one freed already, is ignored.
 * - Threads: not while another thread uses this handle. */
void cfx_density_free(cfx_density *density);

/** What the density holds: {"feature_output", "n_classes", "dimension" (D), "n_features" (the
 * model's d), "counts" (rows per class), "jitter", "labels" ("given" or "predicted")}.
 *
 * - Ownership: free `*json_out` with cfx_free.
 * - Threads: any number of threads at once. */
cfx_status cfx_density_info(const cfx_density *density, char **json_out, cfx_error *err);

/** Log densities of n rows: per class (n x k, into `per_class_out`) and the mixture score
 * log sum_c p_c (n, into `mixture_out`).
 *
 * - Arguments: with `model` (the network the density was fitted with, or one with the same
 *   feature output), `x` holds n inputs of d = the model's features; with `model` NULL, n feature
 *   vectors of d = D. Either output may be NULL, not both.
 * - Errors: CFX_ERR_SHAPE (d), CFX_ERR_NUMERIC, CFX_ERR_INVALID_ARGUMENT (both outputs NULL, a
 *   model without the feature output).
 * - Threads: any number of threads at once. */
cfx_status cfx_density_log_prob(const cfx_density *density, const cfx_model *model, const double *x, size_t n,
                                size_t d, double *per_class_out, double *mixture_out, cfx_error *err);

/** Saves a density as one safetensors file (layout in docs/methods/deduce.md).
 *
 * - Ownership: written to a temporary name and renamed into place.
 * - Errors: CFX_ERR_IO (a path that cannot be written).
 * - Threads: any number of threads at once. */
cfx_status cfx_density_save(const cfx_density *density, const char *path, cfx_error *err);

/** Loads a saved density; the Cholesky factors are recomputed with the recorded jitter.
 *
 * - Ownership: free `*out` with cfx_density_free.
 * - Errors: CFX_ERR_IO (a file that cannot be read), CFX_ERR_MODEL (not a density file, or an
 *   inconsistent one: shapes, counts that are not whole numbers >= 2, sizes over the CFX_MAX_*
 *   limits).
 * - Threads: any thread. */
cfx_status cfx_density_load(const char *path, cfx_density **out, cfx_error *err);

/** Gives a "deduce" explainer a fitted density instead of cfx_explainer_fit (which fits one),
 * replacing any fit.
 *
 * - Arguments: the density must have the config's "feature_output" and fit the explainer's model.
 * - Ownership: the explainer keeps its own reference to the density.
 * - Errors: CFX_ERR_CONFIG (a method other than "deduce", a density of another feature output);
 *   a density that does not fit the model's network fails too.
 * - Threads: safe while other threads explain (each call sees the explainer before or after). */
cfx_status cfx_explainer_set_density(cfx_explainer *explainer, const cfx_density *density, cfx_error *err);

/* ---- End of densities ------------------------------------------------------------------------- */

/* ---- Progress and cancellation of explanations ------------------------------------------------- */

/** cfx_explain with a progress callback. While the batch runs on worker threads, the calling thread
 * watches it and calls `progress` (on the calling thread only: safe for Python and Julia
 * callbacks) at the start, as instances finish (at most every 0.1 s), while a long search runs and
 * once at the end (reports in docs/c-api.md, "Progress and cancellation").
 *
 * - Arguments: as cfx_explain; `progress` NULL behaves as cfx_explain; `user` is passed back
 *   unchanged.
 * - Ownership, errors: as cfx_explain; in addition CFX_ERR_CANCELLED ("cancelled after i of n
 *   instances", `*json_out` NULL) when `progress` returns non-zero. Every search checks the flag
 *   every 64 iterations, so a run stops within milliseconds; the explainer stays usable.
 * - Threads: as cfx_explain. */
cfx_status cfx_explain_progress(const cfx_explainer *explainer, const double *x, size_t n, size_t d,
                                cfx_progress_fn progress, void *user, char **json_out, cfx_error *err);

/* ---- Evaluation ------------------------------------------------------------------------------- */

/** Measures counterfactuals of a model: validity, distances (l1, l2, l1_mad, l0), plausibility
 * (nn_distance, ae_error, log_density), constraints (in_range, immutable_ok, monotone_ok,
 * categories_ok) and cost, per row and summarised. The definitions, the options and the output are
 * in docs/metrics.md. Configure it (cfx_evaluator_set_model, cfx_evaluator_set_density) before
 * sharing it; any number of threads may then evaluate with it at once. */
typedef struct cfx_evaluator cfx_evaluator;

/** Creates an evaluator for `model`, with optional training data.
 *
 * - Arguments: `x_train` (n_train x d) with `y_train` NULL (classes are the model's predictions)
 *   or a class label per row (whole numbers 0..k-1 as doubles); or `x_train` NULL, n_train 0 and
 *   `y_train` NULL (d is then ignored; l1_mad and nn_distance are null). `options_json` is NULL or
 *   an object of feature_range, immutable, monotone, cat_vars, ohe, sparsity_tol, constraint_tol,
 *   mad_zero_scale, plausibility_norm, summarise_over and n_threads (docs/metrics.md, "From C").
 * - Ownership: free `*out` with cfx_evaluator_free. The evaluator keeps its own reference to the
 *   model and copies the training data.
 * - Errors: CFX_ERR_CONFIG (unknown keys, wrong types, out-of-range values, naming the key),
 *   CFX_ERR_JSON, CFX_ERR_SHAPE (d), CFX_ERR_NUMERIC (NaN or infinity in the training data),
 *   CFX_ERR_INVALID_ARGUMENT (a label that is not a whole number in 0..k-1).
 * - Threads: any thread. */
cfx_status cfx_evaluator_create(const cfx_model *model, const double *x_train, size_t n_train, size_t d,
                                const double *y_train, const char *options_json, cfx_evaluator **out,
                                cfx_error *err);

/** Frees an evaluator handle.
 *
 * - Arguments: NULL is a no-op; a handle of another type, or one freed already, is ignored.
 * - Threads: not while another thread uses this handle. */
void cfx_evaluator_free(cfx_evaluator *evaluator);

/** Sets (or, with `model` NULL, removes) an auxiliary model.
 *
 * - Arguments: `role` "autoencoder": a model with d inputs and d outputs, for ae_error.
 * - Ownership: the evaluator keeps its own reference to `model`.
 * - Errors: CFX_ERR_CONFIG (another role), CFX_ERR_SHAPE (an autoencoder of the wrong shape).
 * - Threads: safe while other threads evaluate (each call sees the evaluator before or after). */
cfx_status cfx_evaluator_set_model(cfx_evaluator *evaluator, const char *role, const cfx_model *model,
                                   cfx_error *err);

/** Sets (or, with `density` NULL, removes) the feature density of log_density.
 *
 * - Arguments: a density (cfx_density_fit) fitted for the evaluator's native network.
 * - Ownership: the evaluator keeps its own reference to the density.
 * - Errors: a callback model, or a density fitted for another network shape.
 * - Threads: safe while other threads evaluate (each call sees the evaluator before or after). */
cfx_status cfx_evaluator_set_density(cfx_evaluator *evaluator, const cfx_density *density,
                                     cfx_error *err);

/** Measures n pairs: instances `x` and counterfactuals `x_cf`. On success `*json_out` is {"n",
 * "n_found", "n_valid", "summary" (per metric: n, mean, std, median, min, max), "instances" (per
 * metric one array of n values), "mad", "options"} (docs/metrics.md, "From C").
 *
 * - Arguments: `x` n x d finite; `x_cf` n x d, each row finite or all NaN ("no counterfactual
 *   found": invalid, other metrics null). `request_json` is NULL or {"target_class" ("other",
 *   "same", a class, or one per row), "target_proba", "meta" (the explanations' meta, for the
 *   cost)}.
 * - Ownership: free `*json_out` with cfx_free.
 * - Errors: CFX_ERR_SHAPE (d), CFX_ERR_NUMERIC (non-finite `x`, a row of `x_cf` partly NaN),
 *   CFX_ERR_CONFIG or CFX_ERR_JSON (the request), CFX_ERR_CALLBACK.
 * - Threads: any number of threads at once, on one evaluator. */
cfx_status cfx_evaluate(const cfx_evaluator *evaluator, const double *x, const double *x_cf, size_t n,
                        size_t d, const char *request_json, char **json_out, cfx_error *err);

/** Measures n sets of k counterfactuals: per set the members found and valid and three
 * diversities (DiCE's among them), and every member as cfx_evaluate does (docs/metrics.md,
 * "From C").
 *
 * - Arguments: `x` n x d finite; `x_cfs` n x k x d row-major (member j of set i at row i*k + j; a
 *   member all NaN is missing). `request_json` as for cfx_evaluate, with "target_class" and "meta"
 *   per set (n entries, or one target for all).
 * - Ownership, errors, threads: as cfx_evaluate. */
cfx_status cfx_evaluate_sets(const cfx_evaluator *evaluator, const double *x, const double *x_cfs, size_t n,
                             size_t k, size_t d, const char *request_json, char **json_out, cfx_error *err);

/** The metrics of counterfactual training (Altmeyer et al.): implausibility IP and IP* (MMD^2),
 * cost and validity of n counterfactuals `x_cf` of the factuals `x` towards `targets`, against
 * training rows (docs/metrics.md, "Counterfactual training's metrics").
 *
 * - Arguments: `x_train` n_train x d with labels `y_train`; `x`, `x_cf` n x d; `targets` n whole
 *   numbers as doubles. `options_json` is NULL or {"samples": 1000, "length_scale": null,
 *   "seed": 0}.
 * - Ownership: free `*json_out` ({"ip", "ip_star", "cost", "validity", "per_class", "instances"})
 *   with cfx_free.
 * - Errors: CFX_ERR_SHAPE, CFX_ERR_NUMERIC, CFX_ERR_INVALID_ARGUMENT (labels or targets that are not
 *   classes of the model), CFX_ERR_CONFIG, CFX_ERR_JSON.
 * - Threads: any number of threads at once. */
cfx_status cfx_plausibility(const cfx_model *model, const double *x_train, const double *y_train, size_t n_train,
                            const double *x, const double *x_cf, const double *targets, size_t n, size_t d,
                            const char *options_json, char **json_out, cfx_error *err);

/** Accuracy of a native network on n rows `x` with labels `y` under an L-infinity attack ("fgsm" or
 * "pgd") for each radius (docs/metrics.md, "Counterfactual training's metrics").
 *
 * - Arguments: `options_json` is NULL or {"attack": "pgd", "epsilons": [0, 0.01, ..., 0.1],
 *   "steps": 40, "alpha": 0.01, "random_start": true, "seed": 0, "n_threads": 0}.
 * - Ownership: free `*json_out` ({"attack", "epsilons", "accuracy": [one per epsilon]}) with
 *   cfx_free.
 * - Errors: CFX_ERR_INVALID_ARGUMENT (a callback model, labels that are not classes),
 *   CFX_ERR_SHAPE, CFX_ERR_NUMERIC, CFX_ERR_CONFIG, CFX_ERR_JSON.
 * - Threads: any number of threads at once; the attacks run on "n_threads" (0 = all cores). */
cfx_status cfx_robust_accuracy(const cfx_model *model, const double *x, const double *y, size_t n, size_t d,
                               const char *options_json, char **json_out, cfx_error *err);

/* ---- End of evaluation ------------------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif

#endif /* CFX_H */
