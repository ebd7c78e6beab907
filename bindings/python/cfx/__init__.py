"""cfx — counterfactual explanations (Python bindings of the cfx C library).

>>> import cfx
>>> model = cfx.Model.from_json(spec)                 # or cfx.Model.from_callable(f, d, k)
>>> exp = cfx.Wachter(model, target_class="other").explain(x)
>>> exp.success, exp.orig_class, exp.cf["class"], exp.cf["X"]
"""

from ._lib import HEADER_VERSION as _HEADER_VERSION, library_path, runtime_info, version as library_version
from ._lib import version
from .errors import (CallbackError, CancelledError, ConfigError, Error, FeatureRangeWarning,
                     FileError, InternalError, InvalidArgumentError, JSONError, LibraryNotFoundError,
                     ModelError, NumericError, ShapeError)
from .explainer import CFProto, Explainer, Explanation, Wachter, default_config
from .model import Model
from . import training
from . import metrics
# DeDUCE, JSMA and feature densities
from .deduce import DeDUCE, FeatureDensity, JSMA, SaliencyExplanation
from .eccco import ECCCo
from .trees import FOCUS, FeatureTweaking
from .genetic import Genetic
from . import robustness

__version__ = _HEADER_VERSION  # the package's version is the header's (Tests/python/test_version.py)

__all__ = [
    "Model", "Explainer", "Wachter", "CFProto", "Explanation", "default_config", "metrics", "version",
    "library_version",
    "runtime_info",
    "library_path", "Error", "InvalidArgumentError", "JSONError", "ConfigError", "ModelError",
    "ShapeError", "NumericError", "CallbackError", "CancelledError", "InternalError", "FileError",
    "LibraryNotFoundError", "FeatureRangeWarning", "__version__",
]
__all__ += ["DeDUCE", "JSMA", "FeatureDensity", "SaliencyExplanation"]
__all__ += ["ECCCo", "robustness"]
__all__ += ["FeatureTweaking", "FOCUS", "Genetic"]


def __getattr__(name):
    # ``cfx.plot`` and ``cfx.torch`` are imported on first use, so that ``import cfx`` never
    # needs matplotlib or torch.
    if name in ("plot", "torch"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'cfx' has no attribute {name!r}")
