"""Jobs and who is working on what: launch records, SLURM queries, run claims, the study lock.

- Launch records (`launches/<time>.json`): what each launch submitted (task, chunk, job id, log paths).
- SLURM is asked through `squeue` and `scontrol` only (no accounting daemon needed; sacct is never used).
- A run is *claimed* before it is trained: `runs/<task>/<key>.claim` is created with O_EXCL and holds host,
  pid, job id and start time; its mtime is the heartbeat (touched every `HEARTBEAT_S` while training). A
  live claim is skipped by every other worker; a stale one (its pid dead on this host, its SLURM job gone
  from the queue, or no heartbeat for `STALE_AFTER_S`) is taken over. Taking over renames the stale claim
  away first (only one of several racing workers can rename it), then creates a fresh one with O_EXCL.
- The study lock (`results_dir/.lock`, same rules) makes a second local `pipeline run`/`launch` of a
  study that is being run refuse with one line naming the pid, instead of training everything twice.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline import fsio
from pipeline.errors import LaunchError
from pipeline.plan import DEFAULT_MAX_ARRAY_SIZE, parse_max_array_size

HEARTBEAT_S = 60.0
STALE_AFTER_S = 15 * 60.0  # a claim whose heartbeat is older than this is stale, wherever its owner ran
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING"})


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def job_id() -> str | None:
    """The SLURM job id of this process (array form `<job>_<task>` for array tasks), else None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


# ---------------------------------------------------------------------------------------------- slurm
def squeue_states(user: str | None = None) -> dict[str, str] | None:
    """{job id (array tasks as `<job>_<index>`): state} of the user's jobs; None without a reachable SLURM."""
    if shutil.which("squeue") is None:
        return None
    cmd = ["squeue", "-h", "-r", "-o", "%i|%T", "-u", user or getpass.getuser()]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    states = {}
    for line in out.stdout.splitlines():
        if "|" in line:
            job, state = line.strip().split("|", 1)
            states[job] = state
    return states


def cluster_max_array_size(default: int = DEFAULT_MAX_ARRAY_SIZE) -> int:
    """The cluster's MaxArraySize from `scontrol show config`, or `default` without a reachable cluster."""
    if shutil.which("scontrol") is None:
        return default
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return default
    return parse_max_array_size(out.stdout) or default


# ---------------------------------------------------------------------------------------------- records
def write_launch_record(results_dir: Path, record: dict[str, Any], when: datetime) -> Path:
    name = when.strftime("%Y%m%dT%H%M%S.%fZ") + ".json"
    return fsio.write_json(record, Path(results_dir) / "launches" / name)


def launch_records(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every launch record of a study, oldest first; a damaged record is an error naming the file."""
    folder = Path(results_dir) / "launches"
    if not folder.is_dir():
        return []
    fix = "delete it (it only lists the jobs of one past launch) and run the command again"
    return [fsio.read_json(p, fix=fix) for p in sorted(folder.glob("*.json"))]


def latest_jobs(results_dir: str | Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The latest submitted job of each (task, chunk) over every launch record."""
    jobs: dict[tuple[str, int], dict[str, Any]] = {}
    for record in launch_records(results_dir):
        for job in record.get("jobs", []):
            jobs[(job["task"], int(job["chunk"]))] = job
    return jobs


def job_error(result_pickle: str | None, stderr: str | None) -> str | None:
    """Last line of a finished job's error (submitit's pickled outcome, else stderr); None if it succeeded.

    A job killed by a signal (the OOM killer, scancel) leaves no outcome; its stderr's last line then is
    submitit's or SLURM's, and is reported as "killed (...)" when it says so.
    """
    from pipeline.data.safe_pickle import RefusedPickleError, load_outcome

    if result_pickle and Path(result_pickle).is_file():
        try:
            outcome = load_outcome(result_pickle)
        except (RefusedPickleError, fsio.UnreadableFileError):
            outcome = None  # a success outcome holding objects, or a truncated file
        if isinstance(outcome, tuple) and len(outcome) == 2 and outcome[0] == "error":
            return fsio.last_line(str(outcome[1]))
        if outcome is not None:
            return None
    if stderr and Path(stderr).is_file():
        text = Path(stderr).read_text(errors="replace")[-20000:]
        return killed_reason(text) or fsio.last_line(text) or "job ended without a result"
    return None


def killed_reason(log_text: str) -> str | None:
    """'killed (...)' when a job log says the job was killed by a signal or the OOM killer."""
    lowered = log_text.lower()
    if "has not produced any output" in lowered:  # submitit: the process ended without writing a result
        return "killed: the job's process ended without a result (a signal, e.g. the out-of-memory killer's)"
    for needle, what in (
        ("oom-kill", "out of memory (OOM killer)"),
        ("out of memory", "out of memory"),
        ("cancelled at", "cancelled"),
        ("due to time limit", "time limit reached"),
        ("killed by signal", "killed by a signal"),
        ("sigkill", "killed by SIGKILL"),
    ):
        if needle in lowered:
            return f"killed ({what}): {fsio.last_line(log_text)}"
    return None


# ---------------------------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Owner:
    """Who holds a claim or lock."""

    host: str
    pid: int
    job_id: str | None
    since: str

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), job_id(), now())

    def describe(self) -> str:
        job = f", SLURM job {self.job_id}" if self.job_id else ""
        return f"pid {self.pid} on {self.host}{job} since {self.since}"


def read_owner(path: Path) -> Owner | None:
    data = fsio.read_json_or(path)
    if not isinstance(data, dict):
        return None
    try:
        return Owner(str(data["host"]), int(data["pid"]), data.get("job_id"), str(data.get("since", "")))
    except (KeyError, TypeError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_live(
    path: Path, owner: Owner | None, queue: dict[str, str] | None = None, stale_after_s: float = STALE_AFTER_S
) -> bool:
    """Whether a claim/lock file's owner still works on it (see the module docstring)."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if owner is None:  # unreadable: being written this instant, or damaged; judged by its heartbeat
        return age < stale_after_s
    if owner.host == socket.gethostname() and not pid_alive(owner.pid):
        return False
    mine = job_id()
    if mine and owner.job_id == mine and (owner.host, owner.pid) != (socket.gethostname(), os.getpid()):
        return False  # an earlier attempt of this same SLURM job (requeued): it cannot still be running
    if owner.job_id and queue is not None and owner.job_id not in queue:
        return False
    return age < stale_after_s


def _create_exclusive(path: Path, owner: Owner) -> bool:
    """Create `path` holding `owner` only if it does not exist; False when someone else has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        payload = {"host": owner.host, "pid": owner.pid, "job_id": owner.job_id, "since": owner.since}
        os.write(fd, json.dumps(payload).encode())
        os.fsync(fd)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


def try_claim(
    path: Path, *, queue: dict[str, str] | None = None, stale_after_s: float = STALE_AFTER_S
) -> Owner | None:
    """Claim `path` for this process. Returns None when claimed, else the live owner that holds it."""
    me = Owner.me()
    for _ in range(3):  # create, or take a stale claim over and retry
        if _create_exclusive(path, me):
            return None
        owner = read_owner(path)
        if is_live(path, owner, queue, stale_after_s):
            return owner or Owner("?", -1, None, "")
        tomb = path.with_name(f".{path.name}.stale-{me.pid}-{time.monotonic_ns()}")
        try:
            os.rename(path, tomb)  # only one racing worker can move the stale claim away
        except FileNotFoundError:
            continue
        tomb.unlink(missing_ok=True)
    owner = read_owner(path)
    return owner or Owner("?", -1, None, "")


def release(path: Path) -> None:
    """Drop a claim or lock if this process holds it."""
    owner = read_owner(path)
    if owner is not None and owner.pid == os.getpid() and owner.host == socket.gethostname():
        path.unlink(missing_ok=True)


class Heartbeat:
    """Touch a claim file every `every_s` seconds from a daemon thread while a run trains."""

    def __init__(self, path: Path, every_s: float = HEARTBEAT_S) -> None:
        self.path, self.every_s = path, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


_HELD: set[Path] = set()  # locks this process holds (re-entering one is a no-op)


@contextlib.contextmanager
def study_lock(results_dir: str | Path, *, what: str) -> Iterator[None]:
    """Hold `results_dir/.lock` while a study is run locally; a live holder makes this a LaunchError."""
    path = (Path(results_dir) / ".lock").absolute()
    if path in _HELD:
        yield
        return
    try:
        holder = try_claim(path)
    except OSError as error:
        if fsio.is_disk_error(error):
            raise fsio.disk_error(error, path) from error
        raise
    if holder is not None:
        raise LaunchError(
            f"{what}: this study is already being run by {holder.describe()} (lock {path}); wait for it to "
            "finish, or stop that process; a lock left by a dead process is taken over automatically"
        )
    _HELD.add(path)
    try:
        yield
    finally:
        _HELD.discard(path)
        release(path)
