"""Vectorised, seeded sampling of AnyNetX architectures inside a flops band (R20 §3.2, T22 §3).

Each draw picks, per stage, independently and log-uniformly over the closed integer ranges:
d ∈ {1..16}, w ∈ {8, 16, .., 1024}, g ∈ {1..32}, and b ∈ {1, 2, 4} (uniform over the exponent, which is
log-uniform over the three values). An integer range [lo, hi] with step q is drawn exactly as pycls's
sweep sampler `log_uniform(lo, hi, q)` (pycls/sweep/random.py): x = exp(-U(-log hi, -log(lo - q*))) with
q* = min(q, lo / 2), rounded UP to a multiple of q. So x lies in (lo - q*, hi] and value k·q gets the mass
of ((k - 1)·q, k·q] on the log scale; the lowest value lo gets (lo - q*, lo]. With lo = q, as in all three
ranges here, lo - q would be 0 (log 0 = -inf), so pycls shortens the lowest cell to (lo/2, lo]: one factor
of 2 on the log scale. P(d = 1) = log 2 / log 32, P(d = k) = log(k / (k - 1)) / log 32 for k ≥ 2.
Widths are then made group-compatible (`adjust_compatibility_arrays`), complexity is counted on the
adjusted network at 224×224 with 1000 classes (`complexity_arrays`), and a draw is kept when
lo ≤ flops ≤ hi, all adjusted widths are ≤ 1024 (the adjustment can round a width near 1024 up past it,
out of the space) and its adjusted architecture was not kept before. Draws are processed in order, so the
first n kept are the sample.

History: before this rule, ranges were drawn as exp(U(log lo, log(hi + q))) rounded DOWN, which gives
small values more mass than pycls does (P(d = 1) = log 2 / log 17, not log 2 / log 32); in the T22 band
(seed 0, 500 architectures) mean Σw went from 426 to 410 and mean Σd from 19.3 to 18.7. Architectures
sampled with the same seed before and after the change therefore differ; run keys hash the architecture,
so results of the two rules are never mixed.

Reproducibility: each batch takes one (batch, 16) block of uniforms from `np.random.default_rng(seed)`;
the generator fills blocks row by row from one stream, so the result depends on the seed only, not on
`batch`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from anynet import arch as space
from anynet.adjust import adjust_compatibility_arrays
from anynet.arch import (
    BOTTLENECK_RATIOS,
    MAX_DEPTH,
    MAX_GROUP_WIDTH,
    MAX_WIDTH,
    NUM_STAGES,
    T22_STRIDES,
    Arch,
)
from anynet.complexity import complexity_arrays

BAND_IM_SIZE = 224  # the band is counted at ImageNet resolution with a 1000-class head, whatever the task
BAND_NUM_CLASSES = 1000
DEFAULT_MAX_DRAWS = 50_000_000
# Bumped whenever the same (n, seed, band, strides) would give other architectures; recorded with every
# sample (architectures.parquet), so a study never mixes two samplers' draws. 2: pycls's log-uniform rule.
SAMPLER_VERSION = 2


@dataclasses.dataclass(frozen=True)
class Sample:
    """n sampled architectures as (n, 4) int64 arrays plus their complexity, and how they were found."""

    depths: np.ndarray
    widths: np.ndarray
    bottleneck_ratios: np.ndarray
    group_widths: np.ndarray
    strides: tuple[int, ...]
    flops: np.ndarray
    params: np.ndarray
    acts: np.ndarray
    draws: int  # raw draws made
    in_band: int  # draws whose adjusted network was in the space and in the flops band
    accepted: int  # kept: the first n distinct in-band architectures

    def __len__(self) -> int:
        return self.accepted

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.draws if self.draws else 0.0

    def archs(self) -> list[Arch]:
        """The sample as validated `Arch` objects."""
        rows = zip(self.depths, self.widths, self.bottleneck_ratios, self.group_widths, strict=True)
        return [Arch(d, w, b, g, strides=self.strides) for d, w, b, g in rows]


def draw_archs(uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw (unadjusted) depths, widths, bottleneck ratios, group widths from uniforms of shape (N, 16)."""
    u = np.asarray(uniforms, dtype=np.float64).reshape(-1, 4, NUM_STAGES)
    depths = _log_uniform_int(u[:, 0], 1, MAX_DEPTH, 1)
    widths = _log_uniform_int(u[:, 1], space.WIDTH_QUANTUM, MAX_WIDTH, space.WIDTH_QUANTUM)
    exponents = np.minimum((u[:, 2] * len(BOTTLENECK_RATIOS)).astype(np.int64), len(BOTTLENECK_RATIOS) - 1)
    bottleneck_ratios = np.asarray(BOTTLENECK_RATIOS, dtype=np.int64)[exponents]
    group_widths = _log_uniform_int(u[:, 3], 1, MAX_GROUP_WIDTH, 1)
    return depths, widths, bottleneck_ratios, group_widths


def _log_uniform_int(u: np.ndarray, lo: int, hi: int, q: int) -> np.ndarray:
    """pycls's `log_uniform(lo, hi, q)` driven by u ~ U[0, 1): multiples of q in [lo, hi] (module docstring).

    The arithmetic is numpy's `uniform(a, b)` = a + (b - a)·u on a = -log hi, b = -log(lo - q*), so the same
    uniforms give the same values as pycls's own call.
    """
    a, b = -np.log(hi), -np.log(lo - min(q, lo / 2))
    x = np.exp(-(a + (b - a) * u))
    return np.clip(np.ceil(x / q).astype(np.int64) * q, lo, hi)  # clip: exp/log rounding at hi


def sample_archs(
    n: int,
    seed: int,
    flops_range: tuple[float, float] = (360e6, 400e6),
    strides: tuple[int, ...] = T22_STRIDES,
    im_size: int = BAND_IM_SIZE,
    num_classes: int = BAND_NUM_CLASSES,
    batch: int = 8192,
    max_draws: int = DEFAULT_MAX_DRAWS,
) -> Sample:
    """The first n distinct adjusted architectures whose flops (at im_size, num_classes) lie in flops_range.

    Raises `ValueError` for bad arguments and `RuntimeError` when max_draws draws do not give n.
    """
    lo, hi = _check_args(n, seed, flops_range, strides, batch, max_draws)
    f_min, f_max = flops_bounds(strides, im_size, num_classes)
    if hi < f_min or lo > f_max:
        raise ValueError(
            f"no architecture has flops in [{lo / 1e6:g}, {hi / 1e6:g}] MF: with strides {tuple(strides)} "
            f"at {im_size}×{im_size} and {num_classes} classes the space spans "
            f"{f_min / 1e6:g}..{f_max / 1e6:g} MF"
        )
    rng = np.random.default_rng(seed)
    seen: set[bytes] = set()
    kept: list[np.ndarray] = []  # rows of 16 ints: d1..d4, w1..w4, b1..b4, g1..g4
    kept_cx: list[np.ndarray] = []  # rows of 3 ints: flops, params, acts
    draws = in_band = 0
    while len(kept) < n:
        if draws >= max_draws:
            raise RuntimeError(
                f"only {len(kept)} of {n} architectures found in {draws:,} draws for flops in "
                f"[{lo:,}, {hi:,}] with strides {tuple(strides)}; widen the band or lower n"
            )
        size = min(batch, max_draws - draws)
        d, w, b, g = draw_archs(rng.random((size, 4 * NUM_STAGES)))
        w, g = adjust_compatibility_arrays(w, b, g)
        cx = complexity_arrays(d, w, b, g, strides=strides, im_size=im_size, num_classes=num_classes)
        ok = (cx["flops"] >= lo) & (cx["flops"] <= hi) & (w.max(axis=1) <= MAX_WIDTH)
        rows = np.concatenate([d, w, b, g], axis=1)[ok]
        cx_rows = np.stack([cx["flops"], cx["params"], cx["acts"]], axis=1)[ok]
        positions = np.flatnonzero(ok)
        for row, cx_row, position in zip(rows, cx_rows, positions, strict=True):
            key = row.tobytes()
            if key in seen:
                continue
            seen.add(key)
            kept.append(row)
            kept_cx.append(cx_row)
            if len(kept) == n:
                # count only the draws up to the one that completed the sample
                in_band += int(np.searchsorted(positions, position, side="right"))
                draws += int(position) + 1
                break
        else:
            in_band += len(positions)
            draws += size
    table = np.asarray(kept, dtype=np.int64).reshape(n, 4, NUM_STAGES)
    cx_table = np.asarray(kept_cx, dtype=np.int64).reshape(n, 3)
    return Sample(
        depths=table[:, 0],
        widths=table[:, 1],
        bottleneck_ratios=table[:, 2],
        group_widths=table[:, 3],
        strides=tuple(int(s) for s in strides),
        flops=cx_table[:, 0],
        params=cx_table[:, 1],
        acts=cx_table[:, 2],
        draws=draws,
        in_band=in_band,
        accepted=n,
    )


def flops_bounds(
    strides: tuple[int, ...] = T22_STRIDES, im_size: int = BAND_IM_SIZE, num_classes: int = BAND_NUM_CLASSES
) -> tuple[int, int]:
    """The fewest and the most flops of any architecture in the space (before the band)."""
    # flops grow with d, w and g and fall with b, so the extremes are the corners of the space
    ones = np.ones((1, NUM_STAGES), dtype=np.int64)
    smallest = complexity_arrays(
        ones,
        ones * space.WIDTH_QUANTUM,
        ones * max(BOTTLENECK_RATIOS),
        ones,
        strides=strides,
        im_size=im_size,
        num_classes=num_classes,
    )
    largest = complexity_arrays(
        ones * MAX_DEPTH,
        ones * MAX_WIDTH,
        ones * min(BOTTLENECK_RATIOS),
        ones * MAX_GROUP_WIDTH,
        strides=strides,
        im_size=im_size,
        num_classes=num_classes,
    )
    return int(smallest["flops"][0]), int(largest["flops"][0])


def space_problems(flops_range: Any, strides: Any, *, unit: str = "flops") -> list[str]:
    """Why a flops band and stage strides cannot define a sampling space (empty when they can): the band
    needs two finite numbers with 0 <= lo < hi, the strides one value per stage, each 1 or 2. The one
    definition of these rules: the sampler, `pipeline.sample` and the study loader all call it."""
    problems = []
    try:
        lo, hi = (float(x) for x in flops_range)
    except (TypeError, ValueError):
        problems.append(f"flops band {flops_range!r} must be two numbers [lo, hi] in {unit}")
    else:
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
            problems.append(f"flops band [{lo:g}, {hi:g}] must be finite with 0 <= lo < hi (in {unit})")
    try:
        strides = tuple(strides)
    except TypeError:
        strides = (strides,)
    if len(strides) != NUM_STAGES or any(s not in (1, 2) for s in strides):
        problems.append(f"strides {list(strides)} must be {NUM_STAGES} values, each 1 or 2")
    return problems


def _check_args(n, seed, flops_range, strides, batch, max_draws) -> tuple[int, int]:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        problems.append(f"n={n!r} must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(f"seed={seed!r} must be a non-negative integer")
    problems += space_problems(flops_range, strides)
    if batch < 1 or max_draws < 1:
        problems.append(f"batch={batch} and max_draws={max_draws} must be positive")
    if problems:
        raise ValueError("; ".join(problems))
    lo, hi = (float(x) for x in flops_range)
    return int(np.ceil(lo)), int(np.floor(hi))
