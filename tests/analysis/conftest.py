"""A small synthetic study folder and its report, built once per test session."""

from __future__ import annotations

import pytest

from tests.analysis.synthetic import T22_TASKS, write_study

SMALL_TASKS = {
    t: T22_TASKS[t] for t in ("imagenet", "imagenet-10", "imagenet-2", "concrete", "mlc2008", "cifar10")
}


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """A results folder with 40 architectures × 6 tasks, two seeds each."""
    folder = tmp_path_factory.mktemp("study")
    write_study(folder, n_archs=40, tasks=SMALL_TASKS, seeds=2)
    return folder


@pytest.fixture(scope="session")
def small_report(small_study, tmp_path_factory):
    """`analysis report` of `small_study` into a fresh folder; returns the folder."""
    from analysis.__main__ import main

    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(small_study), "--out", str(out), "--bootstrap", "200", "--seed", "3"]) == 0
    return out


def _report(folder, *extra: str):
    from analysis.__main__ import main

    assert main(["report", str(folder), "--bootstrap", "200", "--seed", "1", *extra]) == 0
    return folder


@pytest.fixture(scope="session")
def noise_report(tmp_path_factory):
    """The report of `seed_noise_study`: 300 architectures, 150 with two replicate seeds, study.yaml."""
    from tests.analysis.synthetic import seed_noise_study

    folder = tmp_path_factory.mktemp("noise")
    seed_noise_study(folder)
    return _report(folder)


@pytest.fixture(scope="session")
def ladder_report(tmp_path_factory):
    """The report of `ladder_study`: a two-rung ladder, costs.parquet and zero_cost.parquet."""
    from tests.analysis.synthetic import ladder_study

    folder = tmp_path_factory.mktemp("ladder")
    ladder_study(folder)
    return _report(folder)
