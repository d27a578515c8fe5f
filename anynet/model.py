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
channels_last up to the pooled head. `anynet.complexity` counts this module's parameters exactly (pass it
the same num_classes and in_chans).

timm's model conventions (timm/models/regnet.py is the model for them): `in_chans`, `drop_rate` (dropout
before the Linear, off by default, so the defaults are exactly pycls's network), `num_classes=0` for no
Linear, `feature_info`, `forward_features`, `forward_head(x, pre_logits)`, `get_classifier`,
`reset_classifier(num_classes, global_pool)`, `num_features`. `anynet.timm_entry` registers the model.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

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


GLOBAL_POOLS = ("avg", "")  # timm's names: average pooling, or none (the head then returns the map)


class Head(nn.Module):
    """Global average pool, dropout (timm's `drop_rate`, 0 = pycls), Linear with bias.

    `fc` is an `nn.Identity` when num_classes is 0 (timm's headless model); `global_pool=""` skips the pool,
    which only makes sense without a Linear.
    """

    def __init__(self, w_in: int, num_classes: int, drop_rate: float = 0.0, global_pool: str = "avg") -> None:
        super().__init__()
        self.global_pool = global_pool
        # Identity at 0: no dropout call, so torch's RNG stream in training is the same as without the option
        self.drop = nn.Dropout(drop_rate) if drop_rate else nn.Identity()
        self.fc = _classifier(w_in, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool:
            x = x.mean((2, 3))  # (N, C): no view, any memory format
        x = self.drop(x)
        return x if pre_logits else self.fc(x)


class AnyNetX(nn.Module):
    """An AnyNetX network for one `Arch`; children: stem, s1..s4, head. timm's model conventions.

    `in_chans` input channels (3: RGB); `num_classes` 0 leaves no Linear (forward gives pooled features);
    `drop_rate` is dropout before the Linear, as in timm's RegNet; `global_pool` "avg" or "" (none).
    `feature_info` lists the stem and the four stage outputs with their channels and reduction (the strides
    of `arch`: T22's (1, 2, 2, 2) gives 2, 2, 4, 8, 16), for timm's `features_only` wrappers.
    """

    def __init__(
        self,
        arch: Arch,
        num_classes: int = 1000,
        *,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        _check_head_args(num_classes, global_pool, in_chans=in_chans, drop_rate=drop_rate)
        self.arch = arch
        self.num_classes = int(num_classes)
        self.in_chans = int(in_chans)
        self.drop_rate = float(drop_rate)
        self.stem = Stem(self.in_chans, arch.stem_width)
        self.feature_info = [{"num_chs": arch.stem_width, "reduction": 2, "module": "stem"}]
        w_in, reduction = arch.stem_width, 2
        for i, (d, w, b, g, s) in enumerate(arch.stages()):
            self.add_module(f"s{i + 1}", Stage(w_in, w, s, d, b, g, arch.se_ratio))
            w_in, reduction = w, reduction * s
            self.feature_info.append({"num_chs": w, "reduction": reduction, "module": f"s{i + 1}"})
        self.num_features = self.head_hidden_size = w_in
        self.head = Head(w_in, self.num_classes, self.drop_rate, global_pool)
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and stages: the last stage's (N, num_features, H/r, W/r) map."""
        x = self.stem(x)
        return self.s4(self.s3(self.s2(self.s1(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout and Linear on `forward_features`' map; `pre_logits` stops before the Linear."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new pycls-initialised Linear to num_classes (0: none); global_pool None keeps the current one."""
        global_pool = self.head.global_pool if global_pool is None else global_pool
        _check_head_args(num_classes, global_pool)
        self.num_classes = int(num_classes)
        self.head.global_pool = global_pool
        fc = _classifier(self.num_features, self.num_classes)
        fc.apply(_init_weights)
        like = self.stem.conv.weight
        self.head.fc = fc.to(like.device, like.dtype)


def _check_head_args(num_classes: Any, global_pool: Any, *, in_chans: Any = 3, drop_rate: Any = 0.0) -> None:
    """One ValueError naming every bad constructor/`reset_classifier` argument and what is allowed."""
    problems = []
    if isinstance(num_classes, bool) or not hasattr(num_classes, "__index__") or num_classes < 0:
        problems.append(f"num_classes={num_classes!r} must be an integer >= 0 (0: no classifier)")
    if isinstance(in_chans, bool) or not hasattr(in_chans, "__index__") or in_chans < 1:
        problems.append(f"in_chans={in_chans!r} must be a positive integer (3 for RGB)")
    if isinstance(drop_rate, bool) or not isinstance(drop_rate, numbers.Real) or not 0 <= drop_rate < 1:
        problems.append(f"drop_rate={drop_rate!r} must be a number in [0, 1)")
    if global_pool not in GLOBAL_POOLS:
        problems.append(f"global_pool={global_pool!r} is not one of the allowed {list(GLOBAL_POOLS)}")
    elif global_pool == "" and not problems and num_classes:
        problems.append(f"global_pool='' (no pooling) needs num_classes=0, got {num_classes}")
    if problems:
        raise ValueError("; ".join(problems))


def _classifier(w_in: int, num_classes: int) -> nn.Module:
    """The head's Linear with bias (initialised by the caller), or Identity for num_classes=0."""
    return nn.Linear(w_in, num_classes, bias=True) if num_classes else nn.Identity()


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


def build_model(arch: Arch, num_classes: int, **kwargs: Any) -> AnyNetX:
    """The torch module of `arch` with a `num_classes`-way head, pycls-initialised (uses torch's RNG).

    kwargs are `AnyNetX`'s keyword-only options: in_chans, drop_rate, global_pool.
    """
    if not isinstance(arch, Arch):
        raise TypeError(f"build_model needs an anynet.Arch, got {type(arch).__name__}")
    return AnyNetX(arch, num_classes, **kwargs)
