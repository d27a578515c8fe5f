"""The AnyNetX network as a torch module, equivalent to pycls 0.1.1's `AnyNet` with X blocks.

Stem: 3×3 conv (stride 2) + BN + ReLU. Four stages of X blocks: 1×1 conv to w_b = w/b, 3×3 group conv
(group width g, the stage's stride on its first block), optional SE, 1×1 conv to w; BN after each conv,
ReLU after the first two and after the residual sum; a 1×1 conv + BN projection shortcut when the width
or the stride changes. Head: global average pool + Linear with bias.

Initialisation is pycls's: conv weights N(0, sqrt(2 / fan_out)) with fan_out = k·k·out_channels (groups
ignored, as pycls does), BN γ = 1 and β = 0, Linear N(0, 0.01) with zero bias. pycls's optional zeroing of
each block's last BN γ (cfg.BN.ZERO_INIT_FINAL_GAMMA) is off by default and off here; conv biases (SE only)
keep torch's default init, as in pycls. BN uses eps 1e-5 and momentum 0.1 (pycls defaults).

Changes from pycls: module names are spelled out (`stem.conv`, `s1.b1.conv_a`, `s1.b1.proj_conv`,
`head.fc`); there is no global config; the forward pass uses no `view`, so channels_last inputs stay
channels_last up to the pooled head. `anynet.complexity` counts this module's parameters exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from anynet.arch import Arch

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class Stem(nn.Module):
    """3×3 conv, stride 2, + BN + ReLU."""

    def __init__(self, w_in: int, w_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(w_in, w_out, 3, stride=2, padding=1, bias=False)
        self.bn = _bn(w_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """RegNetY's SE: global average pool, 1×1 conv to w_se, ReLU, 1×1 conv back, sigmoid gate."""

    def __init__(self, channels: int, w_se: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, w_se, 1, bias=True)
        self.expand = nn.Conv2d(w_se, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean((2, 3), keepdim=True)
        gate = torch.sigmoid(self.expand(torch.relu(self.reduce(gate))))
        return x * gate


class XBlock(nn.Module):
    """Residual bottleneck block with a group conv: relu(shortcut(x) + conv_c(conv_b(conv_a(x))))."""

    def __init__(self, w_in: int, w_out: int, stride: int, b: int, g: int, se_ratio: float) -> None:
        super().__init__()
        w_b = w_out // b
        self.conv_a = nn.Conv2d(w_in, w_b, 1, bias=False)
        self.bn_a = _bn(w_b)
        self.relu_a = nn.ReLU(inplace=True)
        self.conv_b = nn.Conv2d(w_b, w_b, 3, stride=stride, padding=1, groups=w_b // g, bias=False)
        self.bn_b = _bn(w_b)
        self.relu_b = nn.ReLU(inplace=True)
        # SE width from the block's *input* width, as pycls/RegNetY
        self.se = SqueezeExcite(w_b, round(w_in * se_ratio)) if se_ratio else None
        self.conv_c = nn.Conv2d(w_b, w_out, 1, bias=False)
        self.bn_c = _bn(w_out)
        self.has_proj = w_in != w_out or stride != 1
        if self.has_proj:
            self.proj_conv = nn.Conv2d(w_in, w_out, 1, stride=stride, bias=False)
            self.proj_bn = _bn(w_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.proj_bn(self.proj_conv(x)) if self.has_proj else x
        y = self.relu_a(self.bn_a(self.conv_a(x)))
        y = self.relu_b(self.bn_b(self.conv_b(y)))
        if self.se is not None:
            y = self.se(y)
        y = self.bn_c(self.conv_c(y))
        return self.relu(y + shortcut)


class Stage(nn.Sequential):
    """d X blocks named b1..bd; the first changes width and applies the stride."""

    def __init__(self, w_in: int, w_out: int, stride: int, d: int, b: int, g: int, se_ratio: float) -> None:
        super().__init__()
        for i in range(d):
            block = XBlock(w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, b, g, se_ratio)
            self.add_module(f"b{i + 1}", block)


class Head(nn.Module):
    """Global average pool + Linear with bias."""

    def __init__(self, w_in: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(w_in, num_classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean((2, 3)))  # (N, C): no view, any memory format


class AnyNetX(nn.Module):
    """An AnyNetX network for one `Arch` and a class count; children: stem, s1..s4, head."""

    def __init__(self, arch: Arch, num_classes: int) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not hasattr(num_classes, "__index__") or num_classes < 1:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        num_classes = int(num_classes)
        self.arch = arch
        self.num_classes = num_classes
        self.stem = Stem(3, arch.stem_width)
        w_in = arch.stem_width
        for i, (d, w, b, g, s) in enumerate(arch.stages()):
            self.add_module(f"s{i + 1}", Stage(w_in, w, s, d, b, g, arch.se_ratio))
            w_in = w
        self.head = Head(w_in, num_classes)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x


def _init_weights(module: nn.Module) -> None:
    """pycls initialisation (see the module docstring)."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        nn.init.normal_(module.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.01)
        nn.init.zeros_(module.bias)


def build_model(arch: Arch, num_classes: int) -> AnyNetX:
    """The torch module of `arch` with a `num_classes`-way head, pycls-initialised (uses torch's RNG)."""
    if not isinstance(arch, Arch):
        raise TypeError(f"build_model needs an anynet.Arch, got {type(arch).__name__}")
    return AnyNetX(arch, num_classes)
