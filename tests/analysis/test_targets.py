"""The per-target reading: exact text from constructed numbers (a golden string, never rewritten)."""

from __future__ import annotations

import math

from analysis.targets import reading

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
    "regret_reference": 3.25,
    "regret_matched": 0.0,
}


def test_reading_of_a_t22_like_target():
    assert reading(ROW) == (
        "On concrete (2 classes, n = 500), imagenet ranks architectures poorly (ρ = 0.00 [-0.09, 0.09]). "
        "Among the proxies, imagenet-2 agrees best (ρ = 0.11), and it is the class-count-matched proxy "
        "(ρ = 0.11 [0.02, 0.19]). Choosing by another task: imagenet's best is 3.25 points worse than the "
        "best on concrete; imagenet-2's best architecture is also the best on concrete."
    )


def test_reading_names_a_better_proxy_than_the_matched_one_and_inverse_rankings():
    row = {
        **ROW,
        "reference_spearman": -0.436,
        "reference_spearman_ci_low": -0.5,
        "reference_spearman_ci_high": -0.37,
        "best_proxy": "imagenet-10",
        "best_proxy_spearman": 0.52,
        "regret_reference": math.nan,
    }
    text = reading(row)
    assert "imagenet ranks architectures inversely (ρ = -0.44 [-0.50, -0.37])" in text
    assert (
        "Among the proxies, imagenet-10 agrees best (ρ = 0.52); the class-count-matched imagenet-2 gives"
        in text
    )
    assert "imagenet's best" not in text  # no regret known: nothing claimed


def test_reading_names_each_task_once_when_the_reference_is_also_the_matched_proxy():
    row = {**ROW, "matched_proxy": "imagenet", "best_proxy": None, "regret_matched": 3.25}
    text = reading(row)
    assert text.count("imagenet's best is 3.25 points worse") == 1
