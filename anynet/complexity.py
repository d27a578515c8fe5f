"""Exact analytic complexity of an AnyNetX network: flops, params, acts, without building it.

Conventions are pycls 0.1.1's (`pycls.core.net.complexity_*`), which T22's 360-400 MF band is stated in:
- flops: multiply-accumulates of every conv and linear layer, plus one per output channel for a bias
  (the head's Linear and the SE convs); BN, ReLU, pooling and the residual add cost nothing;
  a grouped k×k conv costs k·k·c_in·c_out·h·w // groups.
- params: conv/linear weights and biases, plus 2 per BN channel (γ, β), i.e. the model's trainable
  parameters; BN running statistics are buffers, not counted.
- acts: output elements (c·h·w) of every conv and linear layer.
- spatial size after a conv: h = (h + 2p - k) // s + 1 (3×3 convs pad 1, 1×1 convs pad 0, so both give
  (h - 1) // s + 1 and the projection shortcut stays aligned with the residual branch).

Beyond pycls: `in_chans` (input channels, 3 in pycls) only changes the stem conv, and num_classes=0 counts
the network without its Linear, as `anynet.model` builds it for timm's headless models.

Two implementations that must agree, integer for integer: `complexity` walks one `Arch` layer by layer,
in the order `anynet.model` builds it; `complexity_arrays` sums closed forms per stage (the first block,
then d - 1 identical blocks) over many architectures at once, for the sampler. Both are checked against
pycls's own counter and the published reference table in tests/anynet/test_complexity.py.
"""

from __future__ import annotations

import numpy as np

from anynet.arch import Arch

_KEYS = ("flops", "params", "acts")


class _Tally:
    """Running (h, flops, params, acts) of a square feature map passing through the network."""

    def __init__(self, im_size: int) -> None:
        self.h = im_size
        self.flops = self.params = self.acts = 0

    def conv(self, c_in: int, c_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False):
        pad = (k - 1) // 2
        self.h = (self.h + 2 * pad - k) // stride + 1
        self.flops += k * k * c_in * c_out * self.h * self.h // groups + (c_out if bias else 0)
        self.params += k * k * c_in * c_out // groups + (c_out if bias else 0)
        self.acts += c_out * self.h * self.h

    def bn(self, channels: int) -> None:
        self.params += 2 * channels

    def pooled_conv(self, c_in: int, c_out: int) -> None:
        """A 1×1 conv with bias on a globally pooled (1×1) map: SE convs and the head's Linear."""
        h, self.h = self.h, 1
        self.conv(c_in, c_out, 1, bias=True)
        self.h = h


def complexity(arch: Arch, im_size: int = 224, num_classes: int = 1000, in_chans: int = 3) -> dict[str, int]:
    """{"flops", "params", "acts"} of `arch` at im_size×im_size input, num_classes outputs (pycls rules).

    num_classes=0 counts the network without its Linear (timm's convention for a headless model);
    in_chans is the input's channel count (3 for RGB), which only the stem conv sees.
    """
    _check_sizes(im_size, num_classes, in_chans)
    cx = _Tally(im_size)
    cx.conv(in_chans, arch.stem_width, 3, stride=2)
    cx.bn(arch.stem_width)
    w_in = arch.stem_width
    for d, w_out, b, g, s in arch.stages():
        for i in range(d):
            _block(cx, w_in, w_out, s if i == 0 else 1, b, g, arch.se_ratio)
            w_in = w_out
    h = cx.h
    cx.pooled_conv(w_in, num_classes)  # the head: average pool, then Linear (as a 1×1 conv on 1×1)
    cx.h = h
    return {key: int(getattr(cx, key)) for key in _KEYS}


def _block(cx: _Tally, w_in: int, w_out: int, stride: int, b: int, g: int, se_ratio: float) -> None:
    """One X block: [projection shortcut], 1×1 → 3×3 group conv (stride) → [SE] → 1×1, BN after each conv."""
    if w_in != w_out or stride != 1:
        h = cx.h
        cx.conv(w_in, w_out, 1, stride=stride)
        cx.bn(w_out)
        cx.h = h  # the shortcut runs beside the residual branch, from the same input
    w_b = w_out // b
    cx.conv(w_in, w_b, 1)
    cx.bn(w_b)
    cx.conv(w_b, w_b, 3, stride=stride, groups=w_b // g)
    cx.bn(w_b)
    if se_ratio:
        w_se = round(w_in * se_ratio)
        cx.pooled_conv(w_b, w_se)
        cx.pooled_conv(w_se, w_b)
    cx.conv(w_b, w_out, 1)
    cx.bn(w_out)


def complexity_arrays(
    depths: np.ndarray,
    widths: np.ndarray,
    bottleneck_ratios: np.ndarray,
    group_widths: np.ndarray,
    *,
    strides: np.ndarray | tuple[int, ...] = (1, 2, 2, 2),
    stem_width: int = 32,
    se_ratio: float = 0.0,
    im_size: int = 224,
    num_classes: int = 1000,
    in_chans: int = 3,
) -> dict[str, np.ndarray]:
    """`complexity` of N architectures at once: (N, 4) int arrays in, int64 arrays of shape (N,) out.

    `strides` is one (4,) tuple for all or an (N, 4) array. Inputs must be in the space and
    group-compatible (as `adjust_compatibility_arrays` leaves them); nothing is validated here.
    """
    _check_sizes(im_size, num_classes, in_chans)
    D, W, B, G = (np.asarray(x, dtype=np.int64) for x in (depths, widths, bottleneck_ratios, group_widths))
    S = np.broadcast_to(np.asarray(strides, dtype=np.int64), D.shape)
    n = D.shape[0]
    h = np.full(n, (im_size - 1) // 2 + 1, dtype=np.int64)  # after the 3×3 stride-2 stem
    flops = 9 * in_chans * stem_width * h * h
    params = np.full(n, 9 * in_chans * stem_width + 2 * stem_width, dtype=np.int64)
    acts = stem_width * h * h
    w_in = np.full(n, stem_width, dtype=np.int64)
    for i in range(D.shape[1]):
        d, w, s = D[:, i], W[:, i], S[:, i]
        w_b = w // B[:, i]
        groups = w_b // G[:, i]
        h_in, h = h, (h - 1) // s + 1
        # first block: 1×1 on the input size, 3×3 group conv with stride, 1×1; maybe a projection
        f1, p1, a1 = _x_block_arrays(w_in, w, w_b, groups, h_in, h, se_ratio)
        proj = (w_in != w) | (s != 1)
        f1 += proj * (w_in * w * h * h)
        p1 += proj * (w_in * w + 2 * w)
        a1 += proj * (w * h * h)
        # the other d - 1 blocks: w → w at stride 1, no projection
        fr, pr, ar = _x_block_arrays(w, w, w_b, groups, h, h, se_ratio)
        flops += f1 + (d - 1) * fr
        params += p1 + (d - 1) * pr
        acts += a1 + (d - 1) * ar
        w_in = w
    flops += w_in * num_classes + num_classes
    params += w_in * num_classes + num_classes
    acts += num_classes
    return {"flops": flops, "params": params, "acts": acts}


def _x_block_arrays(w_in, w_out, w_b, groups, h_in, h_out, se_ratio):
    """flops, params, acts of an X block's residual branch (no shortcut), elementwise over arrays."""
    flops = w_in * w_b * h_in * h_in + 9 * w_b * w_b * h_out * h_out // groups + w_b * w_out * h_out * h_out
    params = w_in * w_b + 9 * w_b * w_b // groups + w_b * w_out + 2 * (w_b + w_b + w_out)
    acts = w_b * h_in * h_in + w_b * h_out * h_out + w_out * h_out * h_out
    if se_ratio:
        w_se = np.round(w_in * se_ratio).astype(np.int64)
        se = 2 * w_b * w_se + w_se + w_b  # two 1×1 convs with bias on the pooled map
        flops = flops + se
        params = params + se
        acts = acts + w_se + w_b
    return flops, params, acts


def _check_sizes(im_size: int, num_classes: int, in_chans: int) -> None:
    if not im_size >= 1 or not num_classes >= 0 or not in_chans >= 1:
        raise ValueError(
            f"im_size={im_size}, num_classes={num_classes}, in_chans={in_chans}: im_size and in_chans must "
            "be >= 1, num_classes >= 0 (0: no classifier)"
        )
