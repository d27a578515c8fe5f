"""The study planner: Fisher-z (Bonett–Wright) CI widths of Spearman ρ against simulation."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.errors import AnalysisError
from analysis.planner import ci_width, needed_for_halfwidth, required_n, simulate_ci_width


def test_required_n_agrees_with_simulation():
    """Acceptance (issue 13): at the planned n, sampled Spearman ρ spread over a 95 % width within 10 % of
    the wanted 0.1. The simulated width's own sd at 2000 draws is ≈ 0.002, well inside the 0.01 allowed."""
    n = required_n(0.5, 0.1)
    assert abs(simulate_ci_width(0.5, n, draws=2000, seed=1) - 0.1) <= 0.01


@pytest.mark.parametrize("rho, width", [(0.0, 0.2), (0.5, 0.1), (0.9, 0.05), (-0.3, 0.3), (0.7, 1.5)])
def test_required_n_is_the_smallest_n_that_reaches_the_width(rho, width):
    n = required_n(rho, width)
    assert ci_width(rho, n) <= width
    assert n == 4 or ci_width(rho, n - 1) > width


def test_ci_width_by_hand_at_rho_zero():
    # ρ = 0: se = sqrt(1/(n − 3)) = 0.1 at n = 103, so the CI is ±tanh(1.959964·0.1) around 0
    assert ci_width(0.0, 103) == pytest.approx(2 * math.tanh(stats.norm.ppf(0.975) * 0.1))


def test_simulation_matches_the_null_distribution_of_spearman():
    """Independent check of the simulator: under independence var(ρ_S) = 1/(n − 1) exactly (Kendall &
    Stuart), so the 95 % central width is ≈ 2·1.96/sqrt(n − 1); 4 % covers the simulation error here."""
    assert simulate_ci_width(0.0, 101, draws=4000, seed=2) == pytest.approx(2 * 1.959964 / 10, rel=0.04)


def test_reliability_plans_on_the_attenuated_scale():
    # r = 0.65: the observed ρ is 0.5·0.65 and must be known to 0.1·0.65 for a width of 0.1 after correction
    assert required_n(0.5, 0.1, reliability=0.65) == required_n(0.5 * 0.65, 0.1 * 0.65)
    assert required_n(0.5, 0.1, reliability=0.65) > required_n(0.5, 0.1)
    n = required_n(0.5, 0.1, reliability=0.65)
    assert ci_width(0.5, n, reliability=0.65) <= 0.1 < ci_width(0.5, n - 1, reliability=0.65)
    assert required_n(0.5, 0.1, reliability=1.0) == required_n(0.5, 0.1)


def test_halfwidth_is_half_the_total_width():
    assert needed_for_halfwidth(0.6) == required_n(0.6, 0.1)
    assert needed_for_halfwidth(0.6, 0.1, reliability=0.7) == required_n(0.6, 0.2, reliability=0.7)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: required_n(1.0, 0.1), "rho must lie"),
        (lambda: required_n(0.5, 0.0), "ci_width must lie"),
        (lambda: required_n(0.5, 0.1, confidence=95), "confidence must lie"),
        (lambda: required_n(0.5, 0.1, reliability=1.2), "reliability must lie"),
        (lambda: ci_width(0.5, 3), "n must be at least 4"),
        (lambda: simulate_ci_width(0.5, 2), "need n"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(AnalysisError, match=message):
        call()
