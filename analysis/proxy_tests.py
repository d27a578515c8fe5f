"""Is one proxy better than another for a target? Differences of two ρ that share the target (issue 13).

ρ(target, a) and ρ(target, b) are measured on the same architectures, so they are dependent: their
difference has its own sampling error, smaller than two separate CIs suggest when a and b agree with each
other. Three answers, one row per (target, pair of candidate sources):
- a paired percentile bootstrap of ρ_a − ρ_b over the architectures having all three tasks (both ρ from the
  same resamples, analysis/correlation.py's shared-resample counts);
- Williams' t (Williams 1959), the test Steiger (1980) recommends for two correlations sharing a variable;
- Zou's (2007) interval for the difference of two overlapping correlations, built from each ρ's own CI.
The two formulas are for Pearson r; applied to Spearman ρ (the usual approximation) they are slightly
liberal, because ρ's Fisher-z variance exceeds 1/(n − 3). Bonett & Wright (2000) give it as
(1 + ρ²/2)/(n − 3); with `spearman=True` both formulas use that inflation (Williams' t divided by
sqrt(1 + ρ̄²/2), ρ̄ the mean of the two compared ρ; each of Zou's single CIs with the Bonett–Wright
variance). tests/analysis/test_proxy_tests.py checks the formulas against published examples and the
size of the Spearman variant by simulation (≈ 5 %, where the plain formula gives up to 7 %).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.correlation import percentile_ci, resample_counts
from analysis.errors import AnalysisError
from analysis.reliability import blocks, check_bootstrap, spearman_draws, typed_frame

METHOD = "williams_t+zou_ci (Spearman, Bonett-Wright variance)"
DIFFERENCE_COLUMNS = {
    "target": "object",
    "proxy_a": "object",
    "proxy_b": "object",
    "rho_a": "float64",
    "rho_b": "float64",
    "rho_ab": "float64",
    "delta": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "n": "int64",
    "t_statistic": "float64",
    "p_value": "float64",
    "zou_ci_low": "float64",
    "zou_ci_high": "float64",
    "method": "object",
}
MIN_TEST_ARCHS = 4  # Williams' t has n − 3 degrees of freedom


def _inflation(rho: np.ndarray, spearman: bool) -> np.ndarray:
    """Fisher-z variance of a correlation in units of 1/(n − 3): 1 (Pearson), 1 + ρ²/2 (Spearman, B&W)."""
    return 1 + rho**2 / 2 if spearman else np.ones_like(rho)


def williams_t(r_jk, r_jh, r_kh, n, *, spearman: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Williams' t for H0: ρ_jk = ρ_jh (Steiger 1980, eq. 7) and its two-sided p (t with n − 3 df):

        t = (r_jk − r_jh)·sqrt( (n − 1)(1 + r_kh) / (2·(n − 1)/(n − 3)·|R| + r̄²·(1 − r_kh)³) ),
        |R| = 1 − r_jk² − r_jh² − r_kh² + 2·r_jk·r_jh·r_kh,  r̄ = (r_jk + r_jh)/2.

    `spearman=True` divides t by sqrt(1 + r̄²/2) (module doc). Arrays broadcast; NaN where n < 4."""
    r_jk, r_jh, r_kh, n = (np.asarray(v, dtype=float) for v in (r_jk, r_jh, r_kh, n))
    det = 1 - r_jk**2 - r_jh**2 - r_kh**2 + 2 * r_jk * r_jh * r_kh
    mean = (r_jk + r_jh) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = 2 * (n - 1) / (n - 3) * det + mean**2 * (1 - r_kh) ** 3
        t = (r_jk - r_jh) * np.sqrt((n - 1) * (1 + r_kh) / denominator) / np.sqrt(_inflation(mean, spearman))
        t = np.where(n >= MIN_TEST_ARCHS, t, np.nan)
        p = 2 * stats.t.sf(np.abs(t), np.maximum(n - 3, 1))
    return t, np.where(np.isnan(t), np.nan, p)


def fisher_interval(r, n, *, level: float = 0.95, spearman: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CI of one correlation: tanh(atanh r ± z·se), se² = 1/(n − 3) (Fisher), (1 + r²/2)/(n − 3) (Spearman,
    Bonett & Wright 2000)."""
    r, n = np.asarray(r, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(_inflation(r, spearman) / (n - 3))
    half = stats.norm.ppf(0.5 + level / 2) * se
    return np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)


def zou_interval(r_jk, r_jh, r_kh, n, *, level: float = 0.95, spearman: bool = False):
    """Zou's (2007) CI for r_jk − r_jh, two correlations sharing variable j (his overlapping case):

        L = d − sqrt((r_jk − l_jk)² + (u_jh − r_jh)² − 2·c·(r_jk − l_jk)(u_jh − r_jh)),
        U = d + sqrt((u_jk − r_jk)² + (r_jh − l_jh)² − 2·c·(u_jk − r_jk)(r_jh − l_jh)),

    d = r_jk − r_jh, (l, u) each correlation's `fisher_interval`, and c = corr(r_jk, r_jh) =
    ((r_kh − r_jk·r_jh/2)(1 − r_jk² − r_jh² − r_kh²) + r_kh³) / ((1 − r_jk²)(1 − r_jh²))."""
    r_jk, r_jh, r_kh = (np.asarray(v, dtype=float) for v in (r_jk, r_jh, r_kh))
    l1, u1 = fisher_interval(r_jk, n, level=level, spearman=spearman)
    l2, u2 = fisher_interval(r_jh, n, level=level, spearman=spearman)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = ((r_kh - r_jk * r_jh / 2) * (1 - r_jk**2 - r_jh**2 - r_kh**2) + r_kh**3) / (
            (1 - r_jk**2) * (1 - r_jh**2)
        )
        d = r_jk - r_jh
        low = d - np.sqrt((r_jk - l1) ** 2 + (u2 - r_jh) ** 2 - 2 * c * (r_jk - l1) * (u2 - r_jh))
        high = d + np.sqrt((u1 - r_jk) ** 2 + (r_jh - l2) ** 2 - 2 * c * (u1 - r_jk) * (r_jh - l2))
    return low, high


def _check_targets(matrix: pd.DataFrame, targets: Mapping[str, Sequence[str]]) -> None:
    """Raise one AnalysisError naming every target or source that is not a column of `matrix`."""
    named = {*targets, *(s for sources in targets.values() for s in sources)}
    missing = sorted(str(t) for t in named if t not in matrix.columns)
    if missing:
        raise AnalysisError(
            f"proxy_differences: task(s) {', '.join(missing)} are not in the error matrix; "
            f"it has: {', '.join(map(str, matrix.columns))}"
        )


def _comparisons(targets: Mapping[str, Sequence[str]]) -> list[tuple[str, str, str]]:
    """(target, a, b) for every unordered pair of each target's distinct sources other than itself."""
    out = []
    for target, sources in targets.items():
        kept = list(dict.fromkeys(s for s in sources if s != target))
        out += [(target, a, b) for i, a in enumerate(kept) for b in kept[i + 1 :]]
    return out


def proxy_differences(
    matrix: pd.DataFrame,
    targets: Mapping[str, Sequence[str]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """For each target and each pair (a, b) of its candidate sources (in the given order, the target itself
    skipped): rho_a, rho_b = Spearman ρ of the target with a and with b, rho_ab = ρ(a, b), delta = rho_a −
    rho_b, all over the n architectures having the three tasks; ci_low/high = paired percentile bootstrap
    of delta; t_statistic/p_value = Williams' t, zou_ci_low/high = Zou's interval (Spearman variants, see
    module doc). Statistics are NaN where n < 4. Columns: DIFFERENCE_COLUMNS."""
    check_bootstrap(n_boot, level)
    _check_targets(matrix, targets)
    tasks = list(matrix.columns)
    triples = [(tasks.index(t), tasks.index(a), tasks.index(b)) for t, a, b in _comparisons(targets)]
    if not triples:
        return typed_frame([], DIFFERENCE_COLUMNS)
    values = matrix.to_numpy(dtype=float)
    n = np.array([np.isfinite(values[:, list(tr)]).all(axis=1).sum() for tr in triples], dtype=int)
    point = np.array([d[0] for d in spearman_draws(values, triples, np.ones((1, len(values))))])
    rng = np.random.default_rng(seed)
    delta = np.empty((0, len(triples)))
    for b in blocks(n_boot, 3 * len(triples) * len(values)):
        draws = spearman_draws(values, triples, resample_counts(len(values), b, rng))
        delta = np.concatenate([delta, np.stack([d[:, 0, 1] - d[:, 0, 2] for d in draws], axis=1)])
    rows = [_row(tasks, tr, point[k], int(n[k]), delta[:, k], n_boot, level) for k, tr in enumerate(triples)]
    return typed_frame(rows, DIFFERENCE_COLUMNS)


def _row(tasks: list[str], triple, rho: np.ndarray, n: int, draws: np.ndarray, n_boot: int, level: float):
    """One output row from the 3×3 ρ matrix of (target, a, b) and the bootstrap draws of ρ_a − ρ_b."""
    rho_a, rho_b, rho_ab = (float(rho[0, 1]), float(rho[0, 2]), float(rho[1, 2]))
    if n < MIN_TEST_ARCHS:
        rho_a = rho_b = rho_ab = math.nan
    t, p = williams_t(rho_a, rho_b, rho_ab, n, spearman=True)
    zou_low, zou_high = zou_interval(rho_a, rho_b, rho_ab, n, level=level, spearman=True)
    low, high = percentile_ci(draws, level) if n_boot and n >= MIN_TEST_ARCHS else (math.nan, math.nan)
    target, a, b = (tasks[i] for i in triple)
    return {
        "target": target,
        "proxy_a": a,
        "proxy_b": b,
        "rho_a": rho_a,
        "rho_b": rho_b,
        "rho_ab": rho_ab,
        "delta": rho_a - rho_b,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "t_statistic": float(t),
        "p_value": float(p),
        "zou_ci_low": float(zou_low),
        "zou_ci_high": float(zou_high),
        "method": METHOD,
    }
