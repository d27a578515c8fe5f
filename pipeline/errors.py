"""The pipeline's named exceptions.

Every error a user can cause derives from `PipelineError`; the CLI prints its message as one line and
exits 2. A message names the thing, the bad value, the allowed values and the next step.
"""


class PipelineError(Exception):
    """Bad input a user can fix; printed as one line by the CLI (exit code 2)."""


class StudyError(PipelineError):
    """A study file that is missing, malformed or inconsistent."""


class DatasetError(PipelineError):
    """A dataset that is unknown, missing on disk, unprepared or malformed."""


class LaunchError(PipelineError):
    """A plan that cannot be submitted (executor, cluster limits, scheduler errors)."""


class RunError(PipelineError):
    """A single training run that cannot start (bad recipe, unreadable checkpoint)."""
