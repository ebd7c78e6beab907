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

/** A short constant description of a status code ("ok", "invalid argument", ...). Do not free. */
const char *cfx_status_string(cfx_status status);

/** Frees memory returned by cfx (JSON strings). NULL is a no-op. */
void cfx_free(void *ptr);

/** What the loaded library runs on, as JSON: {"version": "0.3.0", "openblas_core": "SkylakeX",
 * "conv_backend": "onednn", "onednn": "2.6.3", "onednn_isa": "avx512_core", "cores": 8,
 * "isa": "avx512", "isa_supported": ["avx512", "avx2", "baseline"]} (the OpenBLAS kernel set chosen
 * for this CPU; what float32 convolutions run on: "onednn" when libdnnl.so.2 could be loaded, else
 * "im2col-sgemm", with oneDNN's version and the instruction set of its kernels, both null without
 * it; the cores this process may use; the instruction set of cfx's own kernels and every set this
 * processor runs). CFX_DNNL=off in the environment keeps oneDNN unloaded. cfx's kernels use the set
 * that the environment variable CFX_ISA names ("avx512", "avx2" or "baseline"), read at their
 * first call, when the processor runs it, else the widest it runs; with cfx's kernels, "avx512" and
 * "avx2" give the same bits, "baseline" (no fused multiply-adds) other last bits (OpenBLAS and
 * oneDNN choose their own kernels). For benchmark reports and bug
 * reports. Free *json_out with cfx_free. */
cfx_status cfx_runtime_info(char **json_out, cfx_error *err);

/* ---- Models ----------------------------------------------------------------------------------- */

/** A classifier: n x d features in, n x k class probabilities out. */
typedef struct cfx_model cfx_model;

/** Creates a native network from a JSON specification:
 *
 *   {"input_shape": [d],
 *    "layers": [{"type": "dense", "weights": [[...d...], ...k rows...], "bias": [...k...]},
 *               {"type": "relu"}, {"type": "tanh"}, {"type": "sigmoid"}, {"type": "softmax"}],
 *    "metadata": {...}}
 *
 * Dense weights are stored out x in (PyTorch's layout); "bias" may be omitted (zeros). "metadata"
 * is optional and free-form (class names, provenance); cfx ignores it. Any other key is an error.
 * The network's output is read as class probabilities as it is, so a classifier should end with
 * softmax. cfx computes exact input gradients by backpropagation. Errors name the JSON key, e.g.
 * "layers[2].bias: has 3 values, expected 4". */
cfx_status cfx_model_create_json(const char *spec_json, cfx_model **out, cfx_error *err);

/** Caller-supplied probabilities: writes n x k probabilities for the n x d rows of `x` into
 * `proba_out`. Returns 0 on success, any other value on failure (cfx reports CFX_ERR_CALLBACK
 * with that value). */
typedef int (*cfx_predict_fn)(void *user, const double *x, size_t n, size_t d, double *proba_out);

/** Optional caller-supplied vector-Jacobian product: for each of the n rows writes
 * grad_out[i, :] = sum_j cotangent[i, j] * d proba[i, j] / d x[i, :]  (n x d), i.e. the gradient
 * of sum(cotangent * predict(x)) with respect to x. Returns 0 on success. */
typedef int (*cfx_vjp_fn)(void *user, const double *x, size_t n, size_t d, const double *cotangent,
                          size_t k, double *grad_out);

/** Creates a model from callbacks. `vjp` may be NULL: cfx then differentiates `predict` by central
 * differences, batching all 2*d perturbed rows of an instance into one predict call. `user` is
 * passed back unchanged and must outlive the model. n_features is 1...CFX_MAX_FEATURES and
 * n_classes 1...CFX_MAX_CLASSES (CFX_ERR_INVALID_ARGUMENT otherwise).
 *
 * What the callbacks return is checked on every call, so that a buggy model fails loudly instead
 * of yielding counterfactuals of nonsense: each row of probabilities must be finite, every value
 * in [-1e-4, 1 + 1e-4] and the row's sum within 1e-4 of 1; gradients must be finite and at most
 * 1e100 in magnitude. Anything else fails the call with CFX_ERR_CALLBACK naming the row. This is
 * cfx_model_create_callbacks_ex with options NULL ("output": "probabilities"). */
cfx_status cfx_model_create_callbacks(size_t n_features, size_t n_classes, cfx_predict_fn predict,
                                      cfx_vjp_fn vjp, void *user, cfx_model **out, cfx_error *err);

/** cfx_model_create_callbacks with options: `options_json` is NULL or {"output": ...}:
 *   "probabilities"  predict writes class probabilities, checked as above (the default);
 *   "logits"         predict writes n x k finite logits and cfx applies the softmax; a vjp
 *                    callback then differentiates the logits (cfx chains the softmax);
 *   "values"         predict writes any finite values: an encoder's codes or an autoencoder's
 *                    reconstructions (n_classes is then the output width). Such a model can be
 *                    given in an auxiliary role (cfx_explainer_set_model, cfx_evaluator_set_model)
 *                    but not explained (cfx_explainer_create: CFX_ERR_CONFIG).
 * Unknown keys or values are CFX_ERR_CONFIG, invalid JSON CFX_ERR_JSON. */
cfx_status cfx_model_create_callbacks_ex(size_t n_features, size_t n_classes, cfx_predict_fn predict,
                                         cfx_vjp_fn vjp, void *user, const char *options_json,
                                         cfx_model **out, cfx_error *err);

/** Frees a model; NULL is a no-op. Explainers and evaluators built on it keep their own reference. */
void cfx_model_free(cfx_model *model);

/** The number of input features d and of classes k. Either output pointer may be NULL. */
cfx_status cfx_model_shape(const cfx_model *model, size_t *n_features, size_t *n_classes,
                           cfx_error *err);

/** Class probabilities of n rows: `x` holds n * d doubles, `proba_out` room for n * k. */
cfx_status cfx_model_predict(const cfx_model *model, const double *x, size_t n, size_t d,
                             double *proba_out, cfx_error *err);

/** The model's vector-Jacobian product (exact for native networks, by callback or central
 * differences otherwise): grad_out (n x d) = cotangent (n x k) times d proba / d x, per row. */
cfx_status cfx_model_vjp(const cfx_model *model, const double *x, size_t n, size_t d,
                         const double *cotangent, size_t k, double *grad_out, cfx_error *err);

/** A new model handle for the same model, computing in another number type or with more threads:
 * `options_json` is NULL or {"dtype": "float32" | "float64", "threads": N}.
 *
 * "dtype" (native networks only; a callback model is CFX_ERR_INVALID_ARGUMENT): float32 runs
 * every pass (predict, gradients, searches, densities, training) in single precision with sgemm
 * on a float copy of the weights; float64 (the default of specs) is exact enough for gradient
 * checks and small tabular models. Weights stay double inside cfx (training updates and files),
 * so converting back and forth loses nothing. A spec may also say "dtype": "float32".
 *
 * "threads" (default 1; 0 = all cores, at most 4096): threads cfx_model_predict and
 * cfx_model_vjp on the new handle split one call's network work over (large matrix products and
 * im2col). Results are identical whatever the count. Explainers have their own n_threads.
 *
 * A native network's new handle has weights of its own (training it with cfx_model_train leaves the
 * source as it was). The source handle stays valid and unchanged; free the new one with
 * cfx_model_free. Unknown keys
 * are CFX_ERR_CONFIG. */
cfx_status cfx_model_convert(const cfx_model *model, const char *options_json, cfx_model **out,
                             cfx_error *err);

/* ---- Model files ------------------------------------------------------------------------------ */

/* A model file is a JSON spec (as for cfx_model_create_json) that may name a weights file:
 *
 *   {"input_shape": [4], "layers": [{"type": "dense", "outputs": 16}, ...],
 *    "weights": "iris.safetensors", "metadata": {...}}
 *
 * "weights" is a safetensors file (the format of PyTorch and Hugging Face: an 8-byte little-endian
 * header length, a JSON header {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {...}},
 * then the raw little-endian data). cfx reads F64, F32, F16 and BF16 and writes F64 or F32.
 * Tensors are named by their path in the network: "layers.0.weight", "layers.0.bias",
 * "layers.3.main.0.weight" (a layer inside a residual block's "main" list). The file must hold
 * every tensor the network saves (weights, and state such as batch-norm running statistics) with
 * its exact shape, and nothing else, except tensors whose names start with "extra.", which are
 * ignored. A tensor may be given inline in the spec ("tensors", or dense "weights"/"bias") or in
 * the file, not both. Errors name the tensor and the file, e.g.
 * "layers.3.weight: shape [16, 8] in m.safetensors, the network expects [16, 4]"; a file that is
 * truncated, malformed, of another dtype, or holds NaN or infinity is a CFX_ERR_MODEL error.
 *
 * A relative "weights" path is resolved against the spec file's directory by cfx_model_load, and
 * against the current directory by cfx_model_create_json (which has no file). */

/** Loads a model file. A spec or weights file that cannot be read is a CFX_ERR_IO error whose
 * message starts with its path ("m.json: cannot read the file (open: No such file ...)"); invalid
 * JSON in the spec is CFX_ERR_JSON; errors in the spec start with the spec's path. */
cfx_status cfx_model_load(const char *spec_path, cfx_model **out, cfx_error *err);

/** Saves a native network. With `weights_path`, writes the tensors there as safetensors and a spec
 * without inline tensors at `spec_path` whose "weights" is the path of the weights file relative
 * to the spec's directory; with `weights_path` NULL, writes one spec with every tensor inline.
 * `options_json` is NULL or {"dtype": "F64" | "F32"}: F64 (the default) round-trips exactly, F32
 * halves the file (weights_path only). The spec's "metadata" is kept. Files are written to a
 * temporary name and renamed into place. A callback model is CFX_ERR_INVALID_ARGUMENT, a path
 * that cannot be written CFX_ERR_IO; bad options are CFX_ERR_CONFIG. */
cfx_status cfx_model_save(const cfx_model *model, const char *spec_path, const char *weights_path,
                          const char *options_json, cfx_error *err);

/** The spec of a native network with every tensor inline (and its "metadata"), as JSON text that
 * cfx_model_create_json accepts. Callback models are CFX_ERR_INVALID_ARGUMENT. Free *json_out
 * with cfx_free. */
cfx_status cfx_model_spec(const cfx_model *model, char **json_out, cfx_error *err);

/* ---- End of model files ----------------------------------------------------------------------- */

/* ---- Training --------------------------------------------------------------------------------- */

/** Called after every epoch of cfx_model_train, on the thread that called it, with one epoch's
 * numbers as JSON (valid only during the call):
 *
 *   {"epoch": 3, "epochs": 10, "loss": 0.21, "accuracy": 0.94, "val_loss": 0.25,
 *    "val_accuracy": 0.93, "learning_rate": 0.001, "seconds": 0.08, "rows_per_second": 16000}
 *
 * "epoch" counts from 1; "accuracy" and "val_accuracy" are null for "mse", the "val_" values null
 * without a validation split. Return 0 to go on, anything else to stop training after this
 * epoch (cfx_model_train then returns CFX_ERR_CANCELLED).
 *
 * During an epoch, every 128 batches or 0.25 s (whichever comes first), it is also called with
 *
 *   {"epoch": 3, "epochs": 10, "batches_done": 256, "batches": 1875, "seconds": 0.3,
 *    "in_progress": true}
 *
 * so that a long epoch can be watched and stopped: returning non-zero then stops at once, and the
 * model keeps the weights of the last completed epoch (its initial weights during the first).
 * With "counterfactual_training", each epoch's searches (before its first batch) are reported the
 * same way as they start and as they progress, with "batches_done": 0 and "searches_done",
 * "searches" (factuals searched, n_ce); returning non-zero stops them within one search step and
 * cfx_model_train returns CFX_ERR_CANCELLED with its report, as above.
 * cfx_explain_progress calls the same function type with its own reports (see there). */
typedef int (*cfx_progress_fn)(void *user, const char *progress_json);

/** Trains a native network in place by minibatch gradient descent, starting from its current
 * weights (a spec without tensors starts from PyTorch-like initial values, seed 0).
 *
 * x: n x d rows, as for cfx_model_predict. targets and target_width depend on "loss":
 *   "cross_entropy" (classifiers): one class index per row as a double (0, 1, ..., k-1),
 *       target_width 1. Computed from the logits when the network ends with softmax.
 *   "mse" (mean squared error over the values of "output", default the last layer): n x
 *       target_width values with target_width the width of that output; or targets NULL to
 *       reconstruct the input (an autoencoder; target_width is then ignored).
 * config_json: {"method": "train" (optional), ...}; omitted keys take their defaults, which
 * cfx_default_config("train", ...) lists; unknown keys and bad values are CFX_ERR_CONFIG errors:
 *   "loss"            "cross_entropy" | "mse"                                    ("cross_entropy")
 *   "output"          mse only (ignored otherwise): the named output to fit, e.g. an
 *                     encoder's code; "probabilities" is the last layer       ("probabilities")
 *   "optimizer"       "adam" | "sgd", with torch.optim's update rules                    ("adam")
 *   "learning_rate"   base learning rate                                                  (0.001)
 *   "momentum", "nesterov"      SGD's momentum and Nesterov flag                     (0.9, false)
 *   "beta1", "beta2", "epsilon" Adam's                                        (0.9, 0.999, 1e-8)
 *   "weight_decay"    L2 penalty added to the gradient of every trainable tensor             (0)
 *   "decoupled_weight_decay"    Adam only: decay the weights directly instead (AdamW)   (false)
 *   "batch_size", "epochs"      1...2^24 and 1...10^6                                  (32, 10)
 *   "shuffle", "seed"           reshuffle the rows every epoch with this seed        (true, 0)
 *   "schedule"        the learning rate per epoch: {"type": "constant"},
 *                     {"type": "step", "step_size": 10, "gamma": 0.1} (times gamma every
 *                     step_size epochs) or {"type": "cosine", "min_learning_rate": 0} (cosine
 *                     annealing over all epochs); or just the type as a string   ("constant")
 *   "validation_split"          share of the rows (a seeded random choice) held out and
 *                               evaluated after every epoch, in [0, 1)                      (0)
 *   "early_stopping_patience"   stop after this many epochs without a lower validation loss;
 *                               the run (stopped early or not) ends with the weights of the
 *                               epoch of lowest validation loss; 0 = off; needs a validation
 *                               split                                                       (0)
 *   "n_threads"       threads; each batch is split into shards of at least 64 rows, one per
 *                     thread, with parameter gradients summed; 0 = all cores. Threads are
 *                     started for every batch, so more than one pays only for large
 *                     batches                                                              (1)
 *   "counterfactual_training"   null (off) or an object: counterfactual training (Altmeyer et
 *                     al.), cross_entropy only, a native network ending in softmax. Once per
 *                     epoch after the burn-in, n_ce factuals are searched with the ECCo generator
 *                     (the "eccco" method's loss) towards a random other class y+, and each
 *                     mini-batch adds lambda_div*mean[E(x+,y+) - E(x',y+)] + lambda_reg*mean[E(x+,y+)^2
 *                     + E(x',y+)^2] + lambda_adv*mean CE(M(x_AE), y) to its loss, E = -logit. Keys:
 *                     "n_ce" (1000), "tau" (0.75), "max_steps" (30), "learning_rate" (0.1; the
 *                     paper says 0.25, its code runs 0.1), "lambda_cost" (0.001), "lambda_energy" (5),
 *                     "energy_decay" (true), "lambda_div" (0.5), "lambda_reg" (0.1), "lambda_adv"
 *                     (0.25), "epsilon" (0.3: radius of the nascent counterfactual x_AE),
 *                     "burn_in" (0: share of the epochs trained conventionally first), "domain"
 *                     (null: per feature [min(mean - 2 sd, min), max(mean + 2 sd, max)] of the
 *                     training rows; or [min, max]), "immutable" ([]), "monotone" ({}: {"j":
 *                     "increase" | "decrease"}), "n_threads" (0: the searches' threads). Each
 *                     epoch entry then has "counterfactual": {"n_ce", "mature_share",
 *                     "divergence", "ridge", "adversarial" (unweighted batch means),
 *                     "skipped_steps" (non-finite losses, not applied), "search_seconds",
 *                     "training_seconds"}.
 * Batch norm layers normalise with each shard's statistics in training mode; their running
 * statistics are updated from the whole batch's. Results are identical for the same data,
 * config, seed and thread count, and differ in rounding (or through batch norm, more) between
 * thread counts.
 * progress: may be NULL; see cfx_progress_fn. `user` is passed back unchanged.
 * report_json: on success, and also on CFX_ERR_CANCELLED, *report_json is (free with cfx_free)
 *
 *   {"history": [{"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
 *                 "seconds", "rows_per_second"}, ...one per epoch run],
 *    "epochs_run", "best_epoch" (lowest validation loss, or null), "stopped_early",
 *    "restored_best_weights", "cancelled", "train_rows", "validation_rows", "n_threads",
 *    "seconds", "config" (the effective config)}
 *
 * and NULL after any other error.
 * The model's weights change. On success they are the last epoch's, or the best epoch's when
 * early stopping restored them. When the progress callback cancels, they are those of the last
 * completed epoch (the one just reported) and the model stays fully usable. On any other error
 * (bad arguments, a loss that diverges to NaN or infinity: CFX_ERR_NUMERIC) the weights are left
 * as they were before the call.
 * Errors: a callback model (CFX_ERR_INVALID_ARGUMENT, "only native models can be trained"); x
 * as for cfx_model_predict; targets NULL for cross_entropy (CFX_ERR_INVALID_ARGUMENT), a wrong
 * target_width (CFX_ERR_SHAPE), NaN or infinite targets (CFX_ERR_NUMERIC), a class index that is
 * not an integer in 0..k-1 (CFX_ERR_INVALID_ARGUMENT).
 * Thread safety: training changes the model that explainers created from it share. Do not use
 * the model, or any explainer holding it, from other threads while it trains, and do not train
 * one model from two threads at once. Training itself uses n_threads worker threads. */
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

/** The default configuration of a method ("wachter", "cfproto", "deduce", "jsma", "eccco") as a JSON object,
 * every key present.
 * "train" gives the default training config of cfx_model_train instead (see Training).
 * Free *json_out with cfx_free. */
cfx_status cfx_default_config(const char *method, char **json_out, cfx_error *err);

/** Creates an explainer from a JSON configuration {"method": "wachter", ...}. Keys that are
 * omitted take their defaults; unknown keys, wrong types and out-of-range values are errors.
 * The explainer keeps its own reference to the model, so the model handle may be freed first.
 * Methods need a model with at least 2 classes (a 1-output model is a CFX_ERR_CONFIG error). */
cfx_status cfx_explainer_create(const cfx_model *model, const char *config_json,
                                cfx_explainer **out, cfx_error *err);

/** Frees an explainer; NULL is a no-op. */
void cfx_explainer_free(cfx_explainer *explainer);

/** The explainer's effective configuration (defaults filled in) as JSON. Free with cfx_free. */
cfx_status cfx_explainer_config(const cfx_explainer *explainer, char **json_out, cfx_error *err);

/** Gives the explainer an auxiliary model in a role the method accepts (for example "encoder" or
 * "autoencoder" for prototype-guided counterfactuals). The explainer keeps its own reference.
 * A role the method does not take is a CFX_ERR_CONFIG error naming the accepted roles. */
cfx_status cfx_explainer_set_model(cfx_explainer *explainer, const char *role, const cfx_model *model,
                                   cfx_error *err);

/** Fits the method on training data: n rows of d features in `x` and, when `y` is not NULL, a
 * class label per row (whole numbers 0..k-1 as doubles; NULL uses the model's predictions).
 * Methods that need training data (prototypes, class densities) fail in cfx_explain until they
 * are fitted; methods that need none (Wachter) accept it, as alibi does, and only take the
 * features' MADs from it (the units of "sparsify" and "n_counterfactuals"). Fitting again
 * replaces the previous fit. */
cfx_status cfx_explainer_fit(cfx_explainer *explainer, const double *x, size_t n, size_t d,
                             const double *y, cfx_error *err);

/** Explains n instances (`x`: n * d doubles, row-major). On success *json_out is
 *
 *   {"explanations": [ {...one per instance...} ], "seconds": total, "n_threads": used}
 *
 * with, for the Wachter method, per instance: "cf" ({"X", "distance", "lambda", "index", "class",
 * "proba", "loss"} or null), "all" (one list per lambda round: its closest counterfactual, or
 * with "all_candidates": "every" each one met; the lists are empty with "return_all": false), "orig_class", "orig_proba", "success" and "meta"
 * ({"method", "params" (the effective config), "model_calls", "predicted_rows",
 * "gradient_evaluations", "seconds"}). For prototype-guided counterfactuals ("cfproto"; fit first
 * when it uses k-d trees, an encoder, cat_vars or a trust-score threshold), per instance: "cf"
 * ({"X" (model input, valid categories), "class" and "proba" (the model's on that X), "distance",
 * "c", "c_step", "iteration", "grads_graph", "grads_num"} or null), "all" (per c step, each new
 * best), "orig_class", "orig_proba" (all class probabilities), "id_proto" (or null),
 * "trust_score" (or null), "success" and "meta" (as above plus "iterations", "feature_range" and,
 * with cat_vars, "category_values"). When one instance fails (a callback error, say), the
 * whole call fails with a message that starts "instance i: ". Free *json_out with cfx_free.
 *
 * "deduce" and "jsma" explain every instance for each of its target classes ("target_class": an
 * index, a list, or "all" = every class but the prediction): "explanations" has one entry per
 * instance and target, instance-major, each {"instance", "target_class", "cf" ({"X", "class",
 * "proba", "L0", "L1", "iterations", "log_density": {"before", "after"} (target class; null for
 * jsma)} or null), "reason" (only when cf is null), "orig_class", "orig_proba", "success", "meta",
 * and with "trace": true "trace" ({"target_proba", "log_density", "changed"}: per point evaluated,
 * the features changed after it)}. "deduce" needs cfx_explainer_fit (training rows and labels, to
 * fit its feature density) or cfx_explainer_set_density first; otherwise cfx_explain fails with
 * CFX_ERR_INVALID_ARGUMENT.
 *
 * Sparse and diverse counterfactuals (keys beyond alibi; their defaults leave the output as above):
 *
 * - "sparsify": true (every method; default false) runs a pass after the search: changed features
 *   go back to the instance's values one at a time, the smallest change first (in units of the
 *   training rows' MAD when the explainer was fitted, else of the feature range, else raw), and a
 *   restoration is kept only when the counterfactual stays valid by the method's own test (Wachter:
 *   |p_t - target_proba| <= tol; cfproto: another class after kappa, one of the target classes,
 *   above the trust-score threshold if one is set; deduce/jsma: p_t >= target_confidence). A
 *   one-hot cat_vars group is restored as a whole. Features only ever move back to the instance's
 *   values, so immutable and directional constraints still hold. A second round
 *   ("sparsify_repair_steps", default 100, 0..100000; 0 = restoration only) tries each remaining
 *   change again: it restores the feature, then moves the other changed single-column features up
 *   the method's score (p_t; cfproto: p_cf - p_orig) in steps of 2% of their scale until valid,
 *   each kept on the side of the instance's value the search moved it to and inside the feature
 *   range (so directional constraints still hold), and keeps the result when it is valid and its
 *   L1 distance within 5% of the search's (cfproto with cat_vars: restoration only). "cf" then is
 *   the sparsified counterfactual ("distance"/"L0"/"L1" recomputed) with "restored": the number
 *   of features (a one-hot variable counts once) put back.
 * - "n_counterfactuals": k (wachter and cfproto; 1..100, default 1) and "diversity_weight" (>= 0,
 *   default 1, DiCE's): after the search, k members (the first starts at "cf", the others at "cf"
 *   moved by a seeded perturbation, "seed") are optimised jointly on the mean of the method's own
 *   loss over the set (in units of that loss at "cf") minus diversity_weight * det K, with DiCE's
 *   kernel K_ij = 1 / (1 + sum_f |c_if - c_jf| / s_f) (+1e-4 on the diagonal), s_f the feature's
 *   MAD (fitted) or range. With k > 1 each explanation adds "cfs": the valid members (each an
 *   object like "cf", Wachter's with "index" -1; with "sparsify" each sparsified; none when the
 *   search found no "cf") and "diversity": det K of those members (null when there are none).
 *   "cf" stays the single search's counterfactual.
 *
 * "eccco" (ECCo, Altmeyer et al.; a native network ending in softmax) minimises, by plain
 * gradient descent from x for at most "max_steps" T steps, logitCE(z(x'), t) + lambda_cost*|x' - x|_1
 * + lambda_energy*phi_s*(E + 1e-3*E^2) with E = -z_t(x') the raw logit, phi_s = a*(b + s)^-0.9,
 * b = round(T/25), a = b/10 (1 with "energy_decay": false), stopping once p_t(x') >= "target_proba".
 * Steps are masked by "immutable" and "monotone", then clamped into "feature_range". Per instance:
 * "cf" ({"X", "class", "proba", "distance", "energy", "steps"} or null when target_proba was not
 * reached), "last" (the same for the final point either way), "orig_class", "orig_proba",
 * "target_class", "success" and "meta". ECCCo's conformal set-size penalty is on with
 * "lambda_set_size" > 0 (default 0): + lambda_set_size*max(0, sum_y C_y(x') - "kappa" (1)),
 * C_y = sigmoid((q - (1 - p_y(x'))) / "temperature" (0.1)), q the split-conformal quantile at
 * "alpha" (0.05) of the scores 1 - p_y(x_i) of labelled calibration rows given to
 * cfx_explainer_fit (CFX_ERR_INVALID_ARGUMENT in cfx_explain without them).
 *
 * Per-row errors: every method's config takes "on_error": "raise" (the default: one failing
 * instance fails the call, and a NaN or infinity anywhere in `x` is CFX_ERR_NUMERIC) or "record":
 * each row is then explained on its own and a row that fails (a non-finite value in that row, a
 * callback error, a failed search) gets, in place of its explanation(s), exactly one entry
 *
 *   {"instance": i, "success": false, "cf": null,
 *    "error": {"code": status, "status": "...", "message": "..."}}
 *
 * ("code" is the cfx_status number, "status" its cfx_status_string)
 *
 * while every other row is explained as usual and the call returns CFX_OK. Entries stay in row
 * order (an "error" member marks a failed row); results do not depend on the mode. Shape errors
 * (n, d, NULL pointers) and cancellation still fail the whole call. */
cfx_status cfx_explain(const cfx_explainer *explainer, const double *x, size_t n, size_t d,
                       char **json_out, cfx_error *err);

/* ---- Densities -------------------------------------------------------------------------------- */

/** DDU's feature-space density (Mukhoti et al., "Deep Deterministic Uncertainty"), the plausibility
 * model of DeDUCE: one Gaussian per class fitted to a native network's feature output (by default
 * "features", a layer given "name": "features" in the spec, e.g. after global average pooling).
 *
 * - Fitting runs the network over the training rows (batched, on all cores), groups the feature
 *   vectors by the labels y (NULL: by the network's predictions; cfx_density_info says which) and
 *   estimates each class's mean and full covariance (1/(n_c - 1)) in double precision. Every class
 *   needs at least 2 rows.
 * - Singular covariances get eps * I added, with eps tried in DDU's order 0, 2.2e-308, 1e-308,
 *   1e-307, ..., 1e-1 until every class's Cholesky factorisation succeeds; one eps for all classes,
 *   reported by cfx_density_info as "jitter".
 * - log p_c(z) is the Gaussian log density through the Cholesky factor (triangular solves, never
 *   an explicit inverse); the mixture score is log sum_c p_c(z) (log-sum-exp, no class prior),
 *   DDU's uncertainty score: low values mean implausible inputs.
 *
 * A density is immutable: any number of threads may use it at once. */
typedef struct cfx_density cfx_density;

/** Fits a density on n training rows `x` (n x d, d the model's features) with optional labels `y`
 * (n whole numbers 0..k-1 as doubles, or NULL). `feature_output` names the network output (NULL
 * means "features"); an unknown name, or a callback model, is CFX_ERR_INVALID_ARGUMENT. */
cfx_status cfx_density_fit(const cfx_model *model, const char *feature_output, const double *x, size_t n, size_t d,
                           const double *y, cfx_density **out, cfx_error *err);

/** Frees a feature density; NULL is a no-op. Explainers it was given to keep their own reference. */
void cfx_density_free(cfx_density *density);

/** {"feature_output", "n_classes", "dimension" (D), "n_features" (the model's d), "counts" (rows per
 * class), "jitter", "labels" ("given" or "predicted")}. Free *json_out with cfx_free. */
cfx_status cfx_density_info(const cfx_density *density, char **json_out, cfx_error *err);

/** Log densities of n rows. With a `model` (the network the density was fitted with, or one with
 * the same feature output), `x` holds n inputs of d = the model's features; with `model` NULL, `x`
 * holds n feature vectors of d = D. Writes per-class log densities (n x k) to `per_class_out` and
 * the mixture score (n) to `mixture_out`; either may be NULL, not both. */
cfx_status cfx_density_log_prob(const cfx_density *density, const cfx_model *model, const double *x, size_t n,
                                size_t d, double *per_class_out, double *mixture_out, cfx_error *err);

/** Saves a density as one safetensors file: tensors "means" [k, D], "covariances" [k, D, D] (without
 * the jitter) and "counts" [k], all F64, and "__metadata__" {"format": "cfx-feature-density",
 * "version": "1", "feature_output", "n_features", "jitter", "labels"}. Written to a temporary name
 * and renamed into place; a path that cannot be written is CFX_ERR_IO. */
cfx_status cfx_density_save(const cfx_density *density, const char *path, cfx_error *err);

/** Loads a saved density; the Cholesky factors are recomputed with the recorded jitter. A file
 * that cannot be read is CFX_ERR_IO; one that is not a density file or is inconsistent (shapes,
 * counts that are not whole numbers >= 2, sizes over the CFX_MAX_* limits) is CFX_ERR_MODEL. */
cfx_status cfx_density_load(const char *path, cfx_density **out, cfx_error *err);

/** Gives a "deduce" explainer a fitted density instead of cfx_explainer_fit (which fits one): the
 * density must have the config's "feature_output" and fit the explainer's model. Replaces any fit.
 * The explainer keeps its own reference. Other methods: CFX_ERR_CONFIG. */
cfx_status cfx_explainer_set_density(cfx_explainer *explainer, const cfx_density *density, cfx_error *err);

/* ---- End of densities ------------------------------------------------------------------------- */

/* ---- Progress and cancellation of explanations ------------------------------------------------- */

/** cfx_explain with a progress callback (cfx_progress_fn, see Training). While the batch runs on
 * worker threads, the calling thread watches it and calls `progress` (on the calling thread
 * only: safe for Python and Julia callbacks) at the start, when more instances are done (at most
 * every 0.1 s: a batch of millisecond searches does not call back hundreds of times a second), and
 * once at the end, with
 *
 *   {"instances_done": 12, "instances_total": 45, "iterations": 6400, "seconds": 0.8}
 *
 * and, while one long search runs, every 0.25 s that "iterations" (search steps of all workers,
 * counted in blocks of 64) has advanced. Returning non-zero cancels the run: every search checks
 * the flag every 64 iterations, so even a single instance with a huge max_iter stops within
 * milliseconds; the call returns CFX_ERR_CANCELLED ("cancelled after i of n instances") with
 * *json_out left NULL. The explainer stays usable. `progress` NULL behaves as cfx_explain. */
cfx_status cfx_explain_progress(const cfx_explainer *explainer, const double *x, size_t n, size_t d,
                                cfx_progress_fn progress, void *user, char **json_out, cfx_error *err);

/* ---- Evaluation ------------------------------------------------------------------------------- */

/** Metrics of counterfactuals (docs/metrics.md). For an instance x, its counterfactual x' (d
 * features), the model's predicted class c(.) and probabilities p(.):
 *
 *   validity        c(x') = t for a target class t, c(x') != c(x) for "other", c(x') = c(x) for
 *                   "same"; with "target_proba" p*, also p_t(x') >= p*, where t for "other" is the
 *                   most probable class other than c(x) at x'. Missing counterfactuals are invalid.
 *   target_proba    p_t(x').
 *   l1, l2          sum_j |x'_j - x_j| and sqrt(sum_j (x'_j - x_j)^2).
 *   l1_mad          sum_j |x'_j - x_j| / MAD_j, MAD_j = median_i |X_ij - median(X_j)| over the
 *                   training data X (Wachter et al.); a feature with MAD_j = 0 is divided by
 *                   "mad_zero_scale" (default 1, i.e. counted in raw units). Needs training data.
 *   l0              #{j : |x'_j - x_j| > "sparsity_tol"}.
 *   nn_distance     the L2 (or, with "plausibility_norm": "l1", L1) distance from x' to the nearest
 *                   training point of class c(x'); training classes are y_train or, without it, the
 *                   model's predictions. Among equally near points nn_index is the smallest row.
 *                   null when no training point has that class.
 *   ae_error        ||AE(x') - x'||^2 (a sum of squares), with an "autoencoder" model.
 *   log_density     log p_t(x') under a fitted feature density (DDU) of the evaluator's network,
 *                   t the target class (cfx_evaluator_set_density); null without one.
 *   in_range        every x'_j in [min_j - constraint_tol, max_j + constraint_tol] ("feature_range").
 *   immutable_ok    x'_j == x_j exactly for every "immutable" feature.
 *   monotone_ok     x'_j >= x_j for every "increase" feature and x'_j <= x_j for every "decrease"
 *                   feature of "monotone" (exactly).
 *   categories_ok   every "cat_vars" group valid: one-hot ("ohe": true) columns start..start+n-1
 *                   each within constraint_tol of 0 or 1, exactly one of them of 1; ordinal
 *                   ("ohe": false) column start within constraint_tol of a whole number in 0..n-1.
 *   constraints_ok  in_range and immutable_ok and monotone_ok and categories_ok.
 *   seconds, model_calls, gradient_evaluations   cost, read from the explanations' "meta".
 *
 * A row of x_cf that is all NaN means "no counterfactual found": it is invalid, and every metric
 * but validity and cost is null for it and left out of the statistics. */
typedef struct cfx_evaluator cfx_evaluator;

/** Creates an evaluator for `model`. Training data are optional: `x_train` (n_train x d) with,
 * when `y_train` is not NULL, a class label per row (whole numbers 0..k-1 as doubles); with
 * x_train NULL, n_train must be 0, y_train NULL and d is ignored (then l1_mad and nn_distance are
 * null). `options_json` is NULL or an object with any of (defaults shown):
 *
 *   {"feature_range": null,          null (no range) or [min, max], each a number or one per feature
 *    "immutable": [],                feature indices
 *    "monotone": {},                 {"j": "increase" | "decrease", ...}: directional features
 *    "cat_vars": {},                 {"start": n, ...}: categorical groups (alibi's cat_vars)
 *    "ohe": true,                    groups are one-hot (true) or one ordinal column (false)
 *    "sparsity_tol": 1e-6, "constraint_tol": 0, "mad_zero_scale": 1,
 *    "plausibility_norm": "l2",      or "l1"
 *    "summarise_over": "found",      or "valid": which counterfactuals the statistics of every
 *                                    metric but validity and cost summarise
 *    "n_threads": 0}                 threads of the nearest-neighbour search, 0 = all cores
 *
 * Unknown keys, wrong types and out-of-range values are CFX_ERR_CONFIG errors naming the key. The
 * evaluator keeps its own reference to the model and copies the training data. */
cfx_status cfx_evaluator_create(const cfx_model *model, const double *x_train, size_t n_train, size_t d,
                                const double *y_train, const char *options_json, cfx_evaluator **out,
                                cfx_error *err);

/** Frees an evaluator; NULL is a no-op. */
void cfx_evaluator_free(cfx_evaluator *evaluator);

/** Sets (or, with model NULL, removes) an auxiliary model. Role "autoencoder": a model with d
 * inputs and d outputs (CFX_ERR_SHAPE otherwise). Other roles are CFX_ERR_CONFIG. Safe while
 * other threads evaluate: each call sees the evaluator before or after. */
cfx_status cfx_evaluator_set_model(cfx_evaluator *evaluator, const char *role, const cfx_model *model,
                                   cfx_error *err);

/** Sets (or, with density NULL, removes) the density of "log_density": a feature density
 * (cfx_density_fit, see Densities) fitted for the evaluator's native network. A callback model, or
 * a density fitted for another network shape, is an error. The evaluator keeps its own reference. */
cfx_status cfx_evaluator_set_density(cfx_evaluator *evaluator, const cfx_density *density,
                                     cfx_error *err);

/** Measures n pairs: instances `x` (n x d, finite) and counterfactuals `x_cf` (n x d; a row is
 * all NaN or finite). `request_json` is NULL or an object with any of:
 *
 *   {"target_class": "other",   "other", "same", a class index, or an array of those, one per row
 *    "target_proba": null,      a probability the target class must also reach (or null)
 *    "meta": [...]}             n objects (or nulls), the explanations' "meta": "seconds",
 *                               "model_calls" and "gradient_evaluations" are read, others ignored
 *
 * On success *json_out (free with cfx_free) is
 *
 *   {"n": n, "n_found": rows with a counterfactual, "n_valid": valid rows,
 *    "summary": {"validity": {"n", "mean", "std", "median", "min", "max"}, "target_proba": {...},
 *                "l1", "l2", "l1_mad", "l0", "nn_distance", "ae_error", "log_density", "in_range",
 *                "immutable_ok", "monotone_ok", "categories_ok", "constraints_ok", "seconds", "model_calls",
 *                "gradient_evaluations"},
 *    "instances": {"found", "orig_class", "cf_class", "target_class", "nn_index", and one array
 *                  per metric above, each with n entries (null where a metric does not apply)},
 *    "mad": [d values] or null, "options": the evaluator's effective options}
 *
 * Summaries leave out nulls: "n" counts the values summarised; "std" is the population standard
 * deviation; the median of an even count is the mean of the middle two; with n = 0 the statistics
 * are null. The mean of a true/false metric is its rate. Validity is summarised over all n rows,
 * cost over the rows whose meta gave it, the others over the counterfactuals found (or valid). */
cfx_status cfx_evaluate(const cfx_evaluator *evaluator, const double *x, const double *x_cf, size_t n,
                        size_t d, const char *request_json, char **json_out, cfx_error *err);

/** Measures n sets of k counterfactuals: instances `x` (n x d, finite) and members `x_cfs`
 * (n x k x d, row-major: member j of set i at row i*k + j; a member all NaN is missing).
 * `request_json` is as for cfx_evaluate, with "target_class" and "meta" per set (n entries, or
 * one target for all). On success *json_out (free with cfx_free) is
 *
 *   {"n": n, "k": k,
 *    "sets": {"members_found", "members_valid", "all_valid",       per set
 *             "diversity",         mean over pairs of found members of sum_f |a_f - b_f|
 *             "diversity_mad",     DiCE's diversity: mean over pairs of (1/d) sum_f |a_f - b_f| / MAD_f
 *                                  (needs training data; MAD_f = 0 divided by mad_zero_scale)
 *             "count_diversity"},  DiCE's count diversity: mean over pairs and features of
 *                                  [|a_f - b_f| > sparsity_tol]; diversities null with < 2 members
 *    "summary": {"diversity", "diversity_mad", "count_diversity", "members_valid", "all_valid"},
 *    "members": cfx_evaluate's output for the n*k (instance, member) rows}
 *
 * L0 with a tolerance is cfx_evaluate's "l0" with the evaluator's "sparsity_tol". */
cfx_status cfx_evaluate_sets(const cfx_evaluator *evaluator, const double *x, const double *x_cfs, size_t n,
                             size_t k, size_t d, const char *request_json, char **json_out, cfx_error *err);

/** The metrics of counterfactual training (Altmeyer et al.) for n counterfactuals `x_cf` of the
 * factuals `x` (both n x d) with target classes `targets` (n whole numbers as doubles), against
 * n_train training rows `x_train` with labels `y_train`:
 *   ip        mean over rows of the mean L1 distance from x' to up to "samples" (1000) training rows
 *             of its target class (drawn without replacement with "seed");
 *   ip_star   per target class, the unbiased MMD^2 between its counterfactuals and those samples,
 *             Gaussian kernel exp(-|a - b|^2 / (2 l^2)) with l = "length_scale" or, when null, the
 *             median Euclidean distance between the rows of the pooled sample (median heuristic);
 *             the mean over classes weighted by counts (classes with fewer than 2 counterfactuals
 *             are left out). Unbiased, so it can be slightly negative;
 *   cost      mean L1 distance |x' - x|_1;   validity  share with p_target(x') >= 0.5.
 * options_json: NULL or {"samples": 1000, "length_scale": null, "seed": 0}. *json_out (cfx_free):
 *   {"ip", "ip_star", "cost", "validity", "per_class": [{"target", "n", "mmd2", "length_scale"}],
 *    "instances": {"ip": [...], "cost": [...], "valid": [...]}} */
cfx_status cfx_plausibility(const cfx_model *model, const double *x_train, const double *y_train, size_t n_train,
                            const double *x, const double *x_cf, const double *targets, size_t n, size_t d,
                            const char *options_json, char **json_out, cfx_error *err);

/** Accuracy of a native network on n rows `x` with labels `y` under an L-infinity attack on the
 * cross-entropy of the true label, for each radius: "fgsm" (x + eps*sign(grad)) or "pgd" ("steps"
 * steps of size "alpha", each projected into the ball, from a uniform random start when
 * "random_start"). options_json: NULL or {"attack": "pgd", "epsilons": [0, 0.01, ..., 0.1],
 * "steps": 40, "alpha": 0.01, "random_start": true, "seed": 0, "n_threads": 0}.
 * *json_out (cfx_free): {"attack", "epsilons", "accuracy": [one per epsilon]}. */
cfx_status cfx_robust_accuracy(const cfx_model *model, const double *x, const double *y, size_t n, size_t d,
                               const char *options_json, char **json_out, cfx_error *err);

/* ---- End of evaluation ------------------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif

#endif /* CFX_H */
