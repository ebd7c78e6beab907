"""Plots of counterfactuals (matplotlib, optional: ``pip install matplotlib``).

- :func:`changed_features`: tabular data, the features a counterfactual changed, before → after;
- :func:`counterfactual_set`: a diverse set (``n_counterfactuals``), one panel per member;
- :func:`image`: original, counterfactual and their difference, side by side;
- :func:`trace`: a search trace, target probability and loss per step.

Each function draws into the axes you pass (``ax=`` / ``axes=``) or into a new figure, and
returns the figure. matplotlib is imported on first use, so ``import cfx`` never needs it.

>>> fig = cfx.plot.changed_features(exp, feature_names=names)
>>> fig.savefig("cf.png", dpi=150)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["changed_features", "counterfactual_set", "image", "trace"]

BEFORE_COLOR = "#8c8c8c"
AFTER_COLOR = "#d1495b"
UP_COLOR, DOWN_COLOR = "#2e7d32", "#c62828"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "cfx.plot needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib` (cfx itself needs only numpy).") from exc
    return plt


def _new_axes(n: int, figsize: Tuple[float, float]):
    plt = _pyplot()
    fig, axes = plt.subplots(1, n, figsize=figsize, squeeze=False)
    return fig, list(axes[0])


def _before_after(exp_or_x: Any, cf: Any) -> Tuple[np.ndarray, Optional[np.ndarray], Any]:
    """(x, counterfactual or None, explanation or None) from an Explanation or two arrays."""
    if cf is None and hasattr(exp_or_x, "data") and hasattr(exp_or_x, "x"):
        exp = exp_or_x
        if exp.x is None:
            raise ValueError("the explanation does not carry its instance (exp.x); "
                             "pass the instance and the counterfactual: changed_features(x, cf)")
        cf_x = exp.cf_x
        return np.asarray(exp.x, dtype=float).ravel(), cf_x, exp
    if cf is None:
        raise ValueError("pass an Explanation, or an instance and its counterfactual")
    if isinstance(cf, Mapping):  # the "cf" dict of an explanation
        cf = cf.get("X")
    x = np.asarray(exp_or_x, dtype=float).ravel()
    cfx_ = None if cf is None else np.asarray(cf, dtype=float).ravel()
    if cfx_ is not None and cfx_.shape != x.shape:
        raise ValueError(f"the instance has {x.size} features but the counterfactual {cfx_.size}")
    return x, cfx_, None


def _class_label(k: Optional[int], class_names: Optional[Sequence[str]]) -> str:
    if k is None:
        return "?"
    if class_names is not None and 0 <= k < len(class_names):
        return str(class_names[k])
    return f"class {k}"


def changed_features(exp_or_x: Any, cf: Any = None, *,
                     feature_names: Optional[Sequence[str]] = None,
                     class_names: Optional[Sequence[str]] = None,
                     transform: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                     threshold: float = 1e-3, max_features: int = 20, units: str = "",
                     fmt: str = "{:+.3g}",
                     title: Optional[str] = None, ax: Any = None):
    """A dumbbell chart of the features the counterfactual changed: one row per feature with
    its value before (grey) and after (red), joined by an arrow, the change written beside it.

    ``exp_or_x``: an :class:`~cfx.Explanation` (its ``x`` and ``cf["X"]``), or an instance with
    its counterfactual in ``cf`` (an array or the ``cf`` dict). ``transform`` maps both to display
    units first (e.g. undoing a standardisation). Features whose change is below ``threshold``
    (in display units) are left out; the ``max_features`` largest changes are shown, largest at
    the top. ``fmt`` formats the change, followed by ``units``. Returns the figure.
    """
    x, cf_x, exp = _before_after(exp_or_x, cf)
    d = x.size
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(d)]
    elif len(feature_names) != d:
        raise ValueError(f"feature_names has {len(feature_names)} names for {d} features")
    if ax is None:
        fig, (ax,) = _new_axes(1, (7.0, 1.2 + 0.45 * min(max_features, d)))
    else:
        fig = ax.figure

    if title is None and exp is not None:
        head = f"{_class_label(exp.get('orig_class'), class_names)} (p={exp.get('orig_proba', float('nan')):.2f})"
        if cf_x is None:
            title = f"{head}: no counterfactual found"
        else:
            k = exp.cf_class
            p = exp["cf"]["proba"][k]
            title = f"{head} → {_class_label(k, class_names)} (p={p:.2f})"
    if title:
        ax.set_title(title)
    if cf_x is None:
        ax.text(0.5, 0.5, "no counterfactual", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig

    before, after = x, cf_x
    if transform is not None:
        before = np.asarray(transform(before), dtype=float).ravel()
        after = np.asarray(transform(after), dtype=float).ravel()
    delta = after - before
    changed = np.flatnonzero(np.abs(delta) >= threshold)
    changed = changed[np.argsort(-np.abs(delta[changed]), kind="stable")][:max_features]
    if changed.size == 0:
        ax.text(0.5, 0.5, f"no feature changed by {threshold:g} or more", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return fig

    rows = np.arange(changed.size)[::-1]  # largest change at the top
    for y, j in zip(rows, changed):
        ax.annotate("", xy=(after[j], y), xytext=(before[j], y),
                    arrowprops=dict(arrowstyle="-|>", color=UP_COLOR if delta[j] > 0 else DOWN_COLOR,
                                    lw=1.8, shrinkA=4, shrinkB=4))
    ax.scatter(before[changed], rows, s=60, color=BEFORE_COLOR, zorder=3, label="before")
    ax.scatter(after[changed], rows, s=60, color=AFTER_COLOR, zorder=3, label="after")
    span = max(np.ptp(np.concatenate([before[changed], after[changed]])), 1e-12)
    for y, j in zip(rows, changed):
        ax.text(max(before[j], after[j]) + 0.04 * span, y, fmt.format(delta[j]) + units,
                va="center", fontsize=9, color=UP_COLOR if delta[j] > 0 else DOWN_COLOR)
    lo = min(before[changed].min(), after[changed].min())
    hi = max(before[changed].max(), after[changed].max())
    ax.set_xlim(lo - 0.08 * span, hi + 0.22 * span)
    ax.set_ylim(-0.7, changed.size - 0.3)
    ax.set_yticks(rows)
    ax.set_yticklabels([str(feature_names[j]) for j in changed])
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("value" + (f" ({units.strip()})" if units.strip() else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              borderaxespad=0.0)
    fig.tight_layout()
    return fig


def counterfactual_set(exp: Any, *, feature_names: Optional[Sequence[str]] = None,
                       class_names: Optional[Sequence[str]] = None,
                       transform: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                       threshold: float = 1e-3, max_features: int = 20, units: str = "",
                       title: Optional[str] = None, axes: Any = None):
    """One :func:`changed_features` panel per member of a diverse set (an explanation of an
    explainer with ``n_counterfactuals`` > 1), side by side, each titled with its class and
    probability; the figure's title gives the set's diversity (det K). Returns the figure."""
    if getattr(exp, "x", None) is None:
        raise ValueError("the explanation does not carry its instance (exp.x)")
    members = exp.get("cfs")
    if not members:
        raise ValueError("the explanation has no set: explain with n_counterfactuals > 1 "
                         "(or the search found no counterfactual)")
    x = np.asarray(exp.x, dtype=float).ravel()
    n = len(members)
    if axes is None:
        d = x.size
        fig, axes = _new_axes(n, (4.6 * n, 1.4 + 0.45 * min(max_features, d)))
    else:
        axes = list(np.ravel(axes))
        if len(axes) < n:
            raise ValueError(f"axes: {len(axes)} given for {n} members")
        fig = axes[0].figure
    for i, (member, ax) in enumerate(zip(members, axes)):
        k = member.get("class")
        p = member["proba"][k] if k is not None else float("nan")
        changed_features(x, member["X"], feature_names=feature_names, transform=transform,
                         threshold=threshold, max_features=max_features, units=units,
                         title=f"{i + 1}: {_class_label(k, class_names)} (p={p:.2f})", ax=ax)
        legend = ax.get_legend()
        if legend is not None and i < n - 1:
            legend.remove()
    if title is None:
        diversity = exp.get("diversity")
        title = (f"{_class_label(exp.get('orig_class'), class_names)}: {n} counterfactuals"
                 + (f", diversity det K = {diversity:.3g}" if diversity is not None else ""))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _as_image(v: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (h, w) or (c, h, w), got {shape}")
    if int(np.prod(shape)) != v.size:
        raise ValueError(f"shape {shape} holds {int(np.prod(shape))} values, the instance has {v.size}")
    img = v.reshape(shape)
    if img.ndim == 3:
        if img.shape[0] == 1:
            img = img[0]
        elif img.shape[0] in (3, 4):
            img = np.moveaxis(img, 0, -1)  # (c, h, w) -> (h, w, c) for imshow
        else:
            raise ValueError(f"{img.shape[0]} channels: only 1, 3 (RGB) or 4 (RGBA) can be shown")
    return img


def image(exp_or_x: Any, cf: Any = None, *, shape: Sequence[int],
          class_names: Optional[Sequence[str]] = None, cmap: str = "gray",
          vmin: Optional[float] = None, vmax: Optional[float] = None, axes: Any = None):
    """Original, counterfactual and their difference (counterfactual − original) side by side.

    ``shape`` is ``(h, w)`` or ``(c, h, w)`` (channels first, 1, 3 or 4 channels) of the flat
    instance. Original and counterfactual share one colour scale (``vmin``/``vmax``, default their
    joint range); the difference uses a symmetric red–blue scale (summed over channels).
    ``axes``: three axes to draw into. Returns the figure.
    """
    x, cf_x, exp = _before_after(exp_or_x, cf)
    if cf_x is None:
        raise ValueError("the explanation has no counterfactual to show")
    orig, counter = _as_image(x, shape), _as_image(cf_x, shape)
    if axes is None:
        fig, axes = _new_axes(3, (10.0, 3.6))
    else:
        axes = list(axes)
        if len(axes) != 3:
            raise ValueError("axes: pass three axes (original, counterfactual, difference)")
        fig = axes[0].figure
    lo = float(min(orig.min(), counter.min())) if vmin is None else vmin
    hi = float(max(orig.max(), counter.max())) if vmax is None else vmax
    if hi <= lo:
        hi = lo + 1.0
    titles = ["original", "counterfactual"]
    if exp is not None:
        titles[0] += f"\n{_class_label(exp.get('orig_class'), class_names)}"
        titles[1] += f"\n{_class_label(exp.cf_class, class_names)}"
    for ax, img, t in zip(axes[:2], (orig, counter), titles):
        if img.ndim == 3:  # RGB(A): rescale to [0, 1] on the shared range
            ax.imshow(np.clip((img - lo) / (hi - lo), 0.0, 1.0))
        else:
            ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(t)
        ax.set_axis_off()
    diff = counter - orig
    if diff.ndim == 3:
        diff = diff[..., :3].sum(axis=-1)
    lim = float(np.abs(diff).max()) or 1.0
    im = axes[2].imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("difference\n(counterfactual − original)")
    axes[2].set_axis_off()
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    return fig


_PROBA_KEYS = ("target_proba", "p_target", "proba_target", "target_probability")
_LOSS_KEYS = ("loss",)


def _series(trace_data: Union[Sequence[Mapping[str, Any]], Mapping[str, Sequence[float]]]):
    """A dict of name -> float array from a list of per-step dicts or a dict of series."""
    if isinstance(trace_data, Mapping):
        return {str(k): np.asarray(v, dtype=float).ravel() for k, v in trace_data.items()
                if np.ndim(v) == 1 or np.size(v) > 1}
    steps = list(trace_data)
    if steps and not all(isinstance(s, Mapping) for s in steps):
        raise ValueError("trace: pass a list of per-step dicts or a dict of series")
    keys: list = []
    for s in steps:
        keys.extend(k for k in s if k not in keys)
    out = {}
    for k in keys:
        try:
            out[str(k)] = np.array([float(s[k]) if s.get(k) is not None else np.nan
                                    for s in steps])
        except (TypeError, ValueError):
            continue  # a non-numeric field
    return out


def trace(trace_data: Union[Sequence[Mapping[str, Any]], Mapping[str, Sequence[float]]], *,
          keys: Optional[Sequence[str]] = None, target_proba: Optional[float] = None,
          tol: Optional[float] = None, title: Optional[str] = None, axes: Any = None):
    """A search trace, one panel per series, sharing the step axis.

    ``trace_data`` is a list of per-step dicts (``[{"step": 0, "target_proba": 0.1, "loss":
    0.8}, ...]``) or a dict of series (``{"target_proba": [...], "loss": [...]}``). By default
    the target probability (``target_proba``, ``p_target``, ...) and ``loss`` are plotted;
    ``keys`` chooses other series. ``step`` (if present) is the x axis. ``target_proba`` and
    ``tol`` draw the band a counterfactual must reach on the probability panel. Returns the figure.
    """
    series = _series(trace_data)
    if keys is None:
        keys = [k for k in _PROBA_KEYS if k in series][:1] + [k for k in _LOSS_KEYS if k in series]
        if not keys:
            raise ValueError("trace: no target probability or loss series found (looked for "
                             f"{', '.join(_PROBA_KEYS + _LOSS_KEYS)}); pass keys=[...] "
                             f"(available: {', '.join(series) or 'none'})")
    missing = [k for k in keys if k not in series]
    if missing:
        raise ValueError(f"trace: no series {', '.join(missing)} (available: {', '.join(series)})")
    n = len(series[keys[0]])
    steps = series.get("step", np.arange(n))
    if axes is None:
        plt = _pyplot()
        fig, axs = plt.subplots(len(keys), 1, figsize=(7.0, 2.4 * len(keys)), sharex=True,
                                squeeze=False)
        axes = list(axs[:, 0])
    else:
        axes = list(np.atleast_1d(axes))
        if len(axes) != len(keys):
            raise ValueError(f"axes: pass {len(keys)} axes, one per series")
        fig = axes[0].figure
    for ax, key in zip(axes, keys):
        values = series[key]
        if len(values) != len(steps):
            raise ValueError(f"trace: series {key} has {len(values)} values, step has {len(steps)}")
        ax.plot(steps, values, lw=1.4, color=AFTER_COLOR if key in _PROBA_KEYS else "#30638e")
        if key in _PROBA_KEYS and target_proba is not None:
            ax.axhline(target_proba, color="k", lw=0.8, ls="--")
            if tol is not None:
                ax.axhspan(target_proba - tol, target_proba + tol, color="k", alpha=0.08)
        if key == "loss" and np.all(values[np.isfinite(values)] > 0) and \
                np.nanmax(values) / max(np.nanmin(values), 1e-300) > 100:
            ax.set_yscale("log")
        ax.set_ylabel(key.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return fig
