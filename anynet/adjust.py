"""Group compatibility: move each stage's width so that its group width divides its bottleneck width.

Origin: pycls 0.1.1 `regnet.adjust_ws_gs_comp(ws, bms, gs)` with bottleneck multiplier bm = 1/b, which
T22 applies to every drawn AnyNetX architecture before counting its complexity. Per stage:

    w_b = int(w / b);  g = min(g, w_b);  w_b = round(w_b / g) · g;  w = w_b · b

`round` is Python's (half to even), as in pycls; numpy's `np.round` is the same rule, so the vectorised
version gives identical integers. With b ∈ {1, 2, 4}, `int(w · (1/b))` is exact floor division and
`int(w_b / (1/b))` is exactly `w_b · b`. Example: w=72, b=4, g=17 → w_b=18 → round(18/17)·17=17 → w=68.
One change: pycls divides by zero when w < b; here w_b is at least 1 (drawn widths are ≥ 8, so the
sampler never meets this case).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def adjust_compatibility(
    widths: Sequence[int], bottleneck_ratios: Sequence[int], group_widths: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Adjusted (widths, group_widths) so that g_i divides w_i / b_i, per stage (pycls 0.1.1 rule)."""
    if not len(widths) == len(bottleneck_ratios) == len(group_widths):
        raise ValueError(
            f"widths, bottleneck_ratios and group_widths differ in length: "
            f"{len(widths)}, {len(bottleneck_ratios)}, {len(group_widths)}"
        )
    new_widths, new_groups = [], []
    for w, b, g in zip(widths, bottleneck_ratios, group_widths, strict=True):
        if w < 1 or b < 1 or g < 1:
            raise ValueError(f"width {w}, bottleneck ratio {b} and group width {g} must all be >= 1")
        w_b = max(w // b, 1)
        g = min(g, w_b)
        w_b = round(w_b / g) * g
        new_widths.append(w_b * b)
        new_groups.append(g)
    return tuple(new_widths), tuple(new_groups)


def adjust_compatibility_arrays(
    widths: np.ndarray, bottleneck_ratios: np.ndarray, group_widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`adjust_compatibility` over int arrays of any (equal) shape, e.g. (N, 4); returns int64 arrays."""
    w = np.asarray(widths, dtype=np.int64)
    b = np.asarray(bottleneck_ratios, dtype=np.int64)
    g = np.asarray(group_widths, dtype=np.int64)
    w_b = np.maximum(w // b, 1)
    g = np.minimum(g, w_b)
    w_b = np.round(w_b / g).astype(np.int64) * g
    return w_b * b, g
