"""PyTorch helpers: the modules the exporter's conventions use, and PyTorch modules as cfx models.

This module imports ``torch``; ``import cfx`` does not import it until ``cfx.torch`` is used.

- :class:`Residual` ``(main, shortcut=None)``: a residual block, ``main(x) + shortcut(x)`` (the
  identity when ``shortcut`` is None). Build networks with it and :func:`cfx.export.from_torch`
  exports it as cfx's ``{"type": "residual", "main": [...], "shortcut": [...]}``. It applies no
  activation after the sum: put one after the block.
- :class:`ChannelPad` ``(out_channels)``: appends zero channels (cfx's ``channel_pad``, the
  shortcut of DDU's ResNets after an average pooling).
- :func:`as_model` ``(module, input_shape)``: a :class:`cfx.Model` that calls the module for
  probabilities and ``torch.autograd`` for exact vector-Jacobian products, for models cfx does not
  run natively.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from .model import Model

__all__ = ["Residual", "ChannelPad", "as_model"]


class Residual(nn.Module):
    """``main(x) + shortcut(x)``, or ``main(x) + x`` without a shortcut.

    ``main`` and ``shortcut`` are modules (usually ``nn.Sequential``) or lists of modules. In the
    exported cfx spec their layers are ``layers.<i>.main.<j>`` and ``layers.<i>.shortcut.<j>``.
    """

    def __init__(self, main, shortcut=None):
        super().__init__()
        self.main = main if isinstance(main, nn.Module) else nn.Sequential(*main)
        if shortcut is not None and not isinstance(shortcut, nn.Module):
            shortcut = nn.Sequential(*shortcut)
        self.shortcut = shortcut

    def forward(self, x):
        """main(x) + shortcut(x) (x itself without a shortcut), with no activation after the sum."""
        return self.main(x) + (x if self.shortcut is None else self.shortcut(x))


class ChannelPad(nn.Module):
    """Pads ``(n, c, h, w)`` with zero channels after the ``c`` it has, to ``out_channels``."""

    def __init__(self, out_channels: int):
        super().__init__()
        self.out_channels = int(out_channels)

    def forward(self, x):
        """x with zero channels appended up to ``out_channels``."""
        extra = self.out_channels - x.shape[1]
        if extra < 0:
            raise ValueError(f"ChannelPad: {x.shape[1]} channels, more than out_channels {self.out_channels}")
        return torch.nn.functional.pad(x, (0, 0, 0, 0, 0, extra))

    def extra_repr(self) -> str:
        """The module's settings, as PyTorch prints them."""
        return f"out_channels={self.out_channels}"


def _dtype_of(module: nn.Module) -> torch.dtype:
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def as_model(module: nn.Module, input_shape: Sequence[int], n_classes: Optional[int] = None) -> Model:
    """A cfx callback model backed by a PyTorch module, with exact gradients.

    ``input_shape`` is one row's shape without the batch dimension, e.g. ``[64]`` or
    ``[1, 28, 28]``: cfx's flat rows of ``prod(input_shape)`` values are reshaped to it (NCHW,
    row-major, as cfx's native image models use). The module must return ``(n, k)`` class
    probabilities (end it with ``nn.Softmax(dim=1)``); ``k`` is found by one call when not given.
    The module is put in eval mode and run on the device and dtype of its parameters; the vjp
    is ``torch.autograd.grad`` of the outputs with the cotangent as ``grad_outputs``.
    """
    module.eval()
    shape = tuple(int(s) for s in input_shape)
    d = math.prod(shape)
    dtype = _dtype_of(module)
    params = list(module.parameters())
    device = params[0].device if params else torch.device("cpu")

    def rows_to_tensor(X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(X), dtype=dtype, device=device).reshape((-1,) + shape)

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(rows_to_tensor(X))
        return out.reshape(len(X), -1).to(torch.float64).cpu().numpy()

    def vjp(X: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        x = rows_to_tensor(X).requires_grad_(True)
        with torch.enable_grad():
            out = module(x).reshape(len(X), -1)
            (grad,) = torch.autograd.grad(out, x, grad_outputs=torch.as_tensor(
                np.asarray(cotangent), dtype=out.dtype, device=out.device))
        return grad.reshape(len(X), -1).to(torch.float64).cpu().numpy()

    k = int(n_classes) if n_classes is not None else predict(np.zeros((1, d))).shape[1]
    return Model.from_callable(predict, d, k, vjp=vjp)
