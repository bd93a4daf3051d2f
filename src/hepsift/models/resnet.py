"""Torch modules for event images (n, C, H, W): axis -2 is eta, axis -1 is phi.

Phi is periodic, eta is not: every convolution and pooling pads phi circularly (the columns
beyond +-pi are the ones on the other side) and eta with zeros. The padding is built from
``torch.cat`` of slices and a constant pad, so it exports to ONNX as plain Slice/Concat/Pad.
No training code here (see :mod:`hepsift.train.torch_loop`); primitive constructor arguments
only, so :mod:`hepsift.models.cnn` can rebuild a network from ``model.json``.

:class:`ResNetImage` is ResNet-18 style (He et al. 2016, arXiv:1512.03385): a stem, four stages
of basic blocks (``blocks=(2, 2, 2, 2)``) with widths ``width * (1, 2, 4, 8)``, the stages
after the first halving the image, global average pooling, then a small head that may take
event features joined after pooling (and, with ``channel_sums``, the standardised log channel
sums; see :mod:`hepsift.models.cnn` for why, with ``norm="group"``, they are needed). Stems: ``"downsample"`` (3x3 conv stride 2 then 3x3 max
pool stride 2, as the original ResNet reduces its input 4x; 50x50 -> 13x13), ``"stride2"``
(3x3 conv stride 2 only) and ``"full"`` (3x3 conv stride 1: the full-resolution net).

Augmentation (``augment=True``) happens inside ``forward`` in training mode only, with torch's
global RNG (seeded by the training loop): each image is flipped eta -> -eta with probability
1/2 (``flip_eta``) and rolled in phi by a uniformly drawn number of columns (``roll_phi``).
In evaluation mode (and in the exported graph) the network is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hepsift.errors import ConfigError, suggest

__all__ = [
    "NORMS",
    "STEMS",
    "BasicBlock",
    "EtaPhiConv",
    "EtaPhiMaxPool",
    "ResNetImage",
    "augment_images",
    "norm_layer",
    "pad_eta_phi",
]

STEMS = ("downsample", "stride2", "full")
NORMS = ("group", "batch")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``"batch"``: batch norm (running statistics in evaluation mode); ``"group"``: group norm
    with groups of (about) 8 channels (per image: training and evaluation compute the same
    function)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(int(channels), max(1, int(channels) // 8)), channels)
    raise ConfigError(f"norm '{kind}' is not one of {list(NORMS)}{suggest(kind, NORMS)}")


def pad_eta_phi(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``x`` (n, C, H, W) padded by ``pad`` on both sides: circularly along phi (axis -1),
    with zeros along eta (axis -2)."""
    if pad == 0:
        return x
    x = torch.cat([x[..., -pad:], x, x[..., :pad]], dim=-1)
    return F.pad(x, (0, 0, pad, pad))


class EtaPhiConv(nn.Module):
    """A ``kernel x kernel`` convolution with 'same' padding: circular in phi, zero in eta."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, *, bias: bool = False
    ) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ConfigError(f"kernel sizes must be odd; got {kernel}")
        self.pad = kernel // 2
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(pad_eta_phi(x, self.pad))
        return out


class EtaPhiMaxPool(nn.Module):
    """A max pool with the same padding (zeros in eta: inputs are >= 0 after a ReLU)."""

    def __init__(self, kernel: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.pad = kernel // 2
        self.pool = nn.MaxPool2d(kernel, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pool(pad_eta_phi(x, self.pad))
        return out


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 eta-phi convolutions with ``norm`` (batch or group norm),
    identity shortcut (a 1x1 convolution with the same norm when the stride or width changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, norm: str = "batch") -> None:
        super().__init__()
        self.conv1 = EtaPhiConv(c_in, c_out, 3, stride)
        self.bn1 = norm_layer(norm, c_out)
        self.conv2 = EtaPhiConv(c_out, c_out, 3, 1)
        self.bn2 = norm_layer(norm, c_out)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), norm_layer(norm, c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.short(x))


def augment_images(x: torch.Tensor, *, flip_eta: bool, roll_phi: bool) -> torch.Tensor:
    """Per image: flip eta -> -eta with probability 1/2, roll phi by a uniform number of
    columns (torch's global RNG)."""
    n, _, h, w = x.shape
    if flip_eta:
        flip = torch.rand(n, device=x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-2), x)
    if roll_phi:
        shift = torch.randint(0, w, (n, 1), device=x.device)
        cols = (torch.arange(w, device=x.device)[None, :] - shift) % w
        x = x.gather(-1, cols[:, None, None, :].expand(n, x.shape[1], h, w))
    return x


class ResNetImage(nn.Module):
    """Images (n, C, H, W) [+ event features (n, n_table)] -> logits (see the module docstring).

    ``forward(images, table)``: images in any float dtype (float16 as stored), computed in
    float32 after a per-channel ``scale`` (a buffer set by the model: ``log1p(x / scale)`` when
    ``log_scale``, else ``x / scale``); ``table`` already scaled, (n, n_table), may have 0 columns.
    """

    scale: torch.Tensor
    sum_center: torch.Tensor
    sum_scale: torch.Tensor

    def __init__(
        self,
        channels: int,
        n_out: int = 1,
        *,
        n_table: int = 0,
        width: int = 16,
        blocks: Sequence[int] = (2, 2, 2, 2),
        stem: str = "downsample",
        head: int = 64,
        dropout: float = 0.0,
        log_scale: bool = True,
        augment: bool = True,
        flip_eta: bool = True,
        roll_phi: bool = True,
        norm: str = "group",
        channel_sums: bool = True,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ConfigError(f"norm '{norm}' is not one of {list(NORMS)}{suggest(norm, NORMS)}")
        if stem not in STEMS:
            raise ConfigError(f"stem '{stem}' is not one of {list(STEMS)}{suggest(stem, STEMS)}")
        depths = [int(b) for b in blocks]
        if not depths or any(b < 1 for b in depths) or int(width) < 1 or int(channels) < 1:
            raise ConfigError(
                f"a CNN needs channels >= 1, width >= 1 and every stage >= 1 block; got "
                f"channels={channels}, width={width}, blocks={list(blocks)}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {dropout}")
        w0 = int(width)
        stem_layers: list[nn.Module] = [
            EtaPhiConv(int(channels), w0, 3, 1 if stem == "full" else 2),
            norm_layer(norm, w0),
            nn.ReLU(),
        ]
        if stem == "downsample":
            stem_layers.append(EtaPhiMaxPool(3, 2))
        self.stem = nn.Sequential(*stem_layers)
        stages: list[nn.Module] = []
        c_in = w0
        for i, depth in enumerate(depths):
            c_out = w0 * 2**i
            for j in range(depth):
                stages.append(BasicBlock(c_in, c_out, 2 if (i > 0 and j == 0) else 1, norm))
                c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.n_table = int(n_table)
        self.n_out = int(n_out)
        self.channel_sums = bool(channel_sums)
        n_sums = int(channels) if self.channel_sums else 0
        self.head = nn.Sequential(
            nn.Linear(c_in + n_sums + self.n_table, int(head)),
            nn.ReLU(),
            nn.Dropout(float(dropout)) if dropout > 0 else nn.Identity(),
            nn.Linear(int(head), self.n_out),
        )
        self.register_buffer("scale", torch.ones(int(channels)))
        # standardisation of the log channel sums (set by the model from the training images)
        self.register_buffer("sum_center", torch.zeros(int(channels)))
        self.register_buffer("sum_scale", torch.ones(int(channels)))
        self.log_scale = bool(log_scale)
        self.augment = bool(augment)
        self.flip_eta = bool(flip_eta)
        self.roll_phi = bool(roll_phi)

    def log_sums(self, images: torch.Tensor) -> torch.Tensor:
        """Per image and channel: ``log1p`` of the summed pixels (in units of ``scale``),
        before standardisation (n, C)."""
        x = images.float() / self.scale[None, :, None, None]
        return torch.log1p(torch.clamp(x, min=0.0).sum(dim=(-2, -1)))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The pooled image features (n, width * 2**(stages - 1)) of raw images, followed by
        the standardised log channel sums when ``channel_sums`` (the total energies a global
        average of log-compressed pixels does not carry)."""
        x = images.float() / self.scale[None, :, None, None]
        if self.log_scale:
            x = torch.log1p(torch.clamp(x, min=0.0))
        if self.training and self.augment:
            x = augment_images(x, flip_eta=self.flip_eta, roll_phi=self.roll_phi)
        h: torch.Tensor = self.stages(self.stem(x)).mean(dim=(-2, -1))
        if self.channel_sums:
            sums = (self.log_sums(images) - self.sum_center) / self.sum_scale
            h = torch.cat([h, sums], dim=1)
        return h

    def forward(self, images: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(images)
        if self.n_table:
            if table is None:
                raise ConfigError(f"this network needs {self.n_table} event features")
            h = torch.cat([h, table.float()], dim=1)
        out: torch.Tensor = self.head(h)
        return out.squeeze(-1) if self.n_out == 1 else out
