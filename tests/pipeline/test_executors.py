"""SLURM parameters without a cluster: the study's own executor keys override the profile, the profile
overrides the study's defaults (tests/pipeline/test_slurm_fanout.py checks a submitted job's throttle)."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.errors import LaunchError
from pipeline.executors import make_slurm_executor, slurm_parameters
from pipeline.study import ExecutorSpec, study_from_dict
from tests.pipeline.fanout_support import study_dict

PROFILE = {"partition": "gpu", "array_parallelism": 2, "time": 600, "cpus_per_task": 4, "mem": "8GB"}


def _spec(tmp_path, **executor) -> ExecutorSpec:
    raw = study_dict(tmp_path)
    raw["executor"] = {"kind": "slurm", **executor}
    return study_from_dict(raw).executor


def test_keys_the_study_sets_override_the_profile(tmp_path):
    params = slurm_parameters(_spec(tmp_path, array_parallelism=1, timeout_min=30), PROFILE, job_name="x")
    assert params["array_parallelism"] == 1 and params["time"] == 30  # the study's
    assert (
        params["partition"] == "gpu" and params["cpus_per_task"] == 4 and params["mem"] == "8GB"
    )  # the profile's


def test_the_profile_overrides_the_studys_defaults(tmp_path):
    params = slurm_parameters(_spec(tmp_path), PROFILE, job_name="x")
    assert params["array_parallelism"] == 2 and params["time"] == 600  # not ExecutorSpec's 64 / 240
    bare = slurm_parameters(_spec(tmp_path), {}, job_name="x")
    assert bare["array_parallelism"] == 64 and bare["time"] == 240  # defaults where nobody says anything


def test_mem_and_extra_parameters(tmp_path):
    params = slurm_parameters(_spec(tmp_path, mem_gb=2, slurm={"account": "lab"}), PROFILE, job_name="x")
    assert params["mem"] == "2048M" and params["account"] == "lab"


def test_a_bad_parameter_is_one_line_naming_the_valid_ones(tmp_path):
    spec = dataclasses.replace(_spec(tmp_path), slurm={"colour": "blue"})
    with pytest.raises(LaunchError) as info:
        make_slurm_executor(tmp_path / "logs", spec, slurm_parameters(spec, {}, job_name="x"))
    text = str(info.value)
    assert "\n" not in text and "colour" in text and "partition" in text
