"""Study planner: how many architectures a Spearman ρ needs for a CI of a given width (issue 13).

The CI is the Fisher-z interval with the Bonett & Wright (2000) variance for Spearman's ρ:
    z = atanh ρ,  se = sqrt((1 + ρ²/2)/(n − 3)),  CI = [tanh(z − c·se), tanh(z + c·se)],  c = Φ⁻¹((1 + γ)/2),
so its total width W(ρ, n) = tanh(z + c·se) − tanh(z − c·se) falls monotonically in n; `required_n` is the
smallest integer n ≥ 4 with W(ρ, n) ≤ the wanted width. Seed noise: with single-run reliability r (the
geometric mean of the two tasks'), the study observes the attenuated ρ·r, and a CI of width W for the
corrected ρ = observed/r needs width W·r on the observed scale; the plan treats r as known, so it is a
lower bound (the reliability's own sampling error widens the corrected CI further). `simulate_ci_width`
checks the formula by drawing bivariate normal samples whose population Spearman ρ is the one asked for
(Pearson r = 2·sin(π·ρ/6), Pearson 1907).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from analysis.errors import AnalysisError

MIN_N = 4  # the Fisher-z variance needs n − 3 > 0
CELLS_PER_BLOCK = 4_000_000  # draws×n ranks per simulation block (~32 MB)


def _check(rho: float, confidence: float, reliability: float | None) -> float:
    """Validate the common arguments; return the reliability as a float (1 when None)."""
    problems = []
    if not -1 < rho < 1:
        problems.append(f"rho must lie strictly between -1 and 1, got {rho}")
    if not 0 < confidence < 1:
        problems.append(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), got {confidence}")
    r = 1.0 if reliability is None else float(reliability)
    if not 0 < r <= 1:
        problems.append(f"reliability must lie in (0, 1] (a seed-to-seed ρ), got {reliability}")
    if problems:
        raise AnalysisError("; ".join(problems))
    return r


def _width(rho: float, n: float, confidence: float) -> float:
    """Total width of the Bonett–Wright Fisher-z CI of an observed Spearman ρ from n architectures."""
    se = math.sqrt((1 + rho**2 / 2) / (n - 3))
    c = stats.norm.ppf(0.5 + confidence / 2)
    z = math.atanh(rho)
    return math.tanh(z + c * se) - math.tanh(z - c * se)


def ci_width(rho: float, n: int, confidence: float = 0.95, *, reliability: float | None = None) -> float:
    """Width of the CI of ρ from n architectures (module doc); with `reliability` r, of the corrected ρ:
    W(ρ·r, n)/r. The inverse of `required_n`."""
    r = _check(rho, confidence, reliability)
    if n < MIN_N:
        raise AnalysisError(f"n must be at least {MIN_N} architectures for a Fisher-z interval, got {n}")
    return _width(rho * r, n, confidence) / r


def required_n(
    rho: float, ci_width: float, *, confidence: float = 0.95, reliability: float | None = None
) -> int:
    """Smallest number of architectures whose CI of ρ has total width ≤ `ci_width` (module doc); with
    `reliability` r, for the corrected ρ: the observed ρ·r needs width `ci_width`·r."""
    r = _check(rho, confidence, reliability)
    if not 0 < ci_width < 2:
        raise AnalysisError(
            f"ci_width must lie strictly between 0 and 2 (a total width in ρ), got {ci_width}"
        )
    observed, wanted = rho * r, ci_width * r
    if _width(observed, MIN_N, confidence) <= wanted:
        return MIN_N
    low, high = MIN_N, 2 * MIN_N  # invariant: width(low) > wanted; grow high until width(high) ≤ wanted
    while _width(observed, high, confidence) > wanted:
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if _width(observed, mid, confidence) <= wanted else (mid, high)
    return high


def needed_for_halfwidth(
    rho: float, halfwidth: float = 0.05, *, confidence: float = 0.95, reliability: float | None = None
) -> int:
    """Architectures that would give a CI of ρ ± `halfwidth` (total width 2·halfwidth; the interval is
    asymmetric around ρ, so this is its mean half-width)."""
    return required_n(rho, 2 * halfwidth, confidence=confidence, reliability=reliability)


def simulate_ci_width(
    rho: float, n: int, draws: int = 2000, seed: int = 0, *, confidence: float = 0.95
) -> float:
    """Empirical width of the central `confidence` interval of the sample Spearman ρ over `draws` samples
    of n pairs from a bivariate normal with population Spearman ρ (Pearson r = 2·sin(π·ρ/6))."""
    _check(rho, confidence, None)
    if n < MIN_N or draws < 2:
        raise AnalysisError(f"need n ≥ {MIN_N} and draws ≥ 2, got n = {n}, draws = {draws}")
    r = 2 * math.sin(math.pi * rho / 6)
    rng = np.random.default_rng(seed)
    sample, block = [], max(1, CELLS_PER_BLOCK // n)
    for start in range(0, draws, block):
        size = min(block, draws - start)
        x = rng.standard_normal((size, n))
        y = r * x + math.sqrt(1 - r**2) * rng.standard_normal((size, n))
        sample.append(_spearman_rows(x, y))
    low, high = np.quantile(np.concatenate(sample), [0.5 - confidence / 2, 0.5 + confidence / 2])
    return float(high - low)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row pair of continuous data (no ties): 1 − 6·Σd²/(n(n² − 1))."""
    n = x.shape[1]
    d = x.argsort(axis=1).argsort(axis=1) - y.argsort(axis=1).argsort(axis=1)
    return 1 - 6 * (d.astype(float) ** 2).sum(axis=1) / (n * (n**2 - 1))
