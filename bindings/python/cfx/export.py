"""Export scikit-learn classifiers and PyTorch networks as cfx model specifications.

PyTorch: ``from_torch(module, input_shape)`` returns ``(spec, tensors)``, and ``save_torch``
writes them as a model file (spec JSON + safetensors); see :func:`from_torch`.

scikit-learn:

``from_sklearn(estimator)`` returns the JSON-ready dict accepted by ``cfx.Model.from_json``::

    {"input_shape": [d],
     "layers": [{"type": "dense", "weights": <out x in nested lists>, "bias": [...]},
                {"type": "relu" | "tanh" | "sigmoid"}, ..., {"type": "softmax"}]}

Supported: ``MLPClassifier`` (hidden activations relu, tanh, logistic, identity) and
``LogisticRegression`` (multinomial, and binary). Binary classifiers, which scikit-learn
models with a single logistic output z, become an equivalent two-class softmax over the
logits ``[0, z]``: ``softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]``, exactly sklearn's
``predict_proba`` columns.

The exported model sees the features exactly as the estimator does: a ``Pipeline`` (e.g. with a
``StandardScaler``) is not folded in. Standardise your data before fitting, and pass
standardised instances to the explainer (see ``examples/python``).

Only numpy is needed here; scikit-learn is not imported (estimators are duck-typed by their
fitted attributes), and torch only by the PyTorch functions, so this module also works without the
native library.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["from_sklearn", "from_mlp_classifier", "from_logistic_regression", "dense_layer",
           "from_torch", "save_torch", "inline_tensors", "Residual", "ChannelPad"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": None}


def dense_layer(weights_out_in: Any, bias: Any) -> dict:
    """A cfx dense layer from an ``out x in`` weight matrix and a bias of length ``out``."""
    W = np.asarray(weights_out_in, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if W.ndim != 2 or b.shape[0] != W.shape[0]:
        raise ValueError(f"dense layer: weights {W.shape} and bias {b.shape} do not match")
    return {"type": "dense", "weights": W.tolist(), "bias": b.tolist()}


def _binary_head(W_out_in: np.ndarray, b: np.ndarray) -> List[dict]:
    """Layers turning a single logit z (W: 1 x in) into the two-class softmax of [0, z]."""
    W = np.vstack([np.zeros_like(W_out_in), W_out_in])
    bias = np.concatenate([[0.0], b.reshape(-1)])
    return [dense_layer(W, bias), {"type": "softmax"}]


def _class_name(est: Any) -> str:
    return type(est).__name__


def _require_fitted(est: Any, attrs: tuple) -> None:
    missing = [a for a in attrs if not hasattr(est, a)]
    if missing:
        raise ValueError(f"{_class_name(est)} is not fitted (missing {', '.join(missing)}); "
                         "call fit() first")


def from_mlp_classifier(est: Any) -> dict:
    """The cfx spec of a fitted ``sklearn.neural_network.MLPClassifier``."""
    _require_fitted(est, ("coefs_", "intercepts_", "out_activation_"))
    activation = getattr(est, "activation", "relu")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"MLPClassifier: unsupported activation {activation!r} "
                         f"(supported: {', '.join(_ACTIVATIONS)})")
    hidden = _ACTIVATIONS[activation]
    coefs = [np.asarray(c, dtype=np.float64) for c in est.coefs_]          # each in x out
    intercepts = [np.asarray(b, dtype=np.float64) for b in est.intercepts_]
    d = coefs[0].shape[0]
    out_act = est.out_activation_
    n_out = coefs[-1].shape[1]
    if out_act == "softmax":
        pass
    elif out_act == "logistic" and n_out == 1:
        pass
    else:
        raise ValueError(f"MLPClassifier: output activation {out_act!r} with {n_out} outputs is "
                         "not supported (multi-label classifiers are not)")

    layers: List[dict] = []
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        last = i == len(coefs) - 1
        if not last:
            layers.append(dense_layer(W.T, b))
            if hidden is not None:
                layers.append({"type": hidden})
        elif out_act == "softmax":
            layers += [dense_layer(W.T, b), {"type": "softmax"}]
        else:
            layers += _binary_head(W.T, b)
    return {"input_shape": [int(d)], "layers": layers}


def from_logistic_regression(est: Any) -> dict:
    """The cfx spec of a fitted ``sklearn.linear_model.LogisticRegression``."""
    _require_fitted(est, ("coef_", "intercept_", "classes_"))
    coef = np.asarray(est.coef_, dtype=np.float64)        # k x d (or 1 x d when binary)
    intercept = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    if intercept.shape[0] != coef.shape[0]:              # fit_intercept=False gives a scalar 0
        intercept = np.broadcast_to(intercept, (coef.shape[0],)).copy()
    d = coef.shape[1]
    n_classes = len(est.classes_)
    if n_classes == 2 and coef.shape[0] == 1:
        layers = _binary_head(coef, intercept)
    else:
        multi = getattr(est, "multi_class", "auto")
        solver = getattr(est, "solver", "lbfgs")
        if multi == "ovr" or (multi == "auto" and solver == "liblinear"):
            raise ValueError("LogisticRegression: one-vs-rest multiclass models are not "
                             "supported (their probabilities are not a softmax); fit a "
                             "multinomial model")
        layers = [dense_layer(coef, intercept), {"type": "softmax"}]
    return {"input_shape": [int(d)], "layers": layers}


def from_sklearn(estimator: Any) -> dict:
    """The cfx model spec (a dict) of a fitted scikit-learn classifier.

    Supports ``MLPClassifier`` and ``LogisticRegression``. The class order of the model's
    output is ``estimator.classes_``, as in ``predict_proba``.
    """
    name = _class_name(estimator)
    if hasattr(estimator, "coefs_") and hasattr(estimator, "out_activation_"):
        return from_mlp_classifier(estimator)
    if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_") and \
            hasattr(estimator, "predict_proba"):
        return from_logistic_regression(estimator)
    if name == "Pipeline":
        raise TypeError("from_sklearn: Pipelines are not folded into the model; export the "
                        "final classifier and transform (e.g. standardise) the inputs yourself")
    if name in ("MLPClassifier", "LogisticRegression"):
        raise ValueError(f"{name} is not fitted; call fit() first")
    raise TypeError(f"from_sklearn: unsupported estimator {name} "
                    "(supported: MLPClassifier, LogisticRegression)")


# ---- PyTorch ----------------------------------------------------------------------------------------

def __getattr__(name: str):
    # Residual and ChannelPad are torch modules: defined in cfx.torch, imported on first use.
    if name in ("Residual", "ChannelPad"):
        from . import torch as cfx_torch
        return getattr(cfx_torch, name)
    raise AttributeError(f"module 'cfx.export' has no attribute {name!r}")


class _TorchExporter:
    """Walks a module tree and emits cfx layers with their tensors (see from_torch)."""

    def __init__(self, module, input_shape: Sequence[int], names: Optional[Mapping[Any, str]]):
        import torch
        from torch import nn
        self.torch, self.nn = torch, nn
        self.tensors: Dict[str, np.ndarray] = {}
        self.paths = {id(m): (p or "(the module itself)") for p, m in module.named_modules()}
        by_path = dict(module.named_modules())
        self.names: Dict[int, str] = {}
        for key, value in (names or {}).items():
            if isinstance(key, str):
                if key not in by_path:
                    raise ValueError(f"names: {key!r} is not a submodule path of the model "
                                     f"(paths: {', '.join(p for p in by_path if p)})")
                key = by_path[key]
            if id(key) not in self.paths:
                raise ValueError(f"names: {type(key).__name__} is not a submodule of the model")
            if not isinstance(value, str) or not value:
                raise ValueError(f"names: the name of {self.paths[id(key)]} must be a non-empty string")
            self.names[id(key)] = value
        # One forward pass of zeros records every module's input shape (without the batch).
        self.shapes: Dict[int, Tuple[int, ...]] = {}
        hooks = [m.register_forward_hook(self._record) for m in module.modules()]
        try:
            dtype = next((t.dtype for t in list(module.parameters()) + list(module.buffers())
                          if t.is_floating_point()), torch.get_default_dtype())
            with torch.no_grad():
                module(torch.zeros((2,) + tuple(input_shape), dtype=dtype))
        finally:
            for h in hooks:
                h.remove()

    def _record(self, module, inputs, output) -> None:
        if inputs and hasattr(inputs[0], "shape"):
            self.shapes.setdefault(id(module), tuple(inputs[0].shape[1:]))

    def fail(self, module, problem: str) -> ValueError:
        return ValueError(f"from_torch: {self.paths.get(id(module), '?')} ({type(module).__name__}): {problem}")

    def tensor(self, prefix: str, name: str, value) -> None:
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if array.dtype not in (np.float64, np.float32, np.float16):
            array = array.astype(np.float32)
        self.tensors[prefix + name] = np.ascontiguousarray(array)

    def weight(self, module):
        """The weight the module computes with: for a spectral-norm parametrisation (or the old
        spectral_norm hook) the normalised weight, in eval mode, as the forward pass used it."""
        return module.weight

    def square(self, value, what: str, module) -> int:
        """A kernel size, stride or padding that must be the same in both dimensions."""
        if isinstance(value, (tuple, list)):
            if len(set(value)) != 1:
                raise self.fail(module, f"{what} {tuple(value)}: cfx needs the same value in both dimensions")
            value = value[0]
        return int(value)

    def emit(self, module, out: List[dict], prefix: str) -> None:
        """Appends the cfx layers of `module` to `out`, whose tensors are named prefix + index."""
        table = _torch_emitters()
        emitter = next((table[cls] for cls in type(module).__mro__ if cls in table), None)
        if emitter is None:
            raise self.fail(module, "not a layer cfx can export (supported: Sequential, cfx.export.Residual, "
                                    "Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten, "
                                    "BatchNorm1d/2d, ReLU, LeakyReLU, Tanh, Sigmoid, Softplus, Softmax, "
                                    "ChannelPad, Identity, Dropout)")
        emitter(self, module, out, prefix)
        name = self.names.get(id(module))
        if name is not None:
            if not out:
                raise self.fail(module, f"names: {name!r} names a module with no cfx layer before it")
            if out[-1].get("name", name) != name:
                raise self.fail(module, f"names: {name!r} and {out[-1]['name']!r} name the same cfx layer")
            out[-1]["name"] = name


# One emitter per torch module type: emitter(exporter, module, out, prefix) appends the module's cfx
# layers to `out`; a layer's tensors are named prefix + its index in `out` + "." + tensor name.

def _emit_sequential(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    for child in m:
        ex.emit(child, out, prefix)


def _emit_residual(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    path = f"{prefix}{len(out)}."
    main: List[dict] = []
    ex.emit(m.main, main, path + "main.")
    if not main:
        raise ex.fail(m, "the main branch has no layers")
    shortcut: List[dict] = []
    if m.shortcut is not None:
        ex.emit(m.shortcut, shortcut, path + "shortcut.")
    out.append({"type": "residual", "main": main, "shortcut": shortcut})


def _emit_linear(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    path = f"{prefix}{len(out)}."
    ex.tensor(path, "weight", ex.weight(m))
    ex.tensor(path, "bias", m.bias if m.bias is not None else np.zeros(m.out_features, np.float32))
    out.append({"type": "dense", "outputs": int(m.out_features)})


def _conv_padding(ex: _TorchExporter, m, kernel: int, stride: int) -> int:
    padding = m.padding
    if padding == "valid":
        padding = 0
    elif padding == "same":
        if kernel % 2 == 0 or stride != 1:
            raise ex.fail(m, "padding='same' with an even kernel or a stride: not symmetric")
        padding = (kernel - 1) // 2
    return ex.square(padding, "padding", m)


def _emit_conv2d(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    if m.groups != 1:
        raise ex.fail(m, f"groups={m.groups}: cfx convolutions are not grouped")
    if tuple(m.dilation) != (1, 1):
        raise ex.fail(m, f"dilation={tuple(m.dilation)}: cfx convolutions are not dilated")
    if m.padding_mode != "zeros":
        raise ex.fail(m, f"padding_mode={m.padding_mode!r}: cfx pads with zeros")
    kernel = ex.square(m.kernel_size, "kernel_size", m)
    stride = ex.square(m.stride, "stride", m)
    padding = _conv_padding(ex, m, kernel, stride)
    path = f"{prefix}{len(out)}."
    ex.tensor(path, "weight", ex.weight(m))
    if m.bias is not None:
        ex.tensor(path, "bias", m.bias)
    out.append({"type": "conv2d", "out_channels": int(m.out_channels), "kernel_size": kernel,
                "stride": stride, "padding": padding, "bias": m.bias is not None})


def _pool_window(ex: _TorchExporter, m) -> dict:
    """The kernel, stride and padding shared by max and average pooling."""
    if getattr(m, "ceil_mode", False):
        raise ex.fail(m, "ceil_mode=True: cfx pools in floor mode")
    kernel = ex.square(m.kernel_size, "kernel_size", m)
    stride = ex.square(m.stride if m.stride is not None else kernel, "stride", m)
    return {"kernel_size": kernel, "stride": stride, "padding": ex.square(m.padding, "padding", m)}


def _emit_max_pool2d(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    window = _pool_window(ex, m)
    if ex.square(m.dilation, "dilation", m) != 1:
        raise ex.fail(m, "dilation: cfx pooling windows are not dilated")
    if m.return_indices:
        raise ex.fail(m, "return_indices=True is not a layer output cfx has")
    out.append({"type": "max_pool2d", **window})


def _emit_avg_pool2d(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    window = _pool_window(ex, m)
    if window["padding"] and not m.count_include_pad:
        raise ex.fail(m, "count_include_pad=False: cfx averages over padded zeros too")
    if m.divisor_override is not None:
        raise ex.fail(m, "divisor_override is not supported")
    out.append({"type": "avg_pool2d", **window})


def _emit_adaptive_avg_pool2d(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size, m.output_size)
    if tuple(size) != (1, 1):
        raise ex.fail(m, f"output_size {m.output_size}: only 1 (global average pooling) is supported")
    out.append({"type": "global_avg_pool"})


def _emit_flatten(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    shape = ex.shapes.get(id(m))
    if m.start_dim != 1 or m.end_dim != -1:
        raise ex.fail(m, "only Flatten(start_dim=1, end_dim=-1) is supported")
    after_global = out and out[-1]["type"] == "global_avg_pool"
    if not after_global and shape is not None and len(shape) > 1:
        out.append({"type": "flatten"})


def _emit_batch_norm(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    shape = ex.shapes.get(id(m))
    if isinstance(m, ex.nn.BatchNorm1d) and shape is not None and len(shape) != 1:
        raise ex.fail(m, f"input shape {list(shape)}: cfx normalises features of flat rows only")
    if not m.track_running_stats or m.running_mean is None:
        raise ex.fail(m, "track_running_stats=False: there are no running statistics to export")
    c, path = m.num_features, f"{prefix}{len(out)}."
    ex.tensor(path, "weight", m.weight if m.affine else np.ones(c, np.float32))
    ex.tensor(path, "bias", m.bias if m.affine else np.zeros(c, np.float32))
    ex.tensor(path, "running_mean", m.running_mean)
    ex.tensor(path, "running_var", m.running_var)
    # num_batches_tracked is not exported; momentum=None (a cumulative average) becomes 0.1
    out.append({"type": "batch_norm", "eps": float(m.eps),
                "momentum": 0.1 if m.momentum is None else float(m.momentum)})


def _emit_plain(kind: str):
    """The emitter of a layer without parameters, such as ReLU."""
    def emit(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
        out.append({"type": kind})
    return emit


def _emit_leaky_relu(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    out.append({"type": "leaky_relu", "negative_slope": float(m.negative_slope)})


def _emit_softplus(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    if m.beta != 1:
        raise ex.fail(m, f"beta={m.beta}: cfx's softplus has beta 1")
    out.append({"type": "softplus"})  # exact log(1 + e^x); torch's threshold differs < 1e-8


def _emit_softmax(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    shape = ex.shapes.get(id(m))
    rank = len(shape) if shape is not None else 1
    if m.dim not in (1, -1) or rank != 1:
        raise ex.fail(m, f"dim={m.dim} on inputs of shape {list(shape or [])}: cfx's softmax is "
                         "over the features of flat rows (dim=1)")
    out.append({"type": "softmax"})


def _emit_channel_pad(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    out.append({"type": "channel_pad", "out_channels": m.out_channels})


def _emit_nothing(ex: _TorchExporter, m, out: List[dict], prefix: str) -> None:
    pass  # nothing at inference


@functools.lru_cache(maxsize=None)
def _torch_emitters() -> Dict[type, Any]:
    """Module type -> emitter. A module takes the emitter of the first type in its class's MRO
    that has one, so subclasses of supported modules export as their base does."""
    from torch import nn
    from . import torch as cfx_torch
    return {
        nn.Sequential: _emit_sequential, cfx_torch.Residual: _emit_residual,
        nn.Linear: _emit_linear, nn.Conv2d: _emit_conv2d,
        nn.MaxPool2d: _emit_max_pool2d, nn.AvgPool2d: _emit_avg_pool2d,
        nn.AdaptiveAvgPool2d: _emit_adaptive_avg_pool2d, nn.Flatten: _emit_flatten,
        nn.BatchNorm1d: _emit_batch_norm, nn.BatchNorm2d: _emit_batch_norm,
        nn.ReLU: _emit_plain("relu"), nn.LeakyReLU: _emit_leaky_relu, nn.Tanh: _emit_plain("tanh"),
        nn.Sigmoid: _emit_plain("sigmoid"), nn.Softplus: _emit_softplus, nn.Softmax: _emit_softmax,
        cfx_torch.ChannelPad: _emit_channel_pad,
        nn.Identity: _emit_nothing, nn.Dropout: _emit_nothing, nn.Dropout2d: _emit_nothing,
    }


def from_torch(module, input_shape: Sequence[int], names: Optional[Mapping[Any, str]] = None
               ) -> Tuple[dict, Dict[str, np.ndarray]]:
    """The cfx spec of a PyTorch network and its tensors: ``(spec, {name: numpy array})``.

    ``input_shape`` is one input's shape without the batch dimension: ``[d]`` or
    ``[channels, height, width]``. ``names`` maps submodules (or their paths in
    ``module.named_modules()``, e.g. ``"4"``) to output names, e.g. ``{model[5]: "features"}``:
    the last cfx layer the module becomes carries the name.

    Supported: ``nn.Sequential`` (nested ones are flattened), :class:`cfx.export.Residual` blocks
    (``main(x) + shortcut(x)``), ``Linear``, ``Conv2d`` (square kernels, stride and zero padding,
    with or without bias), ``MaxPool2d``, ``AvgPool2d`` (``count_include_pad=True``),
    ``AdaptiveAvgPool2d(1)`` (+ ``Flatten``) as ``global_avg_pool``, ``Flatten``,
    ``BatchNorm1d``/``BatchNorm2d`` (the running statistics; ``num_batches_tracked`` is dropped),
    ``ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``, ``Softplus`` (beta 1), ``Softmax(dim=1)``,
    :class:`cfx.export.ChannelPad`, and ``Identity``/``Dropout`` (left out).

    The module is exported as it computes in eval mode: it is switched to eval mode for the
    export (one forward pass of zeros records the shapes) and switched back afterwards.

    Spectral normalisation (``torch.nn.utils.parametrizations.spectral_norm`` or the older
    ``torch.nn.utils.spectral_norm``) is exported as a plain layer with the normalised weight
    W / σ that the module uses in eval mode. PyTorch's normalisation cannot become cfx's
    ``spectral_norm`` exactly: PyTorch divides by σ, cfx (as DDU) by max(1, σ/c) + 1e-5, and
    PyTorch's power-iteration vectors of a convolution belong to the reshaped kernel (u of size
    out_channels, v of in_channels·k·k) while cfx's are shaped like the operator's output and
    input. The exported layer therefore computes exactly what the PyTorch module computes, but
    is not re-normalised if it is trained further in cfx.

    Tensors keep their dtype, and so does the computation: a float32 module (PyTorch's default)
    gives a spec with ``"dtype": "float32"``, so cfx runs it in single precision as PyTorch does;
    a float64 module gives a float64 spec. Write them with :func:`save_torch`, or put them inline
    with :func:`inline_tensors`.
    """
    shape = [int(s) for s in input_shape]
    if len(shape) not in (1, 3) or min(shape) <= 0:
        raise ValueError(f"from_torch: input_shape {list(input_shape)}: expected [features] or "
                         "[channels, height, width]")
    was_training = module.training
    module.eval()
    try:
        exporter = _TorchExporter(module, shape, names)
        layers: List[dict] = []
        exporter.emit(module, layers, "layers.")
    finally:
        module.train(was_training)
    if not layers:
        raise ValueError("from_torch: the module has no layers")
    spec = {"input_shape": shape, "layers": layers}
    if any(t.dtype != np.float64 for t in exporter.tensors.values()):
        spec["dtype"] = "float32"
    return spec, exporter.tensors


def inline_tensors(spec: dict, tensors: Mapping[str, Any]) -> dict:
    """A copy of ``spec`` with ``tensors`` (cfx tensor names such as ``layers.0.weight``) inline
    in their layers' ``"tensors"``, ready for ``cfx.Model.from_json``."""
    spec = json.loads(json.dumps(spec))
    used = set()

    def walk(layers: List[dict], prefix: str) -> None:
        for i, layer in enumerate(layers):
            path = f"{prefix}{i}."
            if layer.get("type") == "residual":
                walk(layer.get("main", []), path + "main.")
                walk(layer.get("shortcut", []), path + "shortcut.")
                continue
            own = {name[len(path):]: value for name, value in tensors.items()
                   if name.startswith(path) and "." not in name[len(path):]}
            if own:
                layer["tensors"] = {k: np.asarray(v, dtype=np.float64).reshape(-1).tolist()
                                    for k, v in own.items()}
                used.update(path + k for k in own)

    walk(spec["layers"], "layers.")
    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"inline_tensors: tensors of no layer: {', '.join(unused)}")
    return spec


def save_torch(module, input_shape: Sequence[int], spec_path: "str | os.PathLike",
               weights_path: "str | os.PathLike", names: Optional[Mapping[Any, str]] = None,
               metadata: Optional[dict] = None) -> dict:
    """Exports a PyTorch network (see :func:`from_torch`) as a cfx model file: the spec as JSON
    at ``spec_path``, naming the weights file relative to its own directory, and the tensors as
    safetensors at ``weights_path`` (written by :mod:`cfx.safetensors`). Returns the spec.
    Load it with ``cfx.Model.load(spec_path)``."""
    from . import safetensors
    spec, tensors = from_torch(module, input_shape, names)
    spec_dir = os.path.dirname(os.path.abspath(spec_path))
    spec["weights"] = os.path.relpath(os.path.abspath(weights_path), spec_dir)
    if metadata is not None:
        spec["metadata"] = metadata
    safetensors.save_file(tensors, weights_path)
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    return spec
