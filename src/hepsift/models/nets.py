"""Plain torch modules with primitive constructor arguments and no training code.

Training happens in :func:`hepsift.train.torch_loop.train_module`; the model classes
(:mod:`hepsift.models.mlp`, ...) own the modules and save their ``state_dict`` as safetensors,
rebuilding the module from the same primitive arguments on load.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hepsift.errors import ConfigError, suggest

__all__ = ["ACTIVATIONS", "MLPNet", "make_activation"]

ACTIVATIONS = ("relu", "silu", "tanh", "gelu")


def make_activation(name: str) -> nn.Module:
    """The activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return nn.SiLU()
    if name == "tanh":
        return nn.Tanh()
    if name == "gelu":
        return nn.GELU()
    raise ConfigError(
        f"activation '{name}' is not one of {list(ACTIVATIONS)}{suggest(str(name), ACTIVATIONS)}"
    )


class MLPNet(nn.Module):
    """Fully connected network: ``n_in -> hidden[0] -> ... -> n_out`` (logits / raw outputs).

    Each hidden block is Linear, optional BatchNorm1d, activation, optional Dropout.
    ``hidden=()`` gives a linear model.
    """

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int] = (64,),
        n_out: int = 1,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {dropout}")
        widths = [int(h) for h in hidden]
        if any(h < 1 for h in widths):
            raise ConfigError(f"hidden layer widths must be >= 1; got {list(hidden)}")
        layers: list[nn.Module] = []
        prev = int(n_in)
        for h in widths:
            layers.append(nn.Linear(prev, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            prev = h
        layers.append(nn.Linear(prev, int(n_out)))
        self.layers = nn.Sequential(*layers)
        self.n_out = int(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(x)
        return out.squeeze(-1) if self.n_out == 1 else out
