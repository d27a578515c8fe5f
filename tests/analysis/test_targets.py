"""The per-target reading: exact text from constructed numbers (a golden string, never rewritten), and the
wording rules: the CI decides, small n is never read as agreement, barely trained tasks are named."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.targets import MIN_READING_N, describe, reading, verdict

ROW = {
    "target": "concrete",
    "classes": 2,
    "architectures": 500,
    "reference": "imagenet",
    "reference_spearman": 0.001,
    "reference_spearman_ci_low": -0.09,
    "reference_spearman_ci_high": 0.09,
    "reference_pearson": 0.01,
    "reference_n": 500,
    "matched_proxy": "imagenet-2",
    "matched_spearman": 0.106,
    "matched_spearman_ci_low": 0.02,
    "matched_spearman_ci_high": 0.19,
    "matched_pearson": 0.1,
    "matched_n": 500,
    "best_proxy": "imagenet-2",
    "best_proxy_spearman": 0.106,
    "best_proxy_spearman_ci_low": 0.02,
    "best_proxy_spearman_ci_high": 0.19,
    "best_proxy_n": 500,
    "best_arch_id": 17,
    "best_error": 12.5,
    "best_depths": [1, 2, 4, 2],
    "best_widths": [32, 64, 160, 400],
    "best_bottleneck_ratios": [1, 1, 2, 4],
    "best_group_widths": [8, 8, 16, 16],
    "reference_choice_arch_id": 3,
    "reference_choice_error": 15.75,
    "matched_choice_arch_id": 17,
    "matched_choice_error": 12.5,
    "regret_reference": 3.25,
    "regret_matched": 0.0,
    "target_undertrained": False,
    "reference_undertrained": False,
    "matched_undertrained": pd.NA,
}


def test_reading_of_a_t22_like_target():
    assert reading(ROW) == (
        "On concrete (2 classes, n = 500), imagenet shows no useful agreement (ρ = 0.00 [-0.09, 0.09]: "
        "the interval includes 0 and lies within ±0.3). Among the proxies, the class-count-matched "
        "imagenet-2 has the highest ρ and agrees better than chance, but perhaps only weakly "
        "(ρ = 0.11 [0.02, 0.19]). To pick for concrete: its best architecture is arch 17 (d 1-2-4-2, "
        "w 32-64-160-400, b 1-1-2-4, g 8-8-16-16) at 12.50% error; imagenet's best (arch 3) gets 15.75% on "
        "concrete (+3.25 points); imagenet-2's best is the same architecture."
    )


def test_reading_names_a_better_proxy_than_the_matched_one_and_inverse_rankings():
    row = {
        **ROW,
        "reference_spearman": -0.436,
        "reference_spearman_ci_low": -0.5,
        "reference_spearman_ci_high": -0.37,
        "best_proxy": "imagenet-10",
        "best_proxy_spearman": 0.52,
        "best_proxy_spearman_ci_low": 0.45,
        "best_proxy_spearman_ci_high": 0.6,
        "reference_choice_arch_id": math.nan,
        "reference_choice_error": math.nan,
    }
    text = reading(row)
    assert (
        "imagenet ranks architectures inversely (ρ = -0.44 [-0.50, -0.37]: the interval lies below 0)" in text
    )
    assert (
        "Among the proxies, imagenet-10 has the highest ρ and ranks architectures at least moderately well "
        "(ρ = 0.52 [0.45, 0.60]); the class-count-matched imagenet-2 agrees better than chance" in text
    )
    assert "imagenet's best" not in text  # no choice known: nothing claimed
    assert "plan-size" not in text  # n = 500 and narrow CIs: no pointer to the planner


def test_reading_names_each_task_once_when_the_reference_is_also_the_matched_proxy():
    row = {
        **ROW,
        "matched_proxy": "imagenet",
        "best_proxy": None,
        "matched_choice_arch_id": 3,
        "matched_choice_error": 15.75,
    }
    text = reading(row)
    assert text.count("imagenet's best (arch 3) gets 15.75%") == 1


@pytest.mark.parametrize(
    ("rho", "low", "high", "n", "level"),
    [
        (0.95, 0.86, 0.98, 500, "very_strong"),
        (0.95, 0.84, 0.98, 500, "strong"),  # the lower bound decides, not ρ
        (0.70, 0.30, 0.90, 500, "moderate"),
        (0.70, 0.29, 0.90, 500, "weak"),
        (0.66, -0.10, 1.00, 500, "no_evidence"),
        (0.00, -0.09, 0.09, 500, "at_most_weak"),
        (-0.44, -0.50, -0.37, 500, "inverse"),
        (0.66, -0.10, 1.00, 8, "no_evidence"),  # the issue's 8 architectures
        (1.00, 1.00, 1.00, 4, "too_few"),  # the issue's n = 4: a degenerate bootstrap CI is not agreement
        (0.00, -0.09, 0.09, MIN_READING_N - 1, "no_evidence"),  # too few to call it "no useful agreement"
        (0.50, math.nan, math.nan, 50, "no_ci"),
        (0.50, math.nan, math.nan, 5, "too_few"),
        (math.nan, math.nan, math.nan, 0, "not_computed"),
    ],
)
def test_verdict_follows_the_ci_and_n(rho, low, high, n, level):
    assert verdict(rho, low, high, n) == level


def test_the_issue_10_examples_are_no_longer_read_as_agreement():
    eight = reading({**ROW, "architectures": 8, **_source("reference", 0.66, -0.10, 1.00, 8)})
    said = "imagenet shows no evidence of agreement (ρ = 0.66 [-0.10, 1.00]: the interval includes 0; too few"
    assert said + " architectures: n = 8)" in eight
    assert "`python -m pipeline plan-size --rho 0.66 --ci-width 0.3`" in eight
    four = reading({**ROW, "architectures": 4, **_source("reference", 1.0, 1.0, 1.0, 4)})
    assert "imagenet gives ρ = 1.00 [1.00, 1.00], which cannot be read from n = 4 architectures" in four
    assert "well" not in describe(1.0, 1.0, 1.0, 4)
    assert "plan-size" in four


def test_a_barely_trained_task_is_named_once_in_the_reading():
    text = reading({**ROW, "target_undertrained": True, "matched_undertrained": True})
    assert "Architectures barely trained on concrete; its ranking mostly reflects convergence speed." in text
    assert text.count("barely trained on imagenet-2") == 1 and "barely trained on imagenet;" not in text


def _source(prefix: str, rho: float, low: float, high: float, n: int) -> dict:
    return {
        f"{prefix}_spearman": rho,
        f"{prefix}_spearman_ci_low": low,
        f"{prefix}_spearman_ci_high": high,
        f"{prefix}_n": n,
    }
