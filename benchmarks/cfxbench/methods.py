"""The methods a suite runs. Adding a method is one entry in METHODS.

An entry names the cfx binding class (looked up on the ``cfx`` module, so a method that has not
landed yet is skipped with a note), the parameters a suite adds on top of the method's documented
defaults (only the data set's constraints: feature range and immutable features; tuning only in
entries marked ``tuned``, which the tables label),
and the method's name in the comparison runners (benchmarks/external/run_alibi.py) if alibi has it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import cfx

from .datasets import Dataset


def constraints(ds: Dataset, immutable: bool = True) -> dict:
    """The data set's constraints as config keys: the training range of every feature (pixels:
    [0, 1]) and, where the method supports them, immutable features."""
    params = {"feature_range": [ds.feature_range[0].tolist(), ds.feature_range[1].tolist()]}
    if immutable and ds.immutable:
        params["immutable"] = list(ds.immutable)
    return params


@dataclass
class Method:
    name: str                 # the suite's key, e.g. "wachter"
    label: str                # for tables and plots
    cfx_class: str            # attribute of the cfx module, e.g. "Wachter"
    params: Callable[[Dataset], dict]
    alibi: Optional[str] = None      # method name in benchmarks/external/run_alibi.py, None: not in alibi
    alibi_params: Optional[dict] = None  # constructor keywords for alibi beyond its defaults (besides feature_range)
    needs_train: bool = False        # the cfx explainer needs the training rows (fit)
    fit_labels: bool = False         # fit with the training labels (else the model's predictions)
    applies: Callable[[Dataset], Optional[str]] = lambda ds: None   # None, or why the method does not apply
    tuned: bool = False              # settings beyond the defaults (a labelled extra row; not in the scaling suite)

    def available(self) -> bool:
        return hasattr(cfx, self.cfx_class)

    def explainer(self, model, ds: Dataset, n_threads: int, seed: int):
        cls = getattr(cfx, self.cfx_class)
        params = dict(self.params(ds))
        keys = cfx.default_config(cls.method)
        params["n_threads"] = n_threads
        if "seed" in keys:
            params["seed"] = seed
        exp = cls(model, **params)
        if self.needs_train and hasattr(exp, "fit"):
            exp.fit(ds.X_train, ds.y_train) if self.fit_labels else exp.fit(ds.X_train)
        return exp


def _images_in_unit_range(ds: Dataset) -> Optional[str]:
    """DeDUCE and JSMA move pixels by a fixed step (0.2) within [0, 1]: image suites only."""
    if ds.tabular:
        return "its defaults (steps of 0.2 within [0, 1]) are for images in [0, 1]; this suite is tabular"
    return None


def _with_features(ds: Dataset) -> Optional[str]:
    why = _images_in_unit_range(ds)
    if why:
        return why
    if not any(layer.get("name") == "features" for layer in ds.spec["layers"]):
        return "the model has no output named 'features' for the density"
    return None


METHODS = {
    # Wachter et al., alibi's CounterFactual: documented defaults (target_proba 1, tol 0.05,
    # target_class "other", max_iter 1000, return_all true, ...).
    "wachter": Method("wachter", "Wachter", "Wachter", constraints, alibi="wachter"),
    # Prototype-guided counterfactuals (alibi's CounterfactualProto): the documented defaults
    # (kappa 0, beta 0.1, c_init 10, c_steps 10, max_iterations 1000, lr 0.01, ...) with the
    # README's and alibi's k-d tree usage, use_kdtree true and theta 10 (the defaults, theta 0 and
    # no k-d trees, would drop the prototype term); fitted on the training rows with the model's
    # predictions as classes (alibi's fit). The same for alibi.
    "cfproto": Method("cfproto", "CFProto", "CFProto",
                      lambda ds: {**constraints(ds), "use_kdtree": True, "theta": 10.0},
                      alibi="cfproto", alibi_params={"use_kdtree": True, "theta": 10.0}, needs_train=True),
    # DeDUCE: documented defaults (target_class "all": one counterfactual per instance and class
    # other than the prediction; target_confidence 0.5, step 0.2, max_iter 700, ...), the density
    # fitted on the training rows with their labels (DDU). alibi has no counterpart.
    "deduce": Method("deduce", "DeDUCE", "DeDUCE", lambda ds: constraints(ds), needs_train=True, fit_labels=True,
                     applies=_with_features),
    # JSMA as the DeDUCE paper runs it (its baseline), documented defaults.
    "jsma": Method("jsma", "JSMA", "JSMA", lambda ds: constraints(ds), applies=_images_in_unit_range),
    # Tuned rows, labelled as such: return_all false only shortens the JSON output (the
    # counterfactuals are the same as with the defaults).
    "wachter_tuned": Method("wachter_tuned", "Wachter, return_all false (tuned)", "Wachter",
                            lambda ds: {**constraints(ds), "return_all": False}, tuned=True),
    "cfproto_tuned": Method("cfproto_tuned", "CFProto, return_all false (tuned)", "CFProto",
                            lambda ds: {**constraints(ds), "use_kdtree": True, "theta": 10.0, "return_all": False},
                            needs_train=True, tuned=True),
}
