"""How the report words a Spearman ρ: the verdict its 95 % CI and n support, and the phrase for it.

Wording rules (printed in the report's Method section, `METHOD_RULES`): a reading follows the 95 % CI, not
the point estimate. A CI that includes 0 is "no evidence of agreement" (or, from MIN_READING_N architectures
on, "no useful agreement" when it also stays within ±0.3). Any other claim needs MIN_READING_N architectures:
below that, ρ and its CI are shown but not read. A CI below 0 is "inversely"; otherwise the lower bound
decides: ≥ 0.85 "very well", ≥ 0.6 "well", ≥ 0.3 "at least moderately well", > 0 "better
than chance, but perhaps only weakly". A CI wider than WIDE_CI, or n < MIN_READING_N, adds a pointer to the
planner (`python -m pipeline plan-size`).
"""

from __future__ import annotations

import math

import pandas as pd

MIN_READING_N = 10  # fewer architectures: ρ and its bootstrap CI are shown but not read
WIDE_CI = 0.5  # a CI wider than this cannot tell weak from strong agreement: the reading says so
NO_USE = 0.3  # a CI inside (−0.3, 0.3) that includes 0 rules out useful agreement
PLAN_CI_WIDTH = 0.3  # the width suggested to the planner: narrow enough to tell the levels below apart
LEVELS = ((0.85, "very_strong"), (0.6, "strong"), (0.3, "moderate"), (0.0, "weak"))  # lower CI bound ≥
PREDICATES = {
    "very_strong": "ranks architectures very well",
    "strong": "ranks architectures well",
    "moderate": "ranks architectures at least moderately well",
    "weak": "agrees better than chance, but perhaps only weakly",
}
METHOD_RULES = (
    "Readings follow the 95% CI of ρ, not its point estimate. A CI that includes 0 reads 'no evidence of "
    f"agreement' ('no useful agreement' when it also lies within ±{NO_USE} and n ≥ {MIN_READING_N}). Any "
    f"other reading needs at least {MIN_READING_N} architectures (below that a bootstrap CI means little, "
    "e.g. [1.00, 1.00] at n = 4): ρ is shown but not read. A CI entirely below 0 reads 'inversely'; "
    "otherwise its lower bound L decides: "
    "L ≥ 0.85 'very well', L ≥ 0.6 'well', L ≥ 0.3 'at least moderately well', L > 0 'better than chance, "
    f"but perhaps only weakly'. A CI wider than {WIDE_CI} or n < {MIN_READING_N} is flagged with the "
    "planner command (python -m pipeline plan-size --rho R --ci-width W), which gives the architectures a "
    "CI of width W needs. The `verdict` columns hold the level: not_computed, too_few, no_ci, inverse, "
    "no_evidence, at_most_weak, weak, moderate, strong, very_strong."
)


# ---- verdicts and their words ----


def verdict(rho: float, low: float, high: float, n: int) -> str:
    """The level a (ρ, CI, n) supports (see module doc): a CI that includes 0 is read at any n (it claims
    nothing); a claim of agreement needs n ≥ MIN_READING_N and a CI."""
    if _nan(rho):
        return "not_computed"
    if _nan(low) or _nan(high):
        return "too_few" if n < MIN_READING_N else "no_ci"
    if low <= 0 <= high:
        narrow = n >= MIN_READING_N and low > -NO_USE and high < NO_USE
        return "at_most_weak" if narrow else "no_evidence"
    if n < MIN_READING_N:
        return "too_few"
    if high < 0:
        return "inverse"
    return next(level for bound, level in LEVELS if low >= bound)


def _nan(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _rho(rho: float, low: float, high: float) -> str:
    ci = "" if _nan(low) or _nan(high) else f" [{low:.2f}, {high:.2f}]"
    return f"ρ = {rho:.2f}{ci}"


def _wide(low: float, high: float) -> bool:
    return not (_nan(low) or _nan(high)) and high - low > WIDE_CI


def planner_command(rho: float) -> str:
    """The planner call that says how many architectures a CI of PLAN_CI_WIDTH needs at this ρ."""
    r = 0.0 if _nan(rho) else min(abs(rho), 0.95)
    return f"python -m pipeline plan-size --rho {r:.2f} --ci-width {PLAN_CI_WIDTH}"


def describe(rho: float, low: float, high: float, n: int) -> str:
    """What a source's ρ with a target supports, as a predicate ('ranks architectures well (ρ = …)')."""
    level = verdict(rho, low, high, n)
    if level == "not_computed":
        return "gives no ρ (too few shared architectures, or a constant error)"
    text = _rho(rho, low, high)
    short = f"; too few architectures: n = {n}" if _wide(low, high) or n < MIN_READING_N else ""
    if level == "too_few":
        return f"gives {text}, which cannot be read from n = {n} architectures"
    if level == "no_ci":
        return f"gives {text} without a confidence interval (--bootstrap 0), so it is not read"
    if level == "inverse":
        return f"ranks architectures inversely ({text}: the interval lies below 0{short})"
    if level == "no_evidence":
        return f"shows no evidence of agreement ({text}: the interval includes 0{short})"
    if level == "at_most_weak":
        return f"shows no useful agreement ({text}: the interval includes 0 and lies within ±{NO_USE})"
    return f"{PREDICATES[level]} ({text}{short})"
